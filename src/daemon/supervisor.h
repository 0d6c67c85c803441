/*
 * The supervisor: the shell around core/supervise.c's state table for
 * every session, and the admission of sessions that should start.
 *
 * Every module that learns something about a session (a proxy found, a
 * connector started, READY=1, an exit, a stop asked for) feeds it here as
 * an event.  Feeding only queues: one drain loop takes the events in the
 * order they were fed, runs supervise_step on each and carries out the
 * actions it returns.  Actions that belong to other modules (acquire a
 * proxy, start a connector, give a proxy back) go through the hooks that
 * daemon.c wires at start; what they feed in turn is queued behind, never
 * run from inside the step that caused it.  So the order of events is the
 * order they happened in, whatever calls what, and no module calls back
 * into the one that called it.
 *
 * The drain runs from its own loop callback, armed by the first event
 * fed, and from any caller that wants the events handled before it goes
 * on (supervisor_drain); a drain already running is never entered twice.
 */
#ifndef RESPAWN_DAEMON_SUPERVISOR_H
#define RESPAWN_DAEMON_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/supervise.h"

struct dctx;
struct dsession;
struct jobs;
struct record;
struct sessions;
struct supervisor;

#define SUPERVISOR_ADMIT_BATCH	64	/* starts per loop iteration */
#define SUPERVISOR_QUEUE_MIN	1024	/* the event ring's first size */

struct supervisor_hooks {
	void	*arg;
	/* SV_ACT_ACQUIRE: find the session a proxy (proxy.c). */
	void	(*acquire)(void *arg, struct dsession *ds);
	/* SV_ACT_CANCEL_ACQUIRE: what it waits for is moot. */
	void	(*cancel_acquire)(void *arg, struct dsession *ds);
	/*
	 * SV_ACT_RELEASE_PROXY, or SV_ACT_MARK_IP_BAD (bad: its connector
	 * refused the proxy): the session gives its proxy back.
	 */
	void	(*release_proxy)(void *arg, struct dsession *ds, bool bad);
	/* SV_ACT_SPAWN: start its connector (spawn.c). */
	void	(*spawn)(void *arg, struct dsession *ds);
	/* Read the readiness messages waiting, before a deadline is judged. */
	void	(*poll)(void *arg);
	/* SV_ACT_GIVE_UP: shed and stopped, release it in the store. */
	void	(*give_up)(void *arg, struct dsession *ds);
	/* A step was taken (from != to when the state changed). */
	void	(*moved)(void *arg, struct dsession *ds,
		    const struct supervise_output *out);
	/* The queue ran dry (the daemon may be done stopping). */
	void	(*idle)(void *arg);
};

struct supervisor *supervisor_new(struct dctx *c, struct sessions *reg,
		    struct jobs *jobs, struct record *rec,
		    const struct supervisor_hooks *hooks);
void		 supervisor_free(struct supervisor *sup);

/* Queue an event for ds; handled by the next drain. */
void		 supervisor_feed(struct supervisor *sup, struct dsession *ds,
		    enum supervise_event ev, int status, bool keep_proxy);
/* Handle every queued event, and the events they feed, now. */
void		 supervisor_drain(struct supervisor *sup);
/* Events queued and not yet handled. */
size_t		 supervisor_queued(const struct supervisor *sup);

/*
 * Admit queued sessions (sessions_enqueue) while fewer than
 * RESPAWN_START_CONCURRENCY are starting: bounded concurrency without
 * waiting for whole batches.
 */
void		 supervisor_admit(struct supervisor *sup);
/* Queue ds for admission, and admit. */
void		 supervisor_start(struct supervisor *sup, struct dsession *ds);
/* Sessions in STARTING now. */
int64_t		 supervisor_starting(const struct supervisor *sup);

/* Write ds's state to the store (touch: refresh its last activity). */
void		 supervisor_persist(struct supervisor *sup, struct dsession *ds,
		    bool touch);
/*
 * A session loaded from the store as logged out stays so: only the
 * operator's start (after a QR scan) helps.
 */
void		 supervisor_hold_needs_auth(struct supervisor *sup,
		    struct dsession *ds);
/* ds's timer fired: its deadline passed (sessions_new's callback). */
void		 supervisor_timer(struct supervisor *sup, struct dsession *ds);
/*
 * Drop a session no longer this instance's (removed, lost) once no process
 * of it is left, and no sync that could bring it back is out.
 */
void		 supervisor_reap(struct supervisor *sup, struct dsession *ds);

#endif
