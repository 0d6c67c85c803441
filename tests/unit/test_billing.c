/*
 * Tests of core/billing.c: units touched across day, hour and month
 * boundaries (a partly used unit is a charged unit), boundary hours other
 * than midnight, rolling units, the end of the paid unit, what is charged
 * within a day, the three release policies at and around their edges,
 * the owner's expected return, and the spending and purchase-rate limits.
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
#include "core/billing.h"

/* What the output variables hold before a call, to see they stay put. */
#define SENTINEL	INT64_C(-777)
#define MIN		(60 * INT64_C(1000))
#define H		BILLING_HOUR_MS
#define DAY		BILLING_DAY_MS
/* Midnight UTC of a few dates (Unix seconds times 1000). */
#define MAR1		(INT64_C(1772323200) * 1000)	/* 2026-03-01 */
#define DEC1		(INT64_C(1796083200) * 1000)	/* 2026-12-01 */
#define JAN1		(INT64_C(1798761600) * 1000)	/* 2027-01-01 */
#define FEB1_28		(INT64_C(1832976000) * 1000)	/* 2028-02-01 */
#define MAR1_28		(INT64_C(1835481600) * 1000)	/* 2028-03-01 */
#define APR1		(MAR1 + 31 * DAY)		/* 2026-04-01 */

/* 3.00 a month: 0.10 a day at 30 days a month. */
#define PRICE		INT64_C(3000000)
#define PER_DAY		INT64_C(100000)
#define PER_HOUR	INT64_C(4167)		/* 100000 / 24, rounded */

#define MODEL(u, a, bh)	{						\
	.unit = (u),							\
	.anchor = (a),							\
	.boundary_hour_utc = (bh),					\
	.price_micros_per_ip_month = PRICE,				\
	.residential_price_micros_per_gb = 4000000,			\
	.days_per_month = 30,						\
}
#define DAY0		MODEL(BILLING_UNIT_DAY, BILLING_ANCHOR_CALENDAR, 0)
#define DAY6		MODEL(BILLING_UNIT_DAY, BILLING_ANCHOR_CALENDAR, 6)
#define MONTH0		MODEL(BILLING_UNIT_MONTH, BILLING_ANCHOR_CALENDAR, 0)
#define MONTH6		MODEL(BILLING_UNIT_MONTH, BILLING_ANCHOR_CALENDAR, 6)
#define HOUR		MODEL(BILLING_UNIT_HOUR, BILLING_ANCHOR_CALENDAR, 0)
#define ROLLDAY		MODEL(BILLING_UNIT_DAY, BILLING_ANCHOR_ALLOCATION, 0)
#define ROLLMONTH	MODEL(BILLING_UNIT_MONTH, BILLING_ANCHOR_ALLOCATION, 0)

struct model_case {
	struct billing_model	 m;
	int			 want_r;
	const char		*want_why;
};

static const struct model_case model_cases[] = {
	{ DAY0, 0, NULL },
	{ BILLING_MODEL_DEFAULT, 0, NULL },
	{ MODEL(BILLING_UNIT_DAY, BILLING_ANCHOR_CALENDAR, 23), 0, NULL },
	{ MODEL(BILLING_UNIT_DAY, BILLING_ANCHOR_CALENDAR, 24), -EINVAL,
	    "boundary" },
	{ MODEL(BILLING_UNIT_DAY, BILLING_ANCHOR_CALENDAR, -1), -EINVAL,
	    "boundary" },
	{ MODEL(7, BILLING_ANCHOR_CALENDAR, 0), -EINVAL, "unit" },
	{ MODEL(BILLING_UNIT_DAY, 9, 0), -EINVAL, "anchor" },
	{ { .price_micros_per_ip_month = -1, .days_per_month = 30 }, -EINVAL,
	    "price" },
	{ { .price_micros_per_ip_month = BILLING_PRICE_MAX + 1,
	    .days_per_month = 30 }, -EINVAL, "price" },
	{ { .residential_price_micros_per_gb = -1, .days_per_month = 30 },
	    -EINVAL, "residential" },
	{ { .days_per_month = 27 }, -EINVAL, "days" },
	{ { .days_per_month = 32 }, -EINVAL, "days" },
};

