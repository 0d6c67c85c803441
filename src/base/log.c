/*
 * Structured logging: see log.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

static enum log_level	log_min = LOG_LEVEL_INFO;
static enum log_format	log_fmt = LOG_FORMAT_LOGFMT;
static int		log_fd = STDERR_FILENO;

static const char *const log_level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

void
log_init(enum log_level level, enum log_format format, int fd)
{
	log_min = level;
	log_fmt = format;
	log_fd = fd;
}

void
log_set_level(enum log_level level)
{
	log_min = level;
}

bool
log_enabled(enum log_level level)
{
	return level >= log_min;
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level >= nitems(log_level_names))
		return "unknown";
	return log_level_names[level];
}

int
log_level_parse(const char *s, enum log_level *ret)
{
	size_t	i;

	for (i = 0; i < nitems(log_level_names); i++) {
		if (strcasecmp(s, log_level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int
log_format_parse(const char *s, enum log_format *ret)
{
	if (strcasecmp(s, "logfmt") == 0)
		*ret = LOG_FORMAT_LOGFMT;
	else if (strcasecmp(s, "json") == 0)
		*ret = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

/*
 * A line writer that never overflows: once the line is full, further
 * output is dropped and the line is marked truncated.  The last bytes are
 * kept free for the truncation mark and the newline.  A piece that does not
 * fit is dropped whole, so an escape sequence or a key is never cut in two.
 */
struct log_line {
	char	*buf;
	size_t	 size;
	size_t	 len;
	bool	 full;
};

#define LOG_TAIL_RESERVE	24
/* Below this, not even the time, level and event name would fit. */
#define LOG_LINE_MIN		128

static void
log_put(struct log_line *l, const char *s, size_t n)
{
	size_t	room;

	if (l->full)
		return;
	room = l->size - LOG_TAIL_RESERVE - l->len;
	if (n > room) {
		l->full = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
log_puts(struct log_line *l, const char *s)
{
	log_put(l, s, strlen(s));
}

/* Does a logfmt value need quotes? */
static bool
log_needs_quotes(const char *s)
{
	const unsigned char	*p;

	if (*s == '\0')
		return true;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' ||
		    *p >= 0x7f)
			return true;
	return false;
}

/*
 * Write an untrusted string.  Printable ASCII passes; quotes and
 * backslashes are escaped; everything else, including bytes of multi-byte
 * characters, becomes \xNN (logfmt) or \u00NN (JSON), so that no byte can
 * end a line or confuse a reader.
 */
static void
log_put_escaped(struct log_line *l, const char *s, bool json)
{
	const unsigned char	*p;
	char			 esc[8];

	for (p = (const unsigned char *)s; *p != '\0' && !l->full; p++) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			log_put(l, esc, 2);
		} else if (*p == '\n') {
			log_put(l, "\\n", 2);
		} else if (*p == '\t') {
			log_put(l, "\\t", 2);
		} else if (*p < ' ' || *p >= 0x7f) {
			snprintf(esc, sizeof esc, json ? "\\u%04x" : "\\x%02x",
			    *p);
			log_puts(l, esc);
		} else {
			log_put(l, (const char *)p, 1);
		}
	}
}

static void
log_put_key(struct log_line *l, const char *key, bool json)
{
	if (json) {
		log_puts(l, ",\"");
		log_put_escaped(l, key, true);
		log_puts(l, "\":");
	} else {
		log_puts(l, " ");
		log_put_escaped(l, key, false);
		log_puts(l, "=");
	}
}

static void
log_put_field(struct log_line *l, const struct log_field *f, bool json)
{
	char	num[64];

	log_put_key(l, f->key, json);
	switch (f->type) {
	case LOG_FIELD_STR:
		if (f->s == NULL) {
			log_puts(l, json ? "null" : "\"\"");
		} else if (json || log_needs_quotes(f->s)) {
			log_puts(l, "\"");
			log_put_escaped(l, f->s, json);
			log_puts(l, "\"");
		} else {
			log_puts(l, f->s);
		}
		break;
	case LOG_FIELD_INT:
		snprintf(num, sizeof num, "%lld", (long long)f->i);
		log_puts(l, num);
		break;
	case LOG_FIELD_BOOL:
		log_puts(l, f->b ? "true" : "false");
		break;
	case LOG_FIELD_DOUBLE:
		/* JSON has no NaN or infinity; null is what JavaScript writes. */
		if (json && !isfinite(f->d)) {
			log_puts(l, "null");
			break;
		}
		snprintf(num, sizeof num, "%.6g", f->d);
		log_puts(l, num);
		break;
	case LOG_FIELD_END:
		break;
	}
}

size_t
log_format_line(char *buf, size_t size, int64_t now_ms,
    enum log_format format, enum log_level level, const char *event,
    const struct log_field *fields)
{
	struct log_line	 l = { .buf = buf, .size = size };
	char		 ts[UTIL_TIME_LEN];
	bool		 json = format == LOG_FORMAT_JSON;
	const char	*mark;
	size_t		 kept;
	bool		 open_event = false;

	if (size < LOG_LINE_MIN)
		return 0;
	util_fmt_time(now_ms, ts);
	if (json) {
		log_puts(&l, "{\"time\":\"");
		log_puts(&l, ts);
		log_puts(&l, "\",\"level\":\"");
		log_puts(&l, log_level_name(level));
		log_puts(&l, "\",\"event\":\"");
		log_put_escaped(&l, event, true);
		log_puts(&l, "\"");
		/* A cut event name leaves its string open; the mark closes it. */
		open_event = l.full;
	} else {
		log_puts(&l, "time=");
		log_puts(&l, ts);
		log_puts(&l, " level=");
		log_puts(&l, log_level_name(level));
		log_puts(&l, " event=");
		log_put_escaped(&l, event, false);
	}
	/*
	 * A field that does not fit is dropped whole, and the line says it was
	 * truncated, so that even a cut line parses.
	 */
	for (; fields != NULL && fields->type != LOG_FIELD_END; fields++) {
		kept = l.len;
		log_put_field(&l, fields, json);
		if (l.full) {
			l.len = kept;
			break;
		}
	}
	if (l.full && open_event)
		mark = "\",\"truncated\":true}";
	else if (l.full)
		mark = json ? ",\"truncated\":true}" : " truncated=true";
	else
		mark = json ? "}" : "";
	memcpy(l.buf + l.len, mark, strlen(mark));
	l.len += strlen(mark);
	l.buf[l.len++] = '\n';
	l.buf[l.len] = '\0';
	return l.len;
}

void
log_emit(enum log_level level, const char *event,
    const struct log_field *fields)
{
	char	line[LOG_LINE_MAX];
	size_t	n;
	int	saved = errno;

	if (!log_enabled(level))
		return;
	n = log_format_line(line, sizeof line, util_now_ms(), log_fmt, level,
	    event, fields);
	/* A lost log line is not worth failing for. */
	(void)!write(log_fd, line, n);
	errno = saved;
}
