/*
 * Idle IPs given back: see sweep.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "base/country.h"
#include "base/xmalloc.h"
#include "core/sweep.h"

/* Is this proxy idle in the sweep's sense? */
static bool
sweep_idle(const struct pool_proxy *px)
{
	return px->state == POOL_IDLE && px->sessions == 0 &&
	    px->reserved_for == 0 && px->listed;
}

int
sweep_run(const struct pool *p, const struct billing_model *m,
    const struct billing_policy *pol, const struct sweep_demand *demand,
    int64_t now, sweep_release_fn fn, void *arg)
{
	const struct pool_proxy	*px;
	struct billing_decision	 dec;
	struct billing_ip	 ip;
	struct billing_demand	 dem;
	int			*rank;
	size_t			 i;
	int			 ci, released = 0;

	/* Ranks per country: heap, not 2.7 KB of stack per call. */
	rank = xcalloc(COUNTRY_INDEX_MAX, sizeof *rank);
	for (i = 0; i < pool_count(p); i++) {
		px = pool_at(p, i);
		if (!sweep_idle(px))
			continue;
		/* Of no known country: offered to nobody, so no rank. */
		ci = country_index(px->country);
		ip.allocated_at = px->purchased_at ? px->purchased_at :
		    px->idle_since;
		ip.idle_since = px->idle_since ? px->idle_since : now;
		if (ip.idle_since < ip.allocated_at)
			ip.idle_since = ip.allocated_at;
		if (ip.allocated_at > now || ip.idle_since > now)
			continue;	/* a clock that went back: next time */
		ip.owner_back_by = px->owner_back_by;
		ip.idle_rank = ci >= 0 ? rank[ci]++ : 0;
		/*
		 * Sessions whose acquisition is on its way (waiting for the
		 * store's answer) are about to choose an idle IP of their
		 * country: that many stay, whatever the policy.
		 */
		if (demand != NULL && ci >= 0 &&
		    ip.idle_rank < demand->acquiring[ci])
			continue;
		dem.expected = demand != NULL && ci >= 0 ?
		    demand->waiting[ci] : 0;
		if (billing_decide(m, pol, &ip, &dem, now, &dec) < 0) {
			free(rank);
			return -EINVAL;
		}
		if (dec.action != BILLING_ACTION_RELEASE)
			continue;
		released++;
		fn(px, dec.reason, arg);
	}
	free(rank);
	return released;
}
