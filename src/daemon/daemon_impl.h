/*
 * The daemon's internal state, shared by the files that make up the
 * daemon: daemon.c (the loop, supervision, proxies, recovery),
 * daemon_fleet.c (fencing, rebalancing, wake-ups), daemon_store.c (writes
 * through the store's worker) and daemon_ops.c (what operators see and
 * steer: the HTTP API's view, /metrics, webhooks).  Nothing else includes
 * this file.
 */
#ifndef RESPAWN_DAEMON_IMPL_H
#define RESPAWN_DAEMON_IMPL_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "base/intmap.h"
#include "base/metrics.h"
#include "config/secret.h"
#include "core/billing.h"
#include "core/fallback.h"
#include "core/pool.h"
#include "core/supervise.h"
#include "daemon/lease.h"
#include "http/api.h"
#include "http/webhook.h"
#include "provider/provider.h"
#include "store/store.h"
#include "store/storeq.h"
#include "sys/notify.h"

#define DAEMON_TICK_MS			1000
#define DAEMON_DEAD_KEEP_MS		(7LL * 86400000)
#define DAEMON_ACTIVITY_MS		60000	/* last_activity_at refresh */
#define DAEMON_PROXY_WAIT_MS		5000
#define DAEMON_STABLE_MS		60000
#define DAEMON_BACKOFF_CAP_MS		300000
#define DAEMON_START_BURST		5
#define DAEMON_START_INTERVAL_MS	10000
#define DAEMON_ENV_MAX			64	/* connector environment entries */
#define DAEMON_PATH_MAX			1024
#define DAEMON_LOG_TRIM_MS		10000	/* connector log size check */
#define DAEMON_ADMIT_BATCH		64	/* starts per loop iteration */
#define DAEMON_RECONCILE_MS		300000	/* provider listing vs store */
#define DAEMON_PURCHASE_WINDOW_MS	200	/* needs combined into one call */
#define DAEMON_PURCHASE_MAX		100	/* IPs bought by one call */
#define DAEMON_SOLD_OUT_MS		600000	/* a sold-out country rests */
#define DAEMON_RELEASE_SWEEP_MS		60000	/* idle IPs looked at */
#define DAEMON_PURCHASE_LOG		4096	/* purchase times remembered */
#define DAEMON_RECON_STEPS_MAX		10000	/* a listing's steps logged */
#define DAEMON_DRAIN_MS			15000	/* queued writes at shutdown */
#define DAEMON_EARLY_EXITS		1024	/* exits of pids not yet known */
#define DAEMON_EARLY_NOTIFY		256	/* their messages, kept likewise */
#define DAEMON_EARLY_MAX_AGE_MS		60000	/* older: another process */
#define DAEMON_DISPATCH_MS		10	/* callbacks per pass, then poll */

struct daemon;
struct daemon_demand;

/* One supervised session. */
struct dsession {
	TAILQ_ENTRY(dsession)	 link;
	struct daemon		*d;
	int64_t			 id;
	int64_t			 epoch;
	char			 user_id[USER_ID_LEN];
	char			 phone[PHONE_LEN];
	char			 country[COUNTRY_CODE_LEN];
	int64_t			 priority;
	int64_t			 last_activity;
	enum session_desired	 desired;
	struct supervise	 sv;
	pid_t			 pid;
	uint64_t		 start_ticks;	/* the connector's, from /proc */
	int			 pidfd;		/* adopted: watches its exit */
	struct event		*pidfd_ev;
	int64_t			 proxy_id;	/* 0: none */
	enum pool_choice_kind	 proxy_how;
	bool			 proxy_fallback;
	struct event		*timer;
	bool			 queued;	/* waiting to be admitted */
	struct daemon_demand	*demand;	/* waiting for a purchase */
	bool			 waiting_proxy;	/* backoff: the pool had none */
	enum proxy_type		 ptype;
	unsigned		 res_generation; /* bumped when a peer is refused */
	bool			 bought;	/* its next proxy was bought for it */
	bool			 removed;	/* gone from the store */
	bool			 seen;		/* present in the last sync */
	bool			 recovering;	/* part of the start-up recovery */
	int64_t			 recovery_t0;	/* monotonic ms */
	bool			 restart;	/* start again once stopped */
	bool			 shedding;	/* rebalancing: give up once stopped */
	bool			 lost;		/* another instance owns it now */
	/*
	 * Store reads answered later (the worker): an answer for an older
	 * request than these finds its session moved on and is undone.
	 */
	int64_t			 acq_gen;	/* the proxy being acquired */
	int64_t			 owner_gen;	/* the ownership check */
	/*
	 * Given up (rebalancing) after the sync numbered this was sent:
	 * kept in memory until a later sync shows it, so an older answer
	 * never brings it back (0: not given up).
	 */
	uint64_t		 released_after;
	int64_t			 spawn_gen;	/* its start, being answered */
};