static void
test_model_check(void **state)
{
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(model_cases); i++) {
		const struct model_case *c = &model_cases[i];

		print_message("case %zu\n", i);
		why = NULL;
		assert_int_equal(billing_model_check(&c->m, &why), c->want_r);
		if (c->want_why != NULL) {
			assert_non_null(why);
			assert_non_null(strstr(why, c->want_why));
		}
	}
}

struct units_case {
	struct billing_model	m;
	int64_t			alloc, release;
	int			want_r;
	int64_t			want_units, want_cost;
};

static const struct units_case units_cases[] = {
	/* 23:59 to 00:01 touches two days: two days are paid. */
	{ DAY0, MAR1 + DAY - MIN, MAR1 + DAY + MIN, 0, 2, 2 * PER_DAY },
	{ DAY0, MAR1, MAR1 + DAY - 1, 0, 1, PER_DAY },
	/* A release exactly at the boundary does not touch the next day. */
	{ DAY0, MAR1 + 10 * H, MAR1 + DAY, 0, 1, PER_DAY },
	{ DAY0, MAR1 + 10 * H, MAR1 + DAY + 1, 0, 2, 2 * PER_DAY },
	/* However short, an allocation pays its first unit. */
	{ DAY0, MAR1 + 10 * H, MAR1 + 10 * H, 0, 1, PER_DAY },
	/* Thirty days cost exactly the monthly price. */
	{ DAY0, MAR1, MAR1 + 30 * DAY, 0, 30, PRICE },
	/* Days that start at 06:00 UTC: midnight is no boundary. */
	{ DAY6, MAR1 + DAY - MIN, MAR1 + DAY + MIN, 0, 1, PER_DAY },
	{ DAY6, MAR1 + 6 * H - MIN, MAR1 + 6 * H + MIN, 0, 2, 2 * PER_DAY },
	{ DAY6, MAR1 + 5 * H, MAR1 + DAY + 5 * H, 0, 2, 2 * PER_DAY },
	/* Calendar months: the 31st to the 1st pays both months. */
	{ MONTH0, APR1 - H, APR1 + H, 0, 2, 2 * PRICE },
	{ MONTH0, MAR1, APR1, 0, 1, PRICE },
	{ MONTH0, DEC1 + 14 * DAY, JAN1 + 14 * DAY, 0, 2, 2 * PRICE },
	{ MONTH0, FEB1_28, MAR1_28 - 1, 0, 1, PRICE },
	{ MONTH6, APR1 - H, APR1 + 5 * H, 0, 1, PRICE },
	{ MONTH6, APR1 - H, APR1 + 6 * H + 1, 0, 2, 2 * PRICE },
	/* Hours. */
	{ HOUR, MAR1 + 10 * H + 59 * MIN, MAR1 + 11 * H + MIN, 0, 2,
	    2 * PER_DAY / 24 },
	{ HOUR, MAR1, MAR1 + DAY, 0, 24, PER_DAY },
	/* Rolling days count from the purchase, not from midnight. */
	{ ROLLDAY, MAR1 + DAY - MIN, MAR1 + DAY + MIN, 0, 1, PER_DAY },
	{ ROLLDAY, MAR1 + 10 * H, MAR1 + DAY + 10 * H, 0, 1, PER_DAY },
	{ ROLLDAY, MAR1 + 10 * H, MAR1 + DAY + 10 * H + 1, 0, 2, 2 * PER_DAY },
	{ ROLLMONTH, MAR1 + 10 * H, MAR1 + 30 * DAY + 10 * H + 1, 0, 2,
	    2 * PRICE },
	/* Times out of order. */
	{ DAY0, MAR1 + H, MAR1, -EINVAL, 0, 0 },
	{ DAY0, -1, MAR1, -EINVAL, 0, 0 },
};

