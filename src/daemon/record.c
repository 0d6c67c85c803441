/*
 * The daemon's writes it does not wait for, kept until the store has them:
 * see record.h.
 *
 * Every write is an entry of the journal, in the order it was made, sent
 * to the store's worker at once while the store takes writes.  An entry
 * leaves the journal when its answer says it is written: the job
 * succeeded and, on SQLite, the batch it ran in committed (jobs.c turns
 * the answer of a job whose batch was lost into a failure).  A write that
 * failed stays, and so does every write made after it: the journal is
 * blocked, and retried in order with backoff until the store takes it.  Of several writes of the
 * same row (a session's report, a proxy's state, an intent, the
 * instance's status) only the newest is retried: writes here set state,
 * so the last one is the one that counts, and an older one must not land
 * after a newer one did.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/failpoint.h"
#include "base/intmap.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "daemon/ctx.h"
#include "daemon/jobs.h"
#include "daemon/record.h"
#include "daemon/sessions.h"
#include "store/storeq.h"

#define RECORD_RETRY_MIN_MS	100
#define RECORD_RETRY_MAX_MS	5000

/* Rows a write sets, for "only the newest is retried". */
enum record_class {
	RECORD_CLASS_NONE,		/* appends: every one counts */
	RECORD_CLASS_SESSION,
	RECORD_CLASS_PROXY,
	RECORD_CLASS_INTENT,
	RECORD_CLASS_INSTANCE,
};

enum record_state {
	RECORD_WAITING,		/* not sent: the journal is blocked */
	RECORD_SENT,		/* with the store's worker */
};

struct record_entry {
	TAILQ_ENTRY(record_entry) link;
	struct record		*rec;
	uint64_t		 seq;
	int64_t			 key;		/* class << 56 | id; 0: none */
	enum record_state	 state;
	storeq_run_fn		 run;
	const char		*what;		/* the log event on failure */
	/* What the write needs, copied: the caller's memory may go. */
	int64_t			 session;	/* for the log; 0: none */
	int64_t			 id;		/* the row acted on */
	int64_t			 epoch;
	int64_t			 now;
	int			 state_arg;
	bool			 flag;
	struct session_report	 rep;
	char			 text[STORE_ERROR_LEN];
	char			 kind[STORE_KIND_LEN];
	char			 self[STORE_ID_LEN];
	char			 phone[PHONE_LEN];
	struct recovery_run	 run_row;
	int64_t			 stale_ms;	/* reap: a peer's silence */
	int64_t			 held_for, held_until;	/* unassign */
	int			 dead, deleted;
	char			 err[STORE_ERROR_LEN];	/* on failure */
};

TAILQ_HEAD(record_journal, record_entry);

struct record {
	struct dctx		*c;
	struct jobs		*jobs;
	struct record_journal	 journal;
	size_t			 length;
	uint64_t		 seq;
	size_t			 sent;		/* entries with the worker */
	bool			 blocked;	/* a write failed: all wait */
	int64_t			 blocked_since;	/* monotonic ms */
	int64_t			 retry_ms;	/* the next backoff */
	struct event		*ev_retry;
	struct intmap		*pending;	/* session -> reports not written */
	struct intmap		*written;	/* key -> newest seq written */
	struct record_stats	 stats;
};

static void	record_send(struct record *rec, struct record_entry *e);

/* A waiting write an answer or a later write of its row made moot. */
static bool
record_superseded(const struct record *rec, const struct record_entry *e)
{
	const struct record_entry	*l;

	if (e->key == 0)
		return false;
	if ((int64_t)(intptr_t)intmap_get(rec->written, e->key) >
	    (int64_t)e->seq)
		return true;
	for (l = TAILQ_NEXT(e, link); l != NULL; l = TAILQ_NEXT(l, link))
		if (l->key == e->key)
			return true;
	return false;
}

static void
record_forget(struct record *rec, struct record_entry *e)
{
	intptr_t	n;

	if (e->key >> 56 == RECORD_CLASS_SESSION) {
		n = (intptr_t)intmap_get(rec->pending, e->id) - 1;
		if (n > 0)
			intmap_put(rec->pending, e->id, (void *)n);
		else
			(void)intmap_del(rec->pending, e->id);
	}
	TAILQ_REMOVE(&rec->journal, e, link);
	rec->length--;
	free(e);
}

