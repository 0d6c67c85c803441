/*
 * Tests of the supervisor's state table.  Each scenario is a list of
 * events with their time, and after each, the state and the actions the
 * shell must carry out.  The random number is fixed, so backoff delays are
 * exact.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "core/supervise.h"

static const struct supervise_params params = {
	.ready_timeout_ms = 1000,
	.watchdog_ms = 500,
	.stop_timeout_ms = 200,
	.backoff_base_ms = 100,
	.backoff_cap_ms = 1000,
	.proxy_wait_ms = 300,
	.stable_ms = 10000,
	.max_attempts = 3,
	.start_burst = 5,
	.start_interval_ms = 10000,
	.auto_restart = true,
};

#define RND	0.5	/* the backoff delay is half its ceiling */
#define MAXSTEPS 24

struct step {
	int64_t			at;
	enum supervise_event	ev;
	int			status;		/* EXIT */
	enum supervise_state	want;
	unsigned		actions;	/* exactly these (PERSIST ignored) */
	int64_t			deadline;	/* -1: don't check */
};

struct scenario {
	const char	*name;
	struct step	 steps[MAXSTEPS];
};

#define A(x)	SV_ACT_##x
#define S(x)	SV_##x
#define E(x)	SV_EV_##x
#define END	{ .at = -1 }

