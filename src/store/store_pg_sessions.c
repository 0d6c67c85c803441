/*
 * The PostgreSQL backend's sessions (see store_pg.c for the backend): the
 * operator's changes, which bump the generation daemons watch, and the
 * fleet's side, fair shares by the database's clock, claims, owner and
 * epoch conditioned reports, releases one by one or all at once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/util.h"
#include "store/store_pg_impl.h"

/* --- sessions ----------------------------------------------------------- */

/*
 * Operator changes to sessions bump a counter, so daemons notice them
 * with one cheap query (store_session_fingerprint).
 */
int
store_pg_bump_generation(struct store_pg *b)
{
	return store_pg_run(b, "UPDATE meta SET value = value + 1 WHERE key "
	    "= 'sessions_generation'", NULL, NULL);
}

int
store_pg_bump(void *p)
{
	return store_pg_bump_generation(p);
}

/*
 * Many sessions in one transaction (store_session_add_many).  A phone that
 * already has a session is skipped by the insert itself (ON CONFLICT DO
 * NOTHING): a failed statement would abort the whole transaction.
 */
int
store_pg_session_add_many(void *p, const struct session_new *v, size_t n,
    const char *actor, int64_t now, int64_t *ids)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a;
	PGresult		*res = NULL;
	char			 detail[512];
	size_t			 i;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	for (i = 0; i < n; i++) {
		a.n = 0;
		store_pg_arg(&a, v[i].user_id);
		store_pg_arg(&a, v[i].phone);
		store_pg_arg(&a, v[i].country);
		store_pg_arg_i64(&a, v[i].priority);
		store_pg_arg(&a, config_proxy_type_name(v[i].proxy_type));
		store_pg_arg(&a, store_session_desired_name(v[i].desired));
		store_pg_arg_i64(&a, now);
		store_pg_arg_i64(&a, v[i].last_activity_at);
		store_pg_arg_bool(&a, v[i].graceful_shutdown);
		store_pg_arg_i64(&a, v[i].shutdown_at);
		if ((r = store_pg_run(b, "INSERT INTO sessions (user_id, phone, "
		    "country, priority, proxy_type, desired, created_at, "
		    "updated_at, last_activity_at, graceful_shutdown, "
		    "shutdown_at) VALUES ($1, $2, $3, $4::bigint, $5, $6, "
		    "$7::bigint, $7::bigint, NULLIF($8::bigint, 0), $9::boolean, "
		    "NULLIF($10::bigint, 0)) ON CONFLICT (phone) DO NOTHING "
		    "RETURNING id", &a, &res)) < 0)
			goto out;
		if (PQntuples(res) == 0) {
			PQclear(res);
			ids[i] = 0;
			continue;
		}
		ids[i] = store_pg_i64(res, 0, 0);
		PQclear(res);
		/* The values were validated by the caller; none needs escaping. */
		snprintf(detail, sizeof detail, "{\"phoneNumber\":\"%s\","
		    "\"country\":\"%s\"}", v[i].phone, v[i].country);
		if ((r = store_pg_event(b, now, actor, ids[i], "session.added",
		    detail)) < 0)
			goto out;
	}
	r = store_pg_bump_generation(b);
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

#define STORE_PG_SESSION_COLUMNS					\
	"s.id, s.user_id, s.phone, s.country, s.priority, "		\
	"s.proxy_type, "						\
	"s.desired, s.status, s.owner_instance, s.epoch, "		\
	"s.last_activity_at, s.graceful_shutdown, s.shutdown_at, "	\
	"s.attempts, s.last_error, s.created_at, s.updated_at, "	\
	"(SELECT p.ip FROM proxies p WHERE p.session_id = s.id AND "	\
	"  p.state = 'active' ORDER BY p.assigned_at DESC LIMIT 1), "	\
	"s.connector_pid, s.connector_started_at, "			\
	"(SELECT a.requested_country || ',' || a.country || ',' || "	\
	"  CASE WHEN a.fallback_used THEN '1' ELSE '0' END "		\
	"  FROM assignments a WHERE a.phone = s.phone "			\
	"  ORDER BY a.assigned_at DESC, a.id DESC LIMIT 1) "

