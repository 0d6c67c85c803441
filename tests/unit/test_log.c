/*
 * Tests of log_format_line, the formatter behind every log line: the exact
 * logfmt and JSON shapes, the escaping of quotes, backslashes, newlines,
 * control bytes and non-ASCII bytes (no line may hold a raw newline or
 * control byte, whatever the values), and truncation at the line limit,
 * after which the line must still parse and say truncated=true.  JSON
 * lines are checked with jansson, logfmt lines with a small strict parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/log.h"
#include "base/util.h"

/* 2026-11-28T21:30:00.123Z, so every expected line is exact. */
#define NOW_MS	INT64_C(1795901400123)
#define NOW	"2026-11-28T21:30:00.123Z"

#define MAX_FIELDS	8		/* room for 7 fields and the end */

/*
 * A line must end in exactly one newline, hold no other control byte and
 * nothing outside printable ASCII, and its length must match the return.
 */
static void
assert_one_line(const char *line, size_t n, size_t size)
{
	size_t	i;

	assert_true(n > 0);
	assert_true(n < size);
	assert_int_equal(strlen(line), n);
	assert_int_equal(line[n - 1], '\n');
	for (i = 0; i + 1 < n; i++) {
		if ((unsigned char)line[i] < ' ' ||
		    (unsigned char)line[i] >= 0x7f)
			fail_msg("byte %zu of the line is 0x%02x", i,
			    (unsigned char)line[i]);
	}
}

/*
 * Parse a logfmt line strictly: key=value pairs separated by one blank,
 * values bare or in double quotes with backslash escapes.  Returns the
 * number of pairs, or -1 with the offset of the problem in *bad.  The last
 * pair is copied out so callers can check the truncation mark.
 */
static int
logfmt_parse(const char *s, size_t *bad, char *last, size_t lastsize)
{
	const char	*p = s, *kv;
	int		 n = 0;

	for (;;) {
		kv = p;
		while (*p != '\0' && *p != '=' && *p != ' ' && *p != '"' &&
		    *p != '\n')
			p++;
		if (p == kv || *p != '=')
			goto fail;
		p++;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0' || *p == '\n')
					goto fail;
				if (*p == '\\' && *++p == '\0')
					goto fail;
			}
			p++;
		} else {
			while (*p != '\0' && *p != ' ' && *p != '"' &&
			    *p != '\n')
				p++;
		}
		n++;
		snprintf(last, lastsize, "%.*s", (int)(p - kv), kv);
		if (*p == '\n' && p[1] == '\0')
			return n;
		if (*p != ' ')
			goto fail;
		p++;
	}
fail:
	*bad = (size_t)(p - s);
	return -1;
}

/* Check a logfmt line parses; returns the pair count. */
static int
assert_logfmt(const char *line, bool want_truncated)
{
	char	last[256];
	size_t	bad = 0;
	int	n;

	n = logfmt_parse(line, &bad, last, sizeof last);
	if (n < 0)
		fail_msg("logfmt does not parse at byte %zu: %s", bad, line);
	assert_true(n >= 3);
	assert_memory_equal(line, "time=", 5);
	if (want_truncated)
		assert_string_equal(last, "truncated=true");
	else
		assert_string_not_equal(last, "truncated=true");
	return n;
}

/* Check a JSON line parses to an object with the standard keys. */
static json_t *
assert_json(const char *line, bool want_truncated)
{
	json_error_t	 err;
	json_t		*o;

	o = json_loads(line, 0, &err);
	if (o == NULL)
		fail_msg("JSON does not parse (%s at %d): %s", err.text,
		    err.position, line);
	assert_true(json_is_object(o));
	assert_true(json_is_string(json_object_get(o, "time")));
	assert_true(json_is_string(json_object_get(o, "level")));
	assert_true(json_is_string(json_object_get(o, "event")));
	if (want_truncated)
		assert_true(json_is_true(json_object_get(o, "truncated")));
	else
		assert_null(json_object_get(o, "truncated"));
	return o;
}

struct shape_case {
	enum log_format		 format;
	enum log_level		 level;
	const char		*event;
	struct log_field	 fields[MAX_FIELDS];
	const char		*want;
};