struct daemon {
	const struct config	*cfg;
	struct event_base	*base;
	struct store		*store;
	struct provider		*provider;
	struct pool		*pool;
	struct fallback_overrides *fallback;
	struct notify		*notify;
	char			**connector_argv;
	struct supervise_params	 sp;
	char			 instance_id[STORE_ID_LEN];
	char			 hostname[256];

	TAILQ_HEAD(, dsession)	 all;
	struct intmap		*by_id;		/* session id -> dsession */
	struct intmap		*by_pid;	/* connector pid -> dsession */
	struct dsession		**queue;	/* admission FIFO */
	size_t			 qhead, qlen, qcap;
	int64_t			 starting;	/* sessions in STARTING */

	struct event		*ev_notify, *ev_tick, *ev_admit;
	struct event		*ev_sigterm, *ev_sigint, *ev_sigchld, *ev_sigusr2;
	bool			 handover;	/* leave connectors running */
	int64_t			 adopted;
	int64_t			 last_heartbeat, last_activity, last_log_trim;
	int64_t			 last_reconcile;
	bool			 recon_running, recon_failed, pool_loaded;
	struct daemon_demand	*demand[26 * 26];	/* purchases per country */
	struct billing_model	 billing;
	struct billing_policy	 release;
	struct billing_limits	 limits;
	int64_t			 last_release_sweep;
	int64_t			 spend_day;		/* start of the day below */
	int64_t			 spent_today;		/* micros bought today */
	int64_t			*purchase_times;	/* ring, for the rate */
	size_t			 npurchase_times;
	int64_t			 fp_count, fp_gen;	/* sessions fingerprint */
	bool			 stopping;
	bool			 tearing_down;	/* provider callbacks do nothing */
	uint64_t		 rng;

	/* The start-up recovery run and its figures. */
	struct recovery_run	 run;
	int64_t			 run_pending;
	bool			 run_open;

	/* Counters, for logs and /metrics. */
	int64_t			 notify_dropped;
	int64_t			 refused_purchases;
	int64_t			 spawns;
	int64_t			 purchased;		/* IPs bought */
	int64_t			 assigned[POOL_WAIT + 1]; /* by pool choice */
	int64_t			 fallbacks;		/* assignments */
	int64_t			 restarts;		/* exits, then backoff */
	int64_t			 proxy_replaced;
	int64_t			 conflicts;
	int64_t			 released;		/* IPs given back */
	int64_t			 heartbeat_ok_at;	/* wall ms */
	int64_t			 heartbeat_failures;

	int64_t			 sv_count[SV_NSTATES];	/* sessions by state */

	/* Fleet mode (PostgreSQL): leases, fencing, rebalancing. */
	bool			 fleet;
	bool			 fenced;	/* lease lost: everything stopped */
	struct lease		*lease;		/* the renewer thread */
	int64_t			 last_fleet_tick;
	int64_t			 lease_ok_mono;	/* last renewal, monotonic ms */
	int64_t			 registered_mono;
	struct event		*ev_wake;	/* peers released sessions */
	int			 wake_fd;
	int64_t			 claimed;	/* sessions claimed, ever */
	int64_t			 shed;		/* sessions given up, ever */
	int64_t			 lost_sessions;	/* taken by another instance */
	char			 crashed[8][STORE_ID_LEN]; /* same-host, at start */
	int			 ncrashed;

	/* Operator interfaces (daemon_ops.c). */
	struct api		*api;
	struct webhook		*webhook;
	struct secret		*webhook_key;
	struct event		*ev_sync;	/* API writes, coalesced */
	bool			 setup_done;	/* recovery has begun */
	struct metrics_hist	 recovery_hist;	/* one session's, seconds */
	struct metrics_hist	 run_hist;	/* a whole run's, seconds */

	/* The store's worker (storeq.h) and the reads in flight on it. */
	struct storeq		*q;
	struct storeq		*spawner;	/* starts connectors */
	struct {
		pid_t		 pid;		/* 0: free */
		int		 code;
		int64_t		 at;		/* monotonic ms */
	}			 early_exit[DAEMON_EARLY_EXITS];
	size_t			 early_next;
	struct {
		pid_t		 sid;		/* 0: free */
		int64_t		 at;		/* monotonic ms */
		struct notify_msg m;
	}			 early_notify[DAEMON_EARLY_NOTIFY];
	size_t			 early_notify_next;
	int64_t			 spawns_in_flight;
	int64_t			 acq_seq;	/* dsession.acq_gen source */
	bool			 sync_busy;	/* a sync is in flight */
	bool			 sync_again;	/* another was asked meanwhile */
	bool			 sync_share;	/* ... with the fleet share */
	uint64_t		 sync_sent;	/* syncs submitted */
	uint64_t		 sync_applied;	/* the last one applied */
	bool			 fp_busy;	/* a fingerprint read in flight */
	bool			 wake_busy;	/* a wake-up drain in flight */
};


