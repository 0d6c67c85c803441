/*
 * `respawn cost simulate`'s engine: a trace (core/trace.h) replayed
 * through the daemon's own decisions, as the daemon makes them: the pool
 * (core/pool.c) chooses each phone's IP from its history, the sweep
 * (core/sweep.c) gives idle IPs back per the release policy
 * (core/billing.c) once a minute, and a phone leaving holds its IP for
 * the time billing_expect_back gives from its reconnect gaps.  What the
 * shell does around these calls (the store, the provider) is done here
 * in memory: a purchase is answered at once with a new IP, and a release
 * takes effect at once.
 *
 * Pure: the trace and the settings come in, figures go out.
 */
#ifndef RESPAWN_CORE_REPLAY_H
#define RESPAWN_CORE_REPLAY_H

#include <stdint.h>

#include "core/billing.h"
#include "core/trace.h"

/* How often the sweep looks, as the daemon's (PROXY_SWEEP_MS). */
#define REPLAY_TICK_MS	(60 * INT64_C(1000))

struct replay_config {
	struct billing_model	model;
	struct billing_policy	policy;
	int			sessions_per_ip;	/* 1 and up */
};

struct replay_result {
	int64_t	ip_units;		/* billing units paid (IP-days) */
	int64_t	cost_micros;
	int64_t	purchases;
	int64_t	reconnects;		/* connects of a phone seen before */
	int64_t	changed;		/* ... on another IP than its last */
	int64_t	restart_reconnects;	/* after a daemon restart */
	int64_t	restart_changed;
	int64_t	displaced;		/* IPs taken while held for others */
	int64_t	waits;			/* connects the pool could not serve */
};

/*
 * The trace's own figures, whatever the policy, in billing units of the
 * model's days (from its boundary hour): limit is the sum over days of
 * each country's peak of phones connected at once (an IP serves one
 * phone of one country at a time, so no policy pays less); floor is the
 * sum over days of the phones online that day (every phone one IP of its
 * own for each day it is online).
 */
struct replay_bounds {
	int64_t	limit;
	int64_t	floor;
	int64_t	days;
};

/* 0, or -EINVAL for an invalid model or policy or an unfinished trace. */
int	replay_run(const struct trace *t, const struct replay_config *cfg,
	    struct replay_result *ret);
int	replay_bounds(const struct trace *t, const struct billing_model *m,
	    struct replay_bounds *ret);

#endif
