/*
 * One helper for the daemon's asynchronous steps.  A step is a function
 * run off the loop (on the store's worker, or on the spawner thread) and
 * one called back on the loop with its result.  Between the two the world
 * moves on: the session may have been stopped, removed, given to a peer or
 * asked again, or the daemon may be tearing down.  This helper decides, in
 * one place, what the answer is worth when it comes:
 *
 *   JOB_CURRENT   the session still waits for exactly this step (its
 *                 generation of that kind is the one submitted, and it is
 *                 neither removed nor lost): act on the answer;
 *   JOB_MOVED_ON  it does not: undo what the answer would have given it
 *                 (a proxy goes back, a connector is killed);
 *   JOB_TEARDOWN  the daemon is being freed: free what the job holds, and
 *                 touch nothing else.
 *
 * A step for the daemon as a whole (no session) is CURRENT or TEARDOWN.
 * done owns its argument; it is called exactly once for every job that was
 * queued, never from inside jobs_submit.
 */
#ifndef RESPAWN_DAEMON_JOBS_H
#define RESPAWN_DAEMON_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/sessions.h"
#include "store/storeq.h"

struct dctx;
struct jobs;

enum job_fate {
	JOB_CURRENT,
	JOB_MOVED_ON,
	JOB_TEARDOWN,
};

/* ds is the session, for JOB_CURRENT only (NULL otherwise, or for none). */
typedef void	(*jobs_done_fn)(struct dsession *ds, enum job_fate fate,
		    int result, void *arg);

struct jobs	*jobs_new(const struct dctx *c, struct sessions *reg);
void		 jobs_free(struct jobs *j);

/*
 * Queue run on q (the store's worker, or the spawner), for session ds's
 * step of this kind (ds NULL: a step of the daemon as a whole; kind is then
 * ignored).  The session's generation of that kind is bumped: an answer to
 * any earlier step of the kind is MOVED_ON from now.  -ENOBUFS (logged with
 * what) when the queue is full: nothing queued, arg still the caller's.
 */
int		 jobs_submit(struct jobs *j, struct storeq *q,
		    struct dsession *ds, enum job_kind kind, storeq_run_fn run,
		    jobs_done_fn done, void *arg, const char *what);
/* The step of this kind on its way is moot: its answer is MOVED_ON. */
void		 jobs_cancel(struct dsession *ds, enum job_kind kind);
/* A step of this kind is on its way. */
bool		 jobs_pending(const struct dsession *ds, enum job_kind kind);

/* The fate an answer to (session, kind, generation) would meet now. */
enum job_fate	 jobs_fate(const struct jobs *j, int64_t session,
		    enum job_kind kind, int64_t gen, struct dsession **ret);

#endif
