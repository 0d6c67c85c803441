/*
 * Small checked helpers every module needs: bounded string copies, number
 * and duration parsers that reject trailing junk and out-of-range values
 * (instead of atoi), clocks and RFC 3339 time stamps.  All return negative
 * errno on failure and write outputs only on success.
 */
#ifndef RESPAWN_UTIL_H
#define RESPAWN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Copy with truncation; returns -ENAMETOOLONG when src did not fit. */
int	 util_strlcpy(char *dst, const char *src, size_t size);

/* Decimal integer in [min, max]; -EINVAL for junk, -ERANGE outside. */
int	 util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
/* true/false, yes/no, on/off, 1/0 (any case). */
int	 util_parse_bool(const char *s, bool *ret);
/*
 * A duration: a number with an optional unit (ms, s, m, h, d).  A bare
 * number is in unit_ms milliseconds, so RECONNECT_DELAY=5000 keeps the
 * seed's meaning.  The result is in milliseconds within [min, max].
 */
int	 util_parse_duration_ms(const char *s, int64_t unit_ms, int64_t min,
	    int64_t max, int64_t *ret);

int64_t	 util_now_ms(void);		/* wall clock, Unix epoch */
int64_t	 util_mono_ms(void);		/* monotonic, for intervals */

#define UTIL_TIME_LEN	64
/* "2026-11-28T21:30:00.123Z" */
void	 util_fmt_time(int64_t ms, char buf[UTIL_TIME_LEN]);
/*
 * The inverse, for times users give: RFC 3339 in UTC ("2026-11-28T21:30:00Z",
 * optionally with up to three fraction digits) between the years 1970 and
 * 9999, or whole seconds since the Unix epoch.  Milliseconds since the
 * epoch; -EINVAL for anything else.
 */
int	 util_parse_time_ms(const char *s, int64_t *ret);

/* Zero memory in a way the compiler may not elide. */
void	 util_wipe(void *p, size_t n);
/*
 * Wait until *flag is true (set by another thread) or ms have passed;
 * returns the flag.  For stopping helper threads with a bound.
 */
bool	 util_thread_wait(const _Atomic bool *flag, int64_t ms);
/*
 * A URL for logs and output: the password of "scheme://user:PASSWORD@..."
 * replaced by "<redacted>"; anything else copied (cut to size).
 */
void	 util_redact_url(const char *url, char *out, size_t size);

#endif
