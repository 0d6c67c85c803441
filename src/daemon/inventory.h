/*
 * The proxies this instance knows, kept in the pool (core/pool.c) in line
 * with the store's rows and the provider's own listing.
 *
 * The store's proxy rows are the truth; the pool is their copy in memory,
 * plus what only this instance knows (which of its sessions use which
 * proxy now).  Every row becomes a pool entry through one function here.
 *
 * Reconciliation compares the provider's listing with the store (adopt
 * unknown IPs, mark vanished ones lost, settle purchases whose answer was
 * lost: provider/reconcile.c) on the store's worker, then brings the pool
 * in line with the rows.  It runs at start (before any session is
 * recovered: the pool is created then), every RECONCILE_MS, and whenever a
 * purchase's outcome is unknown.
 */
#ifndef RESPAWN_DAEMON_INVENTORY_H
#define RESPAWN_DAEMON_INVENTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/country.h"
#include "core/pool.h"
#include "store/store.h"

struct dctx;
struct inventory;
struct jobs;

#define INVENTORY_RECONCILE_MS		300000	/* provider listing vs store */
#define INVENTORY_STEPS_MAX		10000	/* a listing's steps logged */
#define INVENTORY_BUSY_MAX		1024	/* intents in flight, told */

/* What a listing said of a purchase intent. */
struct inventory_intent {
	int64_t	id;
	char	country[COUNTRY_CODE_LEN];
	int64_t	count;
	int64_t	created_at;
	bool	open;		/* not settled yet, and covering a need here */
};

struct inventory_hooks {
	void	*arg;
	/*
	 * A listing was applied (or failed, once the pool exists): first is
	 * true the first time, when the pool has just been created; asked_at
	 * is when the applied listing was asked for (0: it failed).
	 */
	void	(*listed)(void *arg, bool first, int64_t asked_at);
	/*
	 * This instance's intents whose answer may still come, at most max,
	 * and *since: its intents made at or after it are being written (0:
	 * none).  A listing settles none of them.
	 */
	size_t	(*busy)(void *arg, int64_t *ids, size_t max, int64_t *since);
	/*
	 * Before listed: every intent the listing settled, and every one it
	 * could not settle yet that covers a need of this instance (the ones
	 * of a live peer are its own business).
	 */
	void	(*intents)(void *arg, const struct inventory_intent *v,
		    size_t n);
};

struct inventory	*inventory_new(struct dctx *c, struct jobs *jobs,
			    const struct inventory_hooks *hooks);
void			 inventory_free(struct inventory *inv);

/* Ask the provider for its listing and reconcile (one at a time). */
void	inventory_reconcile(struct inventory *inv);
/* The pool exists and holds the rows of the first listing. */
bool	inventory_loaded(const struct inventory *inv);
/* When the last reconciliation began (wall ms). */
int64_t	inventory_last_reconcile(const struct inventory *inv);

/* A store row as a new pool entry. */
void	inventory_entry(const struct dctx *c, const struct proxy_row *row,
	    struct pool_proxy *ret);
/*
 * A row read after a reconciliation: what the pool knows in memory (who
 * uses the proxy) stands; the store's country, and its lost and releasing
 * states win, and a lost proxy the store has back is usable again.
 */
void	inventory_apply_row(struct inventory *inv, const struct proxy_row *row);
/*
 * A row a peer may have changed: for proxies no session of ours uses, the
 * store's state wins; the others stay as the pool knows them.
 */
void	inventory_refresh_row(struct inventory *inv,
	    const struct proxy_row *row);
/* Read every row on the store's worker and refresh the pool with them. */
void	inventory_refresh(struct inventory *inv);
/*
 * A proxy's state in the pool, for the steps of a release (released: no
 * longer listed); unknown ids are skipped.
 */
void	inventory_set_state(struct inventory *inv, int64_t id,
	    enum pool_proxy_state state);

#endif
