/*
 * Fuzz target for the value parsers that every configuration key, flag,
 * query parameter and trace line goes through: util_parse_i64,
 * util_parse_bool, util_parse_duration_ms, util_parse_time_ms
 * (src/base/util.c) and config_parse_money (src/config/config.c).
 *
 * Each is checked against its grammar written out independently here,
 * with exact results: the same verdict (0, -EINVAL for junk, -ERANGE for a
 * number out of its range), the same value, the output written only on
 * success, and the value within its limits.  Values also go round: a
 * number printed and parsed again, a duration in "ms", a time formatted
 * by util_fmt_time, an amount printed with six decimals all come back
 * unchanged.
 *
 * Input layout: byte 0 picks the parser (mod 5), byte 1 its limits (one
 * of the ranges below, as the configuration keys use them); the rest, up
 * to a NUL, is the text.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "config/config.h"
#include "fuzz.h"

#define POISON	INT64_C(0x5a5a5a5a5a5a5a5a)
#define DAY_MS	INT64_C(86400000)

typedef __int128 wide;

static const struct {
	int64_t	min, max;
} ranges[] = {
	{ INT64_MIN, INT64_MAX }, { 0, INT64_MAX }, { 0, 65535 }, { 1, 1000 },
	{ -1000000, 1000000 }, { 0, 23 }, { 5, 5 },
};

static const struct {
	int64_t	unit, min, max;
} durations[] = {
	{ 1000, 60000, 366 * DAY_MS },	/* RESPAWN_RECOVERY_WINDOW */
	{ 1000, 3000, 600000 },		/* RESPAWN_LEASE */
	{ 1, 0, 3600000 },		/* RECONNECT_DELAY */
	{ 1000, 0, 31 * DAY_MS },	/* RESPAWN_IDLE_TIMEOUT */
	{ 1, 0, INT64_MAX },
	{ 0, 0, INT64_MAX },
	{ 86400000, 1, INT64_MAX },
};

static const int64_t money_max[] = {
	0, 1, 1000000, 1000000000, INT64_MAX / 1000000 - 1, INT64_MAX,
};

/* [+-]?[0-9]+ in [min, max], as util_parse_i64 promises. */
static int
ref_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	const char	*p = s;
	wide		 v = 0;
	bool		 neg = false, big = false;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > (wide)INT64_MAX + 1)
			big = true, v = (wide)INT64_MAX + 2;
	}
	if (*p != '\0')
		return -EINVAL;
	if (neg)
		v = -v;
	if (big || v < min || v > max)
		return -ERANGE;
	*ret = (int64_t)v;
	return 0;
}

static void
fuzz_i64(const char *s, unsigned sel)
{
	int64_t	min = ranges[sel % nitems(ranges)].min;
	int64_t	max = ranges[sel % nitems(ranges)].max;
	int64_t	v = POISON, want = POISON, again = POISON;
	char	buf[32];
	int	r;

	r = util_parse_i64(s, min, max, &v);
	FUZZ_CHECK(r == ref_i64(s, min, max, &want));
	FUZZ_CHECK(v == want);
	if (r < 0)
		return;
	FUZZ_CHECK(v >= min && v <= max);
	snprintf(buf, sizeof buf, "%lld", (long long)v);
	FUZZ_CHECK(util_parse_i64(buf, min, max, &again) == 0 && again == v);
}

static void
fuzz_bool(const char *s)
{
	static const char *const words[] = {
		"1", "true", "yes", "on", "0", "false", "no", "off",
	};
	bool	b = false;
	size_t	i;
	int	r, want = -EINVAL;

	for (i = 0; i < nitems(words); i++)
		if (strcasecmp(s, words[i]) == 0)
			want = (int)i;
	r = util_parse_bool(s, &b);
	if (want < 0) {
		FUZZ_CHECK(r == -EINVAL && !b);
		return;
	}
	FUZZ_CHECK(r == 0 && b == (want < 4));
}

/*
 * Digits and an optional unit, bare digits in unit ms; 32 digits or more
 * are out of range whatever follows.
 */