#define DAEMON_SYNC_DELAY_MS	50	/* API writes acted on within */
/*
 * An instance's lease is its heartbeat, valid RESPAWN_LEASE (by the
 * database's clock in fleet mode); it renews every sixth of the lease and,
 * in fleet mode, fences itself when no renewal succeeded for two thirds of
 * it by its own monotonic clock: it has stopped before a peer may take its
 * sessions.
 */
#define DAEMON_HEARTBEAT_MS(d)		((d)->cfg->lease_ms / 6)
#define DAEMON_STALE_MS(d)		((d)->cfg->lease_ms)
#define DAEMON_RENEW_DEADLINE_MS(d)	((d)->cfg->lease_ms * 2 / 3)
#define DAEMON_SHED_MAX			8	/* sessions given up per heartbeat */
#define DAEMON_FLEET_SETTLE_MS		2000	/* peers starting together */
#define DAEMON_EXIT_FENCED		75	/* EX_TEMPFAIL: restart me */

/* daemon.c, for daemon_ops.c and daemon_fleet.c */
void	daemon_sync_now(struct daemon *d);
/*
 * A sync (claims, sessions, proxies; with share, the fair share too) on
 * the store's worker, applied when it answers; one in flight at a time.
 */
void	daemon_sync_request(struct daemon *d, bool startup, bool share);
/* Start queued sessions while fewer than the concurrency are starting. */
void	daemon_admit(struct daemon *d);
void	daemon_enqueue(struct daemon *d, struct dsession *ds);
void	daemon_feed(struct dsession *ds, enum supervise_event ev,
	    int status, bool keep_proxy);
enum session_status daemon_status_of(enum supervise_state s);

/*
 * daemon_store.c: writes the daemon does not wait for, as jobs of the
 * store's worker, run in submission order; failures are logged when
 * their results come back.
 */
int	daemon_submit(struct daemon *d, storeq_run_fn run, storeq_done_fn done,
	    void *arg, const char *what);
void	daemon_store_report(struct daemon *d, const struct dsession *ds,
	    const struct session_report *rep);
void	daemon_store_proxy_unassign(struct daemon *d, int64_t proxy_id,
	    bool keep);
void	daemon_store_proxy_state(struct daemon *d, int64_t proxy_id,
	    enum proxy_state state);
void	daemon_store_event(struct daemon *d, int64_t session,
	    const char *kind);
void	daemon_store_intent_settle(struct daemon *d, int64_t intent_id,
	    enum intent_state state, const char *error);
void	daemon_store_recovery_run(struct daemon *d,
	    const struct recovery_run *run);
void	daemon_store_instance_status(struct daemon *d,
	    enum instance_status status);
void	daemon_store_reap(struct daemon *d);

/* daemon_fleet.c, for daemon.c: fleet mode (docs/FLEET.md) */
/* Lease lost: SIGKILL every connector, buy nothing, leave the loop (75). */
void	daemon_fence(struct daemon *d, const char *why);
/* Each heartbeat: dead peers marked, a sync with the fair share. */
void	daemon_fleet_tick(struct daemon *d);
/* Above the fair share: give up to DAEMON_SHED_MAX sessions, idle first. */
void	daemon_fleet_rebalance(struct daemon *d, int64_t share, int64_t owned);
/* A session given up for rebalancing has stopped: release it. */
void	daemon_shed_done(struct dsession *ds);
/* Watch the worker's LISTEN socket for peers' wake-ups. */
void	daemon_wake_watch(struct daemon *d);
/* At start: a crashed same-host daemon's connector of a peer's session. */
void	daemon_orphan(struct daemon *d, const struct session *s);

/* daemon_ops.c, for daemon.c */
int	daemon_ops_start(struct daemon *d, char *err, size_t errlen);
void	daemon_ops_stop(struct daemon *d);
/* A session's supervisor moved (webhooks, counters). */
void	daemon_ops_transition(struct dsession *ds,
	    const struct supervise_output *out);
/* A proxy was given to a session by the pool. */
void	daemon_ops_assigned(struct dsession *ds, int64_t previous_proxy,
	    const char *country);

#endif