static const struct shape_case shape_cases[] = {
	{ LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO, "session.start", { { 0 } },
	  "time=" NOW " level=info event=session.start\n" },
	{ LOG_FORMAT_JSON, LOG_LEVEL_INFO, "session.start", { { 0 } },
	  "{\"time\":\"" NOW "\",\"level\":\"info\","
	  "\"event\":\"session.start\"}\n" },
	{ LOG_FORMAT_LOGFMT, LOG_LEVEL_WARN, "proxy.slow",
	  { LOGF_S("user", "alice"), LOGF_I("n", -3), LOGF_B("ok", true),
	    LOGF_B("down", false), LOGF_D("ratio", 0.5) },
	  "time=" NOW " level=warn event=proxy.slow user=alice n=-3 ok=true"
	  " down=false ratio=0.5\n" },
	{ LOG_FORMAT_JSON, LOG_LEVEL_WARN, "proxy.slow",
	  { LOGF_S("user", "alice"), LOGF_I("n", -3), LOGF_B("ok", true),
	    LOGF_B("down", false), LOGF_D("ratio", 0.5) },
	  "{\"time\":\"" NOW "\",\"level\":\"warn\",\"event\":\"proxy.slow\","
	  "\"user\":\"alice\",\"n\":-3,\"ok\":true,\"down\":false,"
	  "\"ratio\":0.5}\n" },
	{ LOG_FORMAT_LOGFMT, LOG_LEVEL_DEBUG, "e",
	  { LOGF_I("min", INT64_MIN), LOGF_I("max", INT64_MAX) },
	  "time=" NOW " level=debug event=e min=-9223372036854775808"
	  " max=9223372036854775807\n" },
	{ LOG_FORMAT_JSON, LOG_LEVEL_ERROR, "e",
	  { LOGF_I("min", INT64_MIN), LOGF_I("max", INT64_MAX) },
	  "{\"time\":\"" NOW "\",\"level\":\"error\",\"event\":\"e\","
	  "\"min\":-9223372036854775808,\"max\":9223372036854775807}\n" },
	/* A missing string is empty in logfmt and null in JSON. */
	{ LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO, "e",
	  { LOGF_S("a", NULL), LOGF_S("b", "") },
	  "time=" NOW " level=info event=e a=\"\" b=\"\"\n" },
	{ LOG_FORMAT_JSON, LOG_LEVEL_INFO, "e",
	  { LOGF_S("a", NULL), LOGF_S("b", "") },
	  "{\"time\":\"" NOW "\",\"level\":\"info\",\"event\":\"e\","
	  "\"a\":null,\"b\":\"\"}\n" },
	/* Doubles: JSON has no NaN or infinity, so those are null there. */
	{ LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO, "e",
	  { LOGF_D("a", 1e20), LOGF_D("b", -0.0), LOGF_D("c", 1.0 / 3),
	    LOGF_D("d", NAN), LOGF_D("e", INFINITY), LOGF_D("f", -INFINITY) },
	  "time=" NOW " level=info event=e a=1e+20 b=-0 c=0.333333 d=nan"
	  " e=inf f=-inf\n" },
	{ LOG_FORMAT_JSON, LOG_LEVEL_INFO, "e",
	  { LOGF_D("a", 1e20), LOGF_D("b", -0.0), LOGF_D("c", 1.0 / 3),
	    LOGF_D("d", NAN), LOGF_D("e", INFINITY), LOGF_D("f", -INFINITY) },
	  "{\"time\":\"" NOW "\",\"level\":\"info\",\"event\":\"e\","
	  "\"a\":1e+20,\"b\":-0,\"c\":0.333333,\"d\":null,\"e\":null,"
	  "\"f\":null}\n" },
	/* Keys are escaped like values. */
	{ LOG_FORMAT_JSON, LOG_LEVEL_INFO, "e", { LOGF_I("we\"ird", 1) },
	  "{\"time\":\"" NOW "\",\"level\":\"info\",\"event\":\"e\","
	  "\"we\\\"ird\":1}\n" },
};

static void
test_shapes(void **state)
{
	char	line[LOG_LINE_MAX];
	size_t	i, n;
	json_t	*o;

	(void)state;
	for (i = 0; i < nitems(shape_cases); i++) {
		const struct shape_case *c = &shape_cases[i];

		print_message("case %zu\n", i);
		n = log_format_line(line, sizeof line, NOW_MS, c->format,
		    c->level, c->event, c->fields);
		assert_string_equal(line, c->want);
		assert_one_line(line, n, sizeof line);
		if (c->format == LOG_FORMAT_JSON) {
			o = assert_json(line, false);
			json_decref(o);
		} else {
			(void)assert_logfmt(line, false);
		}
	}
}

