/*
 * The daemon's writes it does not wait for, as jobs of the store's worker:
 * see record.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "daemon/ctx.h"
#include "daemon/jobs.h"
#include "daemon/record.h"
#include "daemon/sessions.h"
#include "store/storeq.h"

struct record {
	struct dctx		*c;
	struct jobs		*jobs;
};

struct record_job {
	const char		*what;		/* the log event on failure */
	int64_t			 session;	/* for the log; 0: none */
	int64_t			 id;		/* the row acted on */
	int64_t			 epoch;
	int64_t			 now;
	int			 state;
	bool			 flag;
	struct session_report	 rep;
	char			 text[STORE_ERROR_LEN];
	char			 kind[STORE_KIND_LEN];
	char			 self[STORE_ID_LEN];
	char			 phone[PHONE_LEN];
	struct recovery_run	 run;
	int64_t			 stale_ms;	/* reap: a peer's silence */
	int			 dead, deleted;
	char			 err[STORE_ERROR_LEN];	/* on failure */
};

struct record *
record_new(struct dctx *c, struct jobs *jobs)
{
	struct record	*rec = xcalloc(1, sizeof *rec);

	rec->c = c;
	rec->jobs = jobs;
	return rec;
}

void
record_free(struct record *rec)
{
	free(rec);
}

static struct record_job *
record_job(struct record *rec, const char *what, int64_t session)
{
	struct record_job	*j = xcalloc(1, sizeof *j);

	j->what = what;
	j->session = session;
	j->now = util_now_ms();
	(void)util_strlcpy(j->self, rec->c->instance_id, sizeof j->self);
	return j;
}

/* Keep the store's message for the loop's log. */
static int
record_result(struct store *st, struct record_job *j, int r)
{
	if (r < 0)
		(void)util_strlcpy(j->err, store_errmsg(st), sizeof j->err);
	return r;
}

static void
record_done(struct dsession *ds, enum job_fate fate, int r, void *arg)
{
	struct record_job	*j = arg;

	(void)ds;
	(void)fate;	/* a write's outcome is only logged, even at teardown */
	if (r == -ESTALE && j->session != 0)
		log_warn("session.not_owned", LOGF_I("session", j->session),
		    LOGF_S("phone", j->phone));
	else if (r < 0 && r != -ECANCELED)
		log_error(j->what, LOGF_I("session", j->session),
		    LOGF_I("id", j->id), LOGF_S("error", j->err));
	free(j);
}

/* A job is refused only when the queue is full; jobs.c logs that. */
static void
record_submit(struct record *rec, storeq_run_fn run, jobs_done_fn done,
    struct record_job *j)
{
	if (jobs_submit(rec->jobs, rec->c->q, NULL, 0, run, done, j,
	    j->what) < 0)
		free(j);
}

static int
record_report_run(struct store *st, void *arg)
{
	struct record_job	*j = arg;

	if (j->rep.last_error != NULL)
		j->rep.last_error = j->text;
	return record_result(st, j, store_session_report(st, j->id,
	    j->self, j->epoch, &j->rep, j->now));
}

void
record_report(struct record *rec, const struct dsession *ds,
    const struct session_report *rep)
{
	struct record_job	*j;

	j = record_job(rec, "store.report_failed", ds->id);
	j->id = ds->id;
	j->epoch = ds->epoch;
	j->rep = *rep;
	if (rep->last_error != NULL)
		(void)util_strlcpy(j->text, rep->last_error, sizeof j->text);
	memcpy(j->phone, ds->phone, sizeof j->phone);
	record_submit(rec, record_report_run, record_done, j);
}

static int
record_unassign_run(struct store *st, void *arg)
{
	struct record_job	*j = arg;

	return record_result(st, j, store_proxy_unassign(st, j->id,
	    j->flag, j->now));
}

void
record_unassign(struct record *rec, int64_t proxy_id, bool keep)
{
	struct record_job	*j;

	j = record_job(rec, "store.proxy_unassign_failed", 0);
	j->id = proxy_id;
	j->flag = keep;
	record_submit(rec, record_unassign_run, record_done, j);
}

