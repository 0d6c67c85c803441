/*
 * Which proxy a session uses: acquiring one through the pool, giving it
 * back, and giving idle ones back to the provider.
 *
 * Acquiring takes two answers from the store's worker: the phone's proxy
 * history (for reactivation and reuse), then the assignment of the pool's
 * choice (which the store refuses if a peer's session holds the IP).  A
 * purchase is handed to purchase.c, which asks here again once it is in.
 * Each answer is a step of jobs.c: one that comes back to a session that
 * moved on is undone (its proxy goes back).
 *
 * Idle IPs go back to the provider per RESPAWN_RELEASE_POLICY (the sweep,
 * core/billing.c decides), and the ones an operator released with
 * `respawn proxy release`.
 */
#ifndef RESPAWN_DAEMON_PROXY_H
#define RESPAWN_DAEMON_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pool.h"

struct dctx;
struct dsession;
struct inventory;
struct jobs;
struct proxies;
struct proxy_row;
struct purchases;
struct record;
struct sessions;
struct supervisor;

#define PROXY_SWEEP_MS		60000	/* idle IPs looked at */
/* A release the provider did not confirm is asked again this much later. */
#define PROXY_RELEASE_AGAIN_MS		5000
#define PROXY_RELEASE_AGAIN_MAX_MS	3600000

struct proxy_hooks {
	void	*arg;
	/*
	 * ds was given a proxy (ds->proxy_id, how and fallback set);
	 * previous_ip: the one it had before, when it was another.
	 */
	void	(*assigned)(void *arg, struct dsession *ds,
		    const char *previous_ip, const char *country);
};

struct proxy_stats {
	int64_t	assigned[POOL_WAIT + 1];	/* by pool choice */
	int64_t	fallbacks;			/* assignments */
	int64_t	replaced;			/* another IP than the last */
	int64_t	released;			/* IPs given back */
	int64_t	release_unconfirmed;		/* answers not naming the IP */
	int64_t	release_other;			/* IPs named, not asked for */
	int64_t	displaced;			/* held IPs taken by another */
	int64_t	held;				/* idle IPs held now */
};

struct proxies	*proxies_new(struct dctx *c, struct sessions *reg,
		    struct supervisor *sup, struct jobs *jobs,
		    struct record *rec, struct inventory *inv,
		    struct purchases *pur, const struct proxy_hooks *hooks);
void		 proxies_free(struct proxies *px);

/* SV_ACT_ACQUIRE: find ds a proxy; PROXY_READY or PROXY_WAIT follows. */
void		 proxy_acquire(struct proxies *px, struct dsession *ds);
/* SV_ACT_CANCEL_ACQUIRE: an answer on its way, or a purchase, is moot. */
void		 proxy_cancel(struct proxies *px, struct dsession *ds);
/*
 * ds gives its proxy back to the pool (bad: its connector refused it, so
 * the phone never gets that IP again); an idle IP of the country goes to
 * a session waiting for one.
 */
void		 proxy_give_back(struct proxies *px, struct dsession *ds,
		    bool bad);
/* An adopted connector's session takes the proxy kept for it (hist0). */
void		 proxy_adopt(struct proxies *px, struct dsession *ds,
		    int64_t hist0);
/* A dormant session's proxy (hist0) is no longer kept for it. */
void		 proxy_unkeep(struct proxies *px, struct dsession *ds,
		    int64_t hist0);
/* A row the store marks releasing: ask the provider, unless asked. */
void		 proxy_release_row(struct proxies *px,
		    const struct proxy_row *row);
/*
 * A listing asked for at asked_at was applied: a release answered before
 * it whose proxy is still releasing (the listing shows it) is asked again;
 * the ones it settled are forgotten.
 */
void		 proxy_listed(struct proxies *px, int64_t asked_at);
/* The release sweep, when due. */
void		 proxy_tick(struct proxies *px, int64_t now);
void		 proxy_stats(const struct proxies *px, struct proxy_stats *ret);

#endif