static void
test_units_and_cost(void **state)
{
	int64_t	n, cost;
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(units_cases); i++) {
		const struct units_case *c = &units_cases[i];

		print_message("case %zu\n", i);
		n = cost = SENTINEL;
		assert_int_equal(billing_units(&c->m, c->alloc, c->release, &n),
		    c->want_r);
		assert_int_equal(billing_cost(&c->m, c->alloc, c->release,
		    &cost), c->want_r);
		if (c->want_r < 0) {
			assert_int_equal(n, SENTINEL);
			assert_int_equal(cost, SENTINEL);
			continue;
		}
		assert_int_equal(n, c->want_units);
		assert_int_equal(cost, c->want_cost);
	}
}

static void
test_unit_price(void **state)
{
	struct billing_model	d = DAY0, h = HOUR, mo = MONTH0;

	(void)state;
	assert_int_equal(billing_unit_price(&d), PER_DAY);
	assert_int_equal(billing_unit_price(&h), PER_HOUR);
	assert_int_equal(billing_unit_price(&mo), PRICE);
}

struct paid_case {
	struct billing_model	m;
	int64_t			alloc, now;
	int			want_r;
	int64_t			want;
};

static const struct paid_case paid_cases[] = {
	{ DAY0, MAR1 + 8 * H, MAR1 + 13 * H, 0, MAR1 + DAY },
	{ DAY0, MAR1 + 8 * H, MAR1 + 8 * H, 0, MAR1 + DAY },
	/* At the boundary instant the next day is already being paid. */
	{ DAY0, MAR1 + 8 * H, MAR1 + DAY, 0, MAR1 + 2 * DAY },
	{ DAY6, MAR1, MAR1 + 5 * H, 0, MAR1 + 6 * H },
	{ DAY6, MAR1, MAR1 + 7 * H, 0, MAR1 + DAY + 6 * H },
	{ MONTH0, MAR1, MAR1 + 10 * DAY, 0, APR1 },
	{ MONTH0, DEC1, DEC1 + 14 * DAY, 0, JAN1 },
	{ MONTH0, FEB1_28, FEB1_28 + 28 * DAY + H, 0, MAR1_28 },
	{ MONTH6, MAR1, APR1 + 5 * H, 0, APR1 + 6 * H },
	{ HOUR, MAR1, MAR1 + 10 * H + 30 * MIN, 0, MAR1 + 11 * H },
	{ ROLLDAY, MAR1 + 10 * H, MAR1 + DAY + 11 * H, 0,
	    MAR1 + 2 * DAY + 10 * H },
	{ ROLLDAY, MAR1 + 10 * H, MAR1 + 10 * H, 0, MAR1 + DAY + 10 * H },
	{ DAY0, MAR1 + H, MAR1, -EINVAL, 0 },
};

static void
test_paid_until(void **state)
{
	int64_t	got;
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(paid_cases); i++) {
		const struct paid_case *c = &paid_cases[i];

		print_message("case %zu\n", i);
		got = SENTINEL;
		assert_int_equal(billing_paid_until(&c->m, c->alloc, c->now,
		    &got), c->want_r);
		assert_int_equal(got, c->want_r < 0 ? SENTINEL : c->want);
	}
}

struct charged_case {
	struct billing_model	m;
	int64_t			alloc, release, from, to;
	int64_t			want;
};

/* The day in question is 2026-03-02 (MAR1 + DAY). */
#define D2	(MAR1 + DAY)
static const struct charged_case charged_cases[] = {
	/* Held since the evening before: today's unit is charged today. */
	{ DAY0, D2 - MIN, D2 + 10 * H, D2, D2 + DAY, PER_DAY },
	{ DAY0, D2 - MIN, D2 + 10 * H, MAR1, D2, PER_DAY },
	{ DAY0, D2 + 10 * H, D2 + 11 * H, D2, D2 + DAY, PER_DAY },
	/* Released at midnight: nothing of today. */
	{ DAY0, D2 - H, D2, D2, D2 + DAY, 0 },
	/* Bought tomorrow: nothing of today. */
	{ DAY0, D2 + DAY, D2 + DAY + H, D2, D2 + DAY, 0 },
	{ DAY0, MAR1, MAR1 + 30 * DAY, MAR1, MAR1 + 30 * DAY, PRICE },
	/* Hours: from 22:00 to the end of the day, two hours. */
	{ HOUR, D2 + 22 * H, D2 + DAY, D2, D2 + DAY, 2 * PER_DAY / 24 },
	{ HOUR, D2 - H, D2 + 3 * H, D2, D2 + DAY, 3 * PER_DAY / 24 },
	/* A month is charged on the day it starts (or is bought). */
	{ MONTH0, MAR1 + 10 * DAY, APR1 + H, APR1, APR1 + DAY, PRICE },
	{ MONTH0, MAR1 + 10 * DAY, APR1 + H, D2, D2 + DAY, 0 },
	{ MONTH0, MAR1 + 10 * DAY, APR1 + H, MAR1 + 10 * DAY,
	    MAR1 + 11 * DAY, PRICE },
};

