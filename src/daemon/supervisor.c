/*
 * The supervisor: core/supervise.c's table run for every session, through
 * one queue of events: see supervisor.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/failpoint.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "daemon/ctx.h"
#include "daemon/jobs.h"
#include "daemon/record.h"
#include "daemon/sessions.h"
#include "daemon/supervisor.h"
#include "sys/child.h"

/* One event waiting to be handled; the record is found again by id. */
struct supervisor_event {
	int64_t			 session;
	uint64_t		 serial;	/* the record it was fed to */
	enum supervise_event	 ev;
	int			 status;
	bool			 keep_proxy;
	bool			 admitted;	/* a START of the admission */
};

struct supervisor {
	struct dctx		*c;
	struct sessions		*reg;
	struct jobs		*jobs;
	struct record		*rec;
	struct supervisor_hooks	 hooks;
	/* The events, a ring. */
	struct supervisor_event	*ring;
	size_t			 head, len, cap;
	bool			 draining;
	bool			 armed;		/* ev_drain is active */
	struct event		*ev_drain;
	struct event		*ev_admit;
	int64_t			 starting;	/* sessions in STARTING */
	int64_t			 admitted;	/* their STARTs still queued */
};

static void	supervisor_check_owner(struct supervisor *sup,
		    struct dsession *ds);

static void
supervisor_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sup = arg;

	(void)fd;
	(void)what;
	sup->armed = false;
	dctx_batch_begin(sup->c);
	supervisor_drain(sup);
	dctx_batch_end(sup->c);
}

static void
supervisor_admit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sup = arg;

	(void)fd;
	(void)what;
	dctx_batch_begin(sup->c);
	supervisor_admit(sup);
	supervisor_drain(sup);
	dctx_batch_end(sup->c);
}

struct supervisor *
supervisor_new(struct dctx *c, struct sessions *reg, struct jobs *jobs,
    struct record *rec, const struct supervisor_hooks *hooks)
{
	struct supervisor	*sup = xcalloc(1, sizeof *sup);

	sup->c = c;
	sup->reg = reg;
	sup->jobs = jobs;
	sup->rec = rec;
	sup->hooks = *hooks;
	if (c->base != NULL) {
		sup->ev_drain = event_new(c->base, -1, 0, supervisor_drain_cb,
		    sup);
		sup->ev_admit = event_new(c->base, -1, 0, supervisor_admit_cb,
		    sup);
	}
	return sup;
}

void
supervisor_free(struct supervisor *sup)
{
	if (sup == NULL)
		return;
	if (sup->ev_drain != NULL)
		event_free(sup->ev_drain);
	if (sup->ev_admit != NULL)
		event_free(sup->ev_admit);
	free(sup->ring);
	free(sup);
}

static void
supervisor_push(struct supervisor *sup, const struct supervisor_event *e)
{
	struct supervisor_event	*grown;
	size_t			 i, cap;

	if (sup->len == sup->cap) {
		cap = sup->cap ? sup->cap * 2 : SUPERVISOR_QUEUE_MIN;
		grown = xreallocarray(NULL, cap, sizeof *grown);
		for (i = 0; i < sup->len; i++)
			grown[i] = sup->ring[(sup->head + i) % sup->cap];
		free(sup->ring);
		sup->ring = grown;
		sup->cap = cap;
		sup->head = 0;
	}
	sup->ring[(sup->head + sup->len++) % sup->cap] = *e;
}

static void
supervisor_queue(struct supervisor *sup, struct dsession *ds,
    enum supervise_event ev, int status, bool keep_proxy, bool admitted)
{
	struct supervisor_event	e = { .session = ds->id, .serial = ds->serial,
				    .ev = ev, .status = status,
				    .keep_proxy = keep_proxy,
				    .admitted = admitted };

	supervisor_push(sup, &e);
	ds->nevents++;
	/* Handled right after the current callback, if nobody drains first. */
	if (!sup->draining && !sup->armed && sup->ev_drain != NULL) {
		sup->armed = true;
		event_active(sup->ev_drain, EV_TIMEOUT, 0);
	}
}

