/*
 * Tests of the store's worker (src/storeq.c), in both modes, on a SQLite
 * file (the threaded mode works with any backend: it only needs a URL to
 * open a connection of its own):
 *
 *   - results arrive from the loop, never from inside storeq_submit;
 *   - jobs run in the order submitted, so a read sees earlier writes;
 *   - the loop keeps running (a timer fires) while a job is stuck;
 *   - freeing cancels what did not run, and every done is still called;
 *   - a worker stuck for good is left behind after STOREQ_STOP_WAIT_MS,
 *     and frees the queue itself if its call ever returns;
 *   - the pending limit refuses with -ENOBUFS and queues nothing;
 *   - drain waits for everything submitted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/util.h"
#include "store/storeq.h"

static char	tmpdir[] = "/tmp/respawn-test-storeq-XXXXXX";
static char	dburl[512];
static int	dbseq;

/* One test's world: a loop, a store, and a queue in the mode under test. */
struct world {
	struct event_base	*base;
	struct store		*st;
	struct storeq		*q;
	bool			 threaded;
};

static void
world_open(struct world *w, bool threaded)
{
	char	err[STORE_ERROR_LEN];

	memset(w, 0, sizeof *w);
	w->threaded = threaded;
	snprintf(dburl, sizeof dburl, "%s/q%d.db", tmpdir, ++dbseq);
	w->base = event_base_new();
	assert_non_null(w->base);
	assert_int_equal(store_open(dburl, &w->st, err), 0);
	assert_int_equal(storeq_new(w->base, threaded ? dburl : NULL, w->st,
	    &w->q, err), 0);
	assert_int_equal(storeq_threaded(w->q), threaded);
}

static void
world_close(struct world *w)
{
	storeq_free(w->q);
	store_close(w->st);
	event_base_free(w->base);
}

/* Run the loop until *flag or about two seconds passed. */
static void
world_run_until(struct world *w, _Atomic bool *flag)
{
	struct timeval	tv = { 0, 10 * 1000 };
	int		i;

	for (i = 0; i < 200 && !atomic_load(flag); i++) {
		event_base_loopexit(w->base, &tv);
		event_base_dispatch(w->base);
	}
}

/* --- a write, then a read of it ----------------------------------------- */

struct addjob {
	struct session_new	 n;
	int64_t			 id;
	int			 result;
	int			*order;		/* where done records itself */
	int			*norder;
	int			 tag;
	_Atomic bool		*all_done;
	int			 expect;
};

static int
add_run(struct store *st, void *arg)
{
	struct addjob	*a = arg;

	return store_session_add(st, &a->n, "test", 1000, &a->id);
}

static void
add_done(int result, void *arg)
{
	struct addjob	*a = arg;

	a->result = result;
	a->order[(*a->norder)++] = a->tag;
	if (*a->norder == a->expect)
		atomic_store(a->all_done, true);
}

struct getjob {
	char		 phone[PHONE_LEN];
	struct session	 s;
	int		 result;
	_Atomic bool	 done;
};

static int
get_run(struct store *st, void *arg)
{
	struct getjob	*g = arg;

	return store_session_get_by_phone(st, g->phone, &g->s);
}

static void
get_done(int result, void *arg)
{
	struct getjob	*g = arg;

	g->result = result;
	atomic_store(&g->done, true);
}

static void
order_and_visibility(bool threaded)
{
	struct world	 w;
	struct addjob	 a[16];
	struct getjob	 g = { .phone = "+4915100000007" };
	_Atomic bool	 all = false;
	int		 order[16], norder = 0, i;

	world_open(&w, threaded);
	for (i = 0; i < 16; i++) {
		memset(&a[i], 0, sizeof a[i]);
		snprintf(a[i].n.phone, sizeof a[i].n.phone, "+49151000000%02d",
		    i);
		memcpy(a[i].n.country, "de", 3);
		memcpy(a[i].n.user_id, "u", 2);
		a[i].order = order;
		a[i].norder = &norder;
		a[i].tag = i;
		a[i].all_done = &all;
		a[i].expect = 17;	/* 16 writes and the read */
		assert_int_equal(storeq_submit(w.q, add_run, add_done, &a[i]),
		    0);
	}
	assert_int_equal(storeq_submit(w.q, get_run, get_done, &g), 0);
	/* Nothing is delivered from inside storeq_submit. */
	assert_int_equal(norder, 0);
	assert_false(atomic_load(&g.done));
	world_run_until(&w, &g.done);
	assert_true(atomic_load(&g.done));
	for (i = 0; i < 16; i++) {
		assert_int_equal(order[i], i);
		assert_int_equal(a[i].result, 0);
		assert_true(a[i].id > 0);
	}
	/* The read was submitted after the writes, so it sees them. */
	assert_int_equal(g.result, 0);
	assert_int_equal(g.s.id, a[7].id);
	world_close(&w);
}

