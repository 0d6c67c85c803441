/*
 * Fleet mode (PostgreSQL, docs/FLEET.md), the daemon's side: fencing when
 * the lease is lost, giving sessions up to rebalance, the heartbeat's
 * claims, wake-ups from peers (LISTEN/NOTIFY), and the connectors a
 * crashed daemon of this host left behind.  The lease itself is renewed
 * by lease.c on a thread of its own; claims and the fair share come with
 * a sync (sync.c).
 */
#ifndef RESPAWN_DAEMON_FLEET_H
#define RESPAWN_DAEMON_FLEET_H

#include <stdint.h>

struct dctx;
struct dsession;
struct fleet;
struct jobs;
struct record;
struct recovery;
struct session;
struct sessions;
struct supervisor;
struct sync;

#define FLEET_SHED_MAX		8	/* sessions given up per heartbeat */
#define FLEET_SETTLE_MS		2000	/* peers starting together */
#define FLEET_EXIT_FENCED	75	/* EX_TEMPFAIL: restart me */

/*
 * An instance's lease is its heartbeat, valid RESPAWN_LEASE (by the
 * database's clock in fleet mode); it renews every sixth of the lease and,
 * in fleet mode, fences itself when no renewal succeeded for two thirds of
 * it by its own monotonic clock: it has stopped before a peer may take its
 * sessions.
 */
#define FLEET_HEARTBEAT_MS(cfg)		((cfg)->lease_ms / 6)
#define FLEET_STALE_MS(cfg)		((cfg)->lease_ms)
#define FLEET_RENEW_DEADLINE_MS(cfg)	((cfg)->lease_ms * 2 / 3)
/*
 * Connector-level fencing (docs/CONNECTORS.md): a connector exits once no
 * notify message of its has been taken for this long (RESPAWN_FENCE_USEC).
 * An instance runs at most the renewal deadline past its last renewal, so
 * its connectors are gone by 2L/3 + L/4 < L after it, before any peer may
 * claim their sessions; and a restarted or handed-over daemon that binds
 * the notify socket again within it keeps them.
 */
#define FLEET_CONNECTOR_FENCE_MS(cfg)	((cfg)->lease_ms / 4)

struct fleet_stats {
	int64_t	shed;		/* sessions given up, ever */
};

struct fleet	*fleet_new(struct dctx *c, struct sessions *reg,
		    struct supervisor *sup, struct jobs *jobs,
		    struct record *rec, struct recovery *recovery,
		    struct sync *sync);
void		 fleet_free(struct fleet *f);

/*
 * The lease is lost (silent_ms: since the last renewal): SIGKILL every
 * connector, buy nothing more, leave the loop; the daemon exits 75.
 */
void		 fleet_fence(struct fleet *f, const char *why,
		    int64_t silent_ms);
/* Each heartbeat: dead peers marked, a sync with the fair share. */
void		 fleet_tick(struct fleet *f);
/* At start: a crashed same-host daemon's connector of a peer's session. */
void		 fleet_orphan(struct fleet *f, const struct session *s);
/* Above the fair share: give up to FLEET_SHED_MAX sessions, idle first. */
void		 fleet_rebalance(struct fleet *f, int64_t share, int64_t owned);
/* SV_ACT_GIVE_UP: a session shed for rebalancing has stopped: release it. */
void		 fleet_give_up(struct fleet *f, struct dsession *ds);
/* Watch the worker's LISTEN socket for peers' wake-ups. */
void		 fleet_wake_watch(struct fleet *f);
void		 fleet_stats(const struct fleet *f, struct fleet_stats *ret);

#endif
