/*
 * Reconciliation: the provider's own listing against the store, the
 * source of "never leak, never buy twice".  The listing is untrusted
 * input, and it is old news by the time it is applied: it was taken when
 * it was asked for, and purchases, releases and peers went on meanwhile.
 * So each rule says what the listing may decide and what it may not
 * (docs/PROXIES.md, "What is trusted"):
 *
 *   - an IP it lists that the store does not hold is adopted as idle (it
 *     is then reused, or released by the policy), with the listing's
 *     country, or none ("": offered to nobody) when it gives none; unless
 *     the store released it after the listing was asked for;
 *   - a lost IP it lists again is idle again, for nobody;
 *   - a country it gives for a known IP replaces the store's;
 *   - an IP the store holds and it does not list is lost (a releasing
 *     one is released: its release went through), unless the IP came into
 *     the store after the listing was asked for (RECONCILE_SKEW_MS before,
 *     for clocks of a fleet);
 *   - an open purchase intent is settled only when its outcome can no
 *     longer change: never while this process may still hear its answer
 *     (scope.busy), never while the peer that asked is alive, and not
 *     until settle_ms after its asker was last seen.  It is owned when
 *     IPs of its country turned up since it was made (they are linked to
 *     it, up to its count), failed otherwise.  An intent that may not be
 *     settled yet is reported (RECONCILE_INTENT_OPEN) so that purchases
 *     wait for it instead of buying the same need twice.
 *
 * The daemon runs it at start, every few minutes and after a purchase of
 * unknown outcome; `respawn proxy reconcile [--dry-run]` runs it by hand.
 */
#ifndef RESPAWN_RECONCILE_H
#define RESPAWN_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provider/provider.h"
#include "store/store.h"

/*
 * Clocks of a fleet's hosts (NTP-synchronised) may differ this much: a
 * row written this close to the listing's request is not judged by it.
 */
#define RECONCILE_SKEW_MS	5000

enum reconcile_action {
	RECONCILE_ADOPT,		/* key: listed, unknown to the store */
	RECONCILE_FOUND,		/* key: a lost one, listed again */
	RECONCILE_COUNTRY,		/* key: the provider's country differs */
	RECONCILE_LOST,			/* key: in the store, not listed */
	RECONCILE_RELEASED,		/* key: a release that went through */
	RECONCILE_INTENT_OWNED,		/* intent: n of its IPs turned up */
	RECONCILE_INTENT_FAILED,	/* intent: nothing turned up */
	RECONCILE_INTENT_OPEN,		/* intent: may not be settled yet */
};

struct reconcile_step {
	enum reconcile_action	 action;
	const char		*key;		/* the proxy, or NULL */
	const char		*country;
	int64_t			 id;		/* the row or the intent */
	int64_t			 n;		/* intent: IPs asked for */
	int64_t			 found;		/* settled intent: IPs found */
	int64_t			 created_at;	/* intent */
	bool			 blocking;	/* OPEN: it covers a need here */
};

typedef void (*reconcile_cb)(const struct reconcile_step *s, void *arg);

/* What the listing can decide: see the rules above. */
struct reconcile_scope {
	const char	*self;		/* this instance's id */
	int64_t		 asked_at;	/* when the listing was asked for */
	int64_t		 settle_ms;	/* a purchase may still happen after
					   its asker was last seen */
	int64_t		 peer_stale_ms;	/* a peer silent this long is gone */
	bool		 solo;		/* no other instance can be running */
	const int64_t	*busy;		/* intents whose answer may come */
	size_t		 nbusy;
	int64_t		 busy_since;	/* self's made since: being written */
};

struct reconcile_report {
	int64_t	listed;
	int64_t	adopted;
	int64_t	found;
	int64_t	corrected;	/* countries */
	int64_t	lost;
	int64_t	released;
	int64_t	fresh;		/* too new to be judged by this listing */
	int64_t	intents_owned;
	int64_t	intents_failed;
	int64_t	intents_open;
};

/*
 * Compare and, unless dry_run, apply (inside one store batch).  each, if
 * not NULL, sees every step.  Returns 0 or a store error.
 */
int	reconcile_run(struct store *st, const char *provider, const char *zone,
	    const struct provider_proxy *listed, size_t nlisted,
	    const struct reconcile_scope *scope, bool dry_run, int64_t now,
	    reconcile_cb each, void *arg, struct reconcile_report *ret);
const char *reconcile_action_name(enum reconcile_action a);

#endif