static void
store_pg_row_session(const PGresult *res, int i, struct session *s)
{
	memset(s, 0, sizeof *s);
	s->id = store_pg_i64(res, i, 0);
	(void)util_strlcpy(s->user_id, store_pg_text(res, i, 1),
	    sizeof s->user_id);
	(void)util_strlcpy(s->phone, store_pg_text(res, i, 2), sizeof s->phone);
	(void)util_strlcpy(s->country, store_pg_text(res, i, 3),
	    sizeof s->country);
	s->priority = store_pg_i64(res, i, 4);
	s->proxy_type = strcmp(store_pg_text(res, i, 5), "residential") == 0 ?
	    PROXY_TYPE_RESIDENTIAL : PROXY_TYPE_ISP;
	s->desired = strcmp(store_pg_text(res, i, 6), "stopped") == 0 ?
	    SESSION_DESIRED_STOPPED : SESSION_DESIRED_RUNNING;
	if (store_session_status_parse(store_pg_text(res, i, 7),
	    &s->status) < 0)
		s->status = SESSION_STATUS_NEW;
	(void)util_strlcpy(s->owner, store_pg_text(res, i, 8), sizeof s->owner);
	s->epoch = store_pg_i64(res, i, 9);
	s->last_activity_at = store_pg_i64(res, i, 10);
	s->graceful_shutdown = store_pg_bool(res, i, 11);
	s->shutdown_at = store_pg_i64(res, i, 12);
	s->attempts = store_pg_i64(res, i, 13);
	(void)util_strlcpy(s->last_error, store_pg_text(res, i, 14),
	    sizeof s->last_error);
	s->created_at = store_pg_i64(res, i, 15);
	s->updated_at = store_pg_i64(res, i, 16);
	(void)util_strlcpy(s->proxy_ip, store_pg_text(res, i, 17),
	    sizeof s->proxy_ip);
	s->connector_pid = store_pg_i64(res, i, 18);
	s->connector_started_at = store_pg_i64(res, i, 19);
	store_session_assignment(s, store_pg_text(res, i, 20));
}

int
store_pg_session_get(void *p, int64_t id, const char *phone,
    struct session *ret)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	int			 r;

	if (phone != NULL)
		store_pg_arg(&a, phone);
	else
		store_pg_arg_i64(&a, id);
	if ((r = store_pg_read(b, phone != NULL ?
	    "SELECT " STORE_PG_SESSION_COLUMNS "FROM sessions s "
	    "WHERE s.phone = $1" :
	    "SELECT " STORE_PG_SESSION_COLUMNS "FROM sessions s "
	    "WHERE s.id = $1::bigint", &a, &res)) < 0)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	store_pg_row_session(res, 0, ret);
	PQclear(res);
	return 0;
}

static int
store_pg_session_each(const PGresult *res, int i, void *arg)
{
	struct store_to	*to = arg;
	struct session	 s;

	store_pg_row_session(res, i, &s);
	return to->cb.session(&s, to->arg);
}

int
store_pg_session_list(void *p, store_session_cb cb, void *arg)
{
	struct store_pg	*b = p;
	struct store_to	 to = { .cb.session = cb, .arg = arg };
	PGresult	*res;
	int		 r;

	if ((r = store_pg_read(b, "SELECT " STORE_PG_SESSION_COLUMNS
	    "FROM sessions s ORDER BY s.id", NULL, &res)) < 0)
		return r;
	return store_pg_each(res, store_pg_session_each, &to);
}

