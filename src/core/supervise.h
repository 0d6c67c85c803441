/*
 * The connector supervisor's decisions: one small state machine per
 * session, written as an explicit state x event table (as s6-supervise
 * is).  It is pure: it never forks, signals, reads a clock or draws a
 * random number.  The shell (src/daemon.c) feeds it events with the time
 * and a random number, and carries out the actions it returns; the same
 * table then runs in unit tests and in the simulator.
 *
 *   STOPPED --start--> STARTING --ready--> READY
 *      ^                 |   \                |
 *      |            exit/timeout  exit 78 --> NEEDS_AUTH
 *      |                 v                    |
 *      +--stop-- STOPPING <-----stop----------+
 *                   |
 *            exit, restart wanted
 *                   v
 *               BACKOFF --timer--> STARTING ...  (attempts > max: FAILED)
 *
 * STARTING has two halves: waiting for a proxy from the pool (no process
 * yet) and waiting for READY=1 from the spawned connector.
 *
 * Beside its state a session has a life, the other half of its life cycle:
 * whether it is this instance's to run.  Owned, it runs as the table says.
 * Removed from the store, or lost to a peer, it stops (a lost one keeps
 * its proxy reserved for the peer and writes nothing more) and, once no
 * process of it is left, asks to be dropped.  Given up for rebalancing
 * (shedding), it stops with its proxy kept and then asks to be released
 * in the store; the answer makes it lost, or owned again.  None of these
 * starts again.
 */
#ifndef RESPAWN_SUPERVISE_H
#define RESPAWN_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>

#define SUPERVISE_START_HISTORY	8	/* start times kept for the rate limit */

/* Connector exit statuses of the contract (BRIEF §4). */
#define SUPERVISE_EXIT_LOGGED_OUT	78	/* EX_CONFIG: needs a QR scan */
#define SUPERVISE_EXIT_PROXY_REFUSED	75	/* EX_TEMPFAIL: rotate the proxy */
/*
 * The status of an exit respawn could not read: a connector adopted from
 * an earlier daemon is not its child, so only its end is seen (a pidfd).
 * What the connector said before it went (SV_EV_NOTICE) then decides.
 */
#define SUPERVISE_EXIT_UNKNOWN		(-1000)

enum supervise_state {
	SV_STOPPED,
	SV_STARTING,
	SV_READY,
	SV_BACKOFF,
	SV_STOPPING,
	SV_FAILED,
	SV_NEEDS_AUTH,
	SV_NSTATES
};

enum supervise_event {
	SV_EV_START,		/* the session should run */
	SV_EV_STOP,		/* the session should stop */
	SV_EV_PROXY_READY,	/* the pool assigned a proxy */
	SV_EV_PROXY_WAIT,	/* the pool has none now (try again later) */
	SV_EV_SPAWNED,		/* the connector process exists */
	SV_EV_SPAWN_FAILED,	/* it could not be started (exec failed) */
	SV_EV_READY,		/* READY=1 */
	SV_EV_WATCHDOG,		/* WATCHDOG=1 */
	SV_EV_CONFLICT,		/* X_RESPAWN_EVENT=conflict */
	SV_EV_EXIT,		/* the connector exited (data: status) */
	SV_EV_TIMER,		/* the deadline passed */
	SV_EV_OWNER_OK,		/* after a conflict: we still own the session */
	SV_EV_OWNER_LOST,	/* after a conflict: someone else owns it */
	SV_EV_ADOPT,		/* a running connector was taken over
				   (data: status 1 if it was ready) */
	SV_EV_NOTICE,		/* the connector says why it will exit
				   (data: enum supervise_notice) */
	SV_EV_HOLD_AUTH,	/* loaded from the store as logged out */
	SV_EV_REMOVE,		/* gone from the store */
	SV_EV_LOSE,		/* another instance owns it now */
	SV_EV_SHED,		/* give it up (rebalancing) */
	SV_EV_KEEP,		/* giving it up failed: ours again */
	SV_NEVENTS
};

/* What the shell must do, as a bit set. */
enum supervise_action {
	SV_ACT_ACQUIRE		= 1 << 0,	/* ask the pool for a proxy */
	SV_ACT_SPAWN		= 1 << 1,	/* start the connector */
	SV_ACT_TERM		= 1 << 2,	/* SIGTERM the process group */
	SV_ACT_KILL		= 1 << 3,	/* SIGKILL the process group */
	SV_ACT_RELEASE_PROXY	= 1 << 4,	/* give the proxy back to the pool */
	SV_ACT_MARK_IP_BAD	= 1 << 5,	/* this IP is bad for this phone */
	SV_ACT_CHECK_OWNER	= 1 << 6,	/* is the session still ours? */
	SV_ACT_ALERT_FAILED	= 1 << 7,	/* gave up: attempts exhausted */
	SV_ACT_ALERT_AUTH	= 1 << 8,	/* logged out: show a QR code */
	SV_ACT_CANCEL_ACQUIRE	= 1 << 9,	/* a pending proxy request is moot */
	SV_ACT_PERSIST		= 1 << 10,	/* the state changed: store it */
	SV_ACT_DROP		= 1 << 11,	/* removed or lost, stopped: forget */
	SV_ACT_GIVE_UP		= 1 << 12,	/* shed and stopped: release it */
};