/* Send what waits, in order; of several writes of a row, the newest. */
static void
record_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct record		*rec = arg;
	struct record_entry	*e, *next;

	(void)fd;
	(void)what;
	if (rec->c->tearing_down)
		return;
	for (e = TAILQ_FIRST(&rec->journal); e != NULL; e = next) {
		next = TAILQ_NEXT(e, link);
		if (e->state == RECORD_WAITING && record_superseded(rec, e)) {
			rec->stats.superseded++;
			record_forget(rec, e);
		}
	}
	dctx_batch_begin(rec->c);
	TAILQ_FOREACH(e, &rec->journal, link)
		if (e->state == RECORD_WAITING)
			record_send(rec, e);
	dctx_batch_end(rec->c);
}

/* The next round of retries in ms (0: at once). */
static void
record_schedule(struct record *rec, int64_t ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	if (rec->ev_retry != NULL && !evtimer_pending(rec->ev_retry, NULL))
		evtimer_add(rec->ev_retry, &tv);
}

struct record *
record_new(struct dctx *c, struct jobs *jobs)
{
	struct record	*rec = xcalloc(1, sizeof *rec);

	rec->c = c;
	rec->jobs = jobs;
	TAILQ_INIT(&rec->journal);
	rec->retry_ms = RECORD_RETRY_MIN_MS;
	rec->pending = intmap_new();
	rec->written = intmap_new();
	if (c->base != NULL)
		rec->ev_retry = evtimer_new(c->base, record_retry_cb, rec);
	return rec;
}

void
record_free(struct record *rec)
{
	struct record_entry	*e;

	if (rec == NULL)
		return;
	while ((e = TAILQ_FIRST(&rec->journal)) != NULL) {
		TAILQ_REMOVE(&rec->journal, e, link);
		free(e);
	}
	if (rec->ev_retry != NULL)
		event_free(rec->ev_retry);
	intmap_free(rec->pending);
	intmap_free(rec->written);
	free(rec);
}

bool
record_blocked(const struct record *rec)
{
	return rec->blocked;
}

bool
record_durable(const struct record *rec, int64_t session)
{
	return !rec->blocked && intmap_get(rec->pending, session) == NULL;
}

void
record_stats(const struct record *rec, struct record_stats *ret)
{
	*ret = rec->stats;
	ret->waiting = rec->length;
	ret->blocked_ms = rec->blocked ? util_mono_ms() -
	    rec->blocked_since : 0;
}

/* --- the journal -------------------------------------------------------- */

static int
record_run(struct store *st, void *arg)
{
	struct record_entry	*e = arg;
	int			 r;

	/* A test's failing disk (failpoint.h). */
	if (failpoint("store.write")) {
		(void)util_strlcpy(e->err, "database or disk is full "
		    "(failpoint store.write)", sizeof e->err);
		return -ENOSPC;
	}
	if ((r = e->run(st, e)) < 0)
		(void)util_strlcpy(e->err, store_errmsg(st), sizeof e->err);
	return r;
}

static void
record_block(struct record *rec, const struct record_entry *e, int r)
{
	rec->stats.failures++;
	if (!rec->blocked) {
		rec->blocked = true;
		rec->blocked_since = util_mono_ms();
		log_error("store.write_failed", LOGF_S("write", e->what),
		    LOGF_I("session", e->session), LOGF_I("id", e->id),
		    LOGF_S("error", r == -EIO && e->err[0] == '\0' ? "its batch "
		    "did not commit" : e->err), LOGF_I("result", r), LOGF_S("msg", "writes are "
		    "kept and retried in order; nothing new starts meanwhile"));
	}
	if (rec->ev_retry != NULL && evtimer_pending(rec->ev_retry, NULL))
		return;
	record_schedule(rec, rec->retry_ms);
	rec->retry_ms = rec->retry_ms * 2 > RECORD_RETRY_MAX_MS ?
	    RECORD_RETRY_MAX_MS : rec->retry_ms * 2;
}

