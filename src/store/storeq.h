/*
 * The store's worker: store calls made off the event loop.
 *
 * A database that answers slowly, or not at all, must not stop the loop
 * that reads connector exits, readiness messages and API requests, or the
 * systemd watchdog goes unfed and timers are judged late.  So the daemon
 * does not call the store itself: it submits a job (a function to run
 * with a store, and one to call with its result), and the loop goes on.
 *
 * Two modes, one contract:
 *
 *   - threaded (PostgreSQL, where the database is across a network): one
 *     worker thread with a store connection of its own runs the jobs in
 *     the order they were submitted, and an eventfd wakes the loop to
 *     deliver results;
 *   - inline (SQLite, a local file): the job runs at once, on the loop's
 *     own store, inside whatever batch the caller has open, and the
 *     answers of one pass are delivered inside one batch too, so the
 *     writes of one loop iteration still share one fsync.
 *
 * In both modes done is called later, from the loop, never from inside
 * storeq_submit, so a caller's state is whole when its result arrives.
 * Jobs run one at a time and in order: a read sees every write submitted
 * before it.  run must touch nothing but its argument and the store it is
 * given; done owns the argument afterwards.
 */
#ifndef RESPAWN_STOREQ_H
#define RESPAWN_STOREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct event_base;
struct storeq;

/* Jobs submitted and not yet delivered; beyond, submissions are refused. */
#define STOREQ_PENDING_MAX	65536
/* How long storeq_free waits for a worker stuck in a call. */
#define STOREQ_STOP_WAIT_MS	2000
/* Results delivered per loop wake-up; the rest follow in the next one. */
#define STOREQ_DELIVER_MAX	64

/* Runs on the worker (or inline); returns 0 or negative errno. */
typedef int	(*storeq_run_fn)(struct store *st, void *arg);
/*
 * Runs on the loop with what run returned, or -ECANCELED when the queue
 * was freed before the job ran.
 */
typedef void	(*storeq_done_fn)(int result, void *arg);

/*
 * Threaded: open a store connection of its own from url, with st's lease
 * (store_set_lease), and start the worker.  Inline (url NULL): run jobs
 * on st, which stays the caller's.
 */
int	storeq_new(struct event_base *base, const char *url, struct store *st,
	    struct storeq **ret, char err[STORE_ERROR_LEN]);
/*
 * A worker thread with no store (jobs get NULL), for other work that may
 * block the loop: the daemon starts connectors on one.  The same contract:
 * jobs in order, answers on the loop.
 */
int	storeq_new_thread(struct event_base *base, struct storeq **ret,
	    char err[STORE_ERROR_LEN]);
/*
 * Stop the worker after the job it is running, cancel the jobs that did
 * not run, deliver every result (done is called for each job), close the
 * worker's store.  A worker still inside one call after
 * STOREQ_STOP_WAIT_MS (a frozen database) is left behind, detached: that
 * one job is never answered, and its store and the queue are not freed.
 */
void	storeq_free(struct storeq *q);

/*
 * Queue a job.  done may be NULL (a write whose outcome is only logged
 * by run).  -ENOBUFS when STOREQ_PENDING_MAX jobs are pending: nothing
 * was queued and done will not be called.
 */
int	storeq_submit(struct storeq *q, storeq_run_fn run, storeq_done_fn done,
	    void *arg);

/*
 * Wait, blocking the caller, until every job submitted so far has run and
 * its result was delivered, or timeout_ms passed.  For the shutdown only,
 * after the loop has stopped: 0, or -ETIMEDOUT.
 */
int	storeq_drain(struct storeq *q, int64_t timeout_ms);

bool	storeq_threaded(const struct storeq *q);

struct storeq_stats {
	uint64_t	pending;	/* submitted, not yet delivered */
	uint64_t	completed;	/* delivered */
	uint64_t	failed;		/* delivered with a negative result */
	uint64_t	refused;	/* -ENOBUFS */
	int64_t		max_wait_ms;	/* longest submit-to-delivery */
	int64_t		busy_since_ms;	/* a job running since (mono); 0 */
};
void	storeq_stats(const struct storeq *q, struct storeq_stats *ret);

#endif