int
store_pg_session_set_desired(void *p, int64_t id,
    enum session_desired desired, const char *actor, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	/*
	 * Starting a failed, logged-out or dormant session is the operator's
	 * word that it may try again (after a QR scan): its status and
	 * attempts reset.
	 */
	store_pg_arg(&a, store_session_desired_name(desired));
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, id);
	if ((r = store_pg_run(b, "UPDATE sessions SET desired = $1::text, "
	    "updated_at = $2::bigint, status = CASE WHEN $1::text = 'running' "
	    "AND status IN ('failed', 'needs_auth', 'dormant') THEN 'new' ELSE "
	    "status END, attempts = CASE WHEN $1::text = 'running' AND status "
	    "IN ('failed', 'needs_auth', 'dormant') THEN 0 ELSE attempts END "
	    "WHERE id = $3::bigint", &a, &res)) < 0)
		goto out;
	r = store_pg_changes(res);
	PQclear(res);
	if (r == 0) {
		r = -ENOENT;
		goto out;
	}
	if ((r = store_pg_bump_generation(b)) < 0 ||
	    (r = store_pg_event(b, now, actor, id,
	    desired == SESSION_DESIRED_RUNNING ? "session.start_requested" :
	    "session.stop_requested", NULL)) < 0)
		goto out;
out:
	return store_pg_end(b, STORE_PG_TX, r < 0 ? r : 0);
}

int
store_pg_session_remove(void *p, int64_t id, const char *actor, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg_i64(&a, id);
	if ((r = store_pg_run(b, "DELETE FROM sessions WHERE id = $1::bigint",
	    &a, &res)) < 0)
		goto out;
	r = store_pg_changes(res);
	PQclear(res);
	if (r == 0) {
		r = -ENOENT;
		goto out;
	}
	if ((r = store_pg_bump_generation(b)) < 0 ||
	    (r = store_pg_event(b, now, actor, id, "session.removed",
	    NULL)) < 0)
		goto out;
out:
	return store_pg_end(b, STORE_PG_TX, r < 0 ? r : 0);
}

/* --- the fleet: shares, claims and releases ----------------------------- */

/*
 * The fleet as self sees it, by the database's clock, read in one
 * statement: that clock (for the claim that follows), the live instances
 * (self always counts), the sessions, and those self owns.  Live
 * instances are those starting, running or stopping whose heartbeat is
 * younger than the lease.  store_pg_session_claim and store_pg_fleet_share
 * both judge by it, so they can never disagree on a share.
 */
struct store_pg_fleet {
	int64_t	clock_ms;
	int64_t	live;
	int64_t	total;
	int64_t	owned;
};

static int
store_pg_fleet(struct store_pg *b, const char *self,
    struct store_pg_fleet *ret)
{
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, b->lease_ms);
	if ((r = store_pg_run(b, "WITH c AS MATERIALIZED (SELECT "
	    STORE_PG_NOW_MS " AS t) SELECT c.t, (SELECT count(*) FROM "
	    "instances i WHERE i.id <> $1 AND i.status IN " STORE_PG_LIVE
	    " AND i.heartbeat_at >= c.t - $2::bigint), (SELECT count(*) FROM "
	    "sessions), (SELECT count(*) FROM sessions WHERE owner_instance = "
	    "$1) FROM c", &a, &res)) < 0)
		return r;
	ret->clock_ms = store_pg_i64(res, 0, 0);
	ret->live = store_pg_i64(res, 0, 1) + 1;
	ret->total = store_pg_i64(res, 0, 2);
	ret->owned = store_pg_i64(res, 0, 3);
	PQclear(res);
	return 0;
}

/* ceil(sessions / live instances). */
static int64_t
store_pg_fleet_quota(const struct store_pg_fleet *f)
{
	return (f->total + f->live - 1) / f->live;
}

int
store_pg_fleet_share(void *p, const char *self, int64_t *ret_share,
    int64_t *ret_owned)
{
	struct store_pg		*b = p;
	struct store_pg_fleet	 f;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_READ)) < 0)
		return r;
	if ((r = store_pg_end(b, STORE_PG_READ, store_pg_fleet(b, self,
	    &f))) < 0)
		return r;
	*ret_share = store_pg_fleet_quota(&f);
	*ret_owned = f.owned;
	return 0;
}