void
supervisor_feed(struct supervisor *sup, struct dsession *ds,
    enum supervise_event ev, int status, bool keep_proxy)
{
	supervisor_queue(sup, ds, ev, status, keep_proxy, false);
}

size_t
supervisor_queued(const struct supervisor *sup)
{
	return sup->len;
}

int64_t
supervisor_starting(const struct supervisor *sup)
{
	return sup->starting;
}

void
supervisor_persist(struct supervisor *sup, struct dsession *ds, bool touch)
{
	struct session_report	 rep = { 0 };
	char			 err[128];

	if (supervise_gone(&ds->sv))
		return;
	rep.status = sessions_status_of(ds->sv.state);
	rep.attempts = ds->sv.attempts;
	if (ds->sv.cause != SV_CAUSE_NONE) {
		if (ds->sv.cause == SV_CAUSE_EXIT ||
		    ds->sv.cause == SV_CAUSE_SIGNAL)
			snprintf(err, sizeof err, "%s %d",
			    ds->sv.cause == SV_CAUSE_EXIT ? "exit status" :
			    "killed by signal", ds->sv.last_exit < 0 ?
			    -ds->sv.last_exit : ds->sv.last_exit);
		else
			snprintf(err, sizeof err, "%s",
			    supervise_cause_name(ds->sv.cause));
		rep.last_error = err;
	}
	rep.connector_pid = ds->pid;
	rep.connector_started_at = (int64_t)ds->start_ticks;
	rep.touch_activity = touch || ds->sv.state == SV_READY;
	record_report(sup->rec, ds, &rep);
}

void
supervisor_hold_needs_auth(struct supervisor *sup, struct dsession *ds)
{
	supervisor_feed(sup, ds, SV_EV_HOLD_AUTH, 0, false);
}

/* Arm (or disarm) the session's timer for its deadline. */
static void
supervisor_schedule(struct dsession *ds)
{
	struct timeval	tv;
	int64_t		left;

	if (ds->timer == NULL)
		return;
	if (ds->sv.deadline == 0) {
		evtimer_del(ds->timer);
		return;
	}
	left = ds->sv.deadline - util_mono_ms();
	if (left < 0)
		left = 0;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	evtimer_add(ds->timer, &tv);
}

void
supervisor_reap(struct supervisor *sup, struct dsession *ds)
{
	/* Only once no process of it is left (stopped, failed, logged out). */
	if (!supervise_gone(&ds->sv) || ds->queued || ds->pid > 0 ||
	    ds->released_after != 0 || (ds->sv.state != SV_STOPPED &&
	    ds->sv.state != SV_FAILED && ds->sv.state != SV_NEEDS_AUTH))
		return;
	sup->hooks.cancel_acquire(sup->hooks.arg, ds);
	sup->hooks.release_proxy(sup->hooks.arg, ds, false);
	log_info("session.dropped", LOGF_I("session", ds->id),
	    LOGF_S("phone", ds->phone));
	sessions_drop(sup->reg, ds);
}

