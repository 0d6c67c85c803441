/*
 * Tests of the checked helpers in util.c: the bounded string copy, the
 * integer, boolean and duration parsers (junk and out-of-range input must
 * be refused and must leave the output alone), and RFC 3339 time stamps,
 * including the negative and far-future ends of the clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

/* What the output variables hold before a call, to see they stay put. */
#define SENTINEL_I64	INT64_C(-777)

struct strlcpy_case {
	const char	*src;
	size_t		 size;
	int		 want_r;
	const char	*want;		/* the copy; unused when size is 0 */
};

static const struct strlcpy_case strlcpy_cases[] = {
	{ "", 1, 0, "" },
	{ "abc", 4, 0, "abc" },
	{ "abc", 16, 0, "abc" },
	/* One byte short: the NUL must still fit, so the copy is cut. */
	{ "abc", 3, -ENAMETOOLONG, "ab" },
	{ "abc", 1, -ENAMETOOLONG, "" },
	{ "abc", 0, -ENAMETOOLONG, NULL },
	{ "", 0, -ENAMETOOLONG, NULL },
};

static void
test_strlcpy(void **state)
{
	char	dst[16];
	size_t	i, j;

	(void)state;
	for (i = 0; i < nitems(strlcpy_cases); i++) {
		const struct strlcpy_case *c = &strlcpy_cases[i];

		memset(dst, 'X', sizeof dst);
		print_message("case %zu: \"%s\" into %zu\n", i, c->src, c->size);
		assert_int_equal(util_strlcpy(dst, c->src, c->size), c->want_r);
		if (c->want != NULL)
			assert_string_equal(dst, c->want);
		/* Nothing past the given size may be written. */
		for (j = c->size; j < sizeof dst; j++)
			assert_int_equal(dst[j], 'X');
	}
}

struct i64_case {
	const char	*s;
	int64_t		 min, max;
	int		 want_r;
	int64_t		 want;
};

