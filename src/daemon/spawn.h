/*
 * The connectors as processes: starting them (the contract's environment,
 * on a thread of their own), hearing from them (the sd_notify socket),
 * reaping them (SIGCHLD, or a pidfd for one adopted from an earlier
 * daemon), and keeping their logs under their cap.  What is heard becomes
 * supervisor events (READY, WATCHDOG, CONFLICT, EXIT).
 *
 * posix_spawn returns only once the child has exec'd, milliseconds on a
 * loaded host, so starts run on spawner threads (SPAWN_THREADS of them,
 * side by side) and their answer comes back to the loop; the pid is
 * registered then.  An exit reaped, or a
 * message received, from a pid not yet registered is kept (bounded, for
 * SPAWN_EARLY_MAX_AGE_MS) and replayed when its start is answered.  An
 * answer for a session that moved on, or that comes while the daemon
 * fences or tears down, kills what was started: two connectors of one
 * phone must never run.
 */
#ifndef RESPAWN_DAEMON_SPAWN_H
#define RESPAWN_DAEMON_SPAWN_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct dctx;
struct dsession;
struct jobs;
struct proxies;
struct record;
struct sessions;
struct spawner;
struct supervisor;

#define SPAWN_ENV_MAX		64	/* connector environment entries */
/*
 * Threads starting connectors side by side.  posix_spawn returns when the
 * child has exec'd, and on a busy host the child waits for a CPU to do
 * so: one thread would wait out each start in turn.
 */
#define SPAWN_THREADS		4
#define SPAWN_LOG_TRIM_MS	10000	/* connector log size check */
#define SPAWN_EARLY_EXITS	1024	/* exits of pids not yet known */
#define SPAWN_EARLY_NOTIFY	256	/* their messages, kept likewise */
#define SPAWN_EARLY_MAX_AGE_MS	60000	/* older: another process */
#define SPAWN_NOTIFY_BUDGET	4096	/* datagrams read per callback */
/* Written by POST /api/sessions/{id}/pairing-code (api_connector.c). */
#define SPAWN_PAIRING_REQUEST	"pairing-code.request"
#define SPAWN_PAIRING_SLACK_MS	100	/* clock ticks, file times' lag */

struct spawn_stats {
	int64_t	spawns;		/* connectors started */
	int64_t	adopted;	/* taken over from an earlier daemon */
	int64_t	notify_dropped;	/* datagrams of nobody, or malformed */
	int64_t	conflicts;	/* X_RESPAWN_EVENT=conflict */
};

/*
 * The notify socket (RESPAWN_STATE_DIR/notify.sock), the spawner thread and
 * the SIGCHLD handler.  err names what failed.
 */
int	spawner_new(struct dctx *c, struct sessions *reg,
	    struct supervisor *sup, struct jobs *jobs, struct record *rec,
	    struct proxies *px, struct spawner **ret,
	    char err[STORE_ERROR_LEN]);
/*
 * Stop the thread (starts not yet answered are killed), close the socket.
 * Accepts NULL.
 */
void	spawner_free(struct spawner *sp);

/* SV_ACT_SPAWN: start ds's connector; SPAWNED or SPAWN_FAILED follows. */
void	spawn_start(struct spawner *sp, struct dsession *ds);
/* Read the messages waiting on the notify socket. */
void	spawn_poll(struct spawner *sp);
/*
 * A connector that outlived the previous daemon (s: the session as the
 * store has it): the one the scan at start found working in the session's
 * directory, or else the one the store names (pid and start time).  Taken
 * back if it is provably that process, and watched through a pidfd; ready
 * only if the store saw this very process become ready (else it must say
 * READY=1 again).  A verified connector that cannot be watched is killed.
 * One not ready that started before its session's pairing-code.request
 * was written (the daemon died before restarting it) is restarted, so
 * that it asks for the code.  true: adopted (ADOPT fed).
 */
bool	spawn_adopt(struct spawner *sp, struct dsession *ds,
	    const struct session *s, int64_t hist0);
/*
 * The start-up sync is applied: every connector found at start that no
 * session of this instance took over (its session removed, stopped while
 * no daemon ran, or a peer's now) is stopped.
 */
void	spawn_stop_leftovers(struct spawner *sp);
/* Connector logs kept under their cap, when due. */
void	spawn_tick(struct spawner *sp, int64_t now);
void	spawn_stats(const struct spawner *sp, struct spawn_stats *ret);

#endif