static void
test_order_inline(void **state)
{
	(void)state;
	order_and_visibility(false);
}

static void
test_order_threaded(void **state)
{
	(void)state;
	order_and_visibility(true);
}

/* --- a stuck job does not stop the loop --------------------------------- */

struct gate {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	bool		 open;
	_Atomic bool	 entered;
	_Atomic bool	 left;
	_Atomic int	 done_calls;
	int		 last_result;
};

static int
gate_run(struct store *st, void *arg)
{
	struct gate	*g = arg;

	(void)st;
	atomic_store(&g->entered, true);
	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	atomic_store(&g->left, true);
	return 0;
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static int
noop_run(struct store *st, void *arg)
{
	(void)st;
	(void)arg;
	return 0;
}

static void
count_done(int result, void *arg)
{
	struct gate	*g = arg;

	g->last_result = result;
	atomic_fetch_add(&g->done_calls, 1);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	_Atomic bool	*fired = arg;

	(void)fd;
	(void)what;
	atomic_store(fired, true);
}

static void
test_loop_runs_while_stuck(void **state)
{
	struct world	 w;
	struct gate	 g = { .mu = PTHREAD_MUTEX_INITIALIZER,
			    .cv = PTHREAD_COND_INITIALIZER };
	struct timeval	 tv = { 0, 50 * 1000 };
	struct event	*t;
	_Atomic bool	 fired = false;

	(void)state;
	world_open(&w, true);
	assert_int_equal(storeq_submit(w.q, gate_run, count_done, &g), 0);
	t = evtimer_new(w.base, tick_cb, &fired);
	evtimer_add(t, &tv);
	world_run_until(&w, &fired);
	/* The timer fired while the job was still held on the worker. */
	assert_true(atomic_load(&fired));
	assert_true(atomic_load(&g.entered));
	assert_int_equal(atomic_load(&g.done_calls), 0);
	{
		struct storeq_stats	s;

		storeq_stats(w.q, &s);
		assert_int_equal(s.pending, 1);
		assert_true(s.busy_since_ms > 0);
	}
	gate_open(&g);
	assert_int_equal(storeq_drain(w.q, 5000), 0);
	assert_int_equal(atomic_load(&g.done_calls), 1);
	assert_int_equal(g.last_result, 0);
	event_free(t);
	world_close(&w);
}

/* --- freeing cancels, and every done is called --------------------------- */

static void
test_free_cancels(void **state)
{
	struct world	 w;
	struct gate	 g = { .mu = PTHREAD_MUTEX_INITIALIZER,
			    .cv = PTHREAD_COND_INITIALIZER };
	struct gate	 rest = { .mu = PTHREAD_MUTEX_INITIALIZER,
			    .cv = PTHREAD_COND_INITIALIZER };
	int		 i;

	(void)state;
	world_open(&w, true);
	assert_int_equal(storeq_submit(w.q, gate_run, count_done, &g), 0);
	for (i = 0; i < 10; i++)
		assert_int_equal(storeq_submit(w.q, noop_run, count_done,
		    &rest), 0);
	while (!atomic_load(&g.entered))
		usleep(1000);
	/* The stuck job finishes once the worker is told to stop. */
	gate_open(&g);
	storeq_free(w.q);
	assert_int_equal(atomic_load(&g.done_calls), 1);
	assert_int_equal(g.last_result, 0);
	/* The ten behind it either ran or were cancelled: all answered. */
	assert_int_equal(atomic_load(&rest.done_calls), 10);
	assert_true(rest.last_result == 0 || rest.last_result == -ECANCELED);
	w.q = NULL;
	world_close(&w);
}

/* --- a worker stuck for good is left behind -------------------------------- */

static void
test_free_abandons_stuck_worker(void **state)
{
	struct world	 w;
	struct gate	 g = { .mu = PTHREAD_MUTEX_INITIALIZER,
			    .cv = PTHREAD_COND_INITIALIZER };
	struct gate	 rest = { .mu = PTHREAD_MUTEX_INITIALIZER,
			    .cv = PTHREAD_COND_INITIALIZER };
	int64_t		 t0, took;
	int		 i;

	(void)state;
	world_open(&w, true);
	assert_int_equal(storeq_submit(w.q, gate_run, count_done, &g), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(storeq_submit(w.q, noop_run, count_done,
		    &rest), 0);
	while (!atomic_load(&g.entered))
		usleep(1000);
	t0 = util_mono_ms();
	storeq_free(w.q);	/* the gate stays shut: stuck for good */
	took = util_mono_ms() - t0;
	assert_true(took >= STOREQ_STOP_WAIT_MS - 50);
	assert_true(took < STOREQ_STOP_WAIT_MS + 2000);
	/* The jobs behind it are answered, cancelled; the stuck one is not. */
	assert_int_equal(atomic_load(&rest.done_calls), 3);
	assert_int_equal(rest.last_result, -ECANCELED);
	assert_int_equal(atomic_load(&g.done_calls), 0);
	/* Its call returns at last: the worker frees what it was left. */
	gate_open(&g);
	while (!atomic_load(&g.left))
		usleep(1000);
	usleep(200 * 1000);
	assert_int_equal(atomic_load(&g.done_calls), 0);
	w.q = NULL;
	world_close(&w);
}

/* --- the pending limit ---------------------------------------------------- */

static void
test_pending_limit(void **state)
{
	struct world		 w;
	struct gate		 g = { .mu = PTHREAD_MUTEX_INITIALIZER,
				    .cv = PTHREAD_COND_INITIALIZER };
	struct gate		 rest = { .mu = PTHREAD_MUTEX_INITIALIZER,
				    .cv = PTHREAD_COND_INITIALIZER };
	struct storeq_stats	 s;
	int			 i;

	(void)state;
	world_open(&w, true);
	assert_int_equal(storeq_submit(w.q, gate_run, count_done, &g), 0);
	for (i = 1; i < STOREQ_PENDING_MAX; i++)
		assert_int_equal(storeq_submit(w.q, noop_run, count_done,
		    &rest), 0);
	assert_int_equal(storeq_submit(w.q, noop_run, count_done, &rest),
	    -ENOBUFS);
	storeq_stats(w.q, &s);
	assert_int_equal(s.pending, STOREQ_PENDING_MAX);
	assert_int_equal(s.refused, 1);
	gate_open(&g);
	assert_int_equal(storeq_drain(w.q, 60000), 0);
	/* The refused one was never queued, so never answered. */
	assert_int_equal(atomic_load(&rest.done_calls),
	    STOREQ_PENDING_MAX - 1);
	storeq_stats(w.q, &s);
	assert_int_equal(s.pending, 0);
	assert_int_equal(s.completed, STOREQ_PENDING_MAX);
	world_close(&w);
}

/* --- failures are delivered as they are ----------------------------------- */

static int
fail_run(struct store *st, void *arg)
{
	struct session	s;

	(void)arg;
	return store_session_get(st, 424242, &s);
}

static void
failures(bool threaded)
{
	struct world		 w;
	struct gate		 g = { .mu = PTHREAD_MUTEX_INITIALIZER,
				    .cv = PTHREAD_COND_INITIALIZER };
	struct storeq_stats	 s;

	world_open(&w, threaded);
	assert_int_equal(storeq_submit(w.q, fail_run, count_done, &g), 0);
	assert_int_equal(storeq_submit(w.q, noop_run, NULL, NULL), 0);
	assert_int_equal(storeq_drain(w.q, 5000), 0);
	assert_int_equal(atomic_load(&g.done_calls), 1);
	assert_int_equal(g.last_result, -ENOENT);
	storeq_stats(w.q, &s);
	assert_int_equal(s.completed, 2);
	assert_int_equal(s.failed, 1);
	world_close(&w);
}

static void
test_failures_inline(void **state)
{
	(void)state;
	failures(false);
}

static void
test_failures_threaded(void **state)
{
	(void)state;
	failures(true);
}

/* A threaded queue whose store cannot be opened is refused with a reason. */
static void
test_open_fails(void **state)
{
	struct event_base	*base = event_base_new();
	struct storeq		*q = NULL;
	char			 err[STORE_ERROR_LEN] = "";

	(void)state;
	assert_true(storeq_new(base, "/nonexistent-dir/x/y.db", NULL, &q,
	    err) < 0);
	assert_null(q);
	assert_true(err[0] != '\0');
	event_base_free(base);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[600];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_inline),
		cmocka_unit_test(test_order_threaded),
		cmocka_unit_test(test_loop_runs_while_stuck),
		cmocka_unit_test(test_free_cancels),
		cmocka_unit_test(test_free_abandons_stuck_worker),
		cmocka_unit_test(test_pending_limit),
		cmocka_unit_test(test_failures_inline),
		cmocka_unit_test(test_failures_threaded),
		cmocka_unit_test(test_open_fails),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