static void
test_charged_in(void **state)
{
	int64_t	got;
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(charged_cases); i++) {
		const struct charged_case *c = &charged_cases[i];

		print_message("case %zu\n", i);
		got = SENTINEL;
		assert_int_equal(billing_charged_in(&c->m, c->alloc, c->release,
		    c->from, c->to, &got), 0);
		assert_int_equal(got, c->want);
	}
}

/*
 * The day's charges over a set of IPs, as the API, /metrics and `respawn
 * status` show them: at noon of D2, an IP held since the day before, one
 * bought this morning, one bought and released this morning, one
 * released the evening before, one bought tomorrow (a clock ahead), and
 * one whose span makes no sense (skipped, not an error).
 */
static void
test_day_charged(void **state)
{
	static const struct billing_model	 day = DAY0;
	static const struct billing_span	 spans[] = {
		{ D2 - DAY, 0 },
		{ D2 + 8 * H, 0 },
		{ D2 + 8 * H, D2 + 9 * H },
		{ D2 - DAY, D2 - H },
		{ D2 + DAY, 0 },
		{ D2 + 9 * H, D2 + 8 * H },
	};
	int64_t					 got;

	(void)state;
	got = SENTINEL;
	assert_int_equal(billing_day_charged(&day, spans, nitems(spans),
	    D2 + 12 * H, &got), 0);
	assert_int_equal(got, 3 * PER_DAY);
	/* None: nothing charged. */
	got = SENTINEL;
	assert_int_equal(billing_day_charged(&day, NULL, 0, D2, &got), 0);
	assert_int_equal(got, 0);
	/* Next day: the two still held are charged again, nothing else. */
	assert_int_equal(billing_day_charged(&day, spans, nitems(spans),
	    D2 + DAY + H, &got), 0);
	assert_int_equal(got, 3 * PER_DAY);
	got = SENTINEL;
	assert_int_equal(billing_day_charged(&day, spans, 1, -1, &got),
	    -EINVAL);
	assert_int_equal(got, SENTINEL);
}

static void
test_day_start_and_daily(void **state)
{
	struct billing_model	d0 = DAY0, d6 = DAY6;
	int64_t			got = SENTINEL;

	(void)state;
	assert_int_equal(billing_day_start(&d0, D2 + 13 * H, &got), 0);
	assert_int_equal(got, D2);
	assert_int_equal(billing_day_start(&d6, D2 + 5 * H, &got), 0);
	assert_int_equal(got, MAR1 + 6 * H);
	assert_int_equal(billing_day_start(&d6, D2 + 6 * H, &got), 0);
	assert_int_equal(got, D2 + 6 * H);
	got = SENTINEL;
	assert_int_equal(billing_day_start(&d0, -1, &got), -EINVAL);
	assert_int_equal(got, SENTINEL);

	/* 10 IPs at 0.10 a day, and 1.5 GB at 4.00 a GB. */
	assert_int_equal(billing_daily_micros(&d0, 10, 0, &got), 0);
	assert_int_equal(got, 10 * PER_DAY);
	assert_int_equal(billing_daily_micros(&d0, 10,
	    INT64_C(1500000000), &got), 0);
	assert_int_equal(got, 10 * PER_DAY + 6000000);
	got = SENTINEL;
	assert_int_equal(billing_daily_micros(&d0, -1, 0, &got), -EINVAL);
	assert_int_equal(billing_daily_micros(&d0, INT64_MAX / 2, 0, &got),
	    -ERANGE);
	assert_int_equal(got, SENTINEL);
}

