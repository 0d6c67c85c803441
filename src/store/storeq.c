/*
 * The store's worker: see storeq.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "store/storeq.h"

struct storeq_job {
	storeq_run_fn		 run;
	storeq_done_fn		 done;
	void			*arg;
	int			 result;
	int64_t			 submitted;	/* monotonic ms */
	struct storeq_job	*next;
};

/* A FIFO of jobs. */
struct storeq_list {
	struct storeq_job	*head, *tail;
};

/*
 * Who frees the queue: storeq_free, unless the worker was stuck when it
 * gave up waiting (abandoned), in which case the worker does on its way
 * out.  Each side swaps in its own word; whoever finds the other's does
 * the freeing.
 */
enum storeq_fate {
	STOREQ_RUNNING,
	STOREQ_EXITED,
	STOREQ_ABANDONED,
};

struct storeq {
	struct event_base	*base;
	struct store		*store;
	bool			 threaded;
	struct event		*ev;

	/* Threaded mode: the worker, and what it shares with the loop. */
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct storeq_list	 queued;	/* under mu, not yet run */
	struct storeq_list	 done;		/* under mu */
	bool			 stop;		/* under mu */
	int			 efd;
	_Atomic int64_t		 busy_since;
	_Atomic bool		 finished;	/* storeq_main is done */
	_Atomic int		 fate;		/* enum storeq_fate */

	/* Inline mode: results waiting for the loop (loop thread only). */
	struct storeq_list	 ready;

	/* Loop thread only. */
	uint64_t		 pending, completed, failed, refused;
	int64_t			 max_wait_ms;
};

static void
storeq_push(struct storeq_list *l, struct storeq_job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

/* Take the whole list. */
static struct storeq_job *
storeq_take(struct storeq_list *l)
{
	struct storeq_job	*j = l->head;

	l->head = l->tail = NULL;
	return j;
}

static void
storeq_wake(struct storeq *q)
{
	uint64_t	one = 1;

	/* A full counter still wakes the loop: nothing to handle. */
	(void)!write(q->efd, &one, sizeof one);
}

static void
storeq_free_list(struct storeq_job *j)
{
	struct storeq_job	*next;

	for (; j != NULL; j = next) {
		next = j->next;
		free(j);
	}
}

/*
 * The worker, abandoned, on its way out: nobody waits for what is left,
 * so it is freed unanswered (the arguments of those jobs are lost).
 */
static void
storeq_reclaim(struct storeq *q)
{
	storeq_free_list(storeq_take(&q->queued));
	storeq_free_list(storeq_take(&q->done));
	store_close(q->store);
	close(q->efd);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

static void *
storeq_main(void *arg)
{
	struct storeq		*q = arg;
	struct storeq_job	*j;
	sigset_t		 all;
	int			 fate;

	/* Signals are the loop's to handle, never this thread's. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->stop && q->queued.head == NULL)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop)
			break;
		j = q->queued.head;
		if ((q->queued.head = j->next) == NULL)
			q->queued.tail = NULL;
		pthread_mutex_unlock(&q->mu);

		atomic_store(&q->busy_since, util_mono_ms());
		j->result = j->run(q->store, j->arg);
		atomic_store(&q->busy_since, 0);

		pthread_mutex_lock(&q->mu);
		storeq_push(&q->done, j);
		/* One wake-up per empty-to-non-empty change is enough. */
		if (q->done.head == j)
			storeq_wake(q);
	}
	/* Under the lock, as storeq_free's side: see storeq_abandon. */
	fate = atomic_exchange(&q->fate, STOREQ_EXITED);
	pthread_mutex_unlock(&q->mu);
	atomic_store(&q->finished, true);
	if (fate == STOREQ_ABANDONED)
		storeq_reclaim(q);
	return NULL;
}

/*
 * Call done for a list of finished jobs, freeing them; q (for the
 * figures) is NULL once the queue is no longer ours (storeq_abandon).
 */
static void
storeq_deliver(struct storeq *q, struct storeq_job *j)
{
	struct storeq_job	*next;
	int64_t			 now = util_mono_ms();

	for (; j != NULL; j = next) {
		next = j->next;
		if (q != NULL) {
			q->pending--;
			q->completed++;
			if (j->result < 0)
				q->failed++;
			if (now - j->submitted > q->max_wait_ms)
				q->max_wait_ms = now - j->submitted;
		}
		if (j->done != NULL)
			j->done(j->result, j->arg);
		free(j);
	}
}

/*
 * Deliver at most STOREQ_DELIVER_MAX results, so one wake-up never holds
 * the loop for long; what is left is delivered at the next pass.
 */
static void
storeq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct storeq		*q = arg;
	struct storeq_job	*all, *j, *rest;
	uint64_t		 n;
	size_t			 k;

	(void)what;
	if (fd >= 0)
		(void)!read(fd, &n, sizeof n);
	if (q->threaded) {
		pthread_mutex_lock(&q->mu);
		all = storeq_take(&q->done);
		pthread_mutex_unlock(&q->mu);
	} else {
		all = storeq_take(&q->ready);
	}
	for (j = all, k = 1; j != NULL && k < STOREQ_DELIVER_MAX; k++)
		j = j->next;
	rest = j != NULL ? j->next : NULL;
	if (j != NULL)
		j->next = NULL;
	if (rest != NULL) {
		/* Put the rest back at the front, and come back for it. */
		struct storeq_list	*l = q->threaded ? &q->done :
					    &q->ready;
		struct storeq_job	*t = rest;

		if (q->threaded)
			pthread_mutex_lock(&q->mu);
		while (t->next != NULL)
			t = t->next;
		t->next = l->head;
		if (l->head == NULL)
			l->tail = t;
		l->head = rest;
		if (q->threaded)
			pthread_mutex_unlock(&q->mu);
		event_active(q->ev, EV_READ, 0);
	}
	/*
	 * Inline (SQLite), the writes the answers make in turn run now, on
	 * the loop's store: one transaction (one fsync) for the pass.
	 */
	if (!q->threaded)
		(void)store_batch_begin(q->store);
	storeq_deliver(q, all);
	if (!q->threaded && store_batch_end(q->store) < 0)
		log_error("store.batch_failed", LOGF_S("error",
		    store_errmsg(q->store)));
}

