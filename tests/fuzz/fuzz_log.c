/*
 * Fuzz target for log_format_line, the one place where bytes from
 * connectors, providers and users meet the log.  Whatever the values, the
 * line must fit the buffer, be exactly one line of printable ASCII, parse
 * (as JSON with jansson, or as logfmt with a strict parser), keep every
 * field unless it says truncated, and end in the truncation mark if it
 * does.
 *
 * Input layout: byte 0 picks the format (bit 0), the level (bits 1-2) and
 * whether event and keys are used raw (bit 3) or mapped onto the
 * identifier characters real event names and keys use; bytes 1-2 pick the
 * buffer size; bytes 3-10 are the clock.  The rest is split at NUL bytes
 * into the event and then key/value pairs, where a value's first byte
 * gives its type: 's' string, 'n' missing string, 'i' integer, 'b' bool,
 * 'd' double (the rest as text, so "nan" and "inf" are reachable); any
 * other first byte makes the whole token a string.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/log.h"
#include "fuzz.h"

#define FUZZ_HEADER	11
#define FUZZ_MAX_FIELDS	256

/*
 * log_format_line gives nothing for buffers smaller than LOG_LINE_MIN in
 * log.c; sizes are drawn from a little below it so that path runs too.
 */
#define FUZZ_LINE_MIN	128
#define FUZZ_MIN_SIZE	64

static const char	ident[] = "abcdefghijklmnopqrstuvwxyz0123456789._";

/*
 * Parse a logfmt line strictly: key=value pairs separated by one blank,
 * values bare or in double quotes with backslash escapes.  Returns the
 * number of pairs or -1; *mark tells whether the last pair is the
 * truncation mark.
 */
static int
logfmt_pairs(const char *s, bool *mark)
{
	const char	*p = s, *kv;
	int		 n = 0;

	for (;;) {
		kv = p;
		while (*p != '\0' && *p != '=' && *p != ' ' && *p != '"' &&
		    *p != '\n')
			p++;
		if (p == kv || *p != '=')
			return -1;
		p++;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0' || *p == '\n')
					return -1;
				if (*p == '\\' && *++p == '\0')
					return -1;
			}
			p++;
		} else {
			while (*p != '\0' && *p != ' ' && *p != '"' &&
			    *p != '\n')
				p++;
		}
		n++;
		*mark = (size_t)(p - kv) == 14 &&
		    memcmp(kv, "truncated=true", 14) == 0;
		if (*p == '\n' && p[1] == '\0')
			return n;
		if (*p != ' ')
			return -1;
		p++;
	}
}

/* Turn a token into a field value of the type its first byte names. */
static void
make_value(struct log_field *f, char *tok)
{
	char	*end;

	switch (tok[0]) {
	case 's':
		f->type = LOG_FIELD_STR;
		f->s = tok + 1;
		break;
	case 'n':
		f->type = LOG_FIELD_STR;
		f->s = NULL;
		break;
	case 'i':
		f->type = LOG_FIELD_INT;
		f->i = strtoll(tok + 1, &end, 10);
		break;
	case 'b':
		f->type = LOG_FIELD_BOOL;
		f->b = tok[1] & 1;
		break;
	case 'd':
		f->type = LOG_FIELD_DOUBLE;
		f->d = strtod(tok + 1, &end);
		break;
	default:
		f->type = LOG_FIELD_STR;
		f->s = tok;
		break;
	}
}