struct policy_check_case {
	struct billing_model	 m;
	struct billing_policy	 p;
	int			 want_r;
	const char		*want_why;
};

#define POLICY(k, margin, timeout)	{				\
	.kind = (k),							\
	.margin_ms = (margin),						\
	.idle_timeout_ms = (timeout),					\
	.affinity_min_ms = 12 * H,					\
	.affinity_max_ms = 3 * DAY,					\
}
#define AWARE		POLICY(BILLING_AWARE, 10 * MIN, 60 * MIN)
#define TIMEOUT		POLICY(BILLING_IDLE_TIMEOUT, 10 * MIN, 60 * MIN)
#define KEEP		POLICY(BILLING_KEEP, 10 * MIN, 60 * MIN)
#define STABLE		POLICY(BILLING_STABLE, 10 * MIN, 60 * MIN)

static const struct policy_check_case policy_check_cases[] = {
	{ DAY0, BILLING_POLICY_DEFAULT, 0, NULL },
	{ DAY0, AWARE, 0, NULL },
	{ HOUR, POLICY(BILLING_AWARE, 30 * MIN, 0), 0, NULL },
	{ DAY0, POLICY(BILLING_AWARE, -1, 0), -EINVAL, "margin" },
	{ DAY0, POLICY(BILLING_AWARE, 31 * MIN, 0), -EINVAL, "margin" },
	{ DAY0, STABLE, 0, NULL },
	{ DAY0, POLICY(5, 0, 0), -EINVAL, "policy" },
	{ DAY0, { .kind = BILLING_STABLE, .change_cost_micros = -1 },
	    -EINVAL, "change cost" },
	{ DAY0, POLICY(BILLING_IDLE_TIMEOUT, 0, -1), -EINVAL, "timeout" },
	{ DAY0, POLICY(BILLING_IDLE_TIMEOUT, 0, 32 * DAY), -EINVAL,
	    "timeout" },
	{ DAY0, { .margin_ms = 0, .affinity_min_ms = 2 * H,
	    .affinity_max_ms = H }, -EINVAL, "affinity" },
};

static void
test_policy_check(void **state)
{
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(policy_check_cases); i++) {
		const struct policy_check_case *c = &policy_check_cases[i];

		print_message("case %zu\n", i);
		why = NULL;
		assert_int_equal(billing_policy_check(&c->p, &c->m, &why),
		    c->want_r);
		if (c->want_why != NULL) {
			assert_non_null(why);
			assert_non_null(strstr(why, c->want_why));
		}
	}
}

struct decide_case {
	const char		*name;
	struct billing_model	 m;
	struct billing_policy	 p;
	struct billing_ip	 ip;
	int			 expected;	/* demand in its country */
	int64_t			 now;
	int			 want_r;
	enum billing_action	 want_action;
	enum billing_reason	 want_reason;
	int64_t			 want_recheck;
};

/* Bought on 2026-03-01 at 08:00, idle since 12:00. */
#define IP(back_by, rank)	{					\
	.allocated_at = MAR1 + 8 * H,					\
	.idle_since = MAR1 + 12 * H,					\
	.owner_back_by = (back_by),					\
	.idle_rank = (rank),						\
}
#define KEPT		0, BILLING_ACTION_KEEP
#define RELEASED	0, BILLING_ACTION_RELEASE

