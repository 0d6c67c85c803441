/*
 * The connector supervisor's state x event table: see supervise.h.
 */
#include <stddef.h>

#include "core/backoff.h"
#include "core/supervise.h"

/* Everything a handler needs for one step. */
struct sv_ctx {
	struct supervise		*sv;
	const struct supervise_params	*p;
	const struct supervise_input	*in;
	int64_t				 now;
	double				 rnd;
	struct supervise_output		*out;
};

typedef void sv_handler(struct sv_ctx *);

static const char *const sv_state_names[SV_NSTATES] = {
	[SV_STOPPED] = "stopped",
	[SV_STARTING] = "starting",
	[SV_READY] = "ready",
	[SV_BACKOFF] = "backoff",
	[SV_STOPPING] = "stopping",
	[SV_FAILED] = "failed",
	[SV_NEEDS_AUTH] = "needs_auth",
};

static const char *const sv_event_names[SV_NEVENTS] = {
	[SV_EV_START] = "start",
	[SV_EV_STOP] = "stop",
	[SV_EV_PROXY_READY] = "proxy_ready",
	[SV_EV_PROXY_WAIT] = "proxy_wait",
	[SV_EV_SPAWNED] = "spawned",
	[SV_EV_SPAWN_FAILED] = "spawn_failed",
	[SV_EV_READY] = "ready",
	[SV_EV_WATCHDOG] = "watchdog",
	[SV_EV_CONFLICT] = "conflict",
	[SV_EV_EXIT] = "exit",
	[SV_EV_TIMER] = "timer",
	[SV_EV_OWNER_OK] = "owner_ok",
	[SV_EV_OWNER_LOST] = "owner_lost",
	[SV_EV_ADOPT] = "adopt",
	[SV_EV_NOTICE] = "notice",
	[SV_EV_HOLD_AUTH] = "hold_auth",
	[SV_EV_REMOVE] = "remove",
	[SV_EV_LOSE] = "lose",
	[SV_EV_SHED] = "shed",
	[SV_EV_KEEP] = "keep",
};

static const char *const sv_life_names[SV_NLIVES] = {
	[SV_LIFE_OWNED] = "owned",
	[SV_LIFE_SHEDDING] = "shedding",
	[SV_LIFE_GIVING_UP] = "giving_up",
	[SV_LIFE_LOST] = "lost",
	[SV_LIFE_REMOVED] = "removed",
};

static const char *const sv_cause_names[] = {
	[SV_CAUSE_NONE] = "none",
	[SV_CAUSE_EXIT] = "exit",
	[SV_CAUSE_SIGNAL] = "signal",
	[SV_CAUSE_SPAWN] = "spawn_failed",
	[SV_CAUSE_READY_TIMEOUT] = "ready_timeout",
	[SV_CAUSE_WATCHDOG] = "watchdog_timeout",
	[SV_CAUSE_PROXY_REFUSED] = "proxy_refused",
	[SV_CAUSE_LOGGED_OUT] = "logged_out",
	[SV_CAUSE_CONFLICT] = "conflict",
	[SV_CAUSE_RATE_LIMIT] = "start_rate_limit",
	[SV_CAUSE_EXIT_UNKNOWN] = "exit_unknown",
};

const char *
supervise_state_name(enum supervise_state s)
{
	return (unsigned)s < SV_NSTATES ? sv_state_names[s] : "unknown";
}

const char *
supervise_life_name(enum supervise_life l)
{
	return (unsigned)l < SV_NLIVES ? sv_life_names[l] : "unknown";
}

bool
supervise_gone(const struct supervise *sv)
{
	return sv->life == SV_LIFE_LOST || sv->life == SV_LIFE_REMOVED;
}

const char *
supervise_event_name(enum supervise_event e)
{
	return (unsigned)e < SV_NEVENTS ? sv_event_names[e] : "unknown";
}

const char *
supervise_cause_name(enum supervise_cause c)
{
	if ((unsigned)c >= sizeof sv_cause_names / sizeof sv_cause_names[0])
		return "unknown";
	return sv_cause_names[c];
}

int64_t
supervise_backoff_ms(const struct supervise_params *p, int attempt,
    double rnd)
{
	struct backoff_policy	bp = BACKOFF_POLICY_DEFAULT;

	if (attempt < 1)
		return 0;
	bp.base_ms = p->backoff_base_ms;
	bp.cap_ms = p->backoff_cap_ms;
	/* rnd in [0, 1) as the 64 random bits backoff_delay_ms expects. */
	if (!(rnd > 0))
		rnd = 0;
	if (rnd >= 1)
		rnd = 0.999999;
	return backoff_delay_ms(&bp, (unsigned)attempt - 1,
	    (uint64_t)(rnd * 18446744073709551616.0));
}

