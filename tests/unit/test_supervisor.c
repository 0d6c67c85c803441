/*
 * Tests of the daemon's supervisor (src/daemon/supervisor.c): its one
 * queue of events, with hooks that record what the supervisor asks of the
 * other modules.  No process is started; the loop never runs.
 *
 *   - events are handled in the order they were fed, and what a hook
 *     feeds is queued behind, never handled inside the step that called
 *     the hook (a drain is not entered twice);
 *   - an event fed to a record since dropped, or to an earlier record of
 *     the same id, reaches nobody;
 *   - admission keeps at most RESPAWN_START_CONCURRENCY starting, and a
 *     session leaving STARTING lets the next one in, in the same drain;
 *   - a removed session is dropped once it has stopped, its proxy and
 *     anything it waited for given back first; a shed one is given up
 *     once stopped (the hook), and is dropped once lost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "daemon/ctx.h"
#include "daemon/jobs.h"
#include "daemon/record.h"
#include "daemon/sessions.h"
#include "daemon/supervisor.h"
#include "store/storeq.h"

#define TRACE_MAX	64

static char	tmpdir[] = "/tmp/respawn-test-supervisor-XXXXXX";
static int	dbseq;

/* One test's daemon: just the modules under the supervisor. */
struct world {
	struct config		 cfg;
	struct dctx		 c;
	struct sessions		*reg;
	struct jobs		*jobs;
	struct record		*rec;
	struct supervisor	*sup;
	char			 trace[TRACE_MAX][48];
	size_t			 n;
	int			 depth;		/* hooks running now */
	bool			 answer;	/* acquire: PROXY_READY at once */
};

static void
trace(struct world *w, const char *fmt, ...)
{
	va_list	ap;

	assert_true(w->n < TRACE_MAX);
	va_start(ap, fmt);
	vsnprintf(w->trace[w->n++], sizeof w->trace[0], fmt, ap);
	va_end(ap);
}

static void
hook_acquire(void *arg, struct dsession *ds)
{
	struct world	*w = arg;

	assert_int_equal(w->depth++, 0);
	trace(w, "acquire %lld", (long long)ds->id);
	if (w->answer) {
		/* An answer fed at once, and a drain asked for: both wait. */
		supervisor_feed(w->sup, ds, SV_EV_PROXY_READY, 0, false);
		supervisor_drain(w->sup);
	}
	w->depth--;
}

static void
hook_cancel(void *arg, struct dsession *ds)
{
	trace(arg, "cancel %lld", (long long)ds->id);
}

static void
hook_release(void *arg, struct dsession *ds, bool bad)
{
	trace(arg, "release %lld%s", (long long)ds->id, bad ? " bad" : "");
}

static void
hook_spawn(void *arg, struct dsession *ds)
{
	trace(arg, "spawn %lld", (long long)ds->id);
}

static void
hook_give_up(void *arg, struct dsession *ds)
{
	trace(arg, "give_up %lld", (long long)ds->id);
}

static void
hook_poll(void *arg)
{
	(void)arg;
}

static void
hook_moved(void *arg, struct dsession *ds, const struct supervise_output *out)
{
	if (out->from != out->to)
		trace(arg, "moved %lld %s", (long long)ds->id,
		    supervise_state_name(out->to));
}

static void
hook_timer(struct dsession *ds, void *arg)
{
	(void)ds;
	(void)arg;
}