/* Written: out of the journal (and the answer's own news logged). */
static void
record_written(struct record *rec, struct record_entry *e, int r)
{
	if (r == -ESTALE && e->session != 0)
		log_warn("session.not_owned", LOGF_I("session", e->session),
		    LOGF_S("phone", e->phone));
	else if (r < 0)
		/* The row is gone, or refused for good: nothing to retry. */
		log_warn(e->what, LOGF_I("session", e->session),
		    LOGF_I("id", e->id), LOGF_S("error", e->err));
	else if (e->stale_ms > 0 && e->dead > 0)
		log_warn("fleet.peer_dead", LOGF_I("instances", e->dead),
		    LOGF_S("msg", "its sessions are claimed once its lease "
		    "has expired"));
	if (e->key != 0 && (int64_t)e->seq > (int64_t)(intptr_t)
	    intmap_get(rec->written, e->key))
		intmap_put(rec->written, e->key, (void *)(intptr_t)e->seq);
	record_forget(rec, e);
}

static void
record_answered(struct dsession *ds, enum job_fate fate, int r, void *arg)
{
	struct record_entry	*e = arg;
	struct record		*rec = e->rec;

	(void)ds;
	/* At the teardown the journal is freed with the rest. */
	if (fate == JOB_TEARDOWN || r == -ECANCELED)
		return;
	rec->sent--;
	/* Refused for a reason no retry changes: written, as it will be. */
	if (r == -ESTALE || r == -ENOENT) {
		record_written(rec, e, r);
	} else if (r < 0) {
		e->state = RECORD_WAITING;
		record_block(rec, e, r);
		return;
	} else {
		record_written(rec, e, 0);
	}
	if (!rec->blocked || rec->sent > 0)
		return;
	/* Blocked, and this round is answered: more waiting, or clear. */
	TAILQ_FOREACH(e, &rec->journal, link)
		if (e->state == RECORD_WAITING) {
			record_schedule(rec, 0);
			return;
		}
	log_info("store.writable_again", LOGF_I("blocked_ms", util_mono_ms() -
	    rec->blocked_since), LOGF_I("failures", rec->stats.failures));
	rec->blocked = false;
	rec->retry_ms = RECORD_RETRY_MIN_MS;
}

static void
record_send(struct record *rec, struct record_entry *e)
{
	e->state = RECORD_SENT;
	rec->sent++;
	if (jobs_submit(rec->jobs, rec->c->q, NULL, 0, record_run,
	    record_answered, e, e->what) < 0) {
		/* The queue is full: as good as a failed write. */
		rec->sent--;
		e->state = RECORD_WAITING;
		(void)util_strlcpy(e->err, "the store's queue is full",
		    sizeof e->err);
		record_block(rec, e, -ENOBUFS);
	}
}

static struct record_entry *
record_entry(struct record *rec, const char *what, int64_t session,
    storeq_run_fn run)
{
	struct record_entry	*e = xcalloc(1, sizeof *e);

	e->rec = rec;
	e->what = what;
	e->session = session;
	e->run = run;
	e->now = util_now_ms();
	(void)util_strlcpy(e->self, rec->c->instance_id, sizeof e->self);
	return e;
}

static void
record_push(struct record *rec, struct record_entry *e,
    enum record_class class, int64_t id)
{
	struct record_entry	*old;

	if (class != RECORD_CLASS_NONE)
		e->key = (int64_t)class << 56 | (id & ((INT64_C(1) << 56) - 1));
	e->seq = ++rec->seq;
	if (class == RECORD_CLASS_SESSION)
		intmap_put(rec->pending, id, (void *)((intptr_t)
		    intmap_get(rec->pending, id) + 1));
	/*
	 * Bounded: past the limit (a store down for long), the oldest
	 * waiting append goes; keyed writes are bounded by their rows.
	 */
	if (rec->length >= RECORD_JOURNAL_MAX) {
		TAILQ_FOREACH(old, &rec->journal, link)
			if (old->state == RECORD_WAITING && old->key == 0)
				break;
		if (old != NULL) {
			TAILQ_REMOVE(&rec->journal, old, link);
			rec->length--;
			rec->stats.dropped++;
			free(old);
		}
	}
	TAILQ_INSERT_TAIL(&rec->journal, e, link);
	rec->length++;
	rec->stats.writes++;
	if (rec->blocked)
		e->state = RECORD_WAITING;
	else
		record_send(rec, e);
}

/* --- the writes --------------------------------------------------------- */

static int
record_report_run(struct store *st, void *arg)
{
	struct record_entry	*e = arg;

	if (e->rep.last_error != NULL)
		e->rep.last_error = e->text;
	return store_session_report(st, e->id, e->self, e->epoch, &e->rep,
	    e->now);
}