static void
sv_goto(struct sv_ctx *c, enum supervise_state to)
{
	/* A peer's session is the peer's to write. */
	if (c->sv->state != to && c->sv->life != SV_LIFE_LOST)
		c->out->actions |= SV_ACT_PERSIST;
	c->sv->state = to;
}

/*
 * Begin a start, unless the start-rate limit forbids it: then wait in
 * BACKOFF until the oldest start leaves the interval.  This stops a
 * connector that becomes ready and dies at once from looping forever
 * below the attempt limit.
 */
static void
sv_begin_start(struct sv_ctx *c)
{
	struct supervise	*sv = c->sv;
	int64_t			 oldest = 0;
	int			 i, n = 0;

	for (i = 0; i < sv->nstarts; i++) {
		if (c->now - sv->starts[i] < c->p->start_interval_ms) {
			if (n == 0 || sv->starts[i] < oldest)
				oldest = sv->starts[i];
			n++;
		}
	}
	if (c->p->start_burst > 0 && n >= c->p->start_burst) {
		sv->cause = SV_CAUSE_RATE_LIMIT;
		sv->deadline = oldest + c->p->start_interval_ms;
		sv_goto(c, SV_BACKOFF);
		return;
	}
	sv->spawned = false;
	sv->deadline = 0;
	sv->ready_at = 0;
	sv->notice = SV_NOTICE_NONE;
	c->out->actions |= SV_ACT_ACQUIRE;
	sv_goto(c, SV_STARTING);
}

/* Remember a start for the rate limit, replacing the oldest. */
static void
sv_record_start(struct sv_ctx *c)
{
	struct supervise	*sv = c->sv;
	int			 i, old = 0;

	if (sv->nstarts < SUPERVISE_START_HISTORY) {
		sv->starts[sv->nstarts++] = c->now;
		return;
	}
	for (i = 1; i < SUPERVISE_START_HISTORY; i++)
		if (sv->starts[i] < sv->starts[old])
			old = i;
	sv->starts[old] = c->now;
}

/* A failed start or run: back off, or give up after the attempts. */
static void
sv_failure(struct sv_ctx *c, enum supervise_cause cause)
{
	struct supervise	*sv = c->sv;

	sv->cause = cause;
	sv->spawned = false;
	sv->attempts++;
	if (!c->p->auto_restart || sv->attempts > c->p->max_attempts) {
		/* The auth directory is kept: only the proxy goes back. */
		sv->deadline = 0;
		c->out->actions |= SV_ACT_ALERT_FAILED | SV_ACT_RELEASE_PROXY;
		sv_goto(c, SV_FAILED);
		return;
	}
	sv->deadline = c->now + supervise_backoff_ms(c->p, sv->attempts,
	    c->rnd);
	sv_goto(c, SV_BACKOFF);
}

/* Enter STOPPING: SIGTERM now, SIGKILL at the deadline. */
static void
sv_terminate(struct sv_ctx *c, bool stop_wanted, enum supervise_cause cause)
{
	struct supervise	*sv = c->sv;

	sv->stop_wanted = stop_wanted;
	sv->counts = !stop_wanted;
	if (!stop_wanted)
		sv->cause = cause;
	sv->deadline = c->now + c->p->stop_timeout_ms;
	c->out->actions |= SV_ACT_TERM;
	sv_goto(c, SV_STOPPING);
}

static void
sv_stopped(struct sv_ctx *c, bool keep_proxy)
{
	c->sv->deadline = 0;
	c->sv->spawned = false;
	c->sv->stop_wanted = false;
	if (!keep_proxy)
		c->out->actions |= SV_ACT_RELEASE_PROXY;
	sv_goto(c, SV_STOPPED);
}

/*
 * The status an exit counts as: its own when known, else what the
 * connector said it would exit for (an adopted connector's exit shows
 * no status).
 */
static int
sv_exit_status(const struct sv_ctx *c)
{
	if (c->in->status != SUPERVISE_EXIT_UNKNOWN)
		return c->in->status;
	switch (c->sv->notice) {
	case SV_NOTICE_LOGGED_OUT:
		return SUPERVISE_EXIT_LOGGED_OUT;
	case SV_NOTICE_PROXY_BLOCKED:
		return SUPERVISE_EXIT_PROXY_REFUSED;
	default:
		return SUPERVISE_EXIT_UNKNOWN;
	}
}