/* Carry out what the table decided. */
static void
supervisor_act(struct supervisor *sup, struct dsession *ds,
    const struct supervise_output *out)
{
	unsigned	a = out->actions;

	if (out->from == SV_STARTING && out->to != SV_STARTING)
		sup->starting--;
	else if (out->from != SV_STARTING && out->to == SV_STARTING)
		sup->starting++;

	if ((a & SV_ACT_TERM) && ds->pid > 0)
		(void)child_signal_group(ds->pid, SIGTERM);
	if ((a & SV_ACT_KILL) && ds->pid > 0) {
		log_warn("connector.killed", LOGF_I("session", ds->id),
		    LOGF_I("pid", ds->pid));
		(void)child_signal_group(ds->pid, SIGKILL);
	}
	if (a & (SV_ACT_MARK_IP_BAD | SV_ACT_RELEASE_PROXY))
		sup->hooks.release_proxy(sup->hooks.arg, ds,
		    (a & SV_ACT_MARK_IP_BAD) != 0);
	if (a & SV_ACT_CANCEL_ACQUIRE)
		sup->hooks.cancel_acquire(sup->hooks.arg, ds);
	if (a & SV_ACT_ALERT_FAILED) {
		log_error("session.failed", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_I("attempts",
		    ds->sv.attempts), LOGF_S("cause",
		    supervise_cause_name(ds->sv.cause)));
		record_event(sup->rec, ds->id, "session.failed");
	}
	if (a & SV_ACT_ALERT_AUTH) {
		log_warn("session.needs_auth", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_S("msg",
		    "logged out: the customer must scan a QR code"));
		record_event(sup->rec, ds->id, "session.needs_auth");
	}
	/* A test's crash: ready, and the store does not know yet. */
	if (out->to == SV_READY && out->from != SV_READY)
		(void)failpoint("ready.received");
	if (a & SV_ACT_PERSIST)
		supervisor_persist(sup, ds, false);
	supervisor_schedule(ds);
	sup->hooks.moved(sup->hooks.arg, ds, out);
	if (a & SV_ACT_CHECK_OWNER)
		supervisor_check_owner(sup, ds);
	if (a & SV_ACT_ACQUIRE)
		sup->hooks.acquire(sup->hooks.arg, ds);
	if (a & SV_ACT_SPAWN)
		sup->hooks.spawn(sup->hooks.arg, ds);
	if (a & SV_ACT_GIVE_UP)
		sup->hooks.give_up(sup->hooks.arg, ds);
	if (out->from == SV_STARTING && out->to != SV_STARTING)
		supervisor_admit(sup);
	/* Last: it may free ds. */
	if (a & SV_ACT_DROP)
		supervisor_reap(sup, ds);
}

/* One event: the table's step, then its actions. */
static void
supervisor_step(struct supervisor *sup, struct dsession *ds,
    const struct supervisor_event *e)
{
	struct supervise_input	in = { .event = e->ev, .status = e->status,
				    .keep_proxy = e->keep_proxy };
	struct supervise_output	out;

	supervise_step(&ds->sv, &sup->c->sp, &in, util_mono_ms(),
	    rng_double(&sup->c->rng), &out);
	sessions_moved(sup->reg, out.from, out.to);
	ds->waiting_proxy = e->ev == SV_EV_PROXY_WAIT && out.to == SV_BACKOFF;
	if (out.from != out.to)
		log_debug("session.state", LOGF_I("session", ds->id),
		    LOGF_S("event", supervise_event_name(e->ev)),
		    LOGF_S("from", supervise_state_name(out.from)),
		    LOGF_S("to", supervise_state_name(out.to)));
	supervisor_act(sup, ds, &out);
}

void
supervisor_drain(struct supervisor *sup)
{
	struct supervisor_event	 e;
	struct dsession		*ds;

	if (sup->draining)
		return;
	sup->draining = true;
	while (sup->len > 0) {
		e = sup->ring[sup->head];
		sup->head = (sup->head + 1) % sup->cap;
		sup->len--;
		if (e.admitted)
			sup->admitted--;
		/* Fed to a record since dropped: nobody to tell. */
		if ((ds = sessions_get(sup->reg, e.session)) == NULL ||
		    ds->serial != e.serial)
			continue;
		ds->nevents--;
		supervisor_step(sup, ds, &e);
	}
	sup->draining = false;
	if (sup->hooks.idle != NULL)
		sup->hooks.idle(sup->hooks.arg);
}