/* A field list may be NULL, which is the same as no fields. */
static void
test_no_fields(void **state)
{
	char	line[LOG_LINE_MAX];

	(void)state;
	(void)log_format_line(line, sizeof line, NOW_MS, LOG_FORMAT_LOGFMT,
	    LOG_LEVEL_INFO, "e", NULL);
	assert_string_equal(line, "time=" NOW " level=info event=e\n");
}

/*
 * One string value and how it must appear in each format.  Anything that
 * could end a line, start an escape sequence on a terminal or confuse a
 * parser is escaped.
 */
struct escape_case {
	const char	*value;
	const char	*logfmt;
	const char	*json;
};

static const struct escape_case escape_cases[] = {
	{ "plain", "plain", "\"plain\"" },
	{ "a b", "\"a b\"", "\"a b\"" },
	{ "a=b", "\"a=b\"", "\"a=b\"" },
	{ "say \"hi\"", "\"say \\\"hi\\\"\"", "\"say \\\"hi\\\"\"" },
	{ "C:\\dir", "\"C:\\\\dir\"", "\"C:\\\\dir\"" },
	{ "one\ntwo", "\"one\\ntwo\"", "\"one\\ntwo\"" },
	{ "tab\there", "\"tab\\there\"", "\"tab\\there\"" },
	{ "cr\r", "\"cr\\x0d\"", "\"cr\\u000d\"" },
	{ "\x01\x1f\x7f", "\"\\x01\\x1f\\x7f\"", "\"\\u0001\\u001f\\u007f\"" },
	{ "\x1b[31mred", "\"\\x1b[31mred\"", "\"\\u001b[31mred\"" },
	{ "caf\xc3\xa9", "\"caf\\xc3\\xa9\"", "\"caf\\u00c3\\u00a9\"" },
	{ "\xff", "\"\\xff\"", "\"\\u00ff\"" },
	/* A value trying to forge a second line stays inside the first. */
	{ "x\ntime=0 level=error event=forged",
	  "\"x\\ntime=0 level=error event=forged\"",
	  "\"x\\ntime=0 level=error event=forged\"" },
	{ "\"}\n{\"level\":\"error\"",
	  "\"\\\"}\\n{\\\"level\\\":\\\"error\\\"\"",
	  "\"\\\"}\\n{\\\"level\\\":\\\"error\\\"\"" },
};

/* Is s printable ASCII, so that JSON must give it back unchanged? */
static bool
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static void
test_escaping(void **state)
{
	struct log_field	 fields[2] = { { 0 } };
	char			 line[LOG_LINE_MAX], want[LOG_LINE_MAX];
	size_t			 i, n;
	json_t			*o;

	(void)state;
	for (i = 0; i < nitems(escape_cases); i++) {
		const struct escape_case *c = &escape_cases[i];

		print_message("case %zu\n", i);
		fields[0] = (struct log_field)LOGF_S("k", c->value);

		n = log_format_line(line, sizeof line, NOW_MS,
		    LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO, "e", fields);
		snprintf(want, sizeof want,
		    "time=" NOW " level=info event=e k=%s\n", c->logfmt);
		assert_string_equal(line, want);
		assert_one_line(line, n, sizeof line);
		assert_int_equal(assert_logfmt(line, false), 4);

		n = log_format_line(line, sizeof line, NOW_MS,
		    LOG_FORMAT_JSON, LOG_LEVEL_INFO, "e", fields);
		snprintf(want, sizeof want, "{\"time\":\"" NOW "\","
		    "\"level\":\"info\",\"event\":\"e\",\"k\":%s}\n", c->json);
		assert_string_equal(line, want);
		assert_one_line(line, n, sizeof line);
		o = assert_json(line, false);
		if (is_ascii(c->value))
			assert_string_equal(
			    json_string_value(json_object_get(o, "k")),
			    c->value);
		json_decref(o);
	}
}

/*
 * Lines that do not fit.  Fields are nfields strings of value_len bytes
 * of fill, after an event of event_len bytes of 'e' (or "e" when 0).
 */
struct trunc_case {
	enum log_format	format;
	size_t		size;
	size_t		event_len;
	size_t		nfields;
	size_t		value_len;
	char		fill;
	bool		want_truncated;
};

