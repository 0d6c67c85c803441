/*
 * Fault injection for the lab's HTTP endpoints.  A rule names an endpoint
 * ("POST /zone/ips", "* /zone/ips" for any method, or "*" for all), a kind,
 * a probability and optionally how many more times it may fire.  Deciding
 * is pure: the random numbers come from the caller's seeded generator, so
 * a seed replays the same faults.
 *
 * Most kinds change how or whether an answer is sent.  The answer kinds
 * (known_ips and after) make the account API answer untruthfully, so the
 * daemon can be tested against a provider whose answers it cannot trust;
 * each applies to one endpoint only and is skipped everywhere else.
 */
#ifndef LAB_FAULT_H
#define LAB_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rng.h"

#define FAULT_MAX_RULES		64
#define FAULT_MAX_STATUSES	8
#define FAULT_ENDPOINT_MAX	96
#define FAULT_MAX_DELAY_MS	3600000LL
#define FAULT_MAX_IPS_DELTA	1000	/* "extra" and "fewer" */

enum fault_kind {
	FAULT_LATENCY,		/* delay the response */
	FAULT_ERROR,		/* answer one of the chosen status codes */
	FAULT_RATE_LIMIT,	/* 429 with Retry-After */
	FAULT_HANG,		/* hold the request, then drop the connection */
	FAULT_COMMIT_DROP,	/* do the work, then drop the response */
	FAULT_MALFORMED,	/* 200 with a body that is not valid JSON */
	FAULT_KNOWN_IPS,	/* a purchase names IPs the zone already had */
	FAULT_EXTRA_IPS,	/* a purchase allocates and names more IPs */
	FAULT_SHORT_IPS,	/* a purchase allocates and names fewer IPs */
	FAULT_OTHER_IPS,	/* a release keeps its IPs and names others */
	FAULT_NO_COUNTRY,	/* a listing gives no entry a country */
};

enum fault_dist {
	FAULT_DIST_FIXED,	/* ms */
	FAULT_DIST_UNIFORM,	/* between ms and max_ms */
	FAULT_DIST_EXP,		/* exponential with mean ms, capped at max_ms */
};

struct fault_rule {
	char		 endpoint[FAULT_ENDPOINT_MAX];
	enum fault_kind	 kind;
	double		 rate;			/* probability, 0..1 */
	int64_t		 remaining;		/* -1: unlimited */
	enum fault_dist	 dist;
	int64_t		 ms;
	int64_t		 max_ms;
	int		 statuses[FAULT_MAX_STATUSES];
	size_t		 nstatuses;
	int64_t		 retry_after_s;
	bool		 retry_as_date;
	int64_t		 extra;			/* known_ips, extra_ips */
	int64_t		 fewer;			/* short_ips */
	int64_t		 fired;
};

/* What to do with one request; zero means "nothing". */
struct fault_decision {
	int64_t		 delay_ms;
	int		 status;		/* error or 429 when nonzero */
	int64_t		 retry_after_s;
	bool		 retry_as_date;
	bool		 hang;
	int64_t		 hang_ms;
	bool		 commit_drop;
	bool		 malformed;
	/* An untruthful answer: the first answer rule that fired. */
	bool		 answer;
	enum fault_kind	 answer_kind;
	int64_t		 extra;
	int64_t		 fewer;
};

struct fault_set;

struct fault_set *fault_set_new(void);
void		 fault_set_free(struct fault_set *fs);
/* -ENOSPC past FAULT_MAX_RULES; returns the rule's id. */
int		 fault_set_add(struct fault_set *fs, const struct fault_rule *r);
void		 fault_set_clear(struct fault_set *fs);
json_t		*fault_set_json(const struct fault_set *fs);

/* A rule from its JSON form; the reason goes to err on failure. */
int		 fault_rule_parse(const json_t *j, struct fault_rule *r,
		    char *err, size_t errlen);
bool		 fault_endpoint_match(const char *pattern, const char *method,
		    const char *path);
const char	*fault_kind_name(enum fault_kind kind);
/*
 * Whether a kind can act on a request: the answer kinds only on the
 * endpoint whose answer they falsify, the others everywhere.
 */
bool		 fault_kind_applies(enum fault_kind kind, const char *method,
		    const char *path);
/*
 * Applies one rule given two uniform numbers in [0, 1): u decides whether
 * it fires, v shapes the delay or picks the status.  Returns true if fired.
 */
bool		 fault_rule_apply(struct fault_rule *r, double u, double v,
		    struct fault_decision *d);
/*
 * All rules that match and apply to the request, in order, drawing from
 * rng.
 */
void		 fault_decide(struct fault_set *fs, const char *method,
		    const char *path, struct rng *rng,
		    struct fault_decision *d);

#endif
