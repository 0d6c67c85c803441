/*
 * Tests of core/breaker.c, as scripts of calls against a fake clock: the
 * breaker opens on the threshold-th consecutive failure, refuses requests
 * for a cool-down that doubles up to its cap, admits one probe when
 * half-open, closes on the probe's success, writes off a silent probe, and
 * ignores late outcomes.  After every call the visible state is checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "base/util.h"
#include "core/breaker.h"

#define STEPS_MAX	24

enum step_op {
	ALLOW,		/* breaker_allow, want_allow its answer */
	OK,		/* breaker_record(ok) */
	FAIL,		/* breaker_record(failure) */
};

struct step {
	enum step_op		op;
	int64_t			t;
	bool			want_allow;
	enum breaker_state	want_state;
	int64_t			want_probe_in;
	unsigned		want_opens;
};

struct script {
	const char		*name;
	struct breaker_config	 cfg;
	struct step		 steps[STEPS_MAX];
	size_t			 nsteps;
};

#define C	BREAKER_CLOSED
#define O	BREAKER_OPEN
#define H	BREAKER_HALF_OPEN
/* Threshold 3, cool-down 1 s doubling to 4 s, probes time out after 0.5 s. */
#define CFG	{ 3, 1000, 4000, 500 }

static const struct script scripts[] = {
	{ "opens on the third failure in a row; a probe's success closes",
	    CFG, {
		{ ALLOW, 0, true, C, 0, 0 },
		{ FAIL, 0, false, C, 0, 0 },
		{ FAIL, 0, false, C, 0, 0 },
		/* A success in between starts the count again. */
		{ OK, 0, false, C, 0, 0 },
		{ FAIL, 10, false, C, 0, 0 },
		{ FAIL, 20, false, C, 0, 0 },
		{ ALLOW, 25, true, C, 0, 0 },
		{ FAIL, 30, false, O, 1000, 1 },
		{ ALLOW, 31, false, O, 999, 1 },
		{ ALLOW, 1029, false, O, 1, 1 },
		{ ALLOW, 1030, true, H, 500, 1 },
		/* One probe at a time. */
		{ ALLOW, 1100, false, H, 430, 1 },
		{ OK, 1200, false, C, 0, 0 },
		{ ALLOW, 1200, true, C, 0, 0 },
	}, 14 },
	{ "each failed probe doubles the cool-down, up to the cap", CFG, {
		{ FAIL, 0, false, C, 0, 0 },
		{ FAIL, 0, false, C, 0, 0 },
		{ FAIL, 0, false, O, 1000, 1 },
		{ ALLOW, 1000, true, H, 500, 1 },
		{ FAIL, 1000, false, O, 2000, 2 },
		{ ALLOW, 2999, false, O, 1, 2 },
		{ ALLOW, 3000, true, H, 500, 2 },
		{ FAIL, 3000, false, O, 4000, 3 },
		{ ALLOW, 7000, true, H, 500, 3 },
		{ FAIL, 7000, false, O, 4000, 4 },
		{ ALLOW, 11000, true, H, 500, 4 },
		/* Closing forgets the opens: the next open is short again. */
		{ OK, 11000, false, C, 0, 0 },
		{ FAIL, 12000, false, C, 0, 0 },
		{ FAIL, 12000, false, C, 0, 0 },
		{ FAIL, 12000, false, O, 1000, 1 },
	}, 15 },
	{ "a probe that never reports is written off", CFG, {
		{ FAIL, 0, false, C, 0, 0 },
		{ FAIL, 0, false, C, 0, 0 },
		{ FAIL, 0, false, O, 1000, 1 },
		{ ALLOW, 1000, true, H, 500, 1 },
		{ ALLOW, 1499, false, H, 1, 1 },
		{ ALLOW, 1500, true, H, 500, 1 },
		{ OK, 1600, false, C, 0, 0 },
	}, 7 },
	{ "late outcomes while open change nothing", CFG, {
		{ FAIL, 0, false, C, 0, 0 },
		{ FAIL, 0, false, C, 0, 0 },
		{ FAIL, 0, false, O, 1000, 1 },
		{ OK, 10, false, O, 990, 1 },
		{ FAIL, 20, false, O, 980, 1 },
		/* Late past the cool-down, before anyone asked: still open. */
		{ OK, 2000, false, O, 0, 1 },
		{ ALLOW, 2000, true, H, 500, 1 },
	}, 7 },
	{ "a threshold of one opens on the first failure",
	    { 1, 100, 100, 100 }, {
		{ ALLOW, 0, true, C, 0, 0 },
		{ FAIL, 0, false, O, 100, 1 },
		{ ALLOW, 100, true, H, 100, 1 },
		{ FAIL, 100, false, O, 100, 2 },
		{ ALLOW, 200, true, H, 100, 2 },
		{ OK, 250, false, C, 0, 0 },
	}, 6 },
};

