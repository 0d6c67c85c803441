/*
 * The store's front: backend selection and forwarding.  See store.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "store/store_impl.h"

struct store {
	const struct store_ops	*ops;
	void			*backend;
	/* Batches: the open one's id, and what to tell when one failed. */
	int			 depth;
	uint64_t		 batch_id;	/* the open batch, or the last */
	uint64_t		 failures;	/* batches that did not commit */
	uint64_t		 lost[STORE_LOST_BATCHES];	/* their ids */
	int64_t			 lease_ms;	/* store_set_lease(), or 0 */
};

static const char *const store_status_names[] = {
	[SESSION_STATUS_NEW] = "new",
	[SESSION_STATUS_STARTING] = "starting",
	[SESSION_STATUS_READY] = "ready",
	[SESSION_STATUS_BACKOFF] = "backoff",
	[SESSION_STATUS_STOPPING] = "stopping",
	[SESSION_STATUS_STOPPED] = "stopped",
	[SESSION_STATUS_FAILED] = "failed",
	[SESSION_STATUS_NEEDS_AUTH] = "needs_auth",
	[SESSION_STATUS_DORMANT] = "dormant",
};

const char *
store_session_status_name(enum session_status s)
{
	if ((unsigned)s >= nitems(store_status_names))
		return "unknown";
	return store_status_names[s];
}

