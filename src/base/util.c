/*
 * Checked parsers, clocks and the bounded buffer: see util.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/util.h"
#include "base/xmalloc.h"

int
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t	n;

	if (size == 0)
		return -ENAMETOOLONG;
	n = strnlen(src, size);
	if (n == size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int
util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int
util_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	size_t	i;

	for (i = 0; i < nitems(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int
util_parse_duration_ms(const char *s, int64_t unit_ms, int64_t min,
    int64_t max, int64_t *ret)
{
	static const struct {
		const char	*suffix;
		int64_t		 ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 },
	};
	char		 num[32];
	const char	*p;
	size_t		 i, n;
	int64_t		 v, mul = unit_ms;
	int		 r;

	if (s == NULL)
		return -EINVAL;
	for (p = s; *p >= '0' && *p <= '9'; p++)
		;
	n = (size_t)(p - s);
	if (n == 0 || n >= sizeof num)
		return n == 0 ? -EINVAL : -ERANGE;
	memcpy(num, s, n);
	num[n] = '\0';
	if (*p != '\0') {
		for (i = 0; i < nitems(units); i++)
			if (strcmp(p, units[i].suffix) == 0)
				break;
		if (i == nitems(units))
			return -EINVAL;
		mul = units[i].ms;
	}
	if ((r = util_parse_i64(num, 0, INT64_MAX, &v)) < 0)
		return r;
	if (mul != 0 && v > INT64_MAX / mul)
		return -ERANGE;
	v *= mul;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int64_t
util_clock_ms(clockid_t id)
{
	struct timespec	ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_now_ms(void)
{
	return util_clock_ms(CLOCK_REALTIME);
}

int64_t
util_mono_ms(void)
{
	return util_clock_ms(CLOCK_MONOTONIC);
}

void
util_fmt_time(int64_t ms, char buf[UTIL_TIME_LEN])
{
	struct tm	tm;
	time_t		t;
	int64_t		frac;

	t = (time_t)(ms / 1000);
	frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		t--;
	}
	if (gmtime_r(&t, &tm) == NULL) {
		(void)util_strlcpy(buf, "invalid-time", UTIL_TIME_LEN);
		return;
	}
	snprintf(buf, UTIL_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)frac);
}

/* Exactly n digits at s, as a number. */
static int
util_digits(const char *s, int n, int *ret)
{
	int	i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

int
util_parse_time_ms(const char *s, int64_t *ret)
{
	/* Seconds since the epoch up to the end of year 9999. */
	const int64_t	max_s = INT64_C(253402300799);
	struct tm	tm = { 0 };
	int		y, mo, d, h, mi, sec, frac = 0, nfrac = 0;
	int64_t		t;
	time_t		tt;
	size_t		len;

	if (s == NULL)
		return -EINVAL;
	len = strlen(s);
	if (len > 0 && len <= 12 && strchr(s, '-') == NULL) {
		if (util_parse_i64(s, 0, max_s, &t) < 0)
			return -EINVAL;
		*ret = t * 1000;
		return 0;
	}
	if (len < 20 || util_digits(s, 4, &y) < 0 || s[4] != '-' ||
	    util_digits(s + 5, 2, &mo) < 0 || s[7] != '-' ||
	    util_digits(s + 8, 2, &d) < 0 || (s[10] != 'T' && s[10] != 't') ||
	    util_digits(s + 11, 2, &h) < 0 || s[13] != ':' ||
	    util_digits(s + 14, 2, &mi) < 0 || s[16] != ':' ||
	    util_digits(s + 17, 2, &sec) < 0)
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
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tt = timegm(&tm);
	/* timegm normalises 31 April to 1 May: a date that moved was bad. */
	if (tt == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -EINVAL;
	*ret = (int64_t)tt * 1000 + frac;
	return 0;
}

void
util_wipe(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
}

void
util_redact_url(const char *url, char *out, size_t size)
{
	const char	*auth, *at, *colon, *end;

	if (size == 0)
		return;
	auth = strstr(url, "://");
	if (auth == NULL) {
		(void)util_strlcpy(out, url, size);
		return;
	}
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	/* The last '@' before the path ends the credentials. */
	for (at = NULL, colon = auth; colon < end; colon++)
		if (*colon == '@')
			at = colon;
	colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon == NULL) {
		(void)util_strlcpy(out, url, size);
		return;
	}
	snprintf(out, size, "%.*s<redacted>%s", (int)(colon + 1 - url), url, at);
}

bool
util_thread_wait(const _Atomic bool *flag, int64_t ms)
{
	struct timespec	step = { 0, 5 * 1000000 };
	int64_t		end = util_mono_ms() + ms;

	while (!atomic_load(flag)) {
		if (util_mono_ms() >= end)
			return false;
		(void)nanosleep(&step, NULL);
	}
	return true;
}