static void
world_open(struct world *w, int64_t concurrency)
{
	const struct supervisor_hooks	hooks = { .arg = w,
		.acquire = hook_acquire, .cancel_acquire = hook_cancel,
		.release_proxy = hook_release, .spawn = hook_spawn,
		.poll = hook_poll, .moved = hook_moved, .give_up = hook_give_up };
	char				url[512], err[STORE_ERROR_LEN];

	memset(w, 0, sizeof *w);
	w->cfg.start_concurrency = concurrency;
	w->c.cfg = &w->cfg;
	w->c.sp = (struct supervise_params){ .ready_timeout_ms = 1000,
	    .stop_timeout_ms = 1000, .backoff_base_ms = 100,
	    .backoff_cap_ms = 1000, .proxy_wait_ms = 100, .stable_ms = 1000,
	    .max_attempts = 3, .start_burst = 5, .start_interval_ms = 10000,
	    .auto_restart = true };
	rng_seed_with(&w->c.rng, 1);
	(void)util_strlcpy(w->c.instance_id, "test", sizeof w->c.instance_id);
	/* The session reports the supervisor writes go to a real store. */
	snprintf(url, sizeof url, "%s/s%d.db", tmpdir, ++dbseq);
	w->c.base = event_base_new();
	assert_non_null(w->c.base);
	assert_int_equal(store_open(url, &w->c.store, err), 0);
	assert_int_equal(storeq_new(w->c.base, NULL, w->c.store, &w->c.q,
	    err), 0);
	w->reg = sessions_new(w->c.base, hook_timer, w);
	w->jobs = jobs_new(&w->c, w->reg);
	w->rec = record_new(&w->c, w->jobs);
	w->sup = supervisor_new(&w->c, w->reg, w->jobs, w->rec, &hooks);
}

static void
world_close(struct world *w)
{
	w->c.tearing_down = true;
	storeq_free(w->c.q);
	supervisor_free(w->sup);
	record_free(w->rec);
	jobs_free(w->jobs);
	sessions_free(w->reg);
	store_close(w->c.store);
	event_base_free(w->c.base);
}

static struct dsession *
add(struct world *w, int64_t id)
{
	struct session	s;

	memset(&s, 0, sizeof s);
	s.id = id;
	s.epoch = 1;
	snprintf(s.phone, sizeof s.phone, "+1415555%04lld", (long long)id);
	memcpy(s.country, "us", 3);
	s.desired = SESSION_DESIRED_RUNNING;
	return sessions_add(w->reg, &s);
}

static void
expect(struct world *w, const char *const *want, size_t n)
{
	size_t	i;

	for (i = 0; i < n && i < w->n; i++)
		assert_string_equal(w->trace[i], want[i]);
	assert_int_equal(w->n, n);
	w->n = 0;
}

static void
test_order(void **state)
{
	static const char *const want[] = {
		"moved 1 starting", "acquire 1",
		"moved 2 starting", "acquire 2",
		/* The answers the hooks fed, after every earlier event. */
		"spawn 1", "spawn 2",
	};
	struct world	 w;
	struct dsession	*a, *b;

	(void)state;
	world_open(&w, 10);
	w.answer = true;
	a = add(&w, 1);
	b = add(&w, 2);
	supervisor_feed(w.sup, a, SV_EV_START, 0, false);
	supervisor_feed(w.sup, b, SV_EV_START, 0, false);
	assert_int_equal(supervisor_queued(w.sup), 2);
	assert_int_equal(a->sv.state, SV_STOPPED);	/* fed: only queued */
	supervisor_drain(w.sup);
	expect(&w, want, nitems(want));
	assert_int_equal(supervisor_queued(w.sup), 0);
	assert_int_equal(supervisor_starting(w.sup), 2);
	assert_int_equal(sessions_in_state(w.reg, SV_STARTING), 2);
	world_close(&w);
}

static void
test_stale(void **state)
{
	static const char *const want[] = { "moved 3 starting", "acquire 3" };
	struct world	 w;
	struct dsession	*a, *b;

	(void)state;
	world_open(&w, 10);
	a = add(&w, 1);
	b = add(&w, 2);
	supervisor_feed(w.sup, a, SV_EV_START, 0, false);
	supervisor_feed(w.sup, b, SV_EV_START, 0, false);
	/* Dropped, and 2 taken up again under the same id. */
	sessions_drop(w.reg, a);
	sessions_drop(w.reg, b);
	b = add(&w, 2);
	a = add(&w, 3);
	supervisor_feed(w.sup, a, SV_EV_START, 0, false);
	supervisor_drain(w.sup);
	expect(&w, want, nitems(want));
	assert_int_equal(b->sv.state, SV_STOPPED);
	assert_int_equal(b->nevents, 0);
	world_close(&w);
}

