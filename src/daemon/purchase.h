/*
 * Purchases.  Sessions that need an IP in a country the pool has none of
 * wait in that country's demand; after PURCHASE_WINDOW_MS every waiter is
 * served by one call with count=k.  Each call is a durable intent in the
 * store before the provider is asked, so a crash cannot leak an IP; an
 * answer that was lost is never asked again, but settled from the
 * provider's listing (inventory.c).  The daily spending limit and the
 * purchase rate are kept in a core/billing ledger.
 */
#ifndef RESPAWN_DAEMON_PURCHASE_H
#define RESPAWN_DAEMON_PURCHASE_H

#include <stdint.h>

struct dctx;
struct dsession;
struct inventory;
struct jobs;
struct purchases;
struct record;
struct supervisor;

#define PURCHASE_WINDOW_MS	200	/* needs combined into one call */
#define PURCHASE_MAX		100	/* IPs bought by one call */
#define PURCHASE_SOLD_OUT_MS	600000	/* a sold-out country rests */

struct purchase_hooks {
	void	*arg;
	/* A waiter should ask the pool again (what it waited for is in). */
	void	(*retry)(void *arg, struct dsession *ds);
};

struct purchase_stats {
	int64_t	purchased;	/* IPs bought */
	int64_t	refused;	/* IPs not bought: a limit */
	int64_t	spent_today;	/* micros, this billing day */
};

struct purchases *purchases_new(struct dctx *c, struct supervisor *sup,
		    struct jobs *jobs, struct record *rec,
		    struct inventory *inv, const struct purchase_hooks *hooks);
void		 purchases_free(struct purchases *p);

/* ds needs an IP bought in country: it joins that country's demand. */
void		 purchase_need(struct purchases *p, struct dsession *ds,
		    const char *country);
/* ds no longer waits (stopped, removed, served otherwise). */
void		 purchase_forget(struct purchases *p, struct dsession *ds);
/* Every waiter not in a purchase in flight asks the pool again. */
void		 purchase_retry_all(struct purchases *p);
/* Sessions waiting for a purchase in country. */
int		 purchase_waiting(const struct purchases *p,
		    const char *country);
void		 purchase_stats(const struct purchases *p,
		    struct purchase_stats *ret);

#endif