static const struct scenario scenarios[] = {
	{ "start to ready, then stop", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 10, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 11, E(SPAWNED), 0, S(STARTING), 0, 1011 },
	    { 200, E(READY), 0, S(READY), 0, 700 },
	    { 400, E(WATCHDOG), 0, S(READY), 0, 900 },
	    { 500, E(STOP), 0, S(STOPPING), A(TERM), 700 },
	    { 550, E(EXIT), 0, S(STOPPED), A(RELEASE_PROXY), 0 },
	    END,
	} },
	{ "stop for a handover keeps the proxy", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 1, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 2, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 3, E(READY), 0, S(READY), 0, -1 },
	    { 4, E(STOP), -2, S(STOPPING), A(TERM), -1 },
	    { 5, E(EXIT), 0, S(STOPPED), 0, 0 },
	    END,
	} },
	{ "crash loop ends in failed after max attempts", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 100, E(EXIT), 1, S(BACKOFF), 0, 150 },	/* 0.5 * 100 */
	    { 150, E(TIMER), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 150, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 150, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 200, E(EXIT), -9, S(BACKOFF), 0, 300 },	/* 0.5 * 200 */
	    { 300, E(TIMER), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 300, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 300, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 400, E(EXIT), 1, S(BACKOFF), 0, 600 },	/* 0.5 * 400 */
	    { 600, E(TIMER), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 600, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 600, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 700, E(EXIT), 1, S(FAILED), A(ALERT_FAILED) | A(RELEASE_PROXY), 0 },
	    { 800, E(TIMER), 0, S(FAILED), 0, 0 },
	    { 900, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    END,
	} },
	{ "logged out needs auth and is not restarted", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 50, E(EXIT), 78, S(NEEDS_AUTH), A(ALERT_AUTH) | A(RELEASE_PROXY), 0 },
	    { 5000, E(TIMER), 0, S(NEEDS_AUTH), 0, 0 },
	    END,
	} },
	{ "proxy refused marks the IP bad and restarts", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 50, E(EXIT), 75, S(BACKOFF), A(MARK_IP_BAD), 100 },
	    { 100, E(TIMER), 0, S(STARTING), A(ACQUIRE), 0 },
	    END,
	} },
	{ "never ready: readiness timeout, SIGTERM, SIGKILL", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, 1000 },
	    { 1000, E(TIMER), 0, S(STOPPING), A(TERM), 1200 },
	    { 1200, E(TIMER), 0, S(STOPPING), A(KILL), 0 },
	    { 1210, E(EXIT), -9, S(BACKOFF), 0, 1260 },
	    END,
	} },
	{ "watchdog silence restarts", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 10, E(READY), 0, S(READY), 0, 510 },
	    { 510, E(TIMER), 0, S(STOPPING), A(TERM), 710 },
	    { 520, E(EXIT), 0, S(BACKOFF), 0, 570 },
	    END,
	} },
	{ "conflict: ownership checked before reconnecting", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 10, E(READY), 0, S(READY), 0, -1 },
	    { 20, E(CONFLICT), 0, S(READY), 0, -1 },
	    { 30, E(EXIT), 1, S(BACKOFF), 0, 80 },
	    { 80, E(TIMER), 0, S(BACKOFF), A(CHECK_OWNER), 0 },
	    { 90, E(OWNER_LOST), 0, S(STOPPED), 0, 0 },
	    END,
	} },
	{ "conflict, still the owner: reconnect", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 5, E(CONFLICT), 0, S(STARTING), 0, -1 },
	    { 30, E(EXIT), 1, S(BACKOFF), 0, 80 },
	    { 80, E(TIMER), 0, S(BACKOFF), A(CHECK_OWNER), 0 },
	    { 90, E(OWNER_OK), 0, S(STARTING), A(ACQUIRE), 0 },
	    END,
	} },
	{ "no proxy available: wait without counting an attempt", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 5, E(PROXY_WAIT), 0, S(BACKOFF), 0, 305 },
	    { 305, E(TIMER), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 306, E(STOP), 0, S(STOPPED), A(CANCEL_ACQUIRE) | A(RELEASE_PROXY), 0 },
	    END,
	} },
	{ "exec failure counts as a failed attempt", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 1, E(SPAWN_FAILED), 0, S(BACKOFF), 0, 51 },
	    END,
	} },
	{ "start while stopping restarts without a failure", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 10, E(STOP), 0, S(STOPPING), A(TERM), 210 },
	    { 20, E(START), 0, S(STOPPING), 0, 210 },
	    { 30, E(EXIT), 0, S(STARTING), A(ACQUIRE), 0 },
	    END,
	} },
	{ "adopted, said logged_out, ended with no status: needs auth", {
	    { 0, E(ADOPT), 1, S(READY), 0, -1 },
	    { 10, E(NOTICE), SV_NOTICE_LOGGED_OUT, S(READY), 0, -1 },
	    { 20, E(EXIT), SUPERVISE_EXIT_UNKNOWN, S(NEEDS_AUTH),
		A(ALERT_AUTH) | A(RELEASE_PROXY), 0 },
	    END,
	} },
	{ "adopted, said proxy_blocked, ended with no status: IP bad", {
	    { 0, E(ADOPT), 1, S(READY), 0, -1 },
	    { 10, E(NOTICE), SV_NOTICE_PROXY_BLOCKED, S(READY), 0, -1 },
	    { 20, E(EXIT), SUPERVISE_EXIT_UNKNOWN, S(BACKOFF), A(MARK_IP_BAD),
		70 },
	    END,
	} },
	{ "adopted, said nothing, ended with no status: a failure", {
	    { 0, E(ADOPT), 1, S(READY), 0, -1 },
	    { 20, E(EXIT), SUPERVISE_EXIT_UNKNOWN, S(BACKOFF), 0, 70 },
	    END,
	} },
	{ "a notice does not outlive its run", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 5, E(NOTICE), SV_NOTICE_LOGGED_OUT, S(STARTING), 0, -1 },
	    { 10, E(EXIT), 1, S(BACKOFF), 0, 60 },	/* its own status */
	    { 60, E(TIMER), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 60, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 60, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 70, E(EXIT), SUPERVISE_EXIT_UNKNOWN, S(BACKOFF), 0, 170 },
	    END,
	} },
	{ "removed while ready: stopped, the proxy back, then dropped", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 10, E(READY), 0, S(READY), 0, -1 },
	    { 20, E(REMOVE), 0, S(STOPPING), A(TERM), 220 },
	    { 30, E(EXIT), 0, S(STOPPED), A(RELEASE_PROXY) | A(DROP), 0 },
	    { 40, E(START), 0, S(STOPPED), A(DROP), 0 },	/* never again */
	    END,
	} },
	{ "lost while ready: stopped, the proxy kept for the peer, dropped", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 10, E(READY), 0, S(READY), 0, -1 },
	    { 20, E(LOSE), 0, S(STOPPING), A(TERM), 220 },
	    { 30, E(EXIT), 0, S(STOPPED), A(DROP), 0 },
	    END,
	} },
	{ "removed while waiting for a proxy: dropped at once", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 5, E(REMOVE), 0, S(STOPPED),
		A(CANCEL_ACQUIRE) | A(RELEASE_PROXY) | A(DROP), 0 },
	    END,
	} },
	{ "removed in backoff: dropped at once with its proxy", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 5, E(PROXY_WAIT), 0, S(BACKOFF), 0, 305 },
	    { 6, E(REMOVE), 0, S(STOPPED), A(RELEASE_PROXY) | A(DROP), 0 },
	    { 305, E(TIMER), 0, S(STOPPED), A(DROP), 0 },
	    END,
	} },
	{ "shed while ready: stopped with the proxy kept, then given up", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 10, E(READY), 0, S(READY), 0, -1 },
	    { 20, E(SHED), 0, S(STOPPING), A(TERM), 220 },
	    { 25, E(START), 0, S(STOPPING), 0, 220 },	/* not ours to start */
	    { 30, E(EXIT), 0, S(STOPPED), A(GIVE_UP), 0 },
	    { 40, E(LOSE), 0, S(STOPPED), A(DROP), 0 },
	    END,
	} },
	{ "shed, giving up failed: ours again, it may start", {
	    { 0, E(SHED), 0, S(STOPPED), A(GIVE_UP), 0 },
	    { 10, E(KEEP), 0, S(STOPPED), 0, 0 },
	    { 20, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    END,
	} },
	{ "logged out when loaded, then shed: given up as it is", {
	    { 0, E(HOLD_AUTH), 0, S(NEEDS_AUTH), 0, 0 },
	    { 10, E(SHED), 0, S(NEEDS_AUTH), A(GIVE_UP), 0 },
	    END,
	} },
	{ "a long healthy run resets the attempts", {
	    { 0, E(START), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 0, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 0, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 10, E(EXIT), 1, S(BACKOFF), 0, 60 },
	    { 60, E(TIMER), 0, S(STARTING), A(ACQUIRE), 0 },
	    { 60, E(PROXY_READY), 0, S(STARTING), A(SPAWN), -1 },
	    { 60, E(SPAWNED), 0, S(STARTING), 0, -1 },
	    { 70, E(READY), 0, S(READY), 0, -1 },
	    { 20070, E(EXIT), 1, S(BACKOFF), 0, 20120 },	/* attempt 1 again */
	    END,
	} },
};

