/*
 * Reconciliation: the provider's own listing against the store, the
 * source of "never leak, never buy twice".  An IP the provider bills but
 * the store does not know is adopted as idle (it is then reused, or
 * released by the normal schedule); one the store has but the provider no
 * longer lists is lost (a releasing one is released: its release went
 * through); purchase intents whose answer was lost are settled — owned
 * when IPs of their country turned up, failed otherwise.
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

enum reconcile_action {
	RECONCILE_ADOPT,		/* key: listed, unknown to the store */
	RECONCILE_LOST,			/* key: in the store, not listed */
	RECONCILE_RELEASED,		/* key: a release that went through */
	RECONCILE_INTENT_OWNED,		/* intent: its IPs turned up */
	RECONCILE_INTENT_FAILED,	/* intent: nothing turned up */
};

struct reconcile_step {
	enum reconcile_action	 action;
	const char		*key;		/* the proxy, or NULL */
	const char		*country;
	int64_t			 id;		/* the row or the intent */
};

typedef void (*reconcile_cb)(const struct reconcile_step *s, void *arg);

struct reconcile_report {
	int64_t	listed;
	int64_t	adopted;
	int64_t	lost;
	int64_t	released;
	int64_t	intents_owned;
	int64_t	intents_failed;
};

/*
 * Compare and, unless dry_run, apply (inside one store batch).  each, if
 * not NULL, sees every step.  Returns 0 or a store error.
 */
int	reconcile_run(struct store *st, const char *provider, const char *zone,
	    const struct provider_proxy *listed, size_t nlisted, bool dry_run,
	    int64_t now, reconcile_cb each, void *arg,
	    struct reconcile_report *ret);
const char *reconcile_action_name(enum reconcile_action a);

#endif