static const struct i64_case i64_cases[] = {
	{ "0", INT64_MIN, INT64_MAX, 0, 0 },
	{ "42", INT64_MIN, INT64_MAX, 0, 42 },
	{ "-42", INT64_MIN, INT64_MAX, 0, -42 },
	{ "+7", INT64_MIN, INT64_MAX, 0, 7 },
	{ "007", INT64_MIN, INT64_MAX, 0, 7 },
	{ "9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX },
	{ "-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN },
	/* One past either end of int64_t overflows strtoll. */
	{ "9223372036854775808", INT64_MIN, INT64_MAX, -ERANGE, 0 },
	{ "-9223372036854775809", INT64_MIN, INT64_MAX, -ERANGE, 0 },
	{ "10", 0, 10, 0, 10 },
	{ "11", 0, 10, -ERANGE, 0 },
	{ "-1", 0, 10, -ERANGE, 0 },
	/* Anything but a whole decimal number is junk, not a range error. */
	{ "", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ " 1", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ "1 ", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ "\t1", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ "1x", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ "0x10", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ "1.5", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ "1e3", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ "-", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ "+", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ "--1", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	{ NULL, INT64_MIN, INT64_MAX, -EINVAL, 0 },
};

static void
test_parse_i64(void **state)
{
	int64_t	v;
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(i64_cases); i++) {
		const struct i64_case *c = &i64_cases[i];

		print_message("case %zu: \"%s\"\n", i, c->s ? c->s : "(null)");
		v = SENTINEL_I64;
		assert_int_equal(util_parse_i64(c->s, c->min, c->max, &v),
		    c->want_r);
		assert_int_equal(v, c->want_r == 0 ? c->want : SENTINEL_I64);
	}
}

struct bool_case {
	const char	*s;
	int		 want_r;
	bool		 want;
};

static const struct bool_case bool_cases[] = {
	{ "1", 0, true }, { "true", 0, true }, { "yes", 0, true },
	{ "on", 0, true }, { "TRUE", 0, true }, { "Yes", 0, true },
	{ "oN", 0, true },
	{ "0", 0, false }, { "false", 0, false }, { "no", 0, false },
	{ "off", 0, false }, { "FALSE", 0, false }, { "No", 0, false },
	{ "OFF", 0, false },
	/* Only whole words count: no prefixes, blanks or other numbers. */
	{ "", -EINVAL, false }, { "2", -EINVAL, false },
	{ "y", -EINVAL, false }, { "t", -EINVAL, false },
	{ "truee", -EINVAL, false }, { " true", -EINVAL, false },
	{ "true ", -EINVAL, false }, { "01", -EINVAL, false },
	{ "enabled", -EINVAL, false },
};

static void
test_parse_bool(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(bool_cases); i++) {
		const struct bool_case *c = &bool_cases[i];
		/* Start from the opposite, so a missed write shows. */
		bool	 v = !c->want;

		print_message("case %zu: \"%s\"\n", i, c->s);
		assert_int_equal(util_parse_bool(c->s, &v), c->want_r);
		assert_int_equal(v, c->want_r == 0 ? c->want : !c->want);
	}
}

struct duration_case {
	const char	*s;
	int64_t		 unit_ms, min, max;
	int		 want_r;
	int64_t		 want;
};

static const struct duration_case duration_cases[] = {
	/* A bare number is in the caller's unit, so old settings keep working. */
	{ "5000", 1, 0, INT64_MAX, 0, 5000 },
	{ "5", 1000, 0, INT64_MAX, 0, 5000 },
	{ "0", 1000, 0, INT64_MAX, 0, 0 },
	{ "250ms", 1000, 0, INT64_MAX, 0, 250 },
	{ "5s", 1, 0, INT64_MAX, 0, 5000 },
	{ "2m", 1, 0, INT64_MAX, 0, 120000 },
	{ "1h", 1, 0, INT64_MAX, 0, 3600000 },
	{ "1d", 1, 0, INT64_MAX, 0, 86400000 },
	{ "007s", 1, 0, INT64_MAX, 0, 7000 },
	{ "9223372036854775807", 1, 0, INT64_MAX, 0, INT64_MAX },
	{ "106751991167d", 1, 0, INT64_MAX, 0, INT64_C(9223372036828800000) },
	/* The product must not overflow, whatever the unit. */
	{ "106751991168d", 1, 0, INT64_MAX, -ERANGE, 0 },
	{ "9223372036854775807s", 1, 0, INT64_MAX, -ERANGE, 0 },
	{ "9223372036854775808", 1, 0, INT64_MAX, -ERANGE, 0 },
	{ "99999999999999999999999999999999", 1, 0, INT64_MAX, -ERANGE, 0 },
	/* The caller's bounds apply to the result in milliseconds. */
	{ "5s", 1, 0, 5000, 0, 5000 },
	{ "6s", 1, 0, 5000, -ERANGE, 0 },
	{ "999ms", 1, 1000, 5000, -ERANGE, 0 },
	{ "1", 1000, 1000, 5000, 0, 1000 },
	/* Units are exact and lower case, with no blank before them. */
	{ "", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ "s", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ "5x", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ "5 s", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ "5S", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ "5sec", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ "5ss", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ "1.5s", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ "-5s", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ "+5s", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ " 5s", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ "5s ", 1, 0, INT64_MAX, -EINVAL, 0 },
	{ NULL, 1, 0, INT64_MAX, -EINVAL, 0 },
};

static void
test_parse_duration(void **state)
{
	int64_t	v;
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(duration_cases); i++) {
		const struct duration_case *c = &duration_cases[i];

		print_message("case %zu: \"%s\"\n", i, c->s ? c->s : "(null)");
		v = SENTINEL_I64;
		assert_int_equal(util_parse_duration_ms(c->s, c->unit_ms,
		    c->min, c->max, &v), c->want_r);
		assert_int_equal(v, c->want_r == 0 ? c->want : SENTINEL_I64);
	}
}

struct time_case {
	int64_t		 ms;
	const char	*want;
};