static const struct decide_case decide_cases[] = {
	{ "aware: just idle, the day is paid", DAY0, AWARE, IP(0, 0), 0,
	    MAR1 + 12 * H, KEPT, BILLING_WHY_PAID, MAR1 + DAY - 10 * MIN },
	{ "aware: a millisecond before the margin", DAY0, AWARE, IP(0, 0), 0,
	    MAR1 + DAY - 10 * MIN - 1, KEPT, BILLING_WHY_PAID,
	    MAR1 + DAY - 10 * MIN },
	{ "aware: at the margin, released", DAY0, AWARE, IP(0, 0), 0,
	    MAR1 + DAY - 10 * MIN, RELEASED, BILLING_WHY_UNIT_ENDS, 0 },
	{ "stable: owner expected tomorrow, kept a day", DAY0, STABLE,
	    IP(MAR1 + DAY + 8 * H, 0), 0, MAR1 + DAY - 10 * MIN, KEPT,
	    BILLING_WHY_OWNER, MAR1 + 2 * DAY - 10 * MIN },
	{ "stable: owner overdue, released", DAY0, STABLE,
	    IP(MAR1 + 20 * H, 0), 0, MAR1 + DAY - 5 * MIN, RELEASED,
	    BILLING_WHY_UNIT_ENDS, 0 },
	{ "stable: the day is paid whatever the owner", DAY0, STABLE,
	    IP(0, 0), 0, MAR1 + 12 * H, KEPT, BILLING_WHY_PAID,
	    MAR1 + DAY - 10 * MIN },
	{ "aware: an owner expected does not matter", DAY0, AWARE,
	    IP(MAR1 + DAY + 8 * H, 0), 0, MAR1 + DAY - 10 * MIN, RELEASED,
	    BILLING_WHY_UNIT_ENDS, 0 },
	{ "aware: demand keeps the first ranks", DAY0, AWARE, IP(0, 1), 2,
	    MAR1 + DAY - 10 * MIN, KEPT, BILLING_WHY_DEMAND,
	    MAR1 + 2 * DAY - 10 * MIN },
	{ "aware: beyond the demand, released", DAY0, AWARE, IP(0, 2), 2,
	    MAR1 + DAY - 10 * MIN, RELEASED, BILLING_WHY_UNIT_ENDS, 0 },
	{ "aware: days from 06:00", DAY6, AWARE, IP(0, 0), 0,
	    MAR1 + DAY + 5 * H + 50 * MIN, RELEASED, BILLING_WHY_UNIT_ENDS, 0 },
	{ "aware: days from 06:00, not midnight", DAY6, AWARE, IP(0, 0), 0,
	    MAR1 + DAY - 10 * MIN, KEPT, BILLING_WHY_PAID,
	    MAR1 + DAY + 5 * H + 50 * MIN },
	{ "aware: hours", HOUR, AWARE, IP(0, 0), 0, MAR1 + 12 * H + 49 * MIN,
	    KEPT, BILLING_WHY_PAID, MAR1 + 12 * H + 50 * MIN },
	{ "aware: hours, at the margin", HOUR, AWARE, IP(0, 0), 0,
	    MAR1 + 12 * H + 50 * MIN, RELEASED, BILLING_WHY_UNIT_ENDS, 0 },
	{ "aware: months", MONTH0, AWARE, IP(0, 0), 0, MAR1 + 20 * DAY,
	    KEPT, BILLING_WHY_PAID, APR1 - 10 * MIN },
	{ "aware: months, at the margin", MONTH0, AWARE, IP(0, 0), 0,
	    APR1 - 10 * MIN, RELEASED, BILLING_WHY_UNIT_ENDS, 0 },
	{ "aware: rolling days from the purchase", ROLLDAY, AWARE, IP(0, 0),
	    0, MAR1 + DAY + 7 * H, KEPT, BILLING_WHY_PAID,
	    MAR1 + DAY + 8 * H - 10 * MIN },
	{ "idle-timeout: 59 minutes", DAY0, TIMEOUT, IP(0, 0), 0,
	    MAR1 + 12 * H + 59 * MIN, KEPT, BILLING_WHY_IDLE_SHORT,
	    MAR1 + 13 * H },
	{ "idle-timeout: an hour", DAY0, TIMEOUT, IP(0, 0), 0,
	    MAR1 + 13 * H, RELEASED, BILLING_WHY_IDLE_LONG, 0 },
	{ "idle-timeout: an owner does not matter", DAY0, TIMEOUT,
	    IP(MAR1 + DAY, 0), 3, MAR1 + 13 * H, RELEASED,
	    BILLING_WHY_IDLE_LONG, 0 },
	{ "keep: never released", DAY0, KEEP, IP(0, 0), 0, MAR1 + 29 * DAY,
	    KEPT, BILLING_WHY_KEEP_ALL, BILLING_NEVER },
	{ "idle before the purchase", DAY0, AWARE,
	    { MAR1 + 8 * H, MAR1 + 7 * H, 0, 0 }, 0, MAR1 + 12 * H, -EINVAL,
	    0, 0, 0 },
	{ "now before idle", DAY0, AWARE, IP(0, 0), 0, MAR1 + 11 * H,
	    -EINVAL, 0, 0, 0 },
};

