/*
 * Purchases.  Sessions that need an IP in a country the pool has none of
 * wait in that country's demand; after PURCHASE_WINDOW_MS every waiter is
 * served by one call with count=k.  Each call is a durable intent in the
 * store before the provider is asked, so a crash cannot leak an IP; an
 * answer that was lost is never asked again, but settled from the
 * provider's listing (inventory.c).  The daily spending limit and the
 * purchase rate are kept in a core/billing ledger.
 *
 * The provider's answer is checked against the store before anything
 * acts on it: only IPs new to the store are given to waiters (a known one
 * is left to reconciliation, never given to a second session), and their
 * number is compared with the count asked (docs/PROXIES.md).  A purchase
 * whose outcome is not wholly known (an answer lost, or naming fewer new
 * IPs than asked) blocks buying again for that many of its country's
 * waiters until a listing settles it, or PURCHASE_BLOCK_MAX_MS passes; so
 * do the open intents of an instance that died, which a listing reports.
 * Meanwhile a listing is asked for every PURCHASE_SETTLE_POLL_MS.
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
#define PURCHASE_ANSWER_MAX	1000	/* IPs of one answer recorded */
#define PURCHASE_BLOCKS_MAX	1024	/* open intents known from a listing */
#define PURCHASE_BLOCK_MAX_MS	600000	/* an unsettled intent blocks */
#define PURCHASE_SETTLE_POLL_MS	5000	/* listings asked while blocked */
#define PURCHASE_RETRY_MIN_MS	1000	/* an intent the store refused */
#define PURCHASE_RETRY_MAX_MS	30000

struct inventory_intent;

struct purchase_hooks {
	void	*arg;
	/* A waiter should ask the pool again (what it waited for is in). */
	void	(*retry)(void *arg, struct dsession *ds);
};

struct purchase_stats {
	int64_t	purchased;	/* IPs bought (at most as many as asked) */
	int64_t	refused;	/* IPs not bought: a limit */
	int64_t	spent_today;	/* micros, this billing day */
	/* The provider's answers that were not what was asked: */
	int64_t	known;		/* IPs named new that the store held */
	int64_t	surplus;	/* new IPs beyond the count asked */
	int64_t	shortfall;	/* IPs asked and not named */
	int64_t	blocked;	/* IPs of needs waiting for a settlement */
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
/*
 * At start: the times of the purchases the store records since the
 * spending day began, or within the rate window, so today's spend and
 * the limits count what an earlier daemon bought, not only this one.
 * Sorts times in place.
 */
void		 purchase_seed(struct purchases *p, int64_t *times, size_t n);
void		 purchase_stats(const struct purchases *p,
		    struct purchase_stats *ret);
/*
 * This instance's intents whose answer may still come (at most max), and
 * *since: intents of this instance made at or after it are being written
 * (0: none).  A listing settles none of them.
 */
size_t		 purchase_busy(const struct purchases *p, int64_t *ids,
		    size_t max, int64_t *since);
/* What a listing said of intents (inventory.h). */
void		 purchase_intents(struct purchases *p,
		    const struct inventory_intent *v, size_t n);

#endif