/* A connector that becomes ready and dies at once hits the rate limit. */
static void
test_start_rate_limit(void **state)
{
	struct supervise	 sv = { 0 };
	struct supervise_params	 p = params;
	struct supervise_input	 in = { 0 };
	struct supervise_output	 out;
	int64_t			 now = 0;
	int			 i;

	(void)state;
	p.stable_ms = 0;	/* every run counts as healthy: no attempt limit */
	in.event = SV_EV_START;
	supervise_step(&sv, &p, &in, now, RND, &out);
	for (i = 0; i < 5; i++) {
		in.event = SV_EV_PROXY_READY;
		supervise_step(&sv, &p, &in, now, RND, &out);
		assert_true(out.actions & SV_ACT_SPAWN);
		in.event = SV_EV_SPAWNED;
		supervise_step(&sv, &p, &in, now, RND, &out);
		in.event = SV_EV_READY;
		supervise_step(&sv, &p, &in, now, RND, &out);
		in.event = SV_EV_EXIT;
		in.status = 1;
		supervise_step(&sv, &p, &in, now + 1, RND, &out);
		assert_int_equal(sv.state, SV_BACKOFF);
		now = sv.deadline;
		in.event = SV_EV_TIMER;
		supervise_step(&sv, &p, &in, now, RND, &out);
	}
	/* The sixth start within 10 s waits for the window instead. */
	assert_int_equal(sv.state, SV_BACKOFF);
	assert_int_equal(sv.cause, SV_CAUSE_RATE_LIMIT);
	assert_int_equal(sv.deadline, 10000);
	in.event = SV_EV_TIMER;
	supervise_step(&sv, &p, &in, sv.deadline, RND, &out);
	assert_int_equal(sv.state, SV_STARTING);
}