/* The connector exited while it was meant to run. */
static void
sv_exited(struct sv_ctx *c)
{
	struct supervise	*sv = c->sv;
	int			 st = sv_exit_status(c);

	sv->last_exit = st;
	sv->spawned = false;
	if (st == SUPERVISE_EXIT_LOGGED_OUT) {
		/* Restarting cannot help: a person must scan a QR code. */
		sv->cause = SV_CAUSE_LOGGED_OUT;
		sv->attempts = 0;
		sv->deadline = 0;
		c->out->actions |= SV_ACT_ALERT_AUTH | SV_ACT_RELEASE_PROXY;
		sv_goto(c, SV_NEEDS_AUTH);
		return;
	}
	/* A run that stayed up long enough was a success. */
	if (sv->ready_at != 0 && c->now - sv->ready_at >= c->p->stable_ms)
		sv->attempts = 0;
	if (sv->conflict) {
		sv_failure(c, SV_CAUSE_CONFLICT);
		return;
	}
	if (st == SUPERVISE_EXIT_PROXY_REFUSED) {
		c->out->actions |= SV_ACT_MARK_IP_BAD;
		sv_failure(c, SV_CAUSE_PROXY_REFUSED);
		return;
	}
	sv_failure(c, st == SUPERVISE_EXIT_UNKNOWN ? SV_CAUSE_EXIT_UNKNOWN :
	    st < 0 ? SV_CAUSE_SIGNAL : SV_CAUSE_EXIT);
}

static void
sv_ignore(struct sv_ctx *c)
{
	(void)c;
}

static void
sv_start(struct sv_ctx *c)
{
	c->sv->attempts = 0;
	c->sv->conflict = false;
	sv_begin_start(c);
}

static void
sv_stop_idle(struct sv_ctx *c)
{
	sv_stopped(c, c->in->keep_proxy);
}

static void
sv_stop_starting(struct sv_ctx *c)
{
	if (c->sv->spawned) {
		c->sv->keep_proxy = c->in->keep_proxy;
		sv_terminate(c, true, SV_CAUSE_NONE);
		return;
	}
	c->out->actions |= SV_ACT_CANCEL_ACQUIRE;
	sv_stopped(c, c->in->keep_proxy);
}

static void
sv_stop_running(struct sv_ctx *c)
{
	c->sv->keep_proxy = c->in->keep_proxy;
	sv_terminate(c, true, SV_CAUSE_NONE);
}

static void
sv_proxy_ready(struct sv_ctx *c)
{
	if (c->sv->spawned)
		return;
	sv_record_start(c);
	c->out->actions |= SV_ACT_SPAWN;
}

static void
sv_proxy_wait(struct sv_ctx *c)
{
	/* Not the connector's fault: no attempt is counted. */
	if (c->sv->spawned)
		return;
	c->sv->deadline = c->now + c->p->proxy_wait_ms;
	sv_goto(c, SV_BACKOFF);
}

static void
sv_spawned(struct sv_ctx *c)
{
	c->sv->spawned = true;
	c->sv->deadline = c->now + c->p->ready_timeout_ms;
}

static void
sv_spawn_failed(struct sv_ctx *c)
{
	sv_failure(c, SV_CAUSE_SPAWN);
}

static void
sv_ready(struct sv_ctx *c)
{
	if (!c->sv->spawned)
		return;
	c->sv->ready_at = c->now;
	c->sv->cause = SV_CAUSE_NONE;
	c->sv->deadline = c->p->watchdog_ms > 0 ? c->now + c->p->watchdog_ms : 0;
	sv_goto(c, SV_READY);
}

static void
sv_watchdog(struct sv_ctx *c)
{
	if (c->p->watchdog_ms > 0)
		c->sv->deadline = c->now + c->p->watchdog_ms;
}

static void
sv_conflict(struct sv_ctx *c)
{
	c->sv->conflict = true;
}

/* Remembered until the exit it announces (or the next start). */
static void
sv_notice(struct sv_ctx *c)
{
	if (c->in->status == SV_NOTICE_LOGGED_OUT ||
	    c->in->status == SV_NOTICE_PROXY_BLOCKED)
		c->sv->notice = (uint8_t)c->in->status;
}

