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

static bool
util_field_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',' || c == '\r';
}

int
util_split_fields(char *s, char **fields, size_t max, size_t *ret_n)
{
	size_t	n = 0;

	for (;;) {
		while (util_field_sep(*s))
			s++;
		if (*s == '\0')
			break;
		if (n == max)
			return -E2BIG;
		fields[n++] = s;
		while (*s != '\0' && !util_field_sep(*s))
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
	*ret_n = n;
	return 0;
}

void
util_wipe(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
}

/* --- URLs and redaction ------------------------------------------------ */

/* Words that make a parameter's name a credential's, in lower case. */
static const char *const util_credential_words[] = {
	"pass", "pwd", "secret", "token", "key", "sig", "auth", "cred",
};
/* A longer parameter name counts as a credential's. */
#define UTIL_NAME_MAX	128

/* Output cut to size, always terminated. */
struct util_out {
	char	*p;
	size_t	 size;
	size_t	 len;
};

static void
util_out_put(struct util_out *o, const char *s, size_t n)
{
	if (o->len + 1 >= o->size)
		return;
	if (n > o->size - 1 - o->len)
		n = o->size - 1 - o->len;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static int
util_hex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

bool
util_credential_name(const char *name, size_t len)
{
	char	buf[UTIL_NAME_MAX];
	size_t	i, n = 0, w;
	int	ch, hi, lo;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)name[i];
		/* Percent-decoded, as the server reading the URL would. */
		if (ch == '%' && i + 2 < len &&
		    (hi = util_hex((unsigned char)name[i + 1])) >= 0 &&
		    (lo = util_hex((unsigned char)name[i + 2])) >= 0) {
			ch = hi * 16 + lo;
			i += 2;
		}
		if (n == sizeof buf - 1)
			return true;
		buf[n++] = (char)tolower(ch);
	}
	buf[n] = '\0';
	for (w = 0; w < nitems(util_credential_words); w++)
		if (strstr(buf, util_credential_words[w]) != NULL)
			return true;
	return false;
}

/*
 * Does every host of the authority (a comma-separated list, as libpq
 * allows) have a numeric port, if any?
 */
static bool
util_url_ports_ok(const char *a, size_t n)
{
	const char	*end = a + n, *e, *p;

	for (;;) {
		if ((e = memchr(a, ',', (size_t)(end - a))) == NULL)
			e = end;
		p = a;
		if (p < e && *p == '[') {
			if ((p = memchr(p, ']', (size_t)(e - p))) == NULL)
				return false;
			p++;
		} else if ((p = memchr(p, ':', (size_t)(e - p))) == NULL)
			p = e;
		if (p != e) {
			if (*p != ':' || p + 1 == e)
				return false;
			for (p++; p < e; p++)
				if (!isdigit((unsigned char)*p))
					return false;
		}
		if (e == end)
			return true;
		a = e + 1;
	}
}

int
util_url_split(const char *url, struct util_url *ret)
{
	struct util_url	 u = { 0 };
	const char	*p, *at = NULL, *colon;
	size_t		 i;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	if (!isalpha((unsigned char)url[0]))
		return -EINVAL;
	for (i = 1; isalnum((unsigned char)url[i]) || url[i] == '+' ||
	    url[i] == '-' || url[i] == '.'; i++)
		;
	if (strncmp(url + i, "://", 3) != 0)
		return -EINVAL;
	u.user = i + 3;
	u.end = u.user + strcspn(url + u.user, "/?#");
	for (p = url + u.user; p < url + u.end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL && strchr(url + u.end, '@') != NULL &&
	    !util_url_ports_ok(url + u.user, u.end - u.user)) {
		at = strrchr(url + u.end, '@');
		u.raw_delim = true;
	}
	if (at != NULL) {
		u.at = (size_t)(at - url);
		colon = memchr(url + u.user, ':', u.at - u.user);
		if (colon != NULL)
			u.pass = (size_t)(colon + 1 - url);
		u.host = u.at + 1;
		if (u.raw_delim)
			u.end = u.host + strcspn(url + u.host, "/?#");
	} else
		u.host = u.user;
	*ret = u;
	return 0;
}

size_t
util_url_secrets(const char *url, struct util_span *ret, size_t max)
{
	struct util_url	 u;
	const char	*p, *e, *eq;
	size_t		 n = 0, len;

	if (max == 0 || util_url_split(url, &u) < 0)
		return 0;
	len = strlen(url);
	if (u.pass != 0)
		ret[n++] = (struct util_span){ u.pass, u.at - u.pass };
	/*
	 * The parameters: '&'-separated name=value pairs in the query and in
	 * the fragment (where OAuth puts its tokens).
	 */
	p = url + u.end + strcspn(url + u.end, "?#");
	while (*p != '\0') {
		p++;
		e = p + strcspn(p, "&#");
		eq = memchr(p, '=', (size_t)(e - p));
		if (eq != NULL && util_credential_name(p, (size_t)(eq - p))) {
			if (n == max) {
				/* No room: the rest is one secret. */
				ret[n - 1].len = len - ret[n - 1].off;
				return n;
			}
			ret[n].off = (size_t)(eq + 1 - url);
			ret[n++].len = (size_t)(e - eq - 1);
		}
		p = e;
	}
	return n;
}