static void
test_admission(void **state)
{
	static const char *const want1[] = {
		"moved 1 starting", "acquire 1",
		"moved 2 starting", "acquire 2",
	};
	static const char *const want2[] = {
		"release 1", "cancel 1", "moved 1 stopped",
		/* 1 left STARTING: the next one comes in, in this drain. */
		"moved 3 starting", "acquire 3",
	};
	struct world	w;
	int64_t		i;

	(void)state;
	world_open(&w, 2);
	for (i = 1; i <= 4; i++)
		sessions_enqueue(w.reg, add(&w, i));
	supervisor_admit(w.sup);
	assert_int_equal(supervisor_queued(w.sup), 2);
	supervisor_drain(w.sup);
	expect(&w, want1, nitems(want1));
	/* Full: admitting again admits nothing. */
	supervisor_admit(w.sup);
	assert_int_equal(supervisor_queued(w.sup), 0);
	assert_int_equal(sessions_waiting(w.reg), 2);
	supervisor_feed(w.sup, sessions_get(w.reg, 1), SV_EV_STOP, 0, false);
	supervisor_drain(w.sup);
	expect(&w, want2, nitems(want2));
	assert_int_equal(supervisor_starting(w.sup), 2);
	world_close(&w);
}

static void
test_reap(void **state)
{
	static const char *const want[] = {
		"release 5", "cancel 5", "moved 5 stopped",
		/* Dropped: what it waited for and its proxy go back. */
		"cancel 5", "release 5",
	};
	struct world	 w;
	struct dsession	*ds;

	(void)state;
	world_open(&w, 10);
	ds = add(&w, 5);
	supervisor_feed(w.sup, ds, SV_EV_START, 0, false);
	supervisor_drain(w.sup);
	w.n = 0;
	supervisor_feed(w.sup, ds, SV_EV_REMOVE, 0, false);
	supervisor_drain(w.sup);
	expect(&w, want, nitems(want));
	assert_null(sessions_get(w.reg, 5));
	assert_int_equal(sessions_count(w.reg), 0);
	world_close(&w);
}

static void
test_shed(void **state)
{
	static const char *const want[] = {
		"moved 6 stopping", "moved 6 stopped", "give_up 6",
	};
	static const enum supervise_event up[] = { SV_EV_START,
	    SV_EV_PROXY_READY, SV_EV_SPAWNED, SV_EV_READY };
	struct world	 w;
	struct dsession	*ds;
	size_t		 i;

	(void)state;
	world_open(&w, 10);
	ds = add(&w, 6);
	for (i = 0; i < nitems(up); i++)
		supervisor_feed(w.sup, ds, up[i], 0, false);
	supervisor_drain(w.sup);
	assert_int_equal(ds->sv.state, SV_READY);
	w.n = 0;
	supervisor_feed(w.sup, ds, SV_EV_SHED, 0, true);
	supervisor_feed(w.sup, ds, SV_EV_EXIT, 0, false);
	supervisor_drain(w.sup);
	expect(&w, want, nitems(want));
	/* Released, but a sync sent before may still show it: it stays. */
	ds->released_after = 5;
	supervisor_feed(w.sup, ds, SV_EV_LOSE, 0, true);
	supervisor_drain(w.sup);
	assert_ptr_equal(sessions_get(w.reg, 6), ds);
	ds->released_after = 0;
	supervisor_reap(w.sup, ds);
	assert_null(sessions_get(w.reg, 6));
	world_close(&w);
}

static int
setup(void **state)
{
	(void)state;
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_LOGFMT, 2);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_reap),
		cmocka_unit_test(test_shed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