static void
check_line(const char *line, size_t n, size_t size, bool json, bool raw,
    size_t nfields)
{
	json_error_t	 err;
	json_t		*o;
	size_t		 i;
	bool		 mark = false, truncated;
	int		 pairs;

	FUZZ_CHECK(n > 0 && n < size);
	FUZZ_CHECK(strlen(line) == n);
	FUZZ_CHECK(line[n - 1] == '\n');
	for (i = 0; i + 1 < n; i++)
		FUZZ_CHECK((unsigned char)line[i] >= ' ' &&
		    (unsigned char)line[i] < 0x7f);

	if (json) {
		o = json_loads(line, 0, &err);
		if (o == NULL)
			fprintf(stderr, "JSON: %s: %s", err.text, line);
		FUZZ_CHECK(o != NULL);
		FUZZ_CHECK(json_is_object(o));
		FUZZ_CHECK(json_is_string(json_object_get(o, "time")));
		FUZZ_CHECK(json_is_string(json_object_get(o, "level")));
		FUZZ_CHECK(json_is_string(json_object_get(o, "event")));
		json_decref(o);
		FUZZ_CHECK(line[n - 2] == '}');
		return;
	}
	truncated = n >= 16 && memcmp(line + n - 16, " truncated=true\n", 16) == 0;
	FUZZ_CHECK(memcmp(line, "time=", 5) == 0);
	/* Raw event names may hold blanks or '=', which logfmt cannot carry. */
	if (raw)
		return;
	pairs = logfmt_pairs(line, &mark);
	if (pairs < 0)
		fprintf(stderr, "logfmt: %s", line);
	FUZZ_CHECK(pairs >= 3);
	FUZZ_CHECK(mark == truncated);
	/* A line that does not say it was cut holds every field. */
	if (!truncated)
		FUZZ_CHECK((size_t)pairs == 3 + nfields);
	else
		FUZZ_CHECK((size_t)pairs - 4 < nfields || nfields == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log_field	 fields[FUZZ_MAX_FIELDS + 1];
	char			*text, *p, *end, *tok, *line, *event;
	size_t			 bufsize, n, nfields = 0, i;
	int64_t			 now;
	bool			 json, raw;
	enum log_level		 level;

	if (size < FUZZ_HEADER)
		return 0;
	json = data[0] & 1;
	level = (enum log_level)((data[0] >> 1) & 3);
	raw = (data[0] >> 3) & 1;
	/* Mostly the real size, sometimes any size down to the minimum. */
	if (data[1] & 0x80)
		bufsize = LOG_LINE_MAX;
	else
		bufsize = FUZZ_MIN_SIZE + (((size_t)data[1] << 8 | data[2]) %
		    (LOG_LINE_MAX - FUZZ_MIN_SIZE + 1));
	memcpy(&now, data + 3, sizeof now);

	text = malloc(size - FUZZ_HEADER + 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data + FUZZ_HEADER, size - FUZZ_HEADER);
	text[size - FUZZ_HEADER] = '\0';
	end = text + (size - FUZZ_HEADER);

	/* Tokens are NUL-separated; the first is the event. */
	event = text;
	p = text + strlen(text) + 1;
	while (p <= end && nfields < FUZZ_MAX_FIELDS) {
		tok = p;
		p += strlen(p) + 1;
		fields[nfields].key = tok;
		if (p > end) {
			/* A key without a value still logs, as an empty one. */
			fields[nfields].type = LOG_FIELD_STR;
			fields[nfields].s = "";
		} else {
			make_value(&fields[nfields], p);
			p += strlen(p) + 1;
		}
		nfields++;
	}
	fields[nfields].type = LOG_FIELD_END;

	if (!raw) {
		for (p = event; *p != '\0'; p++)
			*p = ident[(unsigned char)*p % (sizeof ident - 1)];
		for (i = 0; i < nfields; i++) {
			for (p = (char *)fields[i].key; *p != '\0'; p++)
				*p = ident[(unsigned char)*p %
				    (sizeof ident - 1)];
			/* Keys are names in the code, never empty. */
			if (fields[i].key[0] == '\0')
				fields[i].key = "_";
		}
	}

	/* Exactly the size given, so any write past it is caught. */
	line = malloc(bufsize);
	FUZZ_CHECK(line != NULL);
	n = log_format_line(line, bufsize, now,
	    json ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT, level, event, fields);
	if (n == 0)
		FUZZ_CHECK(bufsize < FUZZ_LINE_MIN);
	else
		check_line(line, n, bufsize, json, raw, nfields);
	free(line);
	free(text);
	return 0;
}