static void
util_redact_url_put(struct util_out *o, const char *url)
{
	struct util_span	spans[UTIL_URL_SECRETS_MAX];
	size_t			n, i, pos = 0;

	n = util_url_secrets(url, spans, nitems(spans));
	for (i = 0; i < n; i++) {
		util_out_put(o, url + pos, spans[i].off - pos);
		util_out_put(o, UTIL_REDACTED, strlen(UTIL_REDACTED));
		pos = spans[i].off + spans[i].len;
	}
	util_out_put(o, url + pos, strlen(url + pos));
}

int
util_url_encode(const char *in, char *out, size_t size)
{
	static const char	hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 o = 0;

	if (size == 0)
		return -E2BIG;
	for (p = (const unsigned char *)in; *p != '\0'; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~') {
			if (o + 1 >= size)
				goto big;
			out[o++] = (char)*p;
			continue;
		}
		if (o + 3 >= size)
			goto big;
		out[o++] = '%';
		out[o++] = hex[*p >> 4];
		out[o++] = hex[*p & 0xf];
	}
	out[o] = '\0';
	return 0;
big:
	util_wipe(out, o);
	out[0] = '\0';
	return -E2BIG;
}

void
util_redact_url(const char *url, char *out, size_t size)
{
	struct util_out	o = { out, size, 0 };

	if (size == 0)
		return;
	out[0] = '\0';
	util_redact_url_put(&o, url);
}

static bool
util_scheme_char(int ch)
{
	return isalnum(ch) || ch == '+' || ch == '-' || ch == '.';
}

static bool
util_name_char(int ch)
{
	return isalnum(ch) || ch == '_' || ch == '-' || ch == '.';
}

/* Past a value quoted with q (the opening quote at p), or to its end. */
static const char *
util_skip_quoted(const char *p, char q)
{
	for (p++; *p != '\0' && *p != q; p++)
		if (*p == '\\' && p[1] != '\0')
			p++;
	return *p == q ? p + 1 : p;
}

/*
 * The name=value pairs of text that holds no URL, n bytes at p: a value
 * whose name looks like a credential's is replaced, up to white space, a
 * quote or '&', or to the closing quote of a quoted one.
 */
static void
util_redact_pairs(struct util_out *o, const char *text, const char *p,
    size_t len)
{
	const char	*end = p + len, *q;
	size_t		 n;

	while (p < end) {
		for (n = 0; p + n < end && util_name_char((unsigned char)p[n]);
		    n++)
			;
		/* Only a whole word is a name. */
		if (n == 0 || (p > text && util_name_char((unsigned char)p[-1]))) {
			util_out_put(o, p, n > 0 ? n : 1);
			p += n > 0 ? n : 1;
			continue;
		}
		for (q = p + n; q < end && (*q == ' ' || *q == '\t'); q++)
			;
		if (q == end || *q != '=' || !util_credential_name(p, n)) {
			util_out_put(o, p, n);
			p += n;
			continue;
		}
		for (q++; q < end && (*q == ' ' || *q == '\t'); q++)
			;
		util_out_put(o, p, (size_t)(q - p));
		util_out_put(o, UTIL_REDACTED, strlen(UTIL_REDACTED));
		if (q < end && (*q == '\'' || *q == '"'))
			p = util_skip_quoted(q, *q);
		else
			p = q + strcspn(q, " \t\r\n\"'&");
		if (p > end)
			p = end;
	}
}

void
util_redact_text(const char *text, char *out, size_t size)
{
	struct util_out	 o = { out, size, 0 };
	struct util_url	 u;
	const char	*p = text, *sep, *start;
	char		*url;
	size_t		 n;

	if (size == 0)
		return;
	out[0] = '\0';
	/* A text that is one URL: even white space in it is its own. */
	if (util_url_split(text, &u) == 0) {
		util_redact_url_put(&o, text);
		return;
	}
	while (*p != '\0') {
		/* The next URL: its scheme runs back from "://". */
		if ((sep = strstr(p, "://")) == NULL) {
			util_redact_pairs(&o, text, p, strlen(p));
			break;
		}
		for (start = sep; start > p &&
		    util_scheme_char((unsigned char)start[-1]); start--)
			;
		while (start < sep && !isalpha((unsigned char)*start))
			start++;
		if (start == sep) {
			util_redact_pairs(&o, text, p, (size_t)(sep + 3 - p));
			p = sep + 3;
			continue;
		}
		util_redact_pairs(&o, text, p, (size_t)(start - p));
		n = (size_t)(sep + 3 - start) + strcspn(sep + 3, " \t\r\n\"'<>`");
		url = xstrndup(start, n);
		util_redact_url_put(&o, url);
		util_wipe(url, n);
		free(url);
		p = start + n;
	}
}

void
util_redact_strings(const char *text, const char *const *secrets, size_t n,
    char *out, size_t size)
{
	struct util_out	 o = { out, size, 0 };
	const char	*p = text, *from = text;
	size_t		 i, len, best;

	if (size == 0)
		return;
	out[0] = '\0';
	/* One pass: what replaced a secret is never searched again. */
	while (*p != '\0') {
		for (i = 0, best = 0; i < n; i++) {
			len = strlen(secrets[i]);
			if (len > best && strncmp(p, secrets[i], len) == 0)
				best = len;
		}
		if (best == 0) {
			p++;
			continue;
		}
		util_out_put(&o, from, (size_t)(p - from));
		util_out_put(&o, UTIL_REDACTED, strlen(UTIL_REDACTED));
		p += best;
		from = p;
	}
	util_out_put(&o, from, (size_t)(p - from));
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
