/*
 * The daemon's writes whose outcome it does not wait for: a session's
 * report, a proxy given back or marked, an audit event, a purchase intent
 * settled, a recovery run, the instance's status, dead peers marked.
 *
 * Each becomes a job of the store's worker (storeq.h): the arguments are
 * copied into it, so the caller's memory may change or go at once; the
 * jobs run in the order they were submitted, so a later read, or a later
 * write of the same row, sees this one.  A failure is logged when its
 * result comes back to the loop, where the daemon can afford to log, with
 * the store's own words copied on the worker.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "daemon/daemon_impl.h"
#include "store/storeq.h"

struct daemon_store_job {
	struct daemon		*d;
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

static struct daemon_store_job *
daemon_store_job(struct daemon *d, const char *what, int64_t session)
{
	struct daemon_store_job	*j = xcalloc(1, sizeof *j);

	j->d = d;
	j->what = what;
	j->session = session;
	j->now = util_now_ms();
	(void)util_strlcpy(j->self, d->instance_id, sizeof j->self);
	return j;
}

/* Keep the store's message for the loop's log. */
static int
daemon_store_result(struct store *st, struct daemon_store_job *j, int r)
{
	if (r < 0)
		(void)util_strlcpy(j->err, store_errmsg(st), sizeof j->err);
	return r;
}

static void
daemon_store_done(int r, void *arg)
{
	struct daemon_store_job	*j = arg;

	if (r == -ESTALE && j->session != 0)
		log_warn("session.not_owned", LOGF_I("session", j->session),
		    LOGF_S("phone", j->phone));
	else if (r < 0 && r != -ECANCELED)
		log_error(j->what, LOGF_I("session", j->session),
		    LOGF_I("id", j->id), LOGF_S("error", j->err));
	free(j);
}

/* A job is refused only when the queue is full; that is logged here. */
static void
daemon_store_submit(struct daemon *d, storeq_run_fn run,
    struct daemon_store_job *j)
{
	if (daemon_submit(d, run, daemon_store_done, j, j->what) < 0)
		free(j);
}

int
daemon_submit(struct daemon *d, storeq_run_fn run, storeq_done_fn done,
    void *arg, const char *what)
{
	int	r;

	/* Counted by the queue itself (respawn_store_jobs_refused_total). */
	if ((r = storeq_submit(d->q, run, done, arg)) < 0) {
		log_error("store.queue_full", LOGF_S("job", what),
		    LOGF_I("limit", STOREQ_PENDING_MAX));
	}
	return r;
}

static int
daemon_store_report_run(struct store *st, void *arg)
{
	struct daemon_store_job	*j = arg;

	if (j->rep.last_error != NULL)
		j->rep.last_error = j->text;
	return daemon_store_result(st, j, store_session_report(st, j->id,
	    j->self, j->epoch, &j->rep, j->now));
}

void
daemon_store_report(struct daemon *d, const struct dsession *ds,
    const struct session_report *rep)
{
	struct daemon_store_job	*j;

	j = daemon_store_job(d, "store.report_failed", ds->id);
	j->id = ds->id;
	j->epoch = ds->epoch;
	j->rep = *rep;
	if (rep->last_error != NULL)
		(void)util_strlcpy(j->text, rep->last_error, sizeof j->text);
	memcpy(j->phone, ds->phone, sizeof j->phone);
	daemon_store_submit(d, daemon_store_report_run, j);
}

static int
daemon_store_unassign_run(struct store *st, void *arg)
{
	struct daemon_store_job	*j = arg;

	return daemon_store_result(st, j, store_proxy_unassign(st, j->id,
	    j->flag, j->now));
}

void
daemon_store_proxy_unassign(struct daemon *d, int64_t proxy_id, bool keep)
{
	struct daemon_store_job	*j;

	j = daemon_store_job(d, "store.proxy_unassign_failed", 0);
	j->id = proxy_id;
	j->flag = keep;
	daemon_store_submit(d, daemon_store_unassign_run, j);
}