static const struct trunc_case trunc_cases[] = {
	/* Fits: a line just under the limit is left alone. */
	{ LOG_FORMAT_LOGFMT, LOG_LINE_MAX, 0, 10, 100, 'a', false },
	{ LOG_FORMAT_JSON, LOG_LINE_MAX, 0, 10, 100, 'a', false },
	/* One value larger than the whole line is dropped. */
	{ LOG_FORMAT_LOGFMT, LOG_LINE_MAX, 0, 1, 5000, 'a', true },
	{ LOG_FORMAT_JSON, LOG_LINE_MAX, 0, 1, 5000, 'a', true },
	/* Escaping multiplies a value's size; the limit counts the result. */
	{ LOG_FORMAT_LOGFMT, LOG_LINE_MAX, 0, 1, 1100, '\x01', true },
	{ LOG_FORMAT_JSON, LOG_LINE_MAX, 0, 1, 1000, '\x01', true },
	{ LOG_FORMAT_LOGFMT, LOG_LINE_MAX, 0, 3, 2000, '"', true },
	{ LOG_FORMAT_JSON, LOG_LINE_MAX, 0, 3, 2000, '\n', true },
	/* Many fields: those that fit are kept whole, the rest dropped. */
	{ LOG_FORMAT_LOGFMT, LOG_LINE_MAX, 0, 200, 50, 'a', true },
	{ LOG_FORMAT_JSON, LOG_LINE_MAX, 0, 200, 50, 'a', true },
	{ LOG_FORMAT_LOGFMT, 256, 0, 20, 30, 'b', true },
	{ LOG_FORMAT_JSON, 256, 0, 20, 30, 'b', true },
	/* An event longer than the line is cut, and the line still parses. */
	{ LOG_FORMAT_LOGFMT, LOG_LINE_MAX, 5000, 1, 10, 'a', true },
	{ LOG_FORMAT_JSON, LOG_LINE_MAX, 5000, 1, 10, 'a', true },
	{ LOG_FORMAT_JSON, 200, 300, 0, 0, 'a', true },
};

/* Build a field list per the case; the strings live in one block. */
static struct log_field *
make_fields(const struct trunc_case *c, char **block)
{
	struct log_field	*f;
	char			*p;
	size_t			 i, each = 8 + c->value_len + 1;

	f = calloc(c->nfields + 1, sizeof *f);
	p = *block = malloc(c->nfields * each + 1);
	assert_non_null(f);
	assert_non_null(p);
	for (i = 0; i < c->nfields; i++) {
		snprintf(p, 8, "f%03zu", i);
		memset(p + 8, c->fill, c->value_len);
		p[8 + c->value_len] = '\0';
		f[i] = (struct log_field)LOGF_S(p, p + 8);
		p += each;
	}
	f[c->nfields].type = LOG_FIELD_END;
	return f;
}

static void
test_truncation(void **state)
{
	struct log_field	*fields;
	char			*block, *event, *line;
	const char		*v;
	size_t			 i, j, n, kept;
	json_t			*o;

	(void)state;
	for (i = 0; i < nitems(trunc_cases); i++) {
		const struct trunc_case *c = &trunc_cases[i];

		print_message("case %zu: size %zu, event %zu, %zu x %zu\n", i,
		    c->size, c->event_len, c->nfields, c->value_len);
		fields = make_fields(c, &block);
		event = malloc(c->event_len + 2);
		line = malloc(c->size);
		assert_non_null(event);
		assert_non_null(line);
		memset(event, 'e', c->event_len + 1);
		event[c->event_len == 0 ? 1 : c->event_len] = '\0';

		n = log_format_line(line, c->size, NOW_MS, c->format,
		    LOG_LEVEL_INFO, event, fields);
		assert_one_line(line, n, c->size);
		if (c->format == LOG_FORMAT_LOGFMT) {
			if (c->want_truncated)
				assert_string_equal(line + n - 16,
				    " truncated=true\n");
			/* time, level, event, the fields kept, the mark. */
			kept = (size_t)assert_logfmt(line, c->want_truncated) -
			    3 - c->want_truncated;
		} else {
			if (c->want_truncated)
				assert_string_equal(line + n - 19,
				    ",\"truncated\":true}\n");
			o = assert_json(line, c->want_truncated);
			kept = json_object_size(o) - 3 - c->want_truncated;
			/* Every field kept is whole and in order. */
			for (j = 0; j < kept; j++) {
				v = json_string_value(json_object_get(o,
				    fields[j].key));
				assert_non_null(v);
				assert_int_equal(strlen(v), c->value_len);
			}
			v = json_string_value(json_object_get(o, "event"));
			assert_non_null(v);
			assert_true(strspn(v, "e") == strlen(v));
			json_decref(o);
		}
		print_message("  %zu bytes, %zu fields kept\n", n, kept);
		if (!c->want_truncated)
			assert_int_equal(kept, c->nfields);
		else
			assert_true(kept < c->nfields || c->nfields == 0);
		free(line);
		free(event);
		free(block);
		free(fields);
	}
}

