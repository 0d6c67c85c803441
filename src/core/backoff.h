/*
 * When to retry: exponential backoff with full jitter, the server's
 * Retry-After (both forms of RFC 9110 section 10.2.3), and a retry budget
 * that keeps retries a small share of all requests.
 *
 * The module is pure: the attempt number, the current time and a random
 * number come in as arguments, so the daemon, the unit tests and the
 * simulator compute the same delays from the same inputs.  All times are
 * in milliseconds; absolute times are on whatever clock the caller uses
 * consistently (wall-clock Unix time for HTTP dates).
 */
#ifndef RESPAWN_CORE_BACKOFF_H
#define RESPAWN_CORE_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A delta-seconds value larger than this is taken as this, as RFC 9111
 * section 1.2.2 says for cache delta-seconds: a peer's huge number must not
 * overflow our arithmetic.
 */
#define BACKOFF_DELTA_MAX_S	INT64_C(2147483648)
/* The longest delay any policy may ask for: one day. */
#define BACKOFF_DELAY_MAX_MS	INT64_C(86400000)

/*
 * A retry policy, a plain record.  The n-th retry (attempt 0 is the first
 * retry) waits a uniformly random time in [0, min(cap, base * 2^n)]: AWS's
 * "full jitter", which spreads a herd of clients best.  A Retry-After from
 * the server is a floor: it is capped at retry_after_cap_ms and the delay
 * is drawn from [retry_after, max(ceiling, retry_after + spread)], so
 * clients told the same date do not all come back in the same millisecond.
 */
struct backoff_policy {
	int64_t	base_ms;
	int64_t	cap_ms;
	int64_t	retry_after_cap_ms;
	int64_t	retry_after_spread_ms;
};

#define BACKOFF_POLICY_DEFAULT	{					\
	.base_ms = 500,							\
	.cap_ms = 30000,						\
	.retry_after_cap_ms = 300000,					\
	.retry_after_spread_ms = 1000,					\
}

/* 0, or -EINVAL and a static reason naming the bad field. */
int	 backoff_policy_check(const struct backoff_policy *p,
	    const char **why);

/* min(cap, base * 2^attempt), without overflow for any attempt. */
int64_t	 backoff_ceiling_ms(const struct backoff_policy *p, unsigned attempt);
/* A full-jitter delay: rnd (any 64 random bits) mapped onto [0, ceiling]. */
int64_t	 backoff_delay_ms(const struct backoff_policy *p, unsigned attempt,
	    uint64_t rnd);
/*
 * The delay before retry number attempt, given the server's Retry-After
 * in milliseconds (from backoff_retry_after_parse) or -1 when there was
 * none.
 */
int64_t	 backoff_next_ms(const struct backoff_policy *p, unsigned attempt,
	    uint64_t rnd, int64_t retry_after_ms);

/*
 * An HTTP-date (RFC 9110 section 5.6.7) in any of its three forms:
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the obsolete RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994".
 * The RFC 850 two-digit year is resolved against ref_ms as RFC 9110 says:
 * a year more than 50 years after ref is taken as a century earlier.
 * Writes Unix time in milliseconds; -EINVAL when s is not such a date.
 */
int	 backoff_http_date_parse(const char *s, int64_t ref_ms,
	    int64_t *ret_ms);

/*
 * A Retry-After field value: delta-seconds, or an HTTP-date measured
 * against the response's Date field (date, which may be NULL) or, when
 * that is missing or unreadable, against now_ms, the caller's wall clock.
 * The server's own clock is the better reference: ours may be skewed.
 * Writes the delay in milliseconds, 0 for a date in the past; -EINVAL
 * when value is neither form.  The policy's cap is applied later, by
 * backoff_next_ms.
 */
int	 backoff_retry_after_parse(const char *value, const char *date,
	    int64_t now_ms, int64_t *ret_ms);

/*
 * A retry budget, Finagle's RetryBudget: every request deposits
 * retry_percent/100 of a token, every retry withdraws one, deposits and
 * withdrawals expire after ttl_ms, and a reserve of min_per_sec * ttl
 * tokens lets a client that sends little still retry.  In any window of
 * ttl_ms, retries therefore stay within min_per_sec * ttl plus
 * retry_percent of the requests, which stops a retry storm from
 * multiplying the load on a provider that is already failing.  Plain
 * gRPC-style throttling counts failures instead; this one counts requests,
 * so a slow trickle of requests is not starved after one failure.
 */
struct backoff_budget_config {
	int64_t		ttl_ms;
	unsigned	retry_percent;
	unsigned	min_per_sec;
};

#define BACKOFF_BUDGET_TTL_MIN_MS	1000
#define BACKOFF_BUDGET_TTL_MAX_MS	3600000
#define BACKOFF_BUDGET_PERCENT_MAX	1000
#define BACKOFF_BUDGET_PER_SEC_MAX	100000

#define BACKOFF_BUDGET_DEFAULT	{					\
	.ttl_ms = 10000,						\
	.retry_percent = 10,						\
	.min_per_sec = 1,						\
}

struct backoff_budget;

/* cfg NULL means BACKOFF_BUDGET_DEFAULT; -EINVAL for values out of range. */
int	 backoff_budget_new(const struct backoff_budget_config *cfg,
	    struct backoff_budget **ret);
void	 backoff_budget_free(struct backoff_budget *b);
/* Call once per original request (not per retry). */
void	 backoff_budget_deposit(struct backoff_budget *b, int64_t now_ms);
/* Call before a retry: true and one token spent, or false: do not retry. */
bool	 backoff_budget_withdraw(struct backoff_budget *b, int64_t now_ms);
/* Whole retries the budget would allow now, for metrics. */
int64_t	 backoff_budget_available(struct backoff_budget *b, int64_t now_ms);

#endif