static void
sv_exit_running(struct sv_ctx *c)
{
	sv_exited(c);
}

static void
sv_timer_starting(struct sv_ctx *c)
{
	if (c->sv->spawned)
		sv_terminate(c, false, SV_CAUSE_READY_TIMEOUT);
}

static void
sv_timer_ready(struct sv_ctx *c)
{
	sv_terminate(c, false, SV_CAUSE_WATCHDOG);
}

static void
sv_timer_backoff(struct sv_ctx *c)
{
	/*
	 * After a conflict, ownership is checked before any reconnect, so two
	 * owners never take turns kicking each other off.
	 */
	if (c->sv->conflict) {
		c->sv->deadline = 0;
		c->out->actions |= SV_ACT_CHECK_OWNER;
		return;
	}
	sv_begin_start(c);
}

static void
sv_owner_ok(struct sv_ctx *c)
{
	if (!c->sv->conflict)
		return;
	c->sv->conflict = false;
	sv_begin_start(c);
}

static void
sv_owner_lost(struct sv_ctx *c)
{
	if (!c->sv->conflict)
		return;
	c->sv->conflict = false;
	/* The proxy goes with the session to its new owner. */
	sv_stopped(c, true);
}

static void
sv_exit_stopping(struct sv_ctx *c)
{
	struct supervise	*sv = c->sv;

	sv->last_exit = sv_exit_status(c);
	if (sv->stop_wanted) {
		sv_stopped(c, sv->keep_proxy);
		return;
	}
	if (sv->counts) {
		sv->spawned = false;
		if (sv->conflict)
			sv->cause = SV_CAUSE_CONFLICT;
		sv_failure(c, sv->cause);
		return;
	}
	/* A stop was cancelled by a start: begin again, no failure. */
	sv_begin_start(c);
}

static void
sv_timer_stopping(struct sv_ctx *c)
{
	c->sv->deadline = 0;
	c->out->actions |= SV_ACT_KILL;
}

static void
sv_start_stopping(struct sv_ctx *c)
{
	if (c->sv->stop_wanted) {
		c->sv->stop_wanted = false;
		c->sv->counts = false;
	}
}

static void
sv_stop_stopping(struct sv_ctx *c)
{
	c->sv->stop_wanted = true;
	c->sv->keep_proxy = c->in->keep_proxy;
}

/*
 * A connector that outlived a daemon (a crash, a handover) is taken back
 * as it is: no restart, so the phone sees no reconnect.
 */
static void
sv_adopt(struct sv_ctx *c)
{
	struct supervise	*sv = c->sv;

	sv->spawned = true;
	sv->attempts = 0;
	sv->cause = SV_CAUSE_NONE;
	sv->notice = SV_NOTICE_NONE;
	sv_record_start(c);
	if (c->in->status == 1) {
		sv->ready_at = c->now;
		sv->deadline = c->p->watchdog_ms > 0 ?
		    c->now + c->p->watchdog_ms : 0;
		sv_goto(c, SV_READY);
	} else {
		sv->deadline = c->now + c->p->ready_timeout_ms;
		sv_goto(c, SV_STARTING);
	}
}

/* Loaded as logged out: only the operator's start (a QR scan) helps. */
static void
sv_hold_auth(struct sv_ctx *c)
{
	c->sv->deadline = 0;
	sv_goto(c, SV_NEEDS_AUTH);
}

#define IGN	sv_ignore

/* Rows: states; columns: events.  Read a row to see a state's behaviour. */
/* The events the table answers; the life events follow it (sv_life). */
#define SV_TABLE_EVENTS	(SV_EV_HOLD_AUTH + 1)

