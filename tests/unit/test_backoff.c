/*
 * Tests of core/backoff.c: the full-jitter ceiling and delay at both ends
 * of the random range, Retry-After as a floor with its cap and spread, the
 * three HTTP-date forms (and the many ways not to be one), Retry-After
 * measured against the response's Date, and the retry budget over time.
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
#include "core/backoff.h"

/* What the output variables hold before a call, to see they stay put. */
#define SENTINEL	INT64_C(-777)
#define RND_MIN		UINT64_C(0)
#define RND_MID		(UINT64_C(1) << 63)
#define RND_MAX		UINT64_MAX
#define S		INT64_C(1000)

/* 2026-11-28 21:30:00 UTC, the moment most cases are measured from. */
#define T0		(INT64_C(1795901400) * S)

static const struct backoff_policy test_policy = {
	.base_ms = 100,
	.cap_ms = 10000,
	.retry_after_cap_ms = 60000,
	.retry_after_spread_ms = 1000,
};

struct check_case {
	struct backoff_policy	 p;
	int			 want_r;
	const char		*want_why;	/* a part of the reason */
};

static const struct check_case check_cases[] = {
	{ BACKOFF_POLICY_DEFAULT, 0, NULL },
	{ { 100, 10000, 60000, 1000 }, 0, NULL },
	{ { 100, 100, 0, 0 }, 0, NULL },
	{ { 0, 10000, 60000, 1000 }, -EINVAL, "base" },
	{ { -1, 10000, 60000, 1000 }, -EINVAL, "base" },
	{ { 100, 99, 60000, 1000 }, -EINVAL, "cap" },
	{ { 100, BACKOFF_DELAY_MAX_MS + 1, 0, 0 }, -EINVAL, "cap" },
	{ { 100, 1000, -1, 0 }, -EINVAL, "Retry-After cap" },
	{ { 100, 1000, 0, -1 }, -EINVAL, "spread" },
	{ { 100, 1000, 0, BACKOFF_DELAY_MAX_MS + 1 }, -EINVAL, "spread" },
};

static void
test_policy_check(void **state)
{
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(check_cases); i++) {
		const struct check_case *c = &check_cases[i];

		print_message("case %zu\n", i);
		why = NULL;
		assert_int_equal(backoff_policy_check(&c->p, &why), c->want_r);
		if (c->want_why != NULL) {
			assert_non_null(why);
			assert_non_null(strstr(why, c->want_why));
		}
	}
}

struct delay_case {
	unsigned	 attempt;
	uint64_t	 rnd;
	int64_t		 retry_after;	/* -1: none */
	int64_t		 want_ceiling;
	int64_t		 want_next;
};

static const struct delay_case delay_cases[] = {
	/* base * 2^attempt until the cap. */
	{ 0, RND_MAX, -1, 100, 100 },
	{ 1, RND_MAX, -1, 200, 200 },
	{ 6, RND_MAX, -1, 6400, 6400 },
	{ 7, RND_MAX, -1, 10000, 10000 },
	{ 62, RND_MAX, -1, 10000, 10000 },
	{ 63, RND_MAX, -1, 10000, 10000 },
	{ 1000, RND_MAX, -1, 10000, 10000 },
	{ UINT32_MAX, RND_MAX, -1, 10000, 10000 },
	/* Full jitter: the whole of [0, ceiling]. */
	{ 0, RND_MIN, -1, 100, 0 },
	{ 0, RND_MID, -1, 100, 50 },
	{ 7, RND_MID, -1, 10000, 5000 },
	{ 7, RND_MIN, -1, 10000, 0 },
	/* Retry-After is a floor, spread by at least a second. */
	{ 0, RND_MIN, 5000, 100, 5000 },
	{ 0, RND_MAX, 5000, 100, 6000 },
	{ 7, RND_MIN, 5000, 10000, 5000 },
	{ 7, RND_MAX, 5000, 10000, 10000 },
	{ 0, RND_MAX, 0, 100, 1000 },
	{ 0, RND_MIN, 0, 100, 0 },
	/* A Retry-After past the cap is honoured up to the cap. */
	{ 0, RND_MIN, 120000, 100, 60000 },
	{ 0, RND_MAX, 120000, 100, 61000 },
	{ 0, RND_MIN, BACKOFF_DELTA_MAX_S * S, 100, 60000 },
};