/*
 * Take this instance's fair share of the sessions nobody live owns.
 *
 * The share is ceil(sessions / live instances) (store_pg_fleet); this
 * instance claims at most its share minus what it owns already, choosing
 * unowned sessions and those of instances whose lease expired, highest
 * priority first.  The candidate rows are locked FOR UPDATE SKIP LOCKED,
 * so instances claiming at the same moment each take different rows
 * without waiting, and a row that changed hands since the statement
 * began is checked again (READ COMMITTED re-evaluates the condition on
 * the new version).  Each claimed session's epoch goes up, which fences
 * out the previous owner's writes.  Sessions of an owner whose heartbeat
 * is younger than the lease are never taken, whatever its status says:
 * an instance marked dead or stopped a moment ago may still have
 * connectors running, which stop by themselves within the lease
 * (docs/CONNECTORS.md, fencing), and rebalancing a running fleet is its
 * owners' decision (store_pg_session_release).
 */
int
store_pg_session_claim(void *p, const char *self, int64_t now,
    int *ret_claimed)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	struct store_pg_fleet	 f;
	PGresult		*res = NULL;
	int64_t			 want;
	int			 r, claimed = 0;

	(void)now;	/* the database's clock decides; see store_pg.c */
	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	if ((r = store_pg_fleet(b, self, &f)) < 0)
		goto out;
	want = store_pg_fleet_quota(&f) - f.owned;
	if (want > 0) {
		store_pg_arg(&a, self);
		store_pg_arg_i64(&a, b->lease_ms);
		store_pg_arg_i64(&a, f.clock_ms);
		store_pg_arg_i64(&a, want);
		if ((r = store_pg_run(b, "WITH cand AS (SELECT s.id FROM "
		    "sessions s WHERE s.owner_instance IS NULL OR "
		    "(s.owner_instance <> $1 AND NOT EXISTS (SELECT 1 FROM "
		    "instances i WHERE i.id = s.owner_instance AND "
		    "i.heartbeat_at >= $3::bigint - $2::bigint)) "
		    "ORDER BY s.priority DESC, s.id LIMIT "
		    "$4::bigint FOR UPDATE OF s SKIP LOCKED) "
		    "UPDATE sessions s SET owner_instance = $1, epoch = "
		    "s.epoch + 1 FROM cand WHERE s.id = cand.id", &a,
		    &res)) < 0)
			goto out;
		claimed = store_pg_changes(res);
		PQclear(res);
	}
	if ((r = store_pg_end(b, STORE_PG_TX, 0)) < 0)
		return r;
	*ret_claimed = claimed;
	return 0;
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

int
store_pg_session_report(void *p, int64_t id, const char *self,
    int64_t epoch, const struct session_report *rep, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_WRITE)) < 0)
		return r;
	store_pg_arg(&a, store_session_status_name(rep->status));
	store_pg_arg_i64(&a, rep->attempts);
	store_pg_arg(&a, rep->last_error);
	if (rep->connector_pid > 0) {
		store_pg_arg_i64(&a, rep->connector_pid);
		store_pg_arg_i64(&a, rep->connector_started_at);
	} else {
		store_pg_arg(&a, NULL);
		store_pg_arg(&a, NULL);
	}
	store_pg_arg_bool(&a, rep->touch_activity);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, id);
	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, epoch);
	if ((r = store_pg_run(b, "UPDATE sessions SET status = $1::text, "
	    "attempts = $2::bigint, last_error = $3::text, connector_pid = "
	    "$4::bigint, connector_started_at = $5::bigint, last_activity_at = "
	    "CASE WHEN $6::boolean THEN $7::bigint ELSE last_activity_at END, "
	    "graceful_shutdown = CASE WHEN $1::text = 'ready' THEN false ELSE "
	    "graceful_shutdown END WHERE id = $8::bigint AND owner_instance = "
	    "$9 AND epoch = $10::bigint", &a, &res)) == 0) {
		if (store_pg_changes(res) == 0) {
			snprintf(b->err, sizeof b->err, "session %lld is not "
			    "owned by '%s' at epoch %lld", (long long)id, self,
			    (long long)epoch);
			r = -ESTALE;
		}
		PQclear(res);
	}
	return store_pg_end(b, STORE_PG_WRITE, r);
}