static const struct time_case time_cases[] = {
	{ 0, "1970-01-01T00:00:00.000Z" },
	{ 1, "1970-01-01T00:00:00.001Z" },
	{ INT64_C(1795901400123), "2026-11-28T21:30:00.123Z" },
	{ INT64_C(951782400000), "2000-02-29T00:00:00.000Z" },
	{ INT64_C(253402300799999), "9999-12-31T23:59:59.999Z" },
	/* Before the epoch the fraction still counts up within the second. */
	{ -1, "1969-12-31T23:59:59.999Z" },
	{ -999, "1969-12-31T23:59:59.001Z" },
	{ -1000, "1969-12-31T23:59:59.000Z" },
	{ -1001, "1969-12-31T23:59:58.999Z" },
	/* The extremes must still fit the buffer and be well formed. */
	{ INT64_MAX, "292278994-08-17T07:12:55.807Z" },
	{ INT64_MIN, "-292275055-05-16T16:47:04.192Z" },
};

static void
test_fmt_time(void **state)
{
	char	buf[UTIL_TIME_LEN];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(time_cases); i++) {
		print_message("case %zu: %lld\n", i, (long long)time_cases[i].ms);
		util_fmt_time(time_cases[i].ms, buf);
		assert_string_equal(buf, time_cases[i].want);
	}
}

/* URLs taken apart: the user information ends at the last '@'. */
static void
test_url_split(void **state)
{
	static const struct {
		const char	*in;
		int		 want_r;
		const char	*user;	/* up to the password or the host */
		const char	*pass;	/* NULL: none */
		const char	*host;	/* the authority after the user */
		bool		 raw_delim;
	} cases[] = {
		{ "http://u:pw@h:1/p", 0, "u", "pw", "h:1", false },
		{ "http://u:p@ss@h:1", 0, "u", "p@ss", "h:1", false },
		{ "http://u:a:b@c@[::1]:1?x=@", 0, "u", "a:b@c", "[::1]:1",
		  false },
		{ "http://u@h", 0, "u", NULL, "h", false },
		{ "http://h:8080/x@y", 0, "", NULL, "h:8080", false },
		{ "postgresql://h1:5432,h2:5433/db?user=a@b", 0, "", NULL,
		  "h1:5432,h2:5433", false },
		{ "postgresql://[::1]:5432/x@y", 0, "", NULL, "[::1]:5432",
		  false },
		/* A raw '/' or '?' in a password: read as one, and flagged. */
		{ "http://u:pa/ss@h:1/p", 0, "u", "pa/ss", "h:1", true },
		{ "postgresql://u:pa?ss@h/db", 0, "u", "pa?ss", "h", true },
		{ "SVN+ssh://u:pw@h", 0, "u", "pw", "h", false },
		{ "/var/lib/respawn.db", -EINVAL, NULL, NULL, NULL, false },
		{ "file:x@y", -EINVAL, NULL, NULL, NULL, false },
		{ "://u:pw@h", -EINVAL, NULL, NULL, NULL, false },
		{ "", -EINVAL, NULL, NULL, NULL, false },
	};
	struct util_url	u;
	size_t		i, userend;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		print_message("case %zu: %s\n", i, cases[i].in);
		assert_int_equal(util_url_split(cases[i].in, &u),
		    cases[i].want_r);
		if (cases[i].want_r != 0)
			continue;
		userend = u.pass != 0 ? u.pass - 1 : u.at != 0 ? u.at : u.host;
		assert_int_equal(userend - u.user, strlen(cases[i].user));
		assert_memory_equal(cases[i].in + u.user, cases[i].user,
		    userend - u.user);
		if (cases[i].pass == NULL)
			assert_int_equal(u.pass, 0);
		else {
			assert_int_equal(u.at - u.pass, strlen(cases[i].pass));
			assert_memory_equal(cases[i].in + u.pass,
			    cases[i].pass, u.at - u.pass);
		}
		assert_int_equal(u.end - u.host, strlen(cases[i].host));
		assert_memory_equal(cases[i].in + u.host, cases[i].host,
		    u.end - u.host);
		assert_int_equal(u.raw_delim, cases[i].raw_delim);
	}
}