int
store_session_status_parse(const char *s, enum session_status *ret)
{
	size_t	i;

	for (i = 0; i < nitems(store_status_names); i++) {
		if (strcmp(s, store_status_names[i]) == 0) {
			*ret = (enum session_status)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
store_session_desired_name(enum session_desired d)
{
	return d == SESSION_DESIRED_STOPPED ? "stopped" : "running";
}

int
store_open(const char *url, struct store **ret, char err[STORE_ERROR_LEN])
{
	const struct store_ops	*ops;
	const char		*sep = strstr(url, "://");
	struct store		*st;
	void			*b;
	int			 r;

	if (strncasecmp(url, "postgresql://", 13) == 0 ||
	    strncasecmp(url, "postgres://", 11) == 0)
		ops = &store_pg_ops;
	else if (sep != NULL && strcspn(url, ":/") == (size_t)(sep - url)) {
		/* A URL of another kind is a mistake, not a file name. */
		snprintf(err, STORE_ERROR_LEN, "unknown database scheme "
		    "'%.*s' (postgresql:// or a SQLite file path)",
		    (int)(sep - url) > 32 ? 32 : (int)(sep - url), url);
		return -EPROTONOSUPPORT;
	} else
		ops = &store_sqlite_ops;
	if ((r = ops->open(url, &b, err)) < 0)
		return r;
	st = xcalloc(1, sizeof *st);
	st->ops = ops;
	st->backend = b;
	*ret = st;
	return 0;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	st->ops->close(st->backend);
	free(st);
}

const char *
store_errmsg(const struct store *st)
{
	return st->ops->errmsg(st->backend);
}

void
store_session_assignment(struct session *s, const char *text)
{
	const char	*c1, *c2;
	size_t		 n;

	s->requested_country[0] = s->proxy_country[0] = '\0';
	s->fallback_used = false;
	if (text == NULL || (c1 = strchr(text, ',')) == NULL ||
	    (c2 = strchr(c1 + 1, ',')) == NULL)
		return;
	if ((n = (size_t)(c1 - text)) < sizeof s->requested_country) {
		memcpy(s->requested_country, text, n);
		s->requested_country[n] = '\0';
	}
	if ((n = (size_t)(c2 - c1 - 1)) < sizeof s->proxy_country) {
		memcpy(s->proxy_country, c1 + 1, n);
		s->proxy_country[n] = '\0';
	}
	s->fallback_used = strcmp(c2 + 1, "1") == 0;
}

int
store_set_wait(struct store *st, int ms)
{
	if (ms < 0)
		return -EINVAL;
	if (st->ops->set_wait == NULL)
		return 0;
	return st->ops->set_wait(st->backend, ms);
}

int64_t
store_lease(const struct store *st)
{
	return st->lease_ms;
}

int
store_set_lease(struct store *st, int64_t lease_ms)
{
	if (lease_ms <= 0)
		return -EINVAL;
	st->lease_ms = lease_ms;
	if (st->ops->set_lease == NULL)
		return 0;
	return st->ops->set_lease(st->backend, lease_ms);
}

int
store_schema_version(struct store *st, int *ret)
{
	return st->ops->schema_version(st->backend, ret);
}

/*
 * One session is a batch of one: the backends have a single way to add
 * sessions, and a phone already taken is the only -EEXIST.
 */
int
store_session_add(struct store *st, const struct session_new *n,
    const char *actor, int64_t now, int64_t *ret_id)
{
	int64_t	id;
	int	r;

	if ((r = st->ops->session_add_many(st->backend, n, 1, actor, now,
	    &id)) < 0)
		return r;
	if (id == 0)
		return -EEXIST;
	*ret_id = id;
	return 0;
}

int
store_session_add_many(struct store *st, const struct session_new *v,
    size_t n, const char *actor, int64_t now, int64_t *ret_ids)
{
	int64_t	*ids;
	int	 r;

	if (n > STORE_ADD_MANY_MAX)
		return -E2BIG;
	if (n == 0)
		return 0;
	ids = xcalloc(n, sizeof *ids);
	if ((r = st->ops->session_add_many(st->backend, v, n, actor, now,
	    ids)) == 0)
		memcpy(ret_ids, ids, n * sizeof *ids);
	free(ids);
	return r;
}

int
store_session_get(struct store *st, int64_t id, struct session *ret)
{
	return st->ops->session_get(st->backend, id, NULL, ret);
}

int
store_session_get_by_phone(struct store *st, const char *phone,
    struct session *ret)
{
	return st->ops->session_get(st->backend, 0, phone, ret);
}

int
store_session_list(struct store *st, store_session_cb cb, void *arg)
{
	return st->ops->session_list(st->backend, cb, arg);
}

int
store_session_set_desired(struct store *st, int64_t id,
    enum session_desired desired, const char *actor, int64_t now)
{
	return st->ops->session_set_desired(st->backend, id, desired, actor,
	    now);
}

int
store_session_remove(struct store *st, int64_t id, const char *actor,
    int64_t now)
{
	return st->ops->session_remove(st->backend, id, actor, now);
}

int
store_event_add(struct store *st, int64_t now, const char *actor,
    int64_t session_id, const char *kind, const char *detail)
{
	return st->ops->event_add(st->backend, now, actor, session_id, kind,
	    detail);
}

static const char *const store_instance_status_names[] = {
	[INSTANCE_STARTING] = "starting",
	[INSTANCE_RUNNING] = "running",
	[INSTANCE_STOPPING] = "stopping",
	[INSTANCE_STOPPED] = "stopped",
	[INSTANCE_DEAD] = "dead",
};

const char *
store_instance_status_name(enum instance_status s)
{
	if ((unsigned)s >= nitems(store_instance_status_names))
		return "unknown";
	return store_instance_status_names[s];
}

static const char *const store_proxy_state_names[] = {
	[PROXY_PURCHASING] = "purchasing",
	[PROXY_ACTIVE] = "active",
	[PROXY_IDLE] = "idle",
	[PROXY_RELEASING] = "releasing",
	[PROXY_RELEASED] = "released",
	[PROXY_LOST] = "lost",
};

const char *
store_proxy_state_name(enum proxy_state s)
{
	if ((unsigned)s >= nitems(store_proxy_state_names))
		return "unknown";
	return store_proxy_state_names[s];
}

/*
 * A start is a recovery: a new row says so from the first moment, so its
 * end (recovery_completed_at, set when a heartbeat turns it off) is
 * recorded however short the recovery was.
 */
static void
store_instance_recovering(struct store *st, const struct instance *i)
{
	(void)st->ops->instance_heartbeat(st->backend, i->id, i->started_at,
	    true, 0, 0);
}

int
store_instance_register(struct store *st, const struct instance *i)
{
	int	r;

	if ((r = st->ops->instance_register(st->backend, i)) < 0)
		return r;
	store_instance_recovering(st, i);
	return 0;
}

int
store_instance_succeed(struct store *st, const struct instance *i,
    const char (*old)[STORE_ID_LEN], size_t n, int *ret_taken)
{
	size_t	k;
	int	r;

	if (n > STORE_SUCCEED_MAX)
		return -E2BIG;
	if (st->ops->instance_succeed != NULL) {
		if ((r = st->ops->instance_succeed(st->backend, i, old, n,
		    ret_taken)) < 0)
			return r;
		store_instance_recovering(st, i);
		return 0;
	}
	/*
	 * One host (SQLite): nobody else claims, so the order is safe; the
	 * next claim takes the sessions of the instances marked dead.
	 */
	if ((r = st->ops->instance_register(st->backend, i)) < 0)
		return r;
	store_instance_recovering(st, i);
	for (k = 0; k < n; k++)
		if ((r = st->ops->instance_set_status(st->backend, old[k],
		    INSTANCE_DEAD, i->started_at)) < 0 && r != -ENOENT)
			return r;
	*ret_taken = 0;
	return 0;
}

int
store_instance_heartbeat(struct store *st, const char *id, int64_t now,
    bool in_progress, int64_t total, int64_t done)
{
	return st->ops->instance_heartbeat(st->backend, id, now, in_progress,
	    total, done);
}

int
store_instance_set_status(struct store *st, const char *id,
    enum instance_status status, int64_t now)
{
	return st->ops->instance_set_status(st->backend, id, status, now);
}

int
store_instance_reap(struct store *st, const char *self, int64_t now,
    int64_t stale_ms, int64_t delete_ms, int *ret_dead, int *ret_deleted)
{
	return st->ops->instance_reap(st->backend, self, now, stale_ms,
	    delete_ms, ret_dead, ret_deleted);
}

int
store_instance_list(struct store *st, store_instance_cb cb, void *arg)
{
	return st->ops->instance_list(st->backend, cb, arg);
}

int
store_session_claim(struct store *st, const char *self, int64_t now,
    int *ret_claimed)
{
	return st->ops->session_claim(st->backend, self, now, ret_claimed);
}

int
store_session_report(struct store *st, int64_t id, const char *self,
    int64_t epoch, const struct session_report *r, int64_t now)
{
	return st->ops->session_report(st->backend, id, self, epoch, r, now);
}

int
store_session_release_all(struct store *st, const char *self, bool graceful,
    int64_t now)
{
	return st->ops->session_release_all(st->backend, self, graceful, now);
}

int
store_session_fingerprint(struct store *st, int64_t *ret_count,
    int64_t *ret_max_updated)
{
	return st->ops->session_fingerprint(st->backend, ret_count,
	    ret_max_updated);
}

int
store_proxy_add(struct store *st, const struct proxy_row *p, int64_t now,
    int64_t *ret_id)
{
	return st->ops->proxy_add(st->backend, p, now, ret_id);
}

int
store_proxy_list(struct store *st, store_proxy_cb cb, void *arg)
{
	return st->ops->proxy_list(st->backend, INT64_MAX, cb, arg);
}

int
store_proxy_list_since(struct store *st, int64_t released_since,
    store_proxy_cb cb, void *arg)
{
	return st->ops->proxy_list(st->backend, released_since, cb, arg);
}

int
store_proxy_relist(struct store *st, int64_t proxy_id, const char *country,
    int64_t now)
{
	return st->ops->proxy_relist(st->backend, proxy_id, country, now);
}

int
store_proxy_set_intent(struct store *st, int64_t proxy_id, int64_t intent_id,
    int64_t now)
{
	return st->ops->proxy_set_intent(st->backend, proxy_id, intent_id, now);
}

int
store_refused_add(struct store *st, const char *phone, const char *ip,
    int64_t now)
{
	return st->ops->refused_add(st->backend, phone, ip, now);
}

int
store_refused_list(struct store *st, const char *phone,
    char (*ips)[STORE_IP_LEN], size_t max, size_t *ret_n)
{
	return st->ops->refused_list(st->backend, phone, ips, max, ret_n);
}

int
store_proxy_assign(struct store *st, int64_t proxy_id, int64_t session_id,
    const char *phone, const char *requested, bool fallback_used,
    const char *reason, const char *self, int64_t now)
{
	return st->ops->proxy_assign(st->backend, proxy_id, session_id, phone,
	    requested, fallback_used, reason, self, now);
}

int
store_proxy_unassign(struct store *st, int64_t proxy_id, bool keep,
    int64_t now, int64_t held_for, int64_t held_until)
{
	return st->ops->proxy_unassign(st->backend, proxy_id, keep, now,
	    held_for, held_until);
}

int
store_proxy_set_state(struct store *st, int64_t proxy_id,
    enum proxy_state state, int64_t now)
{
	int	r;

	if ((r = st->ops->proxy_set_state(st->backend, proxy_id, state,
	    now)) < 0)
		return r;
	/*
	 * An IP the provider no longer lists, found by a reconciliation a
	 * daemon may not have run (`respawn proxy reconcile`): every daemon
	 * looks again (sync.c), so its pool and its figures stop counting
	 * it.  A failed wake-up loses nothing: the daemon's own next
	 * reconciliation finds the same.
	 */
	if (state == PROXY_LOST)
		(void)st->ops->bump_generation(st->backend);
	return 0;
}

int
store_proxy_history(struct store *st, const char *phone, int64_t *ids,
    size_t max, size_t *ret_n)
{
	return st->ops->proxy_history(st->backend, phone, ids, max, ret_n);
}

/*
 * The gaps between the phone's newest assignments (see store.h).  Its
 * newest max + 1 assignments hold max pairs, and the newest's own end,
 * the gap that ends now, makes one more: never more than max are kept.
 */
int
store_phone_gaps(struct store *st, const char *phone, int64_t now,
    int64_t *gaps, size_t max, size_t *ret_n)
{
	struct store_span	spans[STORE_GAPS_MAX + 1];
	int64_t			gap;
	size_t			nspans, i, n = 0;
	int			r;

	if (max > STORE_GAPS_MAX)
		max = STORE_GAPS_MAX;
	if ((r = st->ops->phone_spans(st->backend, phone, spans, max + 1,
	    &nspans)) < 0)
		return r;
	if (nspans > 0 && n < max && spans[0].ended_at != 0 &&
	    now >= spans[0].ended_at)
		gaps[n++] = now - spans[0].ended_at;
	for (i = 1; i < nspans && n < max; i++) {
		/* Never ended (a crash, a removed session): no gap known. */
		if (spans[i].ended_at == 0)
			continue;
		gap = spans[i - 1].assigned_at - spans[i].ended_at;
		gaps[n++] = gap > 0 ? gap : 0;
	}
	*ret_n = n;
	return 0;
}

int
store_recovery_run_add(struct store *st, const struct recovery_run *r,
    int64_t *ret_id)
{
	return st->ops->recovery_run_add(st->backend, r, ret_id);
}

int
store_batch_begin(struct store *st)
{
	int	r;

	if ((r = st->ops->batch_begin(st->backend)) == 0 && st->depth++ == 0)
		st->batch_id++;
	return r;
}

int
store_batch_end(struct store *st)
{
	int	r;

	if (st->depth == 0)
		return -EINVAL;
	r = st->ops->batch_end(st->backend);
	if (--st->depth == 0 && r < 0)
		/* Everything written in it is gone: remembered for the asking. */
		st->lost[st->failures++ % STORE_LOST_BATCHES] = st->batch_id;
	return r;
}

int
store_batch_abort(struct store *st)
{
	if (st->depth == 0)
		return -EINVAL;
	st->depth = 0;
	return st->ops->batch_abort(st->backend);
}

uint64_t
store_batch_id(const struct store *st)
{
	return st->depth > 0 ? st->batch_id : 0;
}

uint64_t
store_batch_failures(const struct store *st)
{
	return st->failures;
}

bool
store_batch_lost(const struct store *st, uint64_t batch_id)
{
	size_t	i;

	if (batch_id == 0)
		return false;
	for (i = 0; i < STORE_LOST_BATCHES && i < st->failures; i++)
		if (st->lost[i] == batch_id)
			return true;
	return false;
}

static const char *const store_intent_state_names[] = {
	[INTENT_PENDING] = "pending",
	[INTENT_OWNED] = "owned",
	[INTENT_FAILED] = "failed",
	[INTENT_UNKNOWN] = "unknown",
};

const char *
store_intent_state_name(enum intent_state s)
{
	if ((unsigned)s >= nitems(store_intent_state_names))
		return "unknown";
	return store_intent_state_names[s];
}

int
store_intent_add(struct store *st, const struct intent *i, const char *self,
    int64_t now, int64_t *ret_id)
{
	return st->ops->intent_add(st->backend, i, self, now, ret_id);
}

int
store_intent_settle(struct store *st, int64_t id, enum intent_state state,
    const char *error, int64_t now)
{
	return st->ops->intent_settle(st->backend, id, state, error, now);
}

int
store_intent_list_open(struct store *st, store_intent_cb cb, void *arg)
{
	return st->ops->intent_list_open(st->backend, cb, arg);
}

int
store_proxy_request_release(struct store *st, const char *ip,
    const char *actor, int64_t now, struct proxy_row *ret)
{
	return st->ops->proxy_request_release(st->backend, ip, actor, now, ret);
}

int
store_recovery_run_last(struct store *st, struct recovery_run *ret)
{
	return st->ops->recovery_run_last(st->backend, ret);
}

int
store_recovery_run_list(struct store *st, int64_t before_id, size_t limit,
    store_recovery_cb cb, void *arg)
{
	if (st->ops->recovery_run_list == NULL)
		return -ENOTSUP;
	return st->ops->recovery_run_list(st->backend, before_id, limit, cb,
	    arg);
}

int
store_event_list(struct store *st, int64_t before_id, int64_t session_id,
    size_t limit, store_event_cb cb, void *arg)
{
	if (st->ops->event_list == NULL)
		return -ENOTSUP;
	return st->ops->event_list(st->backend, before_id, session_id, limit,
	    cb, arg);
}

int
store_fleet_share(struct store *st, const char *self, int64_t *ret_share,
    int64_t *ret_owned)
{
	if (st->ops->fleet_share == NULL)
		return -ENOTSUP;
	return st->ops->fleet_share(st->backend, self, ret_share, ret_owned);
}

int
store_session_release(struct store *st, int64_t id, const char *self,
    int64_t epoch, int64_t now)
{
	if (st->ops->session_release == NULL)
		return -ENOTSUP;
	return st->ops->session_release(st->backend, id, self, epoch, now);
}

int
store_wake_fd(struct store *st)
{
	if (st->ops->wake_fd == NULL)
		return -ENOTSUP;
	return st->ops->wake_fd(st->backend);
}

int
store_wake_drain(struct store *st)
{
	if (st->ops->wake_drain == NULL)
		return -ENOTSUP;
	return st->ops->wake_drain(st->backend);
}

const char *
store_backend(const struct store *st)
{
	return st->ops->name;
}

int
store_exit_status(int r)
{
	switch (r) {
	case -EPROTONOSUPPORT:
		return EX_CONFIG;
	case -EPROTO:
		return EX_SOFTWARE;
	case -EBUSY:
		return EX_UNAVAILABLE;
	case -EACCES:
		return EX_NOPERM;
	default:
		return EX_IOERR;
	}
}