static void
test_decide(void **state)
{
	struct billing_decision	d;
	struct billing_demand	dem;
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(decide_cases); i++) {
		const struct decide_case *c = &decide_cases[i];

		print_message("case %zu: %s\n", i, c->name);
		memset(&d, 0x5a, sizeof d);
		dem.expected = c->expected;
		assert_int_equal(billing_decide(&c->m, &c->p, &c->ip, &dem,
		    c->now, &d), c->want_r);
		if (c->want_r < 0) {
			assert_int_equal(d.recheck_at, 0x5a5a5a5a5a5a5a5a);
			continue;
		}
		assert_string_equal(billing_reason_name(d.reason),
		    billing_reason_name(c->want_reason));
		assert_int_equal(d.action, c->want_action);
		if (d.action == BILLING_ACTION_KEEP)
			assert_int_equal(d.recheck_at, c->want_recheck);
		/* A kept IP is looked at again only in the future. */
		if (d.action == BILLING_ACTION_KEEP)
			assert_true(d.recheck_at > c->now);
		assert_true(d.paid_until > c->now);
	}
}

/*
 * The aware policy over a whole day, minute by minute: the IP is kept
 * until exactly paid_until - margin and released then, so it never pays
 * a second day.
 */
static void
test_aware_walk(void **state)
{
	struct billing_model	m = DAY0;
	struct billing_policy	p = AWARE;
	struct billing_ip	ip = IP(0, 0);
	struct billing_decision	d;
	int64_t			t, released = 0, cost;

	(void)state;
	for (t = ip.idle_since; t < MAR1 + 2 * DAY; t += MIN) {
		assert_int_equal(billing_decide(&m, &p, &ip, NULL, t, &d), 0);
		if (d.action == BILLING_ACTION_RELEASE) {
			released = t;
			break;
		}
		assert_int_equal(d.reason, BILLING_WHY_PAID);
	}
	assert_int_equal(released, MAR1 + DAY - 10 * MIN);
	assert_int_equal(billing_cost(&m, ip.allocated_at, released, &cost), 0);
	assert_int_equal(cost, PER_DAY);
}

struct back_case {
	int64_t	gaps[BILLING_HISTORY_MAX];
	size_t	ngaps;
	int64_t	affinity_max;
	int64_t	want;		/* after idle_since; -1: 0 (none) */
};

static const struct back_case back_cases[] = {
	/* No history: the floor. */
	{ { 0 }, 0, 3 * DAY, 12 * H },
	/* Short gaps: the floor. */
	{ { H, 3 * H }, 2, 3 * DAY, 12 * H },
	/* Twice the longest gap. */
	{ { 2 * H, 10 * H, H }, 3, 3 * DAY, 20 * H },
	/* Never more than the ceiling. */
	{ { 5 * DAY }, 1, 3 * DAY, 3 * DAY },
	{ { INT64_MAX }, 1, 3 * DAY, 3 * DAY },
	/* Affinity turned off. */
	{ { H }, 1, 0, -1 },
};

static void
test_expect_back(void **state)
{
	struct billing_policy	p = AWARE;
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(back_cases); i++) {
		const struct back_case *c = &back_cases[i];

		print_message("case %zu\n", i);
		p.affinity_max_ms = c->affinity_max;
		if (p.affinity_max_ms == 0)
			p.affinity_min_ms = 0;
		assert_int_equal(billing_expect_back(&p, c->gaps, c->ngaps,
		    MAR1), c->want < 0 ? 0 : MAR1 + c->want);
	}
}