static void
test_delay(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(delay_cases); i++) {
		const struct delay_case *c = &delay_cases[i];

		print_message("case %zu: attempt %u\n", i, c->attempt);
		assert_int_equal(backoff_ceiling_ms(&test_policy, c->attempt),
		    c->want_ceiling);
		assert_int_equal(backoff_next_ms(&test_policy, c->attempt,
		    c->rnd, c->retry_after), c->want_next);
		if (c->retry_after < 0)
			assert_int_equal(backoff_delay_ms(&test_policy,
			    c->attempt, c->rnd), c->want_next);
	}
}

/* Any random number gives a delay inside the window. */
static void
test_delay_range(void **state)
{
	uint64_t	x = UINT64_C(0x9e3779b97f4a7c15);
	int64_t		d, lo[2] = { INT64_MAX, INT64_MAX }, hi[2] = { 0, 0 };
	unsigned	attempt;
	int		i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		/* xorshift64: a fixed sequence, so failures reproduce. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		attempt = (unsigned)(i % 10);
		d = backoff_delay_ms(&test_policy, attempt, x);
		assert_in_range(d, 0, backoff_ceiling_ms(&test_policy,
		    attempt));
		d = backoff_next_ms(&test_policy, attempt, x, 3000);
		assert_in_range(d, 3000, 10000);
		if (attempt == 9) {
			d = backoff_delay_ms(&test_policy, attempt, x);
			lo[0] = d < lo[0] ? d : lo[0];
			hi[0] = d > hi[0] ? d : hi[0];
		}
		if (attempt == 0) {
			d = backoff_next_ms(&test_policy, attempt, x, 3000);
			lo[1] = d < lo[1] ? d : lo[1];
			hi[1] = d > hi[1] ? d : hi[1];
		}
	}
	/* And fills it, roughly: ten thousand draws reach both ends. */
	assert_in_range(lo[0], 0, 10);
	assert_in_range(hi[0], 9990, 10000);
	assert_in_range(lo[1], 3000, 3010);
	assert_in_range(hi[1], 3990, 4000);
}

struct date_case {
	const char	*s;
	int64_t		 ref;
	int		 want_r;
	int64_t		 want;
};