/* Whose the session is (see the top of this file). */
enum supervise_life {
	SV_LIFE_OWNED,
	SV_LIFE_SHEDDING,	/* stopping, to be given up */
	SV_LIFE_GIVING_UP,	/* stopped, its release asked for */
	SV_LIFE_LOST,		/* a peer's now */
	SV_LIFE_REMOVED,	/* gone from the store */
	SV_NLIVES
};

struct supervise_params {
	int64_t	ready_timeout_ms;	/* READY=1 within this after spawn */
	int64_t	watchdog_ms;		/* 0: no watchdog */
	int64_t	stop_timeout_ms;	/* SIGKILL after SIGTERM */
	int64_t	backoff_base_ms;	/* RECONNECT_DELAY */
	int64_t	backoff_cap_ms;
	int64_t	proxy_wait_ms;		/* retry after the pool had nothing */
	int64_t	stable_ms;		/* ready this long resets attempts */
	int	max_attempts;		/* MAX_RECONNECT_ATTEMPTS */
	int	start_burst;		/* at most this many starts ... */
	int64_t	start_interval_ms;	/* ... within this interval */
	bool	auto_restart;		/* AUTO_RECONNECT */
};

/* What a connector said it will exit for (X_RESPAWN_EVENT). */
enum supervise_notice {
	SV_NOTICE_NONE,
	SV_NOTICE_LOGGED_OUT,		/* then exit 78 */
	SV_NOTICE_PROXY_BLOCKED,	/* then exit 75 */
};

/* Why the last failure happened, for last_error. */
enum supervise_cause {
	SV_CAUSE_NONE,
	SV_CAUSE_EXIT,			/* exited with a failure status */
	SV_CAUSE_SIGNAL,		/* killed by a signal */
	SV_CAUSE_SPAWN,			/* could not be started */
	SV_CAUSE_READY_TIMEOUT,
	SV_CAUSE_WATCHDOG,
	SV_CAUSE_PROXY_REFUSED,		/* exit 75 */
	SV_CAUSE_LOGGED_OUT,		/* exit 78 */
	SV_CAUSE_CONFLICT,
	SV_CAUSE_RATE_LIMIT,		/* too many starts in the interval */
	SV_CAUSE_EXIT_UNKNOWN,		/* an adopted connector ended */
};

/*
 * One session's supervisor.  Plain data, small (the daemon keeps one per
 * session), zero-initialised means stopped.
 */
struct supervise {
	enum supervise_state	state;
	enum supervise_cause	cause;
	int			attempts;	/* failures in a row */
	int			last_exit;	/* status, or -signal */
	int64_t			deadline;	/* 0: no timer */
	int64_t			ready_at;	/* when READY=1 last came */
	int64_t			starts[SUPERVISE_START_HISTORY];
	uint8_t			nstarts;
	bool			spawned;	/* STARTING: process exists */
	bool			stop_wanted;	/* STOPPING: stay stopped */
	bool			keep_proxy;	/* STOP: keep the proxy reserved */
	bool			conflict;	/* a conflict was reported */
	bool			counts;		/* STOPPING: exit is a failure */
	uint8_t			notice;		/* enum supervise_notice */
	uint8_t			life;		/* enum supervise_life */
};

/* An event and what comes with it. */
struct supervise_input {
	enum supervise_event	event;
	int			status;		/* EXIT: exit status, or -signal */
	bool			keep_proxy;	/* STOP: daemon shutdown/handover */
};

struct supervise_output {
	unsigned		actions;	/* enum supervise_action bits */
	enum supervise_state	from;
	enum supervise_state	to;
};

/*
 * Apply one event at time now (monotonic ms).  rnd is a uniform random
 * number in [0, 1) for the backoff's jitter.  Events that mean nothing in
 * the current state are ignored (no actions).
 */
void	supervise_step(struct supervise *sv, const struct supervise_params *p,
	    const struct supervise_input *in, int64_t now, double rnd,
	    struct supervise_output *out);

const char *supervise_state_name(enum supervise_state s);
const char *supervise_life_name(enum supervise_life l);
/* Removed or lost: not this instance's, whatever its state. */
bool	supervise_gone(const struct supervise *sv);
const char *supervise_event_name(enum supervise_event e);
const char *supervise_cause_name(enum supervise_cause c);
/*
 * Full-jitter exponential backoff (core/backoff.c): uniform in
 * [0, min(cap, base*2^(n-1))] for rnd in [0, 1).
 */
int64_t	supervise_backoff_ms(const struct supervise_params *p, int attempt,
	    double rnd);

#endif