void
record_report(struct record *rec, struct dsession *ds,
    const struct session_report *rep)
{
	struct record_entry	*e;

	/* The figures count what the store is told, from now on. */
	sessions_set_status(ds->reg, ds, rep->status);
	e = record_entry(rec, "store.report_failed", ds->id,
	    record_report_run);
	e->id = ds->id;
	e->epoch = ds->epoch;
	e->rep = *rep;
	if (rep->last_error != NULL)
		(void)util_strlcpy(e->text, rep->last_error, sizeof e->text);
	memcpy(e->phone, ds->phone, sizeof e->phone);
	record_push(rec, e, RECORD_CLASS_SESSION, ds->id);
}

static int
record_unassign_run(struct store *st, void *arg)
{
	struct record_entry	*e = arg;

	return store_proxy_unassign(st, e->id, e->flag, e->now, e->held_for,
	    e->held_until);
}

void
record_unassign(struct record *rec, int64_t proxy_id, bool keep,
    int64_t held_for, int64_t held_until)
{
	struct record_entry	*e;

	e = record_entry(rec, "store.proxy_unassign_failed", 0,
	    record_unassign_run);
	e->id = proxy_id;
	e->flag = keep;
	e->held_for = held_for;
	e->held_until = held_until;
	record_push(rec, e, RECORD_CLASS_PROXY, proxy_id);
}

static int
record_state_run(struct store *st, void *arg)
{
	struct record_entry	*e = arg;

	return store_proxy_set_state(st, e->id, (enum proxy_state)e->state_arg,
	    e->now);
}

void
record_proxy_state(struct record *rec, int64_t proxy_id,
    enum proxy_state state)
{
	struct record_entry	*e;

	e = record_entry(rec, "store.proxy_state_failed", 0, record_state_run);
	e->id = proxy_id;
	e->state_arg = (int)state;
	record_push(rec, e, RECORD_CLASS_PROXY, proxy_id);
}

static int
record_event_run(struct store *st, void *arg)
{
	struct record_entry	*e = arg;

	return store_event_add(st, e->now, e->self, e->id, e->kind, NULL);
}

void
record_event(struct record *rec, int64_t session, const char *kind)
{
	struct record_entry	*e;

	/* Not a session write: no -ESTALE to expect, session 0 in the job. */
	e = record_entry(rec, "store.event_failed", 0, record_event_run);
	e->id = session;
	(void)util_strlcpy(e->kind, kind, sizeof e->kind);
	record_push(rec, e, RECORD_CLASS_NONE, 0);
}

static int
record_refused_run(struct store *st, void *arg)
{
	struct record_entry	*e = arg;

	return store_refused_add(st, e->phone, e->text, e->now);
}

void
record_refused(struct record *rec, int64_t session, const char *phone,
    const char *ip)
{
	struct record_entry	*e;

	e = record_entry(rec, "store.refused_failed", 0, record_refused_run);
	e->id = session;
	(void)util_strlcpy(e->phone, phone, sizeof e->phone);
	(void)util_strlcpy(e->text, ip, sizeof e->text);
	record_push(rec, e, RECORD_CLASS_NONE, 0);
}

static int
record_settle_run(struct store *st, void *arg)
{
	struct record_entry	*e = arg;

	return store_intent_settle(st, e->id, (enum intent_state)e->state_arg,
	    e->text[0] != '\0' ? e->text : NULL, e->now);
}

void
record_intent_settle(struct record *rec, int64_t intent_id,
    enum intent_state state, const char *error)
{
	struct record_entry	*e;

	e = record_entry(rec, "store.intent_settle_failed", 0,
	    record_settle_run);
	e->id = intent_id;
	e->state_arg = (int)state;
	if (error != NULL)
		(void)util_strlcpy(e->text, error, sizeof e->text);
	record_push(rec, e, RECORD_CLASS_INTENT, intent_id);
}

static int
record_run_run(struct store *st, void *arg)
{
	struct record_entry	*e = arg;

	return store_recovery_run_add(st, &e->run_row, &e->id);
}

void
record_recovery_run(struct record *rec, const struct recovery_run *run)
{
	struct record_entry	*e;

	e = record_entry(rec, "store.recovery_run_failed", 0, record_run_run);
	e->run_row = *run;
	record_push(rec, e, RECORD_CLASS_NONE, 0);
}