static int
ref_duration(const char *s, int64_t unit, int64_t min, int64_t max,
    int64_t *ret)
{
	static const struct {
		const char	*suffix;
		int64_t		 ms;
	} units[] = {
		{ "", 0 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	wide	v = 0;
	size_t	n, i;

	n = strspn(s, "0123456789");
	if (n == 0)
		return -EINVAL;
	if (n >= 32)
		return -ERANGE;
	for (i = 0; i < nitems(units); i++)
		if (strcmp(s + n, units[i].suffix) == 0)
			break;
	if (i == nitems(units))
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	if (v > INT64_MAX)
		return -ERANGE;
	v *= i == 0 ? unit : units[i].ms;
	if (v < min || v > max)
		return -ERANGE;
	*ret = (int64_t)v;
	return 0;
}

static void
fuzz_duration(const char *s, unsigned sel)
{
	int64_t	unit = durations[sel % nitems(durations)].unit;
	int64_t	min = durations[sel % nitems(durations)].min;
	int64_t	max = durations[sel % nitems(durations)].max;
	int64_t	v = POISON, want = POISON, again = POISON;
	char	buf[40];
	int	r;

	r = util_parse_duration_ms(s, unit, min, max, &v);
	FUZZ_CHECK(r == ref_duration(s, unit, min, max, &want));
	FUZZ_CHECK(v == want);
	if (r < 0)
		return;
	FUZZ_CHECK(v >= min && v <= max);
	snprintf(buf, sizeof buf, "%lldms", (long long)v);
	FUZZ_CHECK(util_parse_duration_ms(buf, unit, min, max, &again) == 0);
	FUZZ_CHECK(again == v);
}

/* Exactly n digits at s. */
static bool
digits(const char *s, int n, int *ret)
{
	int	i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

static int
days_in(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	bool	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/*
 * Whole seconds since the epoch (1 to 12 bytes, no '-'), or
 * YYYY-MM-DDTHH:MM:SS[.f...]Z of a real date from 1970 to 9999; the
 * fraction keeps three digits.  The value is computed by counting days.
 */
static int
ref_time(const char *s, int64_t *ret)
{
	size_t	len = strlen(s);
	int64_t	secs, days = 0;
	int	y, mo, d, h, mi, sec, frac = 0, nfrac = 0, i;

	if (len > 0 && len <= 12 && strchr(s, '-') == NULL) {
		if (ref_i64(s, 0, INT64_C(253402300799), &secs) < 0)
			return -EINVAL;
		*ret = secs * 1000;
		return 0;
	}
	if (len < 20 || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return -EINVAL;
	s += 19;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, nfrac++)
			if (nfrac < 3)
				frac = frac * 10 + (*s - '0');
		if (nfrac == 0)
			return -EINVAL;
		for (; nfrac < 3; nfrac++)
			frac *= 10;
	}
	if ((*s != 'Z' && *s != 'z') || s[1] != '\0')
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in(y, mo) ||
	    h > 23 || mi > 59 || sec > 59)
		return -EINVAL;
	for (i = 1970; i < y; i++)
		days += (i % 4 == 0 && i % 100 != 0) || i % 400 == 0 ?
		    366 : 365;
	for (i = 1; i < mo; i++)
		days += days_in(y, i);
	days += d - 1;
	*ret = ((days * 24 + h) * 60 + mi) * INT64_C(60000) + sec * 1000 +
	    frac;
	return 0;
}

static void
fuzz_time(const char *s)
{
	int64_t	v = POISON, want = POISON, again = POISON;
	char	buf[UTIL_TIME_LEN];
	int	r;

	r = util_parse_time_ms(s, &v);
	FUZZ_CHECK(r == ref_time(s, &want));
	FUZZ_CHECK(v == want);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL);
		return;
	}
	FUZZ_CHECK(v >= 0 && v <= INT64_C(253402300799999));
	util_fmt_time(v, buf);
	FUZZ_CHECK(util_parse_time_ms(buf, &again) == 0 && again == v);
}

/*
 * Whole units and up to six decimals.  Too many units is out of range as
 * soon as the whole part passes max_units, or what fits in an int64_t as
 * micro-units, whatever follows.
 */
static int
ref_money(const char *s, int64_t max_units, int64_t *ret)
{
	const int64_t	 fits = INT64_MAX / 1000000 - 1;
	wide		 units = 0;
	int64_t		 frac = 0;
	int		 n = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		units = units * 10 + (*s - '0');
		if (units > max_units || units > fits)
			return -ERANGE;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++) {
			if (++n > 6)
				return -EINVAL;
			frac = frac * 10 + (*s - '0');
		}
		if (n == 0)
			return -EINVAL;
	}
	if (*s != '\0')
		return -EINVAL;
	for (; n < 6; n++)
		frac *= 10;
	units = units * 1000000 + frac;
	*ret = (int64_t)units;
	return 0;
}

static void
fuzz_money(const char *s, unsigned sel)
{
	int64_t	max = money_max[sel % nitems(money_max)];
	int64_t	v = POISON, want = POISON, again = POISON;
	char	buf[48];
	int	r;

	r = config_parse_money(s, max, &v);
	FUZZ_CHECK(r == ref_money(s, max, &want));
	FUZZ_CHECK(v == want);
	if (r < 0)
		return;
	FUZZ_CHECK(v >= 0 && v / 1000000 <= max);
	snprintf(buf, sizeof buf, "%lld.%06lld", (long long)(v / 1000000),
	    (long long)(v % 1000000));
	FUZZ_CHECK(config_parse_money(buf, max, &again) == 0 && again == v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	if (size < 2)
		return 0;
	/* The parsers take C strings: the text ends at its first NUL. */
	s = malloc(size - 1);
	FUZZ_CHECK(s != NULL);
	memcpy(s, data + 2, size - 2);
	s[size - 2] = '\0';
	switch (data[0] % 5) {
	case 0:
		fuzz_i64(s, data[1]);
		break;
	case 1:
		fuzz_bool(s);
		break;
	case 2:
		fuzz_duration(s, data[1]);
		break;
	case 3:
		fuzz_time(s);
		break;
	default:
		fuzz_money(s, data[1]);
		break;
	}
	free(s);
	return 0;
}