/* The threaded mode's thread and its wake-up; q->store is set (or NULL). */
static int
storeq_start(struct storeq *q, char err[STORE_ERROR_LEN])
{
	int	r;

	q->threaded = true;
	if ((q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		r = -errno;
		(void)util_strlcpy(err, "cannot create the worker's eventfd",
		    STORE_ERROR_LEN);
		return r;
	}
	q->ev = event_new(q->base, q->efd, EV_READ | EV_PERSIST, storeq_cb,
	    q);
	event_add(q->ev, NULL);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if ((r = pthread_create(&q->thread, NULL, storeq_main, q)) != 0) {
		(void)util_strlcpy(err, "cannot start the worker thread",
		    STORE_ERROR_LEN);
		event_free(q->ev);
		close(q->efd);
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
		return -r;
	}
	return 0;
}

int
storeq_new(struct event_base *base, const char *url, struct store *st,
    struct storeq **ret, char err[STORE_ERROR_LEN])
{
	struct storeq	*q = xcalloc(1, sizeof *q);
	int		 r;

	q->base = base;
	q->efd = -1;
	if (url == NULL) {
		q->store = st;
		q->ev = event_new(base, -1, 0, storeq_cb, q);
		*ret = q;
		return 0;
	}
	if ((r = store_open(url, &q->store, err)) < 0) {
		free(q);
		return r;
	}
	/*
	 * The worker's claims and shares judge leases as the caller's store
	 * does: with the default instead, a dead peer's sessions would wait
	 * for the default lease, not the configured one.
	 */
	if (st != NULL && store_lease(st) > 0)
		(void)store_set_lease(q->store, store_lease(st));
	if ((r = storeq_start(q, err)) < 0) {
		store_close(q->store);
		free(q);
		return r;
	}
	*ret = q;
	return 0;
}

int
storeq_new_thread(struct event_base *base, struct storeq **ret,
    char err[STORE_ERROR_LEN])
{
	struct storeq	*q = xcalloc(1, sizeof *q);
	int		 r;

	q->base = base;
	q->efd = -1;
	if ((r = storeq_start(q, err)) < 0) {
		free(q);
		return r;
	}
	*ret = q;
	return 0;
}

/*
 * The worker is stuck in a call to a database that answers nothing (a
 * frozen server: its kernel acknowledges, no timeout fires).  What did not
 * start is cancelled and answered; the job it runs, its store and this
 * structure are left to it, detached: it frees them if its call ever
 * returns (storeq_reclaim), else the process's exit ends it.  The caller
 * touches nothing of the queue afterwards.
 */
static bool
storeq_abandon(struct storeq *q)
{
	struct storeq_job	*queued, *done, *j;
	struct event		*ev = q->ev;
	pthread_t		 thread = q->thread;

	/*
	 * The worker swaps its word under the same lock on its way out, so
	 * once ours is in, it cannot free the queue before we let go of the
	 * lock; after that nothing of q is touched here.
	 */
	pthread_mutex_lock(&q->mu);
	if (atomic_exchange(&q->fate, STOREQ_ABANDONED) == STOREQ_EXITED) {
		pthread_mutex_unlock(&q->mu);
		return false;	/* it got out just now: free as usual */
	}
	queued = storeq_take(&q->queued);
	done = storeq_take(&q->done);
	pthread_mutex_unlock(&q->mu);
	log_warn("store.worker_stuck", LOGF_I("waited_ms",
	    STOREQ_STOP_WAIT_MS), LOGF_S("msg", "the database answers "
	    "nothing: the store's worker is left behind"));
	(void)pthread_detach(thread);
	event_free(ev);
	for (j = queued; j != NULL; j = j->next)
		j->result = -ECANCELED;
	storeq_deliver(NULL, done);
	storeq_deliver(NULL, queued);
	return true;
}

void
storeq_free(struct storeq *q)
{
	struct storeq_job	*j, *left = NULL;

	if (q == NULL)
		return;
	if (q->threaded) {
		pthread_mutex_lock(&q->mu);
		q->stop = true;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
		if (!util_thread_wait(&q->finished, STOREQ_STOP_WAIT_MS) &&
		    storeq_abandon(q))
			return;
		pthread_join(q->thread, NULL);
		left = storeq_take(&q->queued);
		for (j = left; j != NULL; j = j->next)
			j->result = -ECANCELED;
		storeq_deliver(q, storeq_take(&q->done));
		storeq_deliver(q, left);
		store_close(q->store);
		close(q->efd);
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
	} else {
		storeq_deliver(q, storeq_take(&q->ready));
	}
	event_free(q->ev);
	free(q);
}

int
storeq_submit(struct storeq *q, storeq_run_fn run, storeq_done_fn done,
    void *arg)
{
	struct storeq_job	*j;

	if (q->pending >= STOREQ_PENDING_MAX) {
		q->refused++;
		return -ENOBUFS;
	}
	j = xcalloc(1, sizeof *j);
	j->run = run;
	j->done = done;
	j->arg = arg;
	j->submitted = util_mono_ms();
	q->pending++;
	if (!q->threaded) {
		j->result = run(q->store, arg);
		storeq_push(&q->ready, j);
		event_active(q->ev, EV_READ, 0);
		return 0;
	}
	pthread_mutex_lock(&q->mu);
	storeq_push(&q->queued, j);
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

int
storeq_drain(struct storeq *q, int64_t timeout_ms)
{
	struct timespec	ts = { 0, 5 * 1000000 };
	int64_t		end = util_mono_ms() + timeout_ms;

	for (;;) {
		if (q->threaded) {
			struct storeq_job	*j;

			pthread_mutex_lock(&q->mu);
			j = storeq_take(&q->done);
			pthread_mutex_unlock(&q->mu);
			storeq_deliver(q, j);
		} else {
			storeq_deliver(q, storeq_take(&q->ready));
		}
		if (q->pending == 0)
			return 0;
		if (util_mono_ms() >= end)
			return -ETIMEDOUT;
		(void)nanosleep(&ts, NULL);
	}
}

bool
storeq_threaded(const struct storeq *q)
{
	return q->threaded;
}

void
storeq_stats(const struct storeq *q, struct storeq_stats *ret)
{
	memset(ret, 0, sizeof *ret);
	ret->pending = q->pending;
	ret->completed = q->completed;
	ret->failed = q->failed;
	ret->refused = q->refused;
	ret->max_wait_ms = q->max_wait_ms;
	if (q->threaded)
		ret->busy_since_ms = atomic_load(&((struct storeq *)q)->
		    busy_since);
}