static sv_handler *const sv_table[SV_NSTATES][SV_TABLE_EVENTS] = {
	/*                start  stop  proxy_ready  proxy_wait  spawned  spawn_failed  ready  watchdog  conflict  exit  timer  owner_ok  owner_lost  adopt  notice  hold_auth  (remove, lose, shed, keep: sv_life) */
	[SV_STOPPED] = { sv_start, IGN, IGN, IGN, IGN, IGN, IGN, IGN, IGN, IGN,
	    IGN, IGN, IGN, sv_adopt, IGN, sv_hold_auth },
	[SV_STARTING] = { IGN, sv_stop_starting, sv_proxy_ready, sv_proxy_wait,
	    sv_spawned, sv_spawn_failed, sv_ready, IGN, sv_conflict,
	    sv_exit_running, sv_timer_starting, IGN, IGN, IGN, sv_notice, IGN },
	[SV_READY] = { IGN, sv_stop_running, IGN, IGN, IGN, IGN, IGN,
	    sv_watchdog, sv_conflict, sv_exit_running, sv_timer_ready, IGN,
	    IGN, IGN, sv_notice, IGN },
	[SV_BACKOFF] = { IGN, sv_stop_idle, IGN, IGN, IGN, IGN, IGN, IGN, IGN,
	    IGN, sv_timer_backoff, sv_owner_ok, sv_owner_lost, IGN, IGN, IGN },
	[SV_STOPPING] = { sv_start_stopping, sv_stop_stopping, IGN, IGN, IGN,
	    IGN, IGN, IGN, sv_conflict, sv_exit_stopping, sv_timer_stopping,
	    IGN, IGN, IGN, sv_notice, IGN },
	[SV_FAILED] = { sv_start, sv_stop_idle, IGN, IGN, IGN, IGN, IGN, IGN,
	    IGN, IGN, IGN, IGN, IGN, IGN, IGN, IGN },
	[SV_NEEDS_AUTH] = { sv_start, sv_stop_idle, IGN, IGN, IGN, IGN, IGN,
	    IGN, IGN, IGN, IGN, IGN, IGN, IGN, IGN, IGN },
};

/* No process of the session is left, and none is wanted. */
static bool
sv_idle(const struct supervise *sv)
{
	return sv->state == SV_STOPPED || sv->state == SV_FAILED ||
	    sv->state == SV_NEEDS_AUTH;
}

/* Stop as a STOP event would, the proxy kept or not. */
static void
sv_stop_for(struct sv_ctx *c, bool keep_proxy)
{
	const struct supervise_input	*in = c->in;
	struct supervise_input		 stop = { .event = SV_EV_STOP,
					    .keep_proxy = keep_proxy };

	if (sv_idle(c->sv))
		return;
	c->in = &stop;
	sv_table[c->sv->state][SV_EV_STOP](c);
	c->in = in;
}

/*
 * The life events, the same in every state: removed (the proxy goes
 * back), lost (the proxy stays the peer's), shed (the proxy stays for the
 * session's next owner), kept (giving up failed).
 */
static bool
sv_life(struct sv_ctx *c)
{
	struct supervise	*sv = c->sv;

	switch (c->in->event) {
	case SV_EV_REMOVE:
		sv->life = SV_LIFE_REMOVED;
		sv_stop_for(c, false);
		return true;
	case SV_EV_LOSE:
		sv->life = SV_LIFE_LOST;
		sv_stop_for(c, true);
		return true;
	case SV_EV_SHED:
		if (sv->life == SV_LIFE_OWNED) {
			sv->life = SV_LIFE_SHEDDING;
			sv_stop_for(c, true);
		}
		return true;
	case SV_EV_KEEP:
		if (sv->life == SV_LIFE_SHEDDING ||
		    sv->life == SV_LIFE_GIVING_UP)
			sv->life = SV_LIFE_OWNED;
		return true;
	case SV_EV_START:
	case SV_EV_ADOPT:
	case SV_EV_HOLD_AUTH:
		/* Not this instance's to start any more. */
		return sv->life != SV_LIFE_OWNED;
	default:
		return false;
	}
}

/* Once nothing of it runs: a session not ours asks to go. */
static void
sv_settle(struct sv_ctx *c)
{
	struct supervise	*sv = c->sv;

	if (!sv_idle(sv))
		return;
	if (supervise_gone(sv))
		c->out->actions |= SV_ACT_DROP;
	else if (sv->life == SV_LIFE_SHEDDING) {
		sv->life = SV_LIFE_GIVING_UP;
		c->out->actions |= SV_ACT_GIVE_UP;
	}
}

void
supervise_step(struct supervise *sv, const struct supervise_params *p,
    const struct supervise_input *in, int64_t now, double rnd,
    struct supervise_output *out)
{
	struct sv_ctx	c = { sv, p, in, now, rnd, out };

	out->actions = 0;
	out->from = sv->state;
	if ((unsigned)sv->state < SV_NSTATES &&
	    (unsigned)in->event < SV_NEVENTS && !sv_life(&c) &&
	    (unsigned)in->event < SV_TABLE_EVENTS)
		sv_table[sv->state][in->event](&c);
	sv_settle(&c);
	out->to = sv->state;
}