/* A password for a URL's user information: only unreserved bytes raw. */
static void
test_url_encode(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "", "" },
		{ "abcXYZ019-._~", "abcXYZ019-._~" },
		{ "p@ss:w/rd?#", "p%40ss%3Aw%2Frd%3F%23" },
		{ "100%", "100%25" },
		{ "a b+c", "a%20b%2Bc" },
		{ "\xc3\xa9\x01", "%C3%A9%01" },
	};
	char	out[64];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(util_url_encode(cases[i].in, out, sizeof out),
		    0);
		assert_string_equal(out, cases[i].out);
	}
	/* Exactly fitting, then one byte short: refused, nothing kept. */
	assert_int_equal(util_url_encode("a/", out, 5), 0);
	assert_string_equal(out, "a%2F");
	assert_int_equal(util_url_encode("a/", out, 4), -E2BIG);
	assert_string_equal(out, "");
	assert_int_equal(util_url_encode("ab", out, 2), -E2BIG);
	assert_int_equal(util_url_encode("x", out, 0), -E2BIG);
}

/*
 * URLs in logs and output: the password and the credential parameters
 * never show, whatever they hold.
 */
static void
test_redact_url(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "postgresql://u:pw@h:5432/db", "postgresql://u:<redacted>@h:5432/db" },
		{ "postgres://u:p%40ss@h/db?sslmode=require",
		  "postgres://u:<redacted>@h/db?sslmode=require" },
		{ "postgresql://u:a@b@h/db", "postgresql://u:<redacted>@h/db" },
		{ "postgresql://u@h/db", "postgresql://u@h/db" },
		{ "postgresql://h/db?user=u", "postgresql://h/db?user=u" },
		{ "postgresql://h/x@y", "postgresql://h/x@y" },
		{ "/var/lib/respawn/respawn.db", "/var/lib/respawn/respawn.db" },
		{ "", "" },
		/* Parameters named like credentials, in the query or fragment. */
		{ "postgresql://u@h/db?password=pw&sslmode=require",
		  "postgresql://u@h/db?password=<redacted>&sslmode=require" },
		{ "postgresql://u@h/db?sslpassword=a&PassWord=b",
		  "postgresql://u@h/db?sslpassword=<redacted>&PassWord=<redacted>" },
		{ "postgresql://u@h/db?pass%77ord=pw",
		  "postgresql://u@h/db?pass%77ord=<redacted>" },
		{ "https://h/hook?token=t&x=1&api_key=k#access_token=a&b=2",
		  "https://h/hook?token=<redacted>&x=1&api_key=<redacted>"
		  "#access_token=<redacted>&b=2" },
		{ "https://u:p@h/s?sig=a%3D&Signature=b&secret=&auth=c&cred=d"
		  "&pwd=e",
		  "https://u:<redacted>@h/s?sig=<redacted>&Signature=<redacted>"
		  "&secret=<redacted>&auth=<redacted>&cred=<redacted>"
		  "&pwd=<redacted>" },
		{ "https://h/?user=x&token", "https://h/?user=x&token" },
		/* A raw '/' in a password still does not show. */
		{ "http://u:pa/ss@h:1", "http://u:<redacted>@h:1" },
		{ "postgresql://u:pa?ss@h/db", "postgresql://u:<redacted>@h/db" },
	};
	char	out[256], many[2048], *p;
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		print_message("case %zu: %s\n", i, cases[i].in);
		util_redact_url(cases[i].in, out, sizeof out);
		assert_string_equal(out, cases[i].want);
	}
	util_redact_url("postgresql://u:secret@host/db", out, 20);
	assert_null(strstr(out, "secret"));
	/* More credentials than spans: the rest of the URL goes as one. */
	p = many + snprintf(many, sizeof many, "https://h/?");
	for (i = 0; i < UTIL_URL_SECRETS_MAX + 3; i++)
		p += snprintf(p, (size_t)(many + sizeof many - p),
		    "key%zu=secret%zu&", i, i);
	util_redact_url(many, out, sizeof out);
	assert_null(strstr(out, "secret"));
}