static void
test_scripts(void **state)
{
	struct breaker		*b;
	struct breaker_status	 st;
	size_t			 i, j;
	bool			 got;

	(void)state;
	for (i = 0; i < nitems(scripts); i++) {
		const struct script *sc = &scripts[i];
		uint64_t trips = 0;

		print_message("script %zu: %s\n", i, sc->name);
		assert_int_equal(breaker_new(&sc->cfg, &b), 0);
		for (j = 0; j < sc->nsteps; j++) {
			const struct step *s = &sc->steps[j];
			enum breaker_state before = breaker_state(b);

			switch (s->op) {
			case ALLOW:
				got = breaker_allow(b, s->t);
				if (got != s->want_allow)
					fail_msg("step %zu: allow at %lld is "
					    "%d", j, (long long)s->t, got);
				break;
			case OK:
				breaker_record(b, s->t, true);
				break;
			case FAIL:
				breaker_record(b, s->t, false);
				break;
			}
			if (breaker_state(b) == BREAKER_OPEN &&
			    before != BREAKER_OPEN)
				trips++;
			breaker_status(b, s->t, &st);
			if (st.state != s->want_state ||
			    st.probe_in_ms != s->want_probe_in ||
			    st.opens != s->want_opens)
				fail_msg("step %zu: %s, probe in %lld, opens "
				    "%u; want %s, %lld, %u", j, st.name,
				    (long long)st.probe_in_ms, st.opens,
				    breaker_state_name(s->want_state),
				    (long long)s->want_probe_in,
				    s->want_opens);
			assert_int_equal(breaker_state(b), st.state);
			assert_string_equal(st.name,
			    breaker_state_name(st.state));
			assert_int_equal(st.trips, trips);
		}
		breaker_free(b);
	}
}

/* Failures are counted while closed and shown. */
static void
test_failures_visible(void **state)
{
	struct breaker		*b;
	struct breaker_status	 st;

	(void)state;
	assert_int_equal(breaker_new(NULL, &b), 0);
	breaker_record(b, 0, false);
	breaker_record(b, 0, false);
	breaker_status(b, 0, &st);
	assert_int_equal(st.failures, 2);
	assert_int_equal(st.state, BREAKER_CLOSED);
	/* The defaults: five in a row open it for five seconds. */
	breaker_record(b, 0, false);
	breaker_record(b, 0, false);
	breaker_record(b, 0, false);
	breaker_status(b, 0, &st);
	assert_int_equal(st.state, BREAKER_OPEN);
	assert_int_equal(st.probe_in_ms, 5000);
	assert_int_equal(st.failures, 0);
	breaker_free(b);
	breaker_free(NULL);
}

struct name_case {
	enum breaker_state	 s;
	const char		*want;
};

static const struct name_case name_cases[] = {
	{ BREAKER_CLOSED, "closed" },
	{ BREAKER_OPEN, "open" },
	{ BREAKER_HALF_OPEN, "half_open" },
	{ (enum breaker_state)42, "unknown" },
};

static void
test_names(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(name_cases); i++)
		assert_string_equal(breaker_state_name(name_cases[i].s),
		    name_cases[i].want);
}

static const struct breaker_config bad_configs[] = {
	{ 0, 1000, 4000, 500 },
	{ BREAKER_THRESHOLD_MAX + 1, 1000, 4000, 500 },
	{ 3, 0, 4000, 500 },
	{ 3, BREAKER_TIME_MAX_MS + 1, BREAKER_TIME_MAX_MS + 1, 500 },
	{ 3, 1000, 999, 500 },
	{ 3, 1000, BREAKER_TIME_MAX_MS + 1, 500 },
	{ 3, 1000, 4000, 0 },
	{ 3, 1000, 4000, BREAKER_TIME_MAX_MS + 1 },
};

static void
test_config(void **state)
{
	struct breaker	*b, *sentinel = (struct breaker *)&b;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(bad_configs); i++) {
		print_message("case %zu\n", i);
		b = sentinel;
		assert_int_equal(breaker_new(&bad_configs[i], &b), -EINVAL);
		assert_ptr_equal(b, sentinel);
	}
	/* The largest values still double without overflow. */
	{
		const struct breaker_config big = { BREAKER_THRESHOLD_MAX,
		    BREAKER_TIME_MAX_MS, BREAKER_TIME_MAX_MS,
		    BREAKER_TIME_MAX_MS };
		struct breaker_status st;

		assert_int_equal(breaker_new(&big, &b), 0);
		for (i = 0; i < BREAKER_THRESHOLD_MAX; i++)
			breaker_record(b, 0, false);
		breaker_status(b, 0, &st);
		assert_int_equal(st.probe_in_ms, BREAKER_TIME_MAX_MS);
		breaker_free(b);
	}
}

/* Many failed probes in a row: the cool-down stays at its cap. */
static void
test_many_opens(void **state)
{
	const struct breaker_config	 cfg = { 1, 1, 1000, 1 };
	struct breaker			*b;
	struct breaker_status		 st;
	int64_t				 t = 0;
	int				 i;

	(void)state;
	assert_int_equal(breaker_new(&cfg, &b), 0);
	breaker_record(b, t, false);
	for (i = 0; i < 100; i++) {
		breaker_status(b, t, &st);
		t += st.probe_in_ms;
		assert_true(breaker_allow(b, t));
		breaker_record(b, t, false);
	}
	breaker_status(b, t, &st);
	assert_int_equal(st.probe_in_ms, 1000);
	assert_int_equal(st.trips, 101);
	breaker_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_failures_visible),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_many_opens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