static void
test_scenarios(void **state)
{
	size_t	i, j;

	(void)state;
	for (i = 0; i < nitems(scenarios); i++) {
		const struct scenario	*sc = &scenarios[i];
		struct supervise	 sv = { 0 };

		for (j = 0; j < MAXSTEPS && sc->steps[j].at >= 0; j++) {
			const struct step	*st = &sc->steps[j];
			struct supervise_input	 in = { 0 };
			struct supervise_output	 out;

			/* status -2 on STOP means: keep the proxy. */
			in.event = st->ev;
			in.status = st->status;
			in.keep_proxy = st->ev == SV_EV_STOP && st->status == -2;
			supervise_step(&sv, &params, &in, st->at, RND, &out);
			if (sv.state != st->want ||
			    (out.actions & ~(unsigned)SV_ACT_PERSIST) != st->actions ||
			    (st->deadline >= 0 && sv.deadline != st->deadline))
				fail_msg("%s, step %zu (%s at %lld): state %s "
				    "want %s, actions %#x want %#x, deadline "
				    "%lld want %lld", sc->name, j,
				    supervise_event_name(st->ev),
				    (long long)st->at,
				    supervise_state_name(sv.state),
				    supervise_state_name(st->want),
				    out.actions & ~(unsigned)SV_ACT_PERSIST,
				    st->actions, (long long)sv.deadline,
				    (long long)st->deadline);
			/* Every change is stored, a peer's session's excepted. */
			if (out.from != out.to && sv.life != SV_LIFE_LOST)
				assert_true(out.actions & SV_ACT_PERSIST);
		}
	}
}

/* Every state has a defined, harmless answer to every event. */
static void
test_total(void **state)
{
	int	s, e;

	(void)state;
	for (s = 0; s < SV_NSTATES; s++) {
		for (e = 0; e < SV_NEVENTS; e++) {
			struct supervise	 sv = { 0 };
			struct supervise_input	 in = { 0 };
			struct supervise_output	 out;

			sv.state = (enum supervise_state)s;
			in.event = (enum supervise_event)e;
			in.status = 1;
			supervise_step(&sv, &params, &in, 1000, RND, &out);
			assert_true((unsigned)sv.state < SV_NSTATES);
			assert_string_not_equal(supervise_state_name(sv.state),
			    "unknown");
		}
	}
}

static void
test_backoff(void **state)
{
	static const struct {
		int	attempt;
		double	rnd;
		int64_t	want;
	} cases[] = {
		{ 1, 0.0, 0 }, { 1, 0.5, 50 }, { 2, 0.5, 100 }, { 3, 0.5, 200 },
		{ 4, 0.5, 400 }, { 5, 0.5, 500 }, { 60, 0.5, 500 },
		{ 3, 0.999, 400 }, { 3, 7.0, 400 }, { 3, -1.0, 0 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		assert_int_equal(supervise_backoff_ms(&params, cases[i].attempt,
		    cases[i].rnd), cases[i].want);
}

/* A peer's session is the peer's to write: no state of it is persisted. */
static void
test_lost_writes_nothing(void **state)
{
	struct supervise	 sv = { 0 };
	struct supervise_input	 in = { 0 };
	struct supervise_output	 out;
	static const enum supervise_event evs[] = { SV_EV_START,
	    SV_EV_PROXY_READY, SV_EV_SPAWNED, SV_EV_READY };
	size_t			 i;

	(void)state;
	for (i = 0; i < nitems(evs); i++) {
		in.event = evs[i];
		supervise_step(&sv, &params, &in, 0, RND, &out);
	}
	in.event = SV_EV_LOSE;
	supervise_step(&sv, &params, &in, 10, RND, &out);
	assert_int_equal(out.to, SV_STOPPING);
	assert_int_equal(out.actions & SV_ACT_PERSIST, 0);
	in.event = SV_EV_EXIT;
	supervise_step(&sv, &params, &in, 20, RND, &out);
	assert_int_equal(out.to, SV_STOPPED);
	assert_int_equal(out.actions & SV_ACT_PERSIST, 0);
	assert_true(supervise_gone(&sv));
	assert_string_equal(supervise_life_name(sv.life), "lost");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_start_rate_limit),
		cmocka_unit_test(test_total),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_lost_writes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
