/*
 * Which idle IPs go back to the provider now: the release policy
 * (core/billing.c) applied to every idle proxy of the pool (core/pool.c).
 * Pure, and the one place this is decided: the daemon's sweep
 * (daemon/proxy.c) and `respawn cost simulate` (core/replay.c) both call
 * sweep_run, so what the simulator measures is what the daemon does.
 *
 * An idle proxy is one no session uses or has reserved, that the provider
 * lists.  Under the stable policy, one whose phone is expected back
 * (pool_proxy.owner_back_by) is kept over a billing boundary; under every
 * policy, as many idle IPs of a country as sessions are about to take one
 * (acquiring) stay, and as many as sessions wait for (waiting) count as
 * demand.
 */
#ifndef RESPAWN_CORE_SWEEP_H
#define RESPAWN_CORE_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "base/country.h"
#include "core/billing.h"
#include "core/pool.h"

/* What the shell knows of each country's coming demand. */
struct sweep_demand {
	int	acquiring[COUNTRY_INDEX_MAX];	/* choosing an idle IP now */
	int	waiting[COUNTRY_INDEX_MAX];	/* waiting for a purchase */
};

/*
 * Called for each proxy to release, with the policy's reason.  It may
 * change that proxy's state in the pool (to releasing) but must not add
 * proxies: the sweep is walking them.
 */
typedef void	(*sweep_release_fn)(const struct pool_proxy *px,
		    enum billing_reason why, void *arg);

/*
 * Decide every idle proxy at now; returns how many were released, or
 * -EINVAL when the model or policy is invalid.  demand may be NULL.
 */
int	sweep_run(const struct pool *p, const struct billing_model *m,
	    const struct billing_policy *pol, const struct sweep_demand *demand,
	    int64_t now, sweep_release_fn fn, void *arg);

#endif
