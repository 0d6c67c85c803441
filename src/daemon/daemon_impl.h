/*
 * What daemon.c (the wiring and the loop) and daemon_start.c (the
 * start-up before the loop) share, and nobody else.
 */
#ifndef RESPAWN_DAEMON_IMPL_H
#define RESPAWN_DAEMON_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/ctx.h"

struct config;
struct event;
struct fleet;
struct inventory;
struct jobs;
struct lease;
struct ops;
struct proxies;
struct purchases;
struct qrwatch;
struct record;
struct recovery;
struct sessions;
struct spawner;
struct supervisor;
struct sync;

/*
 * A start that meets a database restarting retries, every
 * DAEMON_START_RETRY_STEP_MS (the store's own backoff spaces the
 * connection attempts), for as long as a lease lasts; then exit 74.
 */
#define DAEMON_START_RETRY_MS(cfg)	((cfg)->lease_ms)
#define DAEMON_START_RETRY_STEP_MS	250

/* The modules, in the order they are set up (each may use those above). */
struct daemon {
	struct dctx		 c;
	struct sessions		*reg;
	struct jobs		*jobs;
	struct record		*rec;
	struct supervisor	*sup;
	struct inventory	*inv;
	struct purchases	*pur;
	struct proxies		*px;
	struct spawner		*sp;
	struct recovery		*recovery;
	struct sync		*sync;
	struct fleet		*fleet;
	struct ops		*ops;
	struct lease		*lease;

	struct event		*ev_tick;
	struct qrwatch		*qr;		/* session.qr webhooks */
	struct event		*ev_sigterm, *ev_sigint, *ev_sigusr2;
	int64_t			 last_heartbeat;	/* wall ms */
	bool			 heartbeat_open;	/* the recovery, as told */
	int64_t			 last_fleet_tick;	/* wall ms */
	int64_t			 heartbeat_ok_at;	/* wall ms */
	int64_t			 heartbeat_failures;
	int64_t			 lease_ok_mono;		/* monotonic ms */
	int			 status;	/* the exit status, once known */
	int64_t			 start_mono;	/* when daemon_run began */
	bool			 said_blocked;	/* STATUS= says the store refuses */
};

/* daemon_start.c: each 0, or the daemon's exit status. */
/* The state directory and its subdirectories, only their owner's. */
int	daemon_mkdirs(const struct config *cfg);
/*
 * Whether a start-up step that failed with r (err saying why) is tried
 * again, after a wait: a lost or refused connection, while the start's
 * time lasts.
 */
bool	daemon_start_retry(struct daemon *d, const char *step, int r,
	    const char *err);
/* The store and its worker. */
int	daemon_store_open(struct daemon *d);
/* This instance in the store, after a crash or a graceful stop was told. */
int	daemon_register(struct daemon *d);

#endif