static int
record_status_run(struct store *st, void *arg)
{
	struct record_entry	*e = arg;

	return store_instance_set_status(st, e->self,
	    (enum instance_status)e->state_arg, e->now);
}

void
record_instance_status(struct record *rec, enum instance_status status)
{
	struct record_entry	*e;

	e = record_entry(rec, "store.instance_status_failed", 0,
	    record_status_run);
	e->state_arg = (int)status;
	record_push(rec, e, RECORD_CLASS_INSTANCE, 0);
}

static int
record_reap_run(struct store *st, void *arg)
{
	struct record_entry	*e = arg;

	return store_instance_reap(st, e->self, e->now, e->stale_ms,
	    RECORD_DEAD_KEEP_MS, &e->dead, &e->deleted);
}

void
record_reap(struct record *rec, int64_t stale_ms)
{
	struct record_entry	*e;

	e = record_entry(rec, "store.reap_failed", 0, record_reap_run);
	e->stale_ms = stale_ms;
	record_push(rec, e, RECORD_CLASS_NONE, 0);
}

/*
 * The last writes of a graceful stop: every session given up (marked
 * gracefully stopped unless handed over) and the instance stopped.  They
 * go through the worker too, after everything it still holds, and on its
 * connection, the one known to work (the loop's may have been idle since
 * the database last restarted).
 */
struct record_bye {
	char	self[STORE_ID_LEN];
	bool	graceful;
	bool	fleet;
	char	err[STORE_ERROR_LEN];
	int	result;
	bool	done;
};

static int
record_bye_run(struct store *st, void *arg)
{
	struct record_bye	*b = arg;
	int64_t			 now = util_now_ms();
	int			 r;

	/*
	 * A handover in fleet mode leaves the sessions and the lease as they
	 * are: the next daemon of this state directory takes both over in
	 * one step (succession.h).  Released, they would go to a peer while
	 * the connectors still run, waiting for the next daemon.
	 */
	if (b->fleet && !b->graceful)
		return 0;
	if ((r = store_session_release_all(st, b->self, b->graceful,
	    now)) < 0 || (r = store_instance_set_status(st, b->self,
	    INSTANCE_STOPPED, now)) < 0)
		(void)util_strlcpy(b->err, store_errmsg(st), sizeof b->err);
	return r;
}

static void
record_bye_done(int result, void *arg)
{
	struct record_bye	*b = arg;

	b->result = result;
	b->done = true;
}

int
record_goodbye(struct record *rec, bool graceful, int64_t timeout_ms)
{
	struct dctx		*c = rec->c;
	struct record_bye	 b = { .graceful = graceful,
				    .fleet = c->fleet, .result = -ETIMEDOUT };

	(void)util_strlcpy(b.self, c->instance_id, sizeof b.self);
	/*
	 * First what is queued, and what its answers queue in turn (an
	 * acquisition undone gives its proxy back), and one last try of
	 * what the store refused: all before the goodbye.
	 */
	if (storeq_drain(c->q, timeout_ms) < 0)
		log_warn("store.drain_slow", LOGF_I("ms", timeout_ms));
	if (rec->blocked) {
		if (rec->ev_retry != NULL)
			evtimer_del(rec->ev_retry);
		record_retry_cb(-1, 0, rec);
		(void)storeq_drain(c->q, timeout_ms);
		if (rec->length > 0)
			log_error("store.writes_lost", LOGF_I("writes",
			    (int64_t)rec->length), LOGF_S("msg", "the store "
			    "did not take them before the stop"));
	}
	if (storeq_submit(c->q, record_bye_run, record_bye_done, &b) < 0) {
		log_error("store.shutdown_failed", LOGF_S("error",
		    "the store's queue is full"));
		return -ENOBUFS;
	}
	if (storeq_drain(c->q, timeout_ms) < 0 || !b.done) {
		log_error("store.drain_timeout", LOGF_I("ms", timeout_ms),
		    LOGF_S("msg", "writes still queued are abandoned"));
		/* The worker must not write into b once this returns. */
		storeq_free(c->q);
		c->q = NULL;
		return -ETIMEDOUT;
	}
	if (b.result < 0) {
		log_error("store.shutdown_failed", LOGF_S("error", b.err));
		return b.result;
	}
	return 0;
}