/*
 * Give one session up, to rebalance a fleet: its owner becomes NULL, if
 * self still owns it at this epoch, and the next claim (self's or a
 * peer's, woken by the notification) takes it at a new epoch.  Its
 * status, graceful_shutdown and proxy are left as they are: the proxy
 * stays active for the session, reserved for whoever reactivates it.
 * The generation goes up, as for operator changes, so that a peer that
 * only watches the fingerprint notices too.
 */
int
store_pg_session_release(void *p, int64_t id, const char *self,
    int64_t epoch, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	char			 detail[64];
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg_i64(&a, id);
	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, epoch);
	store_pg_arg_i64(&a, now);
	if ((r = store_pg_run(b, "WITH u AS (UPDATE sessions SET "
	    "owner_instance = NULL, updated_at = $4::bigint WHERE id = "
	    "$1::bigint AND owner_instance = $2 AND epoch = $3::bigint "
	    "RETURNING 1) SELECT (SELECT count(*) FROM u), (SELECT count(*) "
	    "FROM sessions WHERE id = $1::bigint)", &a, &res)) < 0)
		goto out;
	if (store_pg_i64(res, 0, 0) == 0) {
		if (store_pg_i64(res, 0, 1) == 0) {
			snprintf(b->err, sizeof b->err, "session %lld does not "
			    "exist", (long long)id);
			r = -ENOENT;
		} else {
			snprintf(b->err, sizeof b->err, "session %lld is not "
			    "owned by '%s' at epoch %lld", (long long)id, self,
			    (long long)epoch);
			r = -ESTALE;
		}
		PQclear(res);
		goto out;
	}
	PQclear(res);
	snprintf(detail, sizeof detail, "{\"epoch\":%lld}", (long long)epoch);
	if ((r = store_pg_bump_generation(b)) < 0 ||
	    (r = store_pg_event(b, now, self, id, "session.released",
	    detail)) < 0 ||
	    (r = store_pg_notify(b, "released", self)) < 0)
		goto out;
	return store_pg_end(b, STORE_PG_TX, 0);
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

/* A graceful stop or a handover: the peers are woken to claim them. */
int
store_pg_session_release_all(void *p, const char *self, bool graceful,
    int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg_bool(&a, graceful);
	store_pg_arg_i64(&a, now);
	store_pg_arg(&a, self);
	if ((r = store_pg_run(b, "UPDATE sessions SET owner_instance = NULL, "
	    "graceful_shutdown = $1::boolean, shutdown_at = CASE WHEN "
	    "$1::boolean THEN $2::bigint ELSE shutdown_at END WHERE "
	    "owner_instance = $3", &a, &res)) < 0)
		goto out;
	if (store_pg_changes(res) > 0)
		r = store_pg_notify(b, "released", self);
	PQclear(res);
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

int
store_pg_session_fingerprint(void *p, int64_t *ret_count, int64_t *ret_gen)
{
	struct store_pg	*b = p;
	PGresult	*res;
	int		 r;

	if ((r = store_pg_read(b, "SELECT (SELECT count(*) FROM sessions), "
	    "(SELECT value FROM meta WHERE key = 'sessions_generation')",
	    NULL, &res)) < 0)
		return r;
	*ret_count = store_pg_i64(res, 0, 0);
	*ret_gen = store_pg_i64(res, 0, 1);
	PQclear(res);
	return 0;
}