static int
record_state_run(struct store *st, void *arg)
{
	struct record_job	*j = arg;

	return record_result(st, j, store_proxy_set_state(st, j->id,
	    (enum proxy_state)j->state, j->now));
}

void
record_proxy_state(struct record *rec, int64_t proxy_id,
    enum proxy_state state)
{
	struct record_job	*j;

	j = record_job(rec, "store.proxy_state_failed", 0);
	j->id = proxy_id;
	j->state = (int)state;
	record_submit(rec, record_state_run, record_done, j);
}

static int
record_event_run(struct store *st, void *arg)
{
	struct record_job	*j = arg;

	return record_result(st, j, store_event_add(st, j->now, j->self,
	    j->id, j->kind, NULL));
}

void
record_event(struct record *rec, int64_t session, const char *kind)
{
	struct record_job	*j;

	/* Not a session write: no -ESTALE to expect, session 0 in the job. */
	j = record_job(rec, "store.event_failed", 0);
	j->id = session;
	(void)util_strlcpy(j->kind, kind, sizeof j->kind);
	record_submit(rec, record_event_run, record_done, j);
}

static int
record_settle_run(struct store *st, void *arg)
{
	struct record_job	*j = arg;

	return record_result(st, j, store_intent_settle(st, j->id,
	    (enum intent_state)j->state, j->text[0] != '\0' ? j->text : NULL,
	    j->now));
}

void
record_intent_settle(struct record *rec, int64_t intent_id,
    enum intent_state state, const char *error)
{
	struct record_job	*j;

	j = record_job(rec, "store.intent_settle_failed", 0);
	j->id = intent_id;
	j->state = (int)state;
	if (error != NULL)
		(void)util_strlcpy(j->text, error, sizeof j->text);
	record_submit(rec, record_settle_run, record_done, j);
}

static int
record_run_run(struct store *st, void *arg)
{
	struct record_job	*j = arg;

	return record_result(st, j, store_recovery_run_add(st, &j->run,
	    &j->id));
}

void
record_recovery_run(struct record *rec, const struct recovery_run *run)
{
	struct record_job	*j;

	j = record_job(rec, "store.recovery_run_failed", 0);
	j->run = *run;
	record_submit(rec, record_run_run, record_done, j);
}

static int
record_status_run(struct store *st, void *arg)
{
	struct record_job	*j = arg;

	return record_result(st, j, store_instance_set_status(st,
	    j->self, (enum instance_status)j->state, j->now));
}

void
record_instance_status(struct record *rec, enum instance_status status)
{
	struct record_job	*j;

	j = record_job(rec, "store.instance_status_failed", 0);
	j->state = (int)status;
	record_submit(rec, record_status_run, record_done, j);
}

static int
record_reap_run(struct store *st, void *arg)
{
	struct record_job	*j = arg;

	return record_result(st, j, store_instance_reap(st, j->self,
	    j->now, j->stale_ms, RECORD_DEAD_KEEP_MS, &j->dead, &j->deleted));
}

static void
record_reap_done(struct dsession *ds, enum job_fate fate, int r, void *arg)
{
	struct record_job	*j = arg;

	if (r == 0 && j->dead > 0)
		log_warn("fleet.peer_dead", LOGF_I("instances", j->dead),
		    LOGF_S("msg", "its sessions are claimed once its lease "
		    "has expired"));
	record_done(ds, fate, r, j);
}

void
record_reap(struct record *rec, int64_t stale_ms)
{
	struct record_job	*j;

	j = record_job(rec, "store.reap_failed", 0);
	j->stale_ms = stale_ms;
	record_submit(rec, record_reap_run, record_reap_done, j);
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
				    .result = -ETIMEDOUT };

	(void)util_strlcpy(b.self, c->instance_id, sizeof b.self);
	/*
	 * First what is queued, and what its answers queue in turn (an
	 * acquisition undone gives its proxy back): all before the goodbye.
	 */
	if (storeq_drain(c->q, timeout_ms) < 0)
		log_warn("store.drain_slow", LOGF_I("ms", timeout_ms));
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