void
supervisor_admit(struct supervisor *sup)
{
	const struct dctx	*c = sup->c;
	struct dsession		*ds;
	int			 budget = SUPERVISOR_ADMIT_BATCH;

	/*
	 * Nothing new starts that the store could not record: while it
	 * refuses writes, queued sessions wait (the tick admits again).
	 */
	if (record_blocked(sup->rec))
		return;
	while (sessions_waiting(sup->reg) > 0 && !c->stopping &&
	    sup->starting + sup->admitted < c->cfg->start_concurrency) {
		/*
		 * A bounded batch per loop iteration: the rest follows from
		 * the loop, so READY=1 messages and exits are read in between
		 * and no readiness timer is judged on a stale view.
		 */
		if (budget-- == 0) {
			if (sup->ev_admit != NULL)
				event_active(sup->ev_admit, EV_TIMEOUT, 0);
			return;
		}
		if ((ds = sessions_dequeue(sup->reg)) == NULL)
			break;
		if (supervise_gone(&ds->sv)) {
			supervisor_reap(sup, ds);
			continue;
		}
		if (ds->desired != SESSION_DESIRED_RUNNING)
			continue;
		if (ds->recovering && ds->recovery_t0 == 0)
			ds->recovery_t0 = util_mono_ms();
		sup->admitted++;
		supervisor_queue(sup, ds, SV_EV_START, 0, false, true);
	}
}

void
supervisor_start(struct supervisor *sup, struct dsession *ds)
{
	sessions_enqueue(sup->reg, ds);
	supervisor_admit(sup);
}

/* After a conflict: is the session still ours?  The store's worker asks. */
struct supervisor_owner {
	struct supervisor	*sup;
	int64_t			 session;
	int64_t			 epoch;
	char			 self[STORE_ID_LEN];
	bool			 ours;
};

static int
supervisor_owner_run(struct store *st, void *arg)
{
	struct supervisor_owner	*o = arg;
	struct session		 s;
	int			 r;

	if ((r = store_session_get(st, o->session, &s)) == 0)
		o->ours = strcmp(s.owner, o->self) == 0 && s.epoch == o->epoch;
	return r;
}

static void
supervisor_owner_done(struct dsession *ds, enum job_fate fate, int result,
    void *arg)
{
	struct supervisor_owner	*o = arg;

	if (fate == JOB_CURRENT && ds->sv.state == SV_BACKOFF &&
	    ds->sv.conflict) {
		/* A failed read says nothing: not ours is the safe answer. */
		log_info("session.conflict_checked", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_B("owner", o->ours),
		    LOGF_I("result", result));
		supervisor_feed(o->sup, ds, o->ours ? SV_EV_OWNER_OK :
		    SV_EV_OWNER_LOST, 0, false);
	}
	free(o);
}

static void
supervisor_check_owner(struct supervisor *sup, struct dsession *ds)
{
	struct supervisor_owner	*o = xcalloc(1, sizeof *o);

	o->sup = sup;
	o->session = ds->id;
	o->epoch = ds->epoch;
	(void)util_strlcpy(o->self, sup->c->instance_id, sizeof o->self);
	if (jobs_submit(sup->jobs, sup->c->q, ds, JOB_OWNER,
	    supervisor_owner_run, supervisor_owner_done, o,
	    "owner_check") < 0) {
		free(o);
		supervisor_feed(sup, ds, SV_EV_OWNER_LOST, 0, false);
	}
}

void
supervisor_timer(struct supervisor *sup, struct dsession *ds)
{
	int64_t		id = ds->id;
	uint64_t	serial = ds->serial;

	dctx_batch_begin(sup->c);
	/*
	 * A READY=1 or WATCHDOG=1 may be waiting in the socket: read and
	 * handle it before judging a readiness or watchdog timeout.
	 */
	if (ds->sv.state == SV_STARTING || ds->sv.state == SV_READY) {
		sup->hooks.poll(sup->hooks.arg);
		supervisor_drain(sup);
		/* What was read may have moved the deadline (or the session). */
		if ((ds = sessions_get(sup->reg, id)) == NULL ||
		    ds->serial != serial)
			goto out;
		if (ds->sv.deadline == 0 || ds->sv.deadline > util_mono_ms()) {
			supervisor_schedule(ds);
			goto out;
		}
	}
	supervisor_feed(sup, ds, SV_EV_TIMER, 0, false);
	supervisor_drain(sup);
out:
	dctx_batch_end(sup->c);
}
