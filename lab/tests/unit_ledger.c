/*
 * Unit tests: ledger arithmetic (days charged, prices, totals) and the
 * lab clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>

#include "labclock.h"
#include "ledger.h"

#define H	3600000LL
#define D	LEDGER_DAY_MS
#define T0	1772323200000LL		/* 2026-03-01T00:00:00Z */

static void
test_days(void **state)
{
	static const struct {
		int64_t	start, end, boundary, days;
	} cases[] = {
		{ T0, T0, 0, 1 },			/* an instant */
		{ T0, T0 + 1, 0, 1 },
		{ T0, T0 + D, 0, 1 },			/* exactly one day */
		{ T0, T0 + D + 1, 0, 2 },
		{ T0 + 23 * H, T0 + 25 * H, 0, 2 },	/* over midnight */
		{ T0 + 10 * H, T0 + 10 * H + 60 * H, 0, 3 },
		{ T0 + 23 * H, T0 + 25 * H, 6 * H, 1 },	/* 06:00 boundary */
		{ T0 + 5 * H, T0 + 7 * H, 6 * H, 2 },
		{ T0, T0 + 31 * D, 0, 31 },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ledger_period_days(cases[i].start,
		    cases[i].end, cases[i].boundary), cases[i].days);
	assert_int_equal(ledger_day_of(-1, 0), -1);
	assert_int_equal(ledger_day_of(0, 0), 0);
	assert_int_equal(ledger_day_of(5 * H, 6 * H), -1);
}

static void
test_prices(void **state)
{
	assert_int_equal(ledger_daily_price(1500000, 30), 50000);
	assert_int_equal(ledger_daily_price(1000000, 30), 33333);
	assert_int_equal(ledger_daily_price(2000000, 30), 66667);
	assert_int_equal(ledger_daily_price(100, 0), 0);
	assert_int_equal(ledger_bytes_cost(1000000000, 4000000), 4000000);
	assert_int_equal(ledger_bytes_cost(500, 4000000), 2);
	assert_int_equal(ledger_bytes_cost(0, 4000000), 0);
}

static void
test_totals(void **state)
{
	struct ledger	*l = ledger_new(0, 30);
	int		 a, b;

	a = ledger_open(l, 1, "z", "de", 1500000, T0 + 10 * H);
	b = ledger_open(l, 2, "z", "de", 1500000, T0 + 10 * H);
	assert_true(a >= 0 && b >= 0);
	ledger_close(l, b, T0 + 10 * H + 60 * H);	/* 3 days */
	ledger_close(l, b, T0 + 20 * D);		/* ignored: closed */
	/* a open to day 10: 10 days. */
	assert_int_equal(ledger_total_micro(l, T0 + 9 * D + H),
	    (3 + 10) * 50000);
	assert_int_equal(ledger_add_bytes(l, "r", 4000000, 500000000,
	    T0 + H), 0);
	assert_int_equal(ledger_add_bytes(l, "r", 4000000, 500000000,
	    T0 + 2 * H), 0);
	assert_int_equal(ledger_total_micro(l, T0 + 9 * D + H),
	    (3 + 10) * 50000 + 4000000);
	ledger_free(l);
	ledger_free(NULL);
}

static void
test_clock(void **state)
{
	struct labclock	*c = labclock_new(T0, 1.0, 1000);

	assert_int_equal(labclock_now(c, 1000), T0);
	assert_int_equal(labclock_now(c, 1500), T0 + 500);
	assert_int_equal(labclock_set_speed(c, 3600.0, 2000), 0);
	assert_int_equal(labclock_now(c, 2000), T0 + 1000);
	assert_int_equal(labclock_now(c, 3000), T0 + 1000 + 3600000);
	assert_int_equal(labclock_set_speed(c, 0, 3000), -EINVAL);
	assert_int_equal(labclock_set_speed(c, 2e6, 3000), -EINVAL);
	assert_int_equal(labclock_advance(c, -1, 3000), -EINVAL);
	assert_int_equal(labclock_advance(c, D, 3000), 0);
	assert_int_equal(labclock_now(c, 3000), T0 + 1000 + 3600000 + D);
	labclock_set(c, T0, 4000);
	assert_int_equal(labclock_now(c, 4000), T0);
	assert_true(labclock_speed(c) == 3600.0);
	labclock_free(c);
	labclock_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_prices),
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