static const struct date_case date_cases[] = {
	/* RFC 9110's own example in its three forms. */
	{ "Sun, 06 Nov 1994 08:49:37 GMT", T0, 0, INT64_C(784111777) * S },
	{ "Sunday, 06-Nov-94 08:49:37 GMT", T0, 0, INT64_C(784111777) * S },
	{ "Sun Nov  6 08:49:37 1994", T0, 0, INT64_C(784111777) * S },
	{ "Sun Nov 06 08:49:37 1994", T0, 0, INT64_C(784111777) * S },
	/* Surrounding blanks are optional whitespace. */
	{ "  Sun, 06 Nov 1994 08:49:37 GMT\t", T0, 0,
	    INT64_C(784111777) * S },
	{ "Thu, 01 Jan 1970 00:00:00 GMT", T0, 0, 0 },
	{ "Tue, 29 Feb 2000 00:00:00 GMT", T0, 0, INT64_C(951782400) * S },
	{ "Fri, 31 Dec 9999 23:59:59 GMT", T0, 0, INT64_C(253402300799) * S },
	/* A leap second is the next day's first. */
	{ "Wed, 31 Dec 2025 23:59:60 GMT", T0, 0, INT64_C(1767225600) * S },
	/* RFC 850 years: more than 50 years ahead means the last century. */
	{ "Saturday, 28-Nov-26 21:32:00 GMT", T0, 0,
	    INT64_C(1795901520) * S },
	{ "Wednesday, 01-Jan-76 00:00:00 GMT", T0, 0,
	    INT64_C(3345062400) * S },
	{ "Saturday, 01-Jan-77 00:00:00 GMT", T0, 0, INT64_C(220924800) * S },
	{ "Saturday, 01-Jan-77 00:00:00 GMT", 0, 0, INT64_C(220924800) * S },
	{ "Saturday, 01-Jan-21 00:00:00 GMT", 0, 0, INT64_C(-1546300800) * S },
	/* The weekday's form is checked, its truth is not. */
	{ "Mon, 06 Nov 1994 08:49:37 GMT", T0, 0, INT64_C(784111777) * S },
	/* Not dates. */
	{ "Sun, 6 Nov 1994 08:49:37 GMT", T0, -EINVAL, 0 },
	{ "Sun, 06 Nov 94 08:49:37 GMT", T0, -EINVAL, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 UTC", T0, -EINVAL, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 GMT+1", T0, -EINVAL, 0 },
	{ "Sun, 06 Nov 1994 08:49:37", T0, -EINVAL, 0 },
	{ "Sun, 06 Nov 1994 8:49:37 GMT", T0, -EINVAL, 0 },
	{ "Sun, 06 Nov 1994 24:00:00 GMT", T0, -EINVAL, 0 },
	{ "Sun, 06 Nov 1994 23:60:00 GMT", T0, -EINVAL, 0 },
	{ "Sun, 06 Nov 1994 23:59:61 GMT", T0, -EINVAL, 0 },
	{ "Sun, 31 Nov 1994 08:49:37 GMT", T0, -EINVAL, 0 },
	{ "Sun, 00 Nov 1994 08:49:37 GMT", T0, -EINVAL, 0 },
	{ "Sun, 29 Feb 1900 08:49:37 GMT", T0, -EINVAL, 0 },
	{ "Sun, 06 Foo 1994 08:49:37 GMT", T0, -EINVAL, 0 },
	{ "sun, 06 nov 1994 08:49:37 GMT", T0, -EINVAL, 0 },
	{ "Sun,06 Nov 1994 08:49:37 GMT", T0, -EINVAL, 0 },
	{ "Sunday, 06 Nov 1994 08:49:37 GMT", T0, -EINVAL, 0 },
	{ "Sun, 06-Nov-94 08:49:37 GMT", T0, -EINVAL, 0 },
	{ "Sun Nov 6 08:49:37 1994", T0, -EINVAL, 0 },
	{ "Sun Nov  6 08:49:37 94", T0, -EINVAL, 0 },
	{ "Sun Nov  6 08:49:37 1994 GMT", T0, -EINVAL, 0 },
	{ "2026-11-28T21:30:00Z", T0, -EINVAL, 0 },
	{ "", T0, -EINVAL, 0 },
	{ NULL, T0, -EINVAL, 0 },
};

static void
test_http_date(void **state)
{
	int64_t	got;
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(date_cases); i++) {
		const struct date_case *c = &date_cases[i];

		print_message("case %zu: [%s]\n", i, c->s ? c->s : "(null)");
		got = SENTINEL;
		assert_int_equal(backoff_http_date_parse(c->s, c->ref, &got),
		    c->want_r);
		assert_int_equal(got, c->want_r == 0 ? c->want : SENTINEL);
	}
}

struct retry_after_case {
	const char	*value;
	const char	*date;		/* the response's Date, or NULL */
	int64_t		 now;
	int		 want_r;
	int64_t		 want;
};

