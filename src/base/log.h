/*
 * Structured logging.  Every line carries a time, a level, an event name
 * and typed key=value fields, written to stderr as logfmt (the default) or
 * as JSON lines.  Values are escaped, so bytes from a connector, a provider
 * or a user cannot forge a line.  Lines are bounded (LOG_LINE_MAX) and
 * written with one write(2), so lines from several processes do not mix.
 *
 * Log once, where an error is handled: lower modules return errors.
 * Secrets never reach a field; they are only ever held by secret.c.
 */
#ifndef RESPAWN_LOG_H
#define RESPAWN_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_LINE_MAX	4096

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

enum log_format {
	LOG_FORMAT_LOGFMT,
	LOG_FORMAT_JSON,
};

enum log_field_type {
	LOG_FIELD_END,
	LOG_FIELD_STR,
	LOG_FIELD_INT,
	LOG_FIELD_BOOL,
	LOG_FIELD_DOUBLE,
};

struct log_field {
	const char		*key;
	enum log_field_type	 type;
	union {
		const char	*s;
		int64_t		 i;
		bool		 b;
		double		 d;
	};
};

#define LOGF_S(k, v)	{ .key = (k), .type = LOG_FIELD_STR, .s = (v) }
#define LOGF_I(k, v)	{ .key = (k), .type = LOG_FIELD_INT, .i = (int64_t)(v) }
#define LOGF_B(k, v)	{ .key = (k), .type = LOG_FIELD_BOOL, .b = (v) }
#define LOGF_D(k, v)	{ .key = (k), .type = LOG_FIELD_DOUBLE, .d = (v) }

/* Where and how to log; fd is usually STDERR_FILENO. */
void	log_init(enum log_level level, enum log_format format, int fd);
void	log_set_level(enum log_level level);
bool	log_enabled(enum log_level level);
int	log_level_parse(const char *s, enum log_level *ret);
int	log_format_parse(const char *s, enum log_format *ret);
const char *log_level_name(enum log_level level);

/* The fields end at the first one whose type is LOG_FIELD_END. */
void	log_emit(enum log_level level, const char *event,
	    const struct log_field *fields);
/* Format one line into buf (for tests); returns its length. */
size_t	log_format_line(char *buf, size_t size, int64_t now_ms,
	    enum log_format format, enum log_level level, const char *event,
	    const struct log_field *fields);

#define LOG_AT(lvl, ev, ...) do {					\
	if (log_enabled(lvl))						\
		log_emit((lvl), (ev), (const struct log_field[]){	\
		    __VA_ARGS__ __VA_OPT__(,) { .type = LOG_FIELD_END } }); \
} while (0)

#define log_debug(ev, ...)	LOG_AT(LOG_LEVEL_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...)	LOG_AT(LOG_LEVEL_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)	LOG_AT(LOG_LEVEL_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...)	LOG_AT(LOG_LEVEL_ERROR, ev, __VA_ARGS__)

#endif
