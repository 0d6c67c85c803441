/*
 * A circuit breaker for one remote dependency (the provider's purchase
 * endpoint, say): after repeated failures it stops sending requests for a
 * while, so a provider that is down is not hammered and a paid purchase is
 * not retried into a storm.
 *
 * Closed, it admits every request and counts consecutive failures; the
 * threshold-th one opens it.  Consecutive failures rather than a failure
 * ratio over a window, because the calls it guards are few (a ratio needs
 * a minimum volume, Hystrix's 20 requests in 10 s, that a purchase
 * endpoint rarely reaches) and the count is easy to reason about.  Open,
 * it refuses everything for a cool-down that doubles with every open
 * since it was last closed, up to a cap.  After the cool-down it is
 * half-open: it admits one probe, whose success closes it and whose
 * failure opens it again.  A probe that never reports is written off after
 * probe_timeout_ms and another is admitted.
 *
 * Pure: time comes in as an argument (a monotonic clock in milliseconds).
 */
#ifndef RESPAWN_CORE_BREAKER_H
#define RESPAWN_CORE_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#define BREAKER_THRESHOLD_MAX	10000
#define BREAKER_TIME_MAX_MS	INT64_C(86400000)	/* one day */

enum breaker_state {
	BREAKER_CLOSED,
	BREAKER_OPEN,
	BREAKER_HALF_OPEN,
};

struct breaker_config {
	unsigned	failure_threshold;	/* consecutive, to open */
	int64_t		cooldown_ms;		/* the first open period */
	int64_t		cooldown_max_ms;	/* the doubled periods' cap */
	int64_t		probe_timeout_ms;
};

/* Hystrix's 5 s sleep window; five failures in a row; five minutes at most. */
#define BREAKER_DEFAULT	{						\
	.failure_threshold = 5,						\
	.cooldown_ms = 5000,						\
	.cooldown_max_ms = 300000,					\
	.probe_timeout_ms = 30000,					\
}

/* What metrics and the status API show. */
struct breaker_status {
	enum breaker_state	 state;
	const char		*name;		/* "closed", "open", ... */
	int64_t			 probe_in_ms;	/* until a request is let in */
	unsigned		 failures;	/* consecutive, while closed */
	unsigned		 opens;		/* since it was last closed */
	uint64_t		 trips;		/* opens, ever */
};

struct breaker;

/* cfg NULL means BREAKER_DEFAULT; -EINVAL for values out of range. */
int		 breaker_new(const struct breaker_config *cfg,
		    struct breaker **ret);
void		 breaker_free(struct breaker *b);

/*
 * May a request go now?  Moves an open breaker whose cool-down is over to
 * half-open and admits the probe; every true must be followed by one
 * breaker_record.
 */
bool		 breaker_allow(struct breaker *b, int64_t now_ms);
/*
 * The outcome of an admitted request.  Outcomes arriving while open
 * (requests admitted before it opened) are ignored; while half-open, any
 * outcome is taken as the probe's.
 */
void		 breaker_record(struct breaker *b, int64_t now_ms, bool ok);

/*
 * The state as of the last call: an open breaker whose cool-down is over
 * stays "open" with probe_in_ms 0 until breaker_allow is called.
 */
enum breaker_state breaker_state(const struct breaker *b);
const char	*breaker_state_name(enum breaker_state s);
void		 breaker_status(const struct breaker *b, int64_t now_ms,
		    struct breaker_status *ret);

#endif
