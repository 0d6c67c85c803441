/*
 * Billing arithmetic and the release policy: see billing.h and
 * docs/internals/billing.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "core/billing.h"

#define BILLING_MONTHS_PER_YEAR		12
#define BILLING_HOURS_PER_DAY		24
#define BILLING_DAYS_PER_MONTH_MIN	28
/* Affinity: an owner is expected back within this many of its gaps. */
#define BILLING_GAP_FACTOR		2

/* Floor division, so a time before a boundary lands in the unit before. */
static int64_t
billing_floor_div(int64_t a, int64_t b)
{
	int64_t	q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back: Howard
 * Hinnant's days_from_civil and civil_from_days, exact for every date an
 * int64_t of milliseconds can hold, with no table and no libc time zone.
 */
static int64_t
billing_days_from_civil(int64_t y, int64_t mo, int64_t d)
{
	int64_t	era, yoe, doy, doe;

	y -= mo <= 2;
	era = billing_floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
billing_civil_from_days(int64_t z, int64_t *ret_y, int64_t *ret_mo)
{
	int64_t	era, doe, yoe, doy, mp, y, mo;

	z += 719468;
	era = billing_floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	mo = mp + (mp < 10 ? 3 : -9);
	*ret_y = y + (mo <= 2);
	*ret_mo = mo;
}

/* The length of a unit, for the units that have one. */
static int64_t
billing_unit_len(const struct billing_model *m)
{
	switch (m->unit) {
	case BILLING_UNIT_HOUR:
		return BILLING_HOUR_MS;
	case BILLING_UNIT_MONTH:
		return m->days_per_month * BILLING_DAY_MS;
	case BILLING_UNIT_DAY:
	default:
		return BILLING_DAY_MS;
	}
}

/* The calendar's days start at the boundary hour, not at midnight. */
static int64_t
billing_boundary_ms(const struct billing_model *m)
{
	return m->boundary_hour_utc * BILLING_HOUR_MS;
}

/*
 * The number of the unit containing t.  Numbers only need to be
 * consecutive, so a calendar month is numbered year * 12 + month.
 */
static int64_t
billing_unit_index(const struct billing_model *m, int64_t alloc, int64_t t)
{
	int64_t	y, mo;

	if (m->anchor == BILLING_ANCHOR_ALLOCATION)
		return billing_floor_div(t - alloc, billing_unit_len(m));
	switch (m->unit) {
	case BILLING_UNIT_HOUR:
		return billing_floor_div(t, BILLING_HOUR_MS);
	case BILLING_UNIT_MONTH:
		billing_civil_from_days(billing_floor_div(t -
		    billing_boundary_ms(m), BILLING_DAY_MS), &y, &mo);
		return y * BILLING_MONTHS_PER_YEAR + (mo - 1);
	case BILLING_UNIT_DAY:
	default:
		return billing_floor_div(t - billing_boundary_ms(m),
		    BILLING_DAY_MS);
	}
}

/* When unit number k starts. */
static int64_t
billing_unit_start(const struct billing_model *m, int64_t alloc, int64_t k)
{
	int64_t	y, mo;

	if (m->anchor == BILLING_ANCHOR_ALLOCATION)
		return alloc + k * billing_unit_len(m);
	switch (m->unit) {
	case BILLING_UNIT_HOUR:
		return k * BILLING_HOUR_MS;
	case BILLING_UNIT_MONTH:
		y = billing_floor_div(k, BILLING_MONTHS_PER_YEAR);
		mo = k - y * BILLING_MONTHS_PER_YEAR + 1;
		return billing_days_from_civil(y, mo, 1) * BILLING_DAY_MS +
		    billing_boundary_ms(m);
	case BILLING_UNIT_DAY:
	default:
		return k * BILLING_DAY_MS + billing_boundary_ms(m);
	}
}

/* How many units make a month: the divisor of the monthly price. */
static int64_t
billing_units_per_month(const struct billing_model *m)
{
	switch (m->unit) {
	case BILLING_UNIT_HOUR:
		return (int64_t)m->days_per_month * BILLING_HOURS_PER_DAY;
	case BILLING_UNIT_MONTH:
		return 1;
	case BILLING_UNIT_DAY:
	default:
		return m->days_per_month;
	}
}

/*
 * The price of n units, rounded to the nearest micro-unit.  The rounding
 * is done once over the whole count, not per unit, so a month of days
 * costs exactly the monthly price.
 */
static int
billing_price_of(const struct billing_model *m, int64_t n, int64_t *ret)
{
	int64_t	div = billing_units_per_month(m), prod;

	if (__builtin_mul_overflow(n, m->price_micros_per_ip_month, &prod) ||
	    prod > INT64_MAX - div / 2)
		return -ERANGE;
	*ret = (prod + div / 2) / div;
	return 0;
}

int
billing_model_check(const struct billing_model *m, const char **why)
{
	if (m->unit != BILLING_UNIT_DAY && m->unit != BILLING_UNIT_MONTH &&
	    m->unit != BILLING_UNIT_HOUR) {
		*why = "unit must be day, month or hour";
		return -EINVAL;
	}
	if (m->anchor != BILLING_ANCHOR_CALENDAR &&
	    m->anchor != BILLING_ANCHOR_ALLOCATION) {
		*why = "anchor must be calendar or allocation";
		return -EINVAL;
	}
	if (m->boundary_hour_utc < 0 ||
	    m->boundary_hour_utc >= BILLING_HOURS_PER_DAY) {
		*why = "boundary hour must be between 0 and 23";
		return -EINVAL;
	}
	if (m->price_micros_per_ip_month < 0 ||
	    m->price_micros_per_ip_month > BILLING_PRICE_MAX) {
		*why = "price per IP-month out of range";
		return -EINVAL;
	}
	if (m->residential_price_micros_per_gb < 0 ||
	    m->residential_price_micros_per_gb > BILLING_PRICE_MAX) {
		*why = "residential price per GB out of range";
		return -EINVAL;
	}
	if (m->days_per_month < BILLING_DAYS_PER_MONTH_MIN ||
	    m->days_per_month > BILLING_DAYS_PER_MONTH_MAX) {
		*why = "days per month must be between 28 and 31";
		return -EINVAL;
	}
	return 0;
}

int
billing_units(const struct billing_model *m, int64_t allocated_at,
    int64_t released_at, int64_t *ret)
{
	int64_t	last;

	if (allocated_at < 0 || released_at < allocated_at)
		return -EINVAL;
	/* The release instant itself is not held: [a, r) touches r - 1. */
	last = released_at > allocated_at ? released_at - 1 : allocated_at;
	*ret = billing_unit_index(m, allocated_at, last) -
	    billing_unit_index(m, allocated_at, allocated_at) + 1;
	return 0;
}

int
billing_cost(const struct billing_model *m, int64_t allocated_at,
    int64_t released_at, int64_t *ret_micros)
{
	int64_t	n;
	int	r;

	if ((r = billing_units(m, allocated_at, released_at, &n)) < 0)
		return r;
	return billing_price_of(m, n, ret_micros);
}

int64_t
billing_unit_price(const struct billing_model *m)
{
	int64_t	p;

	if (billing_price_of(m, 1, &p) < 0)
		return INT64_MAX;
	return p;
}

int
billing_paid_until(const struct billing_model *m, int64_t allocated_at,
    int64_t now, int64_t *ret)
{
	if (allocated_at < 0 || now < allocated_at)
		return -EINVAL;
	*ret = billing_unit_start(m, allocated_at,
	    billing_unit_index(m, allocated_at, now) + 1);
	return 0;
}

int
billing_charged_in(const struct billing_model *m, int64_t allocated_at,
    int64_t released_at, int64_t from, int64_t to, int64_t *ret_micros)
{
	int64_t	k0, kend, lo, hi;

	if (allocated_at < 0 || released_at < allocated_at || to < from)
		return -EINVAL;
	if (allocated_at >= to || to == from ||
	    (released_at <= from && released_at > allocated_at)) {
		*ret_micros = 0;
		return 0;
	}
	k0 = billing_unit_index(m, allocated_at, allocated_at);
	kend = billing_unit_index(m, allocated_at,
	    released_at > allocated_at ? released_at - 1 : allocated_at);
	/*
	 * The first unit is charged at the allocation, the others when they
	 * start: the first unit charged in the window is the allocation's
	 * own when it falls inside, else the first to start at or after from.
	 */
	if (allocated_at >= from)
		lo = k0;
	else
		lo = billing_unit_index(m, allocated_at, from - 1) + 1;
	hi = billing_unit_index(m, allocated_at, to - 1);
	if (hi > kend)
		hi = kend;
	if (hi < lo) {
		*ret_micros = 0;
		return 0;
	}
	return billing_price_of(m, hi - lo + 1, ret_micros);
}

int
billing_day_start(const struct billing_model *m, int64_t now, int64_t *ret)
{
	if (now < 0)
		return -EINVAL;
	*ret = billing_floor_div(now - billing_boundary_ms(m),
	    BILLING_DAY_MS) * BILLING_DAY_MS + billing_boundary_ms(m);
	return 0;
}

int
billing_day_charged(const struct billing_model *m,
    const struct billing_span *spans, size_t n, int64_t now,
    int64_t *ret_micros)
{
	int64_t	day, each, sum = 0;
	size_t	i;

	if (billing_day_start(m, now, &day) < 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (billing_charged_in(m, spans[i].allocated_at,
		    spans[i].released_at != 0 ? spans[i].released_at : now,
		    day, day + BILLING_DAY_MS, &each) < 0)
			continue;
		if (__builtin_add_overflow(sum, each, &sum))
			return -ERANGE;
	}
	*ret_micros = sum;
	return 0;
}

int
billing_daily_micros(const struct billing_model *m, int64_t ips,
    int64_t residential_bytes, int64_t *ret_micros)
{
	/* A GB is 10^9 bytes, as providers count traffic. */
	const int64_t	gb = INT64_C(1000000000);
	int64_t		ip_part, prod, gbs, rest, res_part;

	if (ips < 0 || residential_bytes < 0)
		return -EINVAL;
	if (__builtin_mul_overflow(ips, m->price_micros_per_ip_month, &prod))
		return -ERANGE;
	ip_part = (prod + m->days_per_month / 2) / m->days_per_month;
	/* Whole GBs and the rest apart, so large volumes cannot overflow. */
	gbs = residential_bytes / gb;
	rest = residential_bytes % gb;
	if (__builtin_mul_overflow(gbs, m->residential_price_micros_per_gb,
	    &res_part))
		return -ERANGE;
	if (__builtin_add_overflow(res_part, (int64_t)(((__int128)rest *
	    m->residential_price_micros_per_gb + gb / 2) / gb), &res_part))
		return -ERANGE;
	if (__builtin_add_overflow(ip_part, res_part, ret_micros))
		return -ERANGE;
	return 0;
}

int
billing_policy_check(const struct billing_policy *p,
    const struct billing_model *m, const char **why)
{
	int64_t	shortest;

	if (p->kind != BILLING_AWARE && p->kind != BILLING_IDLE_TIMEOUT &&
	    p->kind != BILLING_KEEP && p->kind != BILLING_STABLE) {
		*why = "policy must be stable, aware, idle-timeout or keep";
		return -EINVAL;
	}
	/* The margin must leave some of the shortest unit to reuse the IP. */
	shortest = m->unit == BILLING_UNIT_MONTH ?
	    BILLING_DAYS_PER_MONTH_MIN * BILLING_DAY_MS : billing_unit_len(m);
	if (p->margin_ms < 0 || p->margin_ms > BILLING_MARGIN_MAX_MS ||
	    p->margin_ms >= shortest) {
		*why = "release margin must be between 0 and 30 minutes, "
		    "and shorter than a unit";
		return -EINVAL;
	}
	if (p->idle_timeout_ms < 0 ||
	    p->idle_timeout_ms > BILLING_TIMEOUT_MAX_MS) {
		*why = "idle timeout must be between 0 and 31 days";
		return -EINVAL;
	}
	if (p->affinity_min_ms < 0 || p->affinity_max_ms < p->affinity_min_ms ||
	    p->affinity_max_ms > BILLING_TIMEOUT_MAX_MS) {
		*why = "affinity bounds must satisfy "
		    "0 <= min <= max <= 31 days";
		return -EINVAL;
	}
	if (p->change_cost_micros < 0 ||
	    p->change_cost_micros > BILLING_PRICE_MAX) {
		*why = "IP change cost out of range";
		return -EINVAL;
	}
	return 0;
}

/* The aware and stable policies: see billing.h. */
static int
billing_decide_aware(const struct billing_model *m,
    const struct billing_policy *p, const struct billing_ip *ip,
    const struct billing_demand *demand, int64_t now,
    struct billing_decision *d)
{
	int64_t	next_end;
	int	r;

	if (now < d->paid_until - p->margin_ms) {
		/* Paid until the boundary: releasing now would save nothing. */
		d->action = BILLING_ACTION_KEEP;
		d->reason = BILLING_WHY_PAID;
		d->recheck_at = d->paid_until - p->margin_ms;
		return 0;
	}
	/*
	 * Within the margin: keeping means paying the next unit, which is
	 * worth it when the IP will serve during it.
	 */
	if ((r = billing_paid_until(m, ip->allocated_at, d->paid_until,
	    &next_end)) < 0)
		return r;
	if (p->kind == BILLING_STABLE &&
	    billing_owner_expected(ip->owner_back_by, now)) {
		d->action = BILLING_ACTION_KEEP;
		d->reason = BILLING_WHY_OWNER;
		d->recheck_at = next_end - p->margin_ms;
	} else if (demand != NULL && ip->idle_rank >= 0 &&
	    ip->idle_rank < demand->expected) {
		d->action = BILLING_ACTION_KEEP;
		d->reason = BILLING_WHY_DEMAND;
		d->recheck_at = next_end - p->margin_ms;
	} else {
		d->action = BILLING_ACTION_RELEASE;
		d->reason = BILLING_WHY_UNIT_ENDS;
		d->recheck_at = 0;
	}
	return 0;
}

int
billing_decide(const struct billing_model *m, const struct billing_policy *p,
    const struct billing_ip *ip, const struct billing_demand *demand,
    int64_t now, struct billing_decision *ret)
{
	struct billing_decision	d;
	int			r;

	if (ip->idle_since < ip->allocated_at || now < ip->idle_since)
		return -EINVAL;
	if ((r = billing_paid_until(m, ip->allocated_at, now,
	    &d.paid_until)) < 0)
		return r;
	switch (p->kind) {
	case BILLING_AWARE:
	case BILLING_STABLE:
		if ((r = billing_decide_aware(m, p, ip, demand, now, &d)) < 0)
			return r;
		break;
	case BILLING_IDLE_TIMEOUT:
		if (now - ip->idle_since >= p->idle_timeout_ms) {
			d.action = BILLING_ACTION_RELEASE;
			d.reason = BILLING_WHY_IDLE_LONG;
			d.recheck_at = 0;
		} else {
			d.action = BILLING_ACTION_KEEP;
			d.reason = BILLING_WHY_IDLE_SHORT;
			d.recheck_at = ip->idle_since + p->idle_timeout_ms;
		}
		break;
	case BILLING_KEEP:
		d.action = BILLING_ACTION_KEEP;
		d.reason = BILLING_WHY_KEEP_ALL;
		d.recheck_at = BILLING_NEVER;
		break;
	default:
		return -EINVAL;
	}
	*ret = d;
	return 0;
}

int64_t
billing_expect_back(const struct billing_policy *p, const int64_t *gaps_ms,
    size_t ngaps, int64_t idle_since)
{
	int64_t	longest = 0, span;
	size_t	i;

	if (p->affinity_max_ms == 0)
		return 0;
	if (ngaps > BILLING_HISTORY_MAX)
		ngaps = BILLING_HISTORY_MAX;
	for (i = 0; i < ngaps; i++)
		if (gaps_ms[i] > longest)
			longest = gaps_ms[i];
	/* Twice the longest gap: a phone is rarely away much longer. */
	span = longest > p->affinity_max_ms / BILLING_GAP_FACTOR ?
	    p->affinity_max_ms : longest * BILLING_GAP_FACTOR;
	if (span < p->affinity_min_ms)
		span = p->affinity_min_ms;
	return idle_since + span;
}

bool
billing_owner_expected(int64_t owner_back_by, int64_t now)
{
	return owner_back_by != 0 && owner_back_by >= now;
}

int
billing_may_purchase(const struct billing_model *m,
    const struct billing_limits *l, int64_t spent_today_micros,
    int purchases_in_window, int count, int64_t now, const char **why)
{
	int64_t	day_start, each, room;
	int	n = count, r;

	if (count < 1 || spent_today_micros < 0 || purchases_in_window < 0 ||
	    l->daily_spend_max_micros < 0 || l->purchases_max < 0 ||
	    l->window_ms < 0) {
		*why = "bad purchase request";
		return -EINVAL;
	}
	if (l->purchases_max > 0) {
		if (purchases_in_window >= l->purchases_max) {
			*why = "purchase rate limit reached";
			return -EAGAIN;
		}
		if (n > l->purchases_max - purchases_in_window)
			n = l->purchases_max - purchases_in_window;
	}
	if (l->daily_spend_max_micros > 0) {
		/*
		 * What one IP bought now adds to today's spend if kept until
		 * the spending day ends: one day, one month, or the hours
		 * left today.
		 */
		if ((r = billing_day_start(m, now, &day_start)) < 0 ||
		    (r = billing_charged_in(m, now, day_start + BILLING_DAY_MS,
		    day_start, day_start + BILLING_DAY_MS, &each)) < 0) {
			*why = "bad purchase time";
			return r;
		}
		if (each > 0) {
			room = spent_today_micros >= l->daily_spend_max_micros ?
			    0 : (l->daily_spend_max_micros -
			    spent_today_micros) / each;
			if (room < 1) {
				*why = "daily spending limit reached";
				return -EDQUOT;
			}
			if (n > room)
				n = (int)room;
		}
	}
	return n;
}

/* Start a new spending day when now is past the ledger's. */
static void
billing_ledger_roll(struct billing_ledger *lg, const struct billing_model *m,
    int64_t now)
{
	int64_t	day;

	if (billing_day_start(m, now, &day) == 0 && day != lg->day) {
		lg->day = day;
		lg->spent_micros = 0;
	}
}

int
billing_ledger_allow(struct billing_ledger *lg, const struct billing_model *m,
    const struct billing_limits *l, int count, int64_t now, const char **why)
{
	size_t	i;
	int	in_window = 0;

	billing_ledger_roll(lg, m, now);
	for (i = 0; i < lg->n; i++)
		if (now - lg->times[i] < l->window_ms)
			in_window++;
	return billing_may_purchase(m, l, lg->spent_micros, in_window, count,
	    now, why);
}

void
billing_ledger_record(struct billing_ledger *lg, const struct billing_model *m,
    int n, int64_t now)
{
	int64_t	sum;
	int	i;

	billing_ledger_roll(lg, m, now);
	if (n > 0) {
		if (__builtin_mul_overflow((int64_t)n, billing_unit_price(m),
		    &sum) || __builtin_add_overflow(lg->spent_micros, sum,
		    &sum))
			sum = INT64_MAX;
		lg->spent_micros = sum;
	}
	/* Times come in order: the slot written next holds the oldest. */
	for (i = 0; i < n; i++) {
		lg->times[lg->next] = now;
		lg->next = (lg->next + 1) % BILLING_LEDGER_MAX;
		if (lg->n < BILLING_LEDGER_MAX)
			lg->n++;
	}
}

int64_t
billing_ledger_spent(const struct billing_ledger *lg,
    const struct billing_model *m, int64_t now)
{
	int64_t	day;

	if (billing_day_start(m, now, &day) == 0 && day != lg->day)
		return 0;
	return lg->spent_micros;
}

const char *
billing_unit_name(enum billing_unit u)
{
	switch (u) {
	case BILLING_UNIT_DAY:		return "day";
	case BILLING_UNIT_MONTH:	return "month";
	case BILLING_UNIT_HOUR:		return "hour";
	}
	return "unknown";
}

const char *
billing_policy_name(enum billing_policy_kind k)
{
	switch (k) {
	case BILLING_AWARE:		return "aware";
	case BILLING_IDLE_TIMEOUT:	return "idle-timeout";
	case BILLING_KEEP:		return "keep";
	case BILLING_STABLE:		return "stable";
	}
	return "unknown";
}

const char *
billing_reason_name(enum billing_reason r)
{
	switch (r) {
	case BILLING_WHY_PAID:		return "paid";
	case BILLING_WHY_OWNER:		return "owner_expected";
	case BILLING_WHY_DEMAND:	return "demand";
	case BILLING_WHY_IDLE_SHORT:	return "idle_short";
	case BILLING_WHY_KEEP_ALL:	return "keep_all";
	case BILLING_WHY_UNIT_ENDS:	return "unit_ends";
	case BILLING_WHY_IDLE_LONG:	return "idle_long";
	}
	return "unknown";
}
