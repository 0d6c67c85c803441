/*
 * The sessions in memory brought in line with the store.
 *
 * A sync reads, on the store's worker, everything the loop needs: the
 * claim of free sessions (fleet mode: up to the fair share), every session,
 * every proxy row, the sessions' fingerprint and, on a fleet heartbeat,
 * the fair share.  The loop applies the answer: new sessions are taken up
 * and queued, changed desired states become start or stop events, sessions
 * gone from the store (or a peer's now) are stopped and dropped.  One sync
 * is in flight at a time, so answers are applied in the order they were
 * read; a sync asked for meanwhile follows the one in flight.
 *
 * The first sync is the recovery's discovery step: connectors that outlived
 * the previous daemon are adopted, sessions idle beyond the recovery window
 * turn dormant, and the others are queued in the recovery's order.
 *
 * Live changes from the CLI or a peer show in the sessions' fingerprint,
 * read once a second (sync_tick); a change asks for a sync.
 */
#ifndef RESPAWN_DAEMON_SYNC_H
#define RESPAWN_DAEMON_SYNC_H

#include <stdbool.h>
#include <stdint.h>

struct dctx;
struct inventory;
struct jobs;
struct proxies;
struct purchases;
struct record;
struct recovery;
struct session;
struct sessions;
struct spawner;
struct supervisor;
struct sync;

#define SYNC_DELAY_MS	50	/* API writes acted on within */
#define SYNC_FIGURES_MS	2000	/* the day's charges read again after */

struct sync_hooks {
	void	*arg;
	/* The start-up sync was applied (ok), or could not be read. */
	void	(*loaded)(void *arg, bool ok);
	/* At start: a session another instance owns (fleet.c, orphans). */
	void	(*foreign)(void *arg, const struct session *s);
	/* A sync with the fair share was applied (fleet.c, rebalancing). */
	void	(*share)(void *arg, int64_t fair, int64_t owned);
};

struct sync_parts {
	struct sessions		*reg;
	struct supervisor	*sup;
	struct jobs		*jobs;
	struct record		*rec;
	struct inventory	*inv;
	struct proxies		*px;
	struct purchases	*pur;
	struct spawner		*sp;
	struct recovery		*recovery;
};

struct sync	*sync_new(struct dctx *c, const struct sync_parts *parts,
		    const struct sync_hooks *hooks);
void		 sync_free(struct sync *s);
/*
 * What the provider charges for the spending day, in micros, as the last
 * sync read the store (billing_day_charged over every proxy row, released
 * ones too); -1 before the first.  Every sync reads it again, and so does
 * the fingerprint's look once SYNC_FIGURES_MS have passed, so it follows
 * a purchase or a release within about SYNC_FIGURES_MS.
 */
int64_t		 sync_charged_today(const struct sync *s);

/* The start-up sync: the recovery's discovery step. */
void		 sync_startup(struct sync *s);
/* A sync (share: with the fair share); one in flight at a time. */
void		 sync_request(struct sync *s, bool share);
/* The store changed (API, a peer): sync now, once the start is done. */
void		 sync_now(struct sync *s);
/* The same, within SYNC_DELAY_MS, many changes at once. */
void		 sync_soon(struct sync *s);
/* Once a second: a changed fingerprint asks for a sync. */
void		 sync_tick(struct sync *s);
/* Syncs sent so far (a session given up waits for a later one). */
uint64_t	 sync_sent(const struct sync *s);

#endif