static const struct retry_after_case retry_after_cases[] = {
	{ "120", NULL, T0, 0, 120 * S },
	{ "0", NULL, T0, 0, 0 },
	{ " 5 ", NULL, T0, 0, 5 * S },
	{ "007", NULL, T0, 0, 7 * S },
	/* A huge number is taken as 2^31 seconds, not overflowed. */
	{ "99999999999999999999999", NULL, T0, 0, BACKOFF_DELTA_MAX_S * S },
	{ "2147483649", NULL, T0, 0, BACKOFF_DELTA_MAX_S * S },
	/* Dates against the response's Date, whatever our clock says. */
	{ "Sat, 28 Nov 2026 21:32:00 GMT", "Sat, 28 Nov 2026 21:30:00 GMT",
	    T0 + 3600 * S, 0, 120 * S },
	{ "Sat, 28 Nov 2026 21:32:00 GMT", "Sat, 28 Nov 2026 21:30:00 GMT",
	    0, 0, 120 * S },
	{ "Saturday, 28-Nov-26 21:32:00 GMT", "Sat, 28 Nov 2026 21:30:00 GMT",
	    0, 0, 120 * S },
	{ "Sat Nov 28 21:32:00 2026", "Saturday, 28-Nov-26 21:30:00 GMT",
	    T0, 0, 120 * S },
	/* No Date, or an unreadable one: against now. */
	{ "Sat, 28 Nov 2026 21:32:00 GMT", NULL, T0, 0, 120 * S },
	{ "Sat, 28 Nov 2026 21:32:00 GMT", NULL, T0 + 60 * S, 0, 60 * S },
	{ "Sat, 28 Nov 2026 21:32:00 GMT", "yesterday", T0 + 60 * S, 0,
	    60 * S },
	{ "Sat, 28 Nov 2026 21:32:00 GMT", "", T0, 0, 120 * S },
	/* A date already past means now. */
	{ "Sun, 06 Nov 1994 08:49:37 GMT", NULL, T0, 0, 0 },
	{ "Sat, 28 Nov 2026 21:29:59 GMT", "Sat, 28 Nov 2026 21:30:00 GMT",
	    T0, 0, 0 },
	/* Neither form. */
	{ "-1", NULL, T0, -EINVAL, 0 },
	{ "1.5", NULL, T0, -EINVAL, 0 },
	{ "5s", NULL, T0, -EINVAL, 0 },
	{ "5 6", NULL, T0, -EINVAL, 0 },
	{ "+5", NULL, T0, -EINVAL, 0 },
	{ "", NULL, T0, -EINVAL, 0 },
	{ "  ", NULL, T0, -EINVAL, 0 },
	{ "soon", "Sat, 28 Nov 2026 21:30:00 GMT", T0, -EINVAL, 0 },
	{ NULL, NULL, T0, -EINVAL, 0 },
};

static void
test_retry_after(void **state)
{
	int64_t	got;
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(retry_after_cases); i++) {
		const struct retry_after_case *c = &retry_after_cases[i];

		print_message("case %zu: [%s] [%s]\n", i,
		    c->value ? c->value : "(null)",
		    c->date ? c->date : "(null)");
		got = SENTINEL;
		assert_int_equal(backoff_retry_after_parse(c->value, c->date,
		    c->now, &got), c->want_r);
		assert_int_equal(got, c->want_r == 0 ? c->want : SENTINEL);
	}
}

enum budget_op {
	OP_DEPOSIT,		/* n requests */
	OP_WITHDRAW,		/* n retries, all want ok */
	OP_AVAILABLE,
};

struct budget_step {
	enum budget_op	 op;
	int64_t		 t;
	int		 n;
	bool		 ok;	/* OP_WITHDRAW: every one allowed? */
	int64_t		 want;	/* OP_AVAILABLE */
};

struct budget_case {
	const char			*name;
	struct backoff_budget_config	 cfg;
	struct budget_step		 steps[12];
	size_t				 nsteps;
};

static const struct budget_case budget_cases[] = {
	{ "reserve only: 1/s over 10 s is 10 retries per window",
	    { 10000, 10, 1 }, {
		{ OP_AVAILABLE, 0, 0, false, 10 },
		{ OP_WITHDRAW, 0, 10, true, 0 },
		{ OP_WITHDRAW, 500, 1, false, 0 },
		{ OP_AVAILABLE, 9999, 0, false, 0 },
		/* The withdrawals of the first slice have expired. */
		{ OP_AVAILABLE, 10000, 0, false, 10 },
		{ OP_WITHDRAW, 10000, 10, true, 0 },
		{ OP_WITHDRAW, 10000, 1, false, 0 },
	}, 7 },
	{ "requests earn 10% on top of the reserve",
	    { 10000, 10, 1 }, {
		{ OP_DEPOSIT, 0, 100, false, 0 },
		{ OP_AVAILABLE, 0, 0, false, 20 },
		{ OP_WITHDRAW, 100, 20, true, 0 },
		{ OP_WITHDRAW, 100, 1, false, 0 },
		/* Nine requests are not yet a whole retry, ten are. */
		{ OP_DEPOSIT, 2000, 9, false, 0 },
		{ OP_WITHDRAW, 2000, 1, false, 0 },
		{ OP_DEPOSIT, 2000, 1, false, 0 },
		{ OP_WITHDRAW, 2000, 1, true, 0 },
		/* At 10 s the first slice leaves: its deposits and spending. */
		{ OP_AVAILABLE, 9999, 0, false, 0 },
		{ OP_AVAILABLE, 10000, 0, false, 10 },
		/* Long idle: everything expired, the reserve is back. */
		{ OP_AVAILABLE, 1000000, 0, false, 10 },
	}, 11 },
	{ "no reserve and no share: never retry",
	    { 10000, 0, 0 }, {
		{ OP_DEPOSIT, 0, 1000, false, 0 },
		{ OP_AVAILABLE, 0, 0, false, 0 },
		{ OP_WITHDRAW, 0, 1, false, 0 },
	}, 3 },
	{ "a clock going backwards revives nothing",
	    { 10000, 10, 1 }, {
		{ OP_WITHDRAW, 20000, 10, true, 0 },
		{ OP_AVAILABLE, 5000, 0, false, 0 },
		{ OP_WITHDRAW, 5000, 1, false, 0 },
		{ OP_AVAILABLE, 30000, 0, false, 10 },
	}, 4 },
	{ "negative times work like any others",
	    { 1000, 100, 0 }, {
		{ OP_DEPOSIT, -50, 1, false, 0 },
		{ OP_AVAILABLE, -1, 0, false, 1 },
		{ OP_AVAILABLE, 0, 0, false, 1 },
		{ OP_AVAILABLE, 900, 0, false, 0 },
	}, 4 },
};

