/*
 * Backoff, Retry-After and the retry budget: see backoff.h and
 * docs/internals/backoff.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "core/backoff.h"

#define MS_PER_S	INT64_C(1000)
#define MS_PER_DAY	INT64_C(86400000)
#define BACKOFF_SHIFT_MAX	62	/* 2^62 fits an int64_t */

/*
 * The budget's window is kept in this many slices, as Finagle's
 * WindowedAdder does: a deposit expires between 9/10 and all of the ttl
 * after it was made, which is precise enough and needs no per-request
 * record.
 */
#define BACKOFF_BUDGET_SLOTS	10
/* Token arithmetic in hundredths, so percentages stay integers. */
#define BACKOFF_TOKEN		100

/* RFC 850 years are read within this many years after the reference. */
#define BACKOFF_RFC850_FUTURE_YEARS	50

static const char *const backoff_wkday[] = {
	"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
};
static const char *const backoff_weekday[] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	"Sunday",
};
static const char *const backoff_month[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

int
backoff_policy_check(const struct backoff_policy *p, const char **why)
{
	if (p->base_ms < 1 || p->base_ms > BACKOFF_DELAY_MAX_MS) {
		*why = "base must be between 1 ms and one day";
		return -EINVAL;
	}
	if (p->cap_ms < p->base_ms || p->cap_ms > BACKOFF_DELAY_MAX_MS) {
		*why = "cap must be between the base and one day";
		return -EINVAL;
	}
	if (p->retry_after_cap_ms < 0 ||
	    p->retry_after_cap_ms > BACKOFF_DELAY_MAX_MS) {
		*why = "Retry-After cap must be between 0 and one day";
		return -EINVAL;
	}
	if (p->retry_after_spread_ms < 0 ||
	    p->retry_after_spread_ms > BACKOFF_DELAY_MAX_MS) {
		*why = "Retry-After spread must be between 0 and one day";
		return -EINVAL;
	}
	return 0;
}

static int64_t
backoff_clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * rnd mapped onto [0, upper] by a 128-bit multiply: unlike rnd % (upper+1)
 * it has no modulo bias and uses the high bits, the good ones of most
 * generators.
 */
static int64_t
backoff_uniform(uint64_t rnd, int64_t upper)
{
	if (upper <= 0)
		return 0;
	return (int64_t)(((unsigned __int128)rnd *
	    ((uint64_t)upper + 1)) >> 64);
}

int64_t
backoff_ceiling_ms(const struct backoff_policy *p, unsigned attempt)
{
	int64_t	base, cap;

	/* An unchecked policy still gives a delay within [0, one day]. */
	cap = backoff_clamp(p->cap_ms, 0, BACKOFF_DELAY_MAX_MS);
	base = backoff_clamp(p->base_ms, 0, cap);
	if (base == 0)
		return 0;
	if (attempt >= BACKOFF_SHIFT_MAX || base > (cap >> attempt))
		return cap;
	return base << attempt;
}

int64_t
backoff_delay_ms(const struct backoff_policy *p, unsigned attempt,
    uint64_t rnd)
{
	return backoff_uniform(rnd, backoff_ceiling_ms(p, attempt));
}

int64_t
backoff_next_ms(const struct backoff_policy *p, unsigned attempt,
    uint64_t rnd, int64_t retry_after_ms)
{
	int64_t	ceiling, ra, spread, hi;

	ceiling = backoff_ceiling_ms(p, attempt);
	if (retry_after_ms < 0)
		return backoff_uniform(rnd, ceiling);
	ra = backoff_clamp(retry_after_ms, 0,
	    backoff_clamp(p->retry_after_cap_ms, 0, BACKOFF_DELAY_MAX_MS));
	spread = backoff_clamp(p->retry_after_spread_ms, 0,
	    BACKOFF_DELAY_MAX_MS);
	hi = ra + spread > ceiling ? ra + spread : ceiling;
	return ra + backoff_uniform(rnd, hi - ra);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
backoff_days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The year of a day since 1970-01-01, the inverse of the above. */
static int64_t
backoff_year_from_days(int64_t z)
{
	int64_t	era, doe, yoe, doy, mp, y;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	return mp >= 10 ? y + 1 : y;
}

static int64_t
backoff_floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static bool
backoff_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
backoff_mdays(int64_t y, int m)
{
	static const int	mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};

	return m == 2 && backoff_leap(y) ? 29 : mdays[m - 1];
}

static bool
backoff_lit(const char **p, const char *lit)
{
	size_t	n = strlen(lit);

	if (strncmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

/* Exactly n digits. */
static bool
backoff_digits(const char **p, int n, int *ret)
{
	int	v = 0, i;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

/* One of the names, case-sensitive as RFC 9110's grammar is; 1-based. */
static bool
backoff_name(const char **p, const char *const *names, size_t n, int *ret)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (backoff_lit(p, names[i])) {
			*ret = (int)i + 1;
			return true;
		}
	}
	return false;
}

/* time-of-day = hour ":" minute ":" second; a leap second is allowed. */
static bool
backoff_time(const char **p, int *h, int *mi, int *s)
{
	return backoff_digits(p, 2, h) && backoff_lit(p, ":") &&
	    backoff_digits(p, 2, mi) && backoff_lit(p, ":") &&
	    backoff_digits(p, 2, s) && *h <= 23 && *mi <= 59 && *s <= 60;
}

static void
backoff_ows(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/*
 * The weekday is checked for its form but not against the date: senders
 * get it wrong more often than the date, and the date is what counts.
 */
int
backoff_http_date_parse(const char *s, int64_t ref_ms, int64_t *ret_ms)
{
	const char	*p = s;
	int		 wd = 0, d = 0, mo = 0, y = 0, h = 0, mi = 0, sec = 0;
	int64_t		 year, ref_year;

	if (s == NULL)
		return -EINVAL;
	backoff_ows(&p);
	if (backoff_name(&p, backoff_weekday, nitems(backoff_weekday), &wd) &&
	    backoff_lit(&p, ", ")) {
		/* rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT */
		if (!backoff_digits(&p, 2, &d) || !backoff_lit(&p, "-") ||
		    !backoff_name(&p, backoff_month, nitems(backoff_month),
		    &mo) || !backoff_lit(&p, "-") ||
		    !backoff_digits(&p, 2, &y) || !backoff_lit(&p, " ") ||
		    !backoff_time(&p, &h, &mi, &sec) ||
		    !backoff_lit(&p, " GMT"))
			return -EINVAL;
		ref_year = backoff_year_from_days(backoff_floor_div(ref_ms,
		    MS_PER_DAY));
		year = ref_year - ((ref_year % 100) + 100) % 100 + y;
		if (year > ref_year + BACKOFF_RFC850_FUTURE_YEARS)
			year -= 100;
	} else {
		p = s;
		backoff_ows(&p);
		if (!backoff_name(&p, backoff_wkday, nitems(backoff_wkday),
		    &wd))
			return -EINVAL;
		if (backoff_lit(&p, ", ")) {
			/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
			if (!backoff_digits(&p, 2, &d) ||
			    !backoff_lit(&p, " ") ||
			    !backoff_name(&p, backoff_month,
			    nitems(backoff_month), &mo) ||
			    !backoff_lit(&p, " ") ||
			    !backoff_digits(&p, 4, &y) ||
			    !backoff_lit(&p, " ") ||
			    !backoff_time(&p, &h, &mi, &sec) ||
			    !backoff_lit(&p, " GMT"))
				return -EINVAL;
		} else if (backoff_lit(&p, " ")) {
			/* asctime-date: Sun Nov  6 08:49:37 1994 */
			if (!backoff_name(&p, backoff_month,
			    nitems(backoff_month), &mo) ||
			    !backoff_lit(&p, " "))
				return -EINVAL;
			if (backoff_lit(&p, " ")) {
				if (!backoff_digits(&p, 1, &d))
					return -EINVAL;
			} else if (!backoff_digits(&p, 2, &d))
				return -EINVAL;
			if (!backoff_lit(&p, " ") ||
			    !backoff_time(&p, &h, &mi, &sec) ||
			    !backoff_lit(&p, " ") ||
			    !backoff_digits(&p, 4, &y))
				return -EINVAL;
		} else
			return -EINVAL;
		year = y;
	}
	backoff_ows(&p);
	if (*p != '\0' || d < 1 || d > backoff_mdays(year, mo))
		return -EINVAL;
	*ret_ms = backoff_days_from_civil(year, mo, d) * MS_PER_DAY +
	    ((int64_t)h * 3600 + mi * 60 + sec) * MS_PER_S;
	return 0;
}

int
backoff_retry_after_parse(const char *value, const char *date,
    int64_t now_ms, int64_t *ret_ms)
{
	const char	*p = value;
	int64_t		 secs = 0, at, ref;
	bool		 digits = false;

	if (value == NULL)
		return -EINVAL;
	backoff_ows(&p);
	/* delay-seconds = 1*DIGIT */
	while (*p >= '0' && *p <= '9') {
		if (secs < BACKOFF_DELTA_MAX_S)
			secs = secs * 10 + (*p - '0');
		if (secs > BACKOFF_DELTA_MAX_S)
			secs = BACKOFF_DELTA_MAX_S;
		digits = true;
		p++;
	}
	if (digits) {
		backoff_ows(&p);
		if (*p != '\0')
			return -EINVAL;
		*ret_ms = secs * MS_PER_S;
		return 0;
	}
	if (date == NULL || backoff_http_date_parse(date, now_ms, &ref) != 0)
		ref = now_ms;
	if (backoff_http_date_parse(value, ref, &at) != 0)
		return -EINVAL;
	*ret_ms = at > ref ? at - ref : 0;
	return 0;
}

struct backoff_budget {
	struct backoff_budget_config	 cfg;
	int64_t				 slot_ms;
	int64_t				 reserve;
	int64_t				 slots[BACKOFF_BUDGET_SLOTS];
	int64_t				 cur;	/* now / slot_ms, last seen */
};

int
backoff_budget_new(const struct backoff_budget_config *cfg,
    struct backoff_budget **ret)
{
	static const struct backoff_budget_config	 def =
	    BACKOFF_BUDGET_DEFAULT;
	struct backoff_budget				*b;

	if (cfg == NULL)
		cfg = &def;
	if (cfg->ttl_ms < BACKOFF_BUDGET_TTL_MIN_MS ||
	    cfg->ttl_ms > BACKOFF_BUDGET_TTL_MAX_MS ||
	    cfg->retry_percent > BACKOFF_BUDGET_PERCENT_MAX ||
	    cfg->min_per_sec > BACKOFF_BUDGET_PER_SEC_MAX)
		return -EINVAL;
	b = xcalloc(1, sizeof *b);
	b->cfg = *cfg;
	b->slot_ms = cfg->ttl_ms / BACKOFF_BUDGET_SLOTS;
	b->reserve = (int64_t)cfg->min_per_sec * cfg->ttl_ms / MS_PER_S *
	    BACKOFF_TOKEN;
	b->cur = INT64_MIN;
	*ret = b;
	return 0;
}

void
backoff_budget_free(struct backoff_budget *b)
{
	free(b);
}

/*
 * Move the window to now, forgetting the slices that fell out of it.  A
 * clock that goes backwards keeps the current slice rather than reviving
 * old ones.
 */
static int64_t *
backoff_budget_advance(struct backoff_budget *b, int64_t now_ms)
{
	int64_t	idx, gap, i;

	idx = backoff_floor_div(now_ms, b->slot_ms);
	if (b->cur == INT64_MIN) {
		b->cur = idx;
	} else if (idx > b->cur) {
		gap = idx - b->cur;
		if (gap > BACKOFF_BUDGET_SLOTS)
			gap = BACKOFF_BUDGET_SLOTS;
		for (i = 1; i <= gap; i++)
			b->slots[(((b->cur + i) % BACKOFF_BUDGET_SLOTS) +
			    BACKOFF_BUDGET_SLOTS) % BACKOFF_BUDGET_SLOTS] = 0;
		b->cur = idx;
	}
	return &b->slots[((b->cur % BACKOFF_BUDGET_SLOTS) +
	    BACKOFF_BUDGET_SLOTS) % BACKOFF_BUDGET_SLOTS];
}

static int64_t
backoff_budget_balance(const struct backoff_budget *b)
{
	int64_t	sum = b->reserve;
	size_t	i;

	for (i = 0; i < BACKOFF_BUDGET_SLOTS; i++)
		sum += b->slots[i];
	return sum;
}

void
backoff_budget_deposit(struct backoff_budget *b, int64_t now_ms)
{
	*backoff_budget_advance(b, now_ms) += b->cfg.retry_percent;
}

bool
backoff_budget_withdraw(struct backoff_budget *b, int64_t now_ms)
{
	int64_t	*slot = backoff_budget_advance(b, now_ms);

	if (backoff_budget_balance(b) < BACKOFF_TOKEN)
		return false;
	*slot -= BACKOFF_TOKEN;
	return true;
}

int64_t
backoff_budget_available(struct backoff_budget *b, int64_t now_ms)
{
	int64_t	bal;

	backoff_budget_advance(b, now_ms);
	bal = backoff_budget_balance(b);
	return bal > 0 ? bal / BACKOFF_TOKEN : 0;
}