/* Free text: URLs in it, and name=value pairs that look like credentials. */
static void
test_redact_text(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "end of string reached in URI: \"postgresql://u:pw@[x/db\"",
		  "end of string reached in URI: \"postgresql://u:<redacted>@[x/db\"" },
		{ "extra separator in \"password=a=b\"",
		  "extra separator in \"password=<redacted>\"" },
		{ "host=h password = 'a b\\' c' user=u",
		  "host=h password = <redacted> user=u" },
		{ "exec:get --api-key=k1 --token t", "exec:get --api-key=<redacted> --token t" },
		{ "bypassing=1 keyboard", "bypassing=<redacted> keyboard" },
		{ "see http://h/a?token=t and 'https://u:p@h/x'",
		  "see http://h/a?token=<redacted> and 'https://u:<redacted>@h/x'" },
		/* A text that is one URL: white space in the password is its own. */
		{ "postgresql://u:p w@h/db", "postgresql://u:<redacted>@h/db" },
		/* A URL glued to a word still starts at its scheme. */
		{ "--set 'RESPAWN_DBpostgresql://u:pw@h/db': expected",
		  "--set 'RESPAWN_DBpostgresql://u:<redacted>@h/db': expected" },
		{ "state", "state" },
		{ "", "" },
	};
	char	out[256];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		print_message("case %zu: %s\n", i, cases[i].in);
		util_redact_text(cases[i].in, out, sizeof out);
		assert_string_equal(out, cases[i].want);
	}
}

/* Known secrets: each occurrence, the longest first, never twice over. */
static void
test_redact_strings(void **state)
{
	static const char *const	 two[] = { "s3", "s3cr3t" };
	static const char *const	 letters[] = { "d", "e", "a", "" };
	static const char *const	 secret[] = { "secret" };
	char				 out[64];

	(void)state;
	util_redact_strings("a \"s3\" then s3s3, s3cr3t", two, 2, out,
	    sizeof out);
	assert_string_equal(out, "a \"<redacted>\" then "
	    "<redacted><redacted>, <redacted>");
	/* What replaced a secret is not searched again. */
	util_redact_strings("dead", letters, 4, out, sizeof out);
	assert_string_equal(out, "<redacted><redacted><redacted><redacted>");
	util_redact_strings("nothing", letters + 3, 1, out, sizeof out);
	assert_string_equal(out, "nothing");
	util_redact_strings("x secret", secret, 1, out, 5);
	assert_string_equal(out, "x <r");
}

/* Fields of a line: blanks, tabs, commas and CRs separate; a limit. */
static void
test_split_fields(void **state)
{
	static const struct {
		const char	*in;
		size_t		 max;
		int		 want_r;
		const char	*want;	/* the fields joined by '|' */
	} cases[] = {
		{ "", 4, 0, "" },
		{ "  \t,\r ", 4, 0, "" },
		{ "a b", 4, 0, "a|b" },
		{ "a,b,,c", 4, 0, "a|b|c" },
		{ " +1555 us\t2026-03-02T08:00:00Z,x\r", 4, 0,
		  "+1555|us|2026-03-02T08:00:00Z|x" },
		{ "a b c", 2, -E2BIG, NULL },
		{ "a b", 2, 0, "a|b" },
	};
	size_t	i, k, n;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		char	buf[64], *f[4], joined[64] = "";
		int	r;

		(void)util_strlcpy(buf, cases[i].in, sizeof buf);
		n = 99;
		r = util_split_fields(buf, f, cases[i].max, &n);
		assert_int_equal(r, cases[i].want_r);
		if (r < 0) {
			assert_int_equal(n, 99);
			continue;
		}
		for (k = 0; k < n; k++) {
			size_t	len = strlen(joined);

			snprintf(joined + len, sizeof joined - len, "%s%s",
			    k > 0 ? "|" : "", f[k]);
		}
		assert_string_equal(joined, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_split),
		cmocka_unit_test(test_url_encode),
		cmocka_unit_test(test_redact_url),
		cmocka_unit_test(test_redact_text),
		cmocka_unit_test(test_split_fields),
		cmocka_unit_test(test_redact_strings),
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_parse_i64),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_fmt_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