static void
test_budget(void **state)
{
	struct backoff_budget	*b;
	size_t			 i, j;
	int			 k;

	(void)state;
	for (i = 0; i < nitems(budget_cases); i++) {
		const struct budget_case *c = &budget_cases[i];

		print_message("case %zu: %s\n", i, c->name);
		b = NULL;
		assert_int_equal(backoff_budget_new(&c->cfg, &b), 0);
		for (j = 0; j < c->nsteps; j++) {
			const struct budget_step *s = &c->steps[j];

			switch (s->op) {
			case OP_DEPOSIT:
				for (k = 0; k < s->n; k++)
					backoff_budget_deposit(b, s->t);
				break;
			case OP_WITHDRAW:
				for (k = 0; k < s->n; k++)
					if (backoff_budget_withdraw(b, s->t) !=
					    s->ok)
						fail_msg("step %zu: retry %d "
						    "at %lld", j, k,
						    (long long)s->t);
				break;
			case OP_AVAILABLE:
				assert_int_equal(backoff_budget_available(b,
				    s->t), s->want);
				break;
			}
		}
		backoff_budget_free(b);
	}
}

static void
test_budget_config(void **state)
{
	static const struct backoff_budget_config bad[] = {
		{ BACKOFF_BUDGET_TTL_MIN_MS - 1, 10, 1 },
		{ BACKOFF_BUDGET_TTL_MAX_MS + 1, 10, 1 },
		{ 10000, BACKOFF_BUDGET_PERCENT_MAX + 1, 1 },
		{ 10000, 10, BACKOFF_BUDGET_PER_SEC_MAX + 1 },
	};
	static const struct backoff_budget_config good[] = {
		BACKOFF_BUDGET_DEFAULT,
		{ BACKOFF_BUDGET_TTL_MIN_MS, 0, 0 },
		{ BACKOFF_BUDGET_TTL_MAX_MS, BACKOFF_BUDGET_PERCENT_MAX,
		    BACKOFF_BUDGET_PER_SEC_MAX },
	};
	struct backoff_budget	*b, *sentinel = (struct backoff_budget *)&b;
	size_t			 i;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		b = sentinel;
		assert_int_equal(backoff_budget_new(&bad[i], &b), -EINVAL);
		assert_ptr_equal(b, sentinel);
	}
	for (i = 0; i < nitems(good); i++) {
		assert_int_equal(backoff_budget_new(&good[i], &b), 0);
		backoff_budget_free(b);
	}
	/* NULL means the defaults: 10 s, 10%, 1/s. */
	assert_int_equal(backoff_budget_new(NULL, &b), 0);
	assert_int_equal(backoff_budget_available(b, 0), 10);
	backoff_budget_free(b);
	backoff_budget_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_check),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_delay_range),
		cmocka_unit_test(test_http_date),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_budget_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