static void
test_owner_expected(void **state)
{
	(void)state;
	assert_false(billing_owner_expected(0, MAR1));
	assert_true(billing_owner_expected(MAR1 + 1, MAR1));
	assert_true(billing_owner_expected(MAR1, MAR1));
	assert_false(billing_owner_expected(MAR1 - 1, MAR1));
}

struct purchase_case {
	const char		*name;
	struct billing_model	 m;
	struct billing_limits	 l;
	int64_t			 spent;
	int			 in_window, count;
	int64_t			 now;
	int			 want;
	const char		*want_why;
};

/* At most 1.00 a day (ten IP-days) and 5 purchases a minute. */
#define LIMITS		{ 1000000, 5, MIN }

static const struct purchase_case purchase_cases[] = {
	{ "within both", DAY0, LIMITS, 0, 0, 1, D2, 1, NULL },
	{ "no limits", DAY0, { 0, 0, 0 }, INT64_C(1) << 40, 1000, 50, D2, 50,
	    NULL },
	{ "spend: the last day's worth", DAY0, LIMITS, 900000, 0, 1, D2, 1,
	    NULL },
	{ "spend: reached", DAY0, LIMITS, 950000, 0, 1, D2, -EDQUOT,
	    "spending" },
	{ "spend: over", DAY0, LIMITS, 2000000, 0, 1, D2, -EDQUOT,
	    "spending" },
	{ "spend: some of a batch", DAY0, LIMITS, 800000, 0, 3, D2, 2, NULL },
	{ "rate: reached", DAY0, LIMITS, 0, 5, 1, D2, -EAGAIN, "rate" },
	{ "rate: some of a batch", DAY0, LIMITS, 0, 3, 4, D2, 2, NULL },
	{ "both: the tighter wins", DAY0, LIMITS, 900000, 3, 4, D2, 1, NULL },
	/* Hourly billing: an IP bought at 22:00 costs two hours today. */
	{ "hours: what is left of today", HOUR,
	    { 2 * PER_DAY / 24 * 3, 0, 0 }, 0, 0, 10, D2 + 22 * H, 3, NULL },
	{ "a month is charged at once", MONTH0, { 2 * PRICE, 0, 0 },
	    PRICE + 1, 0, 1, D2, -EDQUOT, "spending" },
	{ "no count", DAY0, LIMITS, 0, 0, 0, D2, -EINVAL, NULL },
	{ "negative spend", DAY0, LIMITS, -1, 0, 1, D2, -EINVAL, NULL },
};

static void
test_may_purchase(void **state)
{
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(purchase_cases); i++) {
		const struct purchase_case *c = &purchase_cases[i];

		print_message("case %zu: %s\n", i, c->name);
		why = NULL;
		assert_int_equal(billing_may_purchase(&c->m, &c->l, c->spent,
		    c->in_window, c->count, c->now, &why), c->want);
		if (c->want_why != NULL) {
			assert_non_null(why);
			assert_non_null(strstr(why, c->want_why));
		}
	}
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(billing_unit_name(BILLING_UNIT_MONTH), "month");
	assert_string_equal(billing_policy_name(BILLING_AWARE), "aware");
	assert_string_equal(billing_policy_name(BILLING_STABLE), "stable");
	assert_string_equal(billing_policy_name(BILLING_IDLE_TIMEOUT),
	    "idle-timeout");
	assert_string_equal(billing_reason_name(BILLING_WHY_UNIT_ENDS),
	    "unit_ends");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_check),
		cmocka_unit_test(test_units_and_cost),
		cmocka_unit_test(test_unit_price),
		cmocka_unit_test(test_paid_until),
		cmocka_unit_test(test_charged_in),
		cmocka_unit_test(test_day_charged),
		cmocka_unit_test(test_day_start_and_daily),
		cmocka_unit_test(test_policy_check),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_aware_walk),
		cmocka_unit_test(test_expect_back),
		cmocka_unit_test(test_owner_expected),
		cmocka_unit_test(test_may_purchase),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
