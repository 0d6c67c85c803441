/*
 * A trace of phones' connected intervals, the input of `respawn cost
 * simulate` (core/replay.c): who was connected, from where, from when to
 * when, and whether the interval ended by a restart of the daemon (the
 * phone's IP is reserved for it meanwhile) or by the phone going away.
 *
 * A trace comes from a user's own logs, one line per interval (the
 * format is in docs/BENCHMARKS.md and trace_parse_line), or from the
 * generator below, whose assumptions are documented with it.  Pure: the
 * caller reads the file, and the generator takes its seed.
 */
#ifndef RESPAWN_CORE_TRACE_H
#define RESPAWN_CORE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/country.h"
#include "base/validate.h"

#define TRACE_PHONES_MAX	100000
#define TRACE_INTERVALS_MAX	(5 * 1000 * 1000)
#define TRACE_LINE_MAX		1024	/* bytes of one line, newline included */
/* A trace spans at most this long: the replay looks every minute. */
#define TRACE_SPAN_MAX_MS	(INT64_C(366) * 86400000)
#define TRACE_DAYS_MAX		365
#define TRACE_COUNTRIES_MAX	20	/* the generator's */

struct trace_phone {
	char	phone[PHONE_LEN];
	char	country[COUNTRY_CODE_LEN];
};

struct trace_interval {
	size_t	phone;		/* index into the phones */
	int64_t	start;		/* ms since the epoch */
	int64_t	end;		/* after start */
	bool	restart;	/* ended by a daemon restart */
	size_t	line;		/* where it was read (0: generated) */
};

struct trace;

struct trace	*trace_new(void);
void		 trace_free(struct trace *t);

/*
 * Add one interval.  0, or -EINVAL (a bad phone, country or time order),
 * -E2BIG (a limit above) with a static reason in *why.
 */
int		 trace_add(struct trace *t, const char *phone,
		    const char *country, int64_t start, int64_t end,
		    bool restart, size_t line, const char **why);
/*
 * One line of a trace file (len bytes, no newline needed):
 *
 *     PHONE COUNTRY START END [stop|restart]
 *
 * separated by blanks or commas; START and END in RFC 3339 UTC or Unix
 * seconds; the last field says how the interval ended (stop when left
 * out).  A blank line or one starting with '#' is skipped.  Errors as
 * trace_add's, and -EINVAL for a malformed line.
 */
int		 trace_parse_line(struct trace *t, const char *line,
		    size_t len, size_t lineno, const char **why);
/*
 * Once every interval is in: sort them and check that no phone is in two
 * places at once and the whole trace spans at most TRACE_SPAN_MAX_MS.
 * -EINVAL with *why and *line (one of the lines at fault) otherwise;
 * -ENODATA for an empty trace.
 */
int		 trace_finish(struct trace *t, const char **why, size_t *line);

/*
 * The generator: phones slots for days days from start (ms, a midnight
 * UTC), in countries countries (1..TRACE_COUNTRIES_MAX), from seed.  It
 * mixes always-on phones, intermittent ones and churning numbers, with a
 * daily deploy restart; see trace.c for each assumption.  Finishes the
 * trace.  -EINVAL for arguments out of range, -E2BIG past a limit.
 */
struct trace_gen {
	uint64_t	seed;
	int		phones;		/* 1..TRACE_PHONES_MAX slots */
	int		days;		/* 1..TRACE_DAYS_MAX */
	int		countries;
	int64_t		start;
};

int		 trace_generate(struct trace *t, const struct trace_gen *g);

size_t		 trace_nphones(const struct trace *t);
const struct trace_phone *trace_phone_at(const struct trace *t, size_t i);
/* After trace_finish: by start time, then phone. */
size_t		 trace_nintervals(const struct trace *t);
const struct trace_interval *trace_interval_at(const struct trace *t,
		    size_t i);
/* The span: the first start and the last end (0, 0 when empty). */
void		 trace_span(const struct trace *t, int64_t *ret_from,
		    int64_t *ret_to);

#endif