/*
 * Every buffer size must give either nothing (too small to be useful) or
 * one well-formed line, even when not even the header fits.
 */
static void
test_small_buffers(void **state)
{
	static const enum log_format	formats[] = {
		LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON,
	};
	struct log_field	 fields[] = {
		LOGF_S("user", "alice"), LOGF_I("n", 12345),
		LOGF_S("msg", "a somewhat longer value, with \"quotes\""),
		{ .type = LOG_FIELD_END },
	};
	char			 line[512];
	size_t			 size, n, f;
	json_t			*o;
	bool			 truncated;

	(void)state;
	for (f = 0; f < nitems(formats); f++) {
		for (size = 0; size <= sizeof line; size++) {
			print_message("size %zu\n", size);
			memset(line, 'X', sizeof line);
			n = log_format_line(line, size, NOW_MS, formats[f],
			    LOG_LEVEL_WARN, "session.reconnect", fields);
			if (n == 0) {
				/*
				 * Nothing is written at all, not even a NUL,
				 * and only below log.c's LOG_LINE_MIN (128).
				 */
				assert_int_equal(line[0], 'X');
				assert_in_range(size, 0, 127);
				continue;
			}
			assert_one_line(line, n, size);
			truncated = strstr(line, "truncated") != NULL;
			if (formats[f] == LOG_FORMAT_JSON) {
				o = assert_json(line, truncated);
				json_decref(o);
			} else {
				(void)assert_logfmt(line, truncated);
			}
			/* The largest buffers must hold the whole line. */
			if (size == sizeof line)
				assert_false(truncated);
		}
	}
}

/* Level and format names, both ways. */
static void
test_names(void **state)
{
	static const struct {
		const char	*s;
		int		 want_r;
		enum log_level	 level;
		const char	*name;
	} levels[] = {
		{ "debug", 0, LOG_LEVEL_DEBUG, "debug" },
		{ "INFO", 0, LOG_LEVEL_INFO, "info" },
		{ "Warn", 0, LOG_LEVEL_WARN, "warn" },
		{ "error", 0, LOG_LEVEL_ERROR, "error" },
		{ "warning", -EINVAL, 0, NULL },
		{ "", -EINVAL, 0, NULL },
		{ "fatal", -EINVAL, 0, NULL },
	};
	static const struct {
		const char	*s;
		int		 want_r;
		enum log_format	 format;
	} formats[] = {
		{ "logfmt", 0, LOG_FORMAT_LOGFMT }, { "JSON", 0, LOG_FORMAT_JSON },
		{ "text", -EINVAL, 0 }, { "", -EINVAL, 0 },
	};
	enum log_level	level;
	enum log_format	format;
	size_t		i;

	(void)state;
	for (i = 0; i < nitems(levels); i++) {
		/* An impossible value shows whether a failed parse wrote. */
		level = (enum log_level)99;
		assert_int_equal(log_level_parse(levels[i].s, &level),
		    levels[i].want_r);
		if (levels[i].want_r == 0) {
			assert_int_equal(level, levels[i].level);
			assert_string_equal(log_level_name(level),
			    levels[i].name);
		} else {
			assert_int_equal(level, 99);
		}
	}
	assert_string_equal(log_level_name((enum log_level)99), "unknown");
	for (i = 0; i < nitems(formats); i++) {
		format = (enum log_format)99;
		assert_int_equal(log_format_parse(formats[i].s, &format),
		    formats[i].want_r);
		assert_int_equal(format, formats[i].want_r == 0 ?
		    formats[i].format : 99);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_no_fields),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_small_buffers),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
