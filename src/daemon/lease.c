/*
 * The fleet lease renewer: see lease.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "daemon/lease.h"

struct lease {
	pthread_t		 thread;
	struct store		*store;
	char			 id[STORE_ID_LEN];
	int64_t			 period_ms;
	int64_t			 deadline_ms;
	_Atomic int		 state;		/* enum lease_state */
	_Atomic int64_t		 renewed;	/* monotonic ms */
	_Atomic int64_t		 failures;
	_Atomic bool		 stop;
	_Atomic bool		 in_progress;
	_Atomic int64_t		 total, done;
	_Atomic bool		 finished;	/* lease_main is done */
	_Atomic int		 fate;		/* who frees: see lease_stop */
};

enum lease_fate {
	LEASE_FATE_RUNNING,
	LEASE_FATE_EXITED,
	LEASE_FATE_ABANDONED,
};

static void
lease_sleep_ms(int64_t ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *
lease_main(void *arg)
{
	struct lease	*l = arg;
	int64_t		 next = util_mono_ms() + l->period_ms, t0;
	sigset_t	 all;
	int		 r;

	/* Signals are the loop's to handle, never this thread's. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, NULL);

	while (!atomic_load(&l->stop)) {
		if (util_mono_ms() < next) {
			lease_sleep_ms(LEASE_STEP_MS);
			continue;
		}
		/*
		 * After a gap past the deadline (the process was paused, or
		 * every renewal failed), the lease may be a peer's by now:
		 * never renew it, so the loop fences.
		 */
		t0 = util_mono_ms();
		if (t0 - atomic_load(&l->renewed) > l->deadline_ms) {
			atomic_store(&l->state, LEASE_EXPIRED);
			break;
		}
		r = store_instance_heartbeat(l->store, l->id, util_now_ms(),
		    atomic_load(&l->in_progress), atomic_load(&l->total),
		    atomic_load(&l->done));
		if (r == -ESTALE) {
			atomic_store(&l->state, LEASE_TAKEN);
			break;
		}
		if (r < 0) {
			atomic_fetch_add(&l->failures, 1);
			/* Try again soon, not a whole period later. */
			next = util_mono_ms() + l->period_ms / 4;
			continue;
		}
		/* Valid from when the write was sent, not when it returned. */
		atomic_store(&l->renewed, t0);
		next = t0 + l->period_ms;
	}
	atomic_store(&l->finished, true);
	/* Abandoned by lease_stop while stuck: ours to free now. */
	if (atomic_exchange(&l->fate, LEASE_FATE_EXITED) ==
	    LEASE_FATE_ABANDONED) {
		store_close(l->store);
		free(l);
	}
	return NULL;
}

int
lease_start(const struct lease_params *p, struct lease **ret,
    char err[STORE_ERROR_LEN])
{
	struct lease	*l = xcalloc(1, sizeof *l);
	int		 r;

	if ((r = store_open(p->db, &l->store, err)) < 0) {
		free(l);
		return r;
	}
	(void)store_set_lease(l->store, p->lease_ms);
	(void)util_strlcpy(l->id, p->instance_id, sizeof l->id);
	l->period_ms = p->period_ms;
	l->deadline_ms = p->deadline_ms;
	atomic_store(&l->state, LEASE_HELD);
	atomic_store(&l->renewed, util_mono_ms());
	if ((r = pthread_create(&l->thread, NULL, lease_main, l)) != 0) {
		util_strlcpy(err, "cannot start the lease thread",
		    STORE_ERROR_LEN);
		store_close(l->store);
		free(l);
		return -r;
	}
	*ret = l;
	return 0;
}

void
lease_stop(struct lease *l)
{
	pthread_t	thread;

	if (l == NULL)
		return;
	atomic_store(&l->stop, true);
	/*
	 * Each side swaps in its word; whoever finds the other's frees.  Past
	 * the swap, l may be gone: the thread's id is read before.
	 */
	thread = l->thread;
	if (!util_thread_wait(&l->finished, LEASE_STOP_WAIT_MS) &&
	    atomic_exchange(&l->fate, LEASE_FATE_ABANDONED) !=
	    LEASE_FATE_EXITED) {
		log_warn("lease.thread_stuck", LOGF_I("waited_ms",
		    LEASE_STOP_WAIT_MS), LOGF_S("msg", "the database answers "
		    "nothing: the renewer is left behind"));
		(void)pthread_detach(thread);
		return;
	}
	pthread_join(l->thread, NULL);
	store_close(l->store);
	free(l);
}

enum lease_state
lease_state(const struct lease *l)
{
	return (enum lease_state)atomic_load(&l->state);
}

int64_t
lease_renewed_mono(const struct lease *l)
{
	return atomic_load(&l->renewed);
}

int64_t
lease_failures(const struct lease *l)
{
	return atomic_load(&l->failures);
}

void
lease_progress(struct lease *l, bool in_progress, int64_t total,
    int64_t done)
{
	atomic_store(&l->in_progress, in_progress);
	atomic_store(&l->total, total);
	atomic_store(&l->done, done);
}