static int
daemon_store_state_run(struct store *st, void *arg)
{
	struct daemon_store_job	*j = arg;

	return daemon_store_result(st, j, store_proxy_set_state(st, j->id,
	    (enum proxy_state)j->state, j->now));
}

void
daemon_store_proxy_state(struct daemon *d, int64_t proxy_id,
    enum proxy_state state)
{
	struct daemon_store_job	*j;

	j = daemon_store_job(d, "store.proxy_state_failed", 0);
	j->id = proxy_id;
	j->state = (int)state;
	daemon_store_submit(d, daemon_store_state_run, j);
}

static int
daemon_store_event_run(struct store *st, void *arg)
{
	struct daemon_store_job	*j = arg;

	return daemon_store_result(st, j, store_event_add(st, j->now, j->self,
	    j->id, j->kind, NULL));
}

void
daemon_store_event(struct daemon *d, int64_t session, const char *kind)
{
	struct daemon_store_job	*j;

	/* Not a session write: no -ESTALE to expect, session 0 in the job. */
	j = daemon_store_job(d, "store.event_failed", 0);
	j->id = session;
	(void)util_strlcpy(j->kind, kind, sizeof j->kind);
	daemon_store_submit(d, daemon_store_event_run, j);
}

static int
daemon_store_settle_run(struct store *st, void *arg)
{
	struct daemon_store_job	*j = arg;

	return daemon_store_result(st, j, store_intent_settle(st, j->id,
	    (enum intent_state)j->state, j->text[0] != '\0' ? j->text : NULL,
	    j->now));
}

void
daemon_store_intent_settle(struct daemon *d, int64_t intent_id,
    enum intent_state state, const char *error)
{
	struct daemon_store_job	*j;

	j = daemon_store_job(d, "store.intent_settle_failed", 0);
	j->id = intent_id;
	j->state = (int)state;
	if (error != NULL)
		(void)util_strlcpy(j->text, error, sizeof j->text);
	daemon_store_submit(d, daemon_store_settle_run, j);
}

static int
daemon_store_run_run(struct store *st, void *arg)
{
	struct daemon_store_job	*j = arg;

	return daemon_store_result(st, j, store_recovery_run_add(st, &j->run,
	    &j->id));
}

void
daemon_store_recovery_run(struct daemon *d, const struct recovery_run *run)
{
	struct daemon_store_job	*j;

	j = daemon_store_job(d, "store.recovery_run_failed", 0);
	j->run = *run;
	daemon_store_submit(d, daemon_store_run_run, j);
}

static int
daemon_store_status_run(struct store *st, void *arg)
{
	struct daemon_store_job	*j = arg;

	return daemon_store_result(st, j, store_instance_set_status(st,
	    j->self, (enum instance_status)j->state, j->now));
}

void
daemon_store_instance_status(struct daemon *d, enum instance_status status)
{
	struct daemon_store_job	*j;

	j = daemon_store_job(d, "store.instance_status_failed", 0);
	j->state = (int)status;
	daemon_store_submit(d, daemon_store_status_run, j);
}

static int
daemon_store_reap_run(struct store *st, void *arg)
{
	struct daemon_store_job	*j = arg;

	return daemon_store_result(st, j, store_instance_reap(st, j->self,
	    j->now, j->stale_ms, DAEMON_DEAD_KEEP_MS, &j->dead, &j->deleted));
}

static void
daemon_store_reap_done(int r, void *arg)
{
	struct daemon_store_job	*j = arg;

	if (r == 0 && j->dead > 0)
		log_warn("fleet.peer_dead", LOGF_I("instances", j->dead),
		    LOGF_S("msg", "its sessions are claimed once its lease "
		    "has expired"));
	daemon_store_done(r, j);
}

void
daemon_store_reap(struct daemon *d)
{
	struct daemon_store_job	*j;

	j = daemon_store_job(d, "store.reap_failed", 0);
	j->stale_ms = DAEMON_STALE_MS(d);
	if (daemon_submit(d, daemon_store_reap_run, daemon_store_reap_done, j,
	    j->what) < 0)
		free(j);
}
