/*
 * What every module of `respawn serve` shares: the configuration, the
 * event loop, the store and its worker, the provider, the proxy pool, the
 * instance's identity, the parameters read from the configuration, and the
 * phase the daemon is in.
 *
 * This is the one struct whose fields the daemon's modules read directly,
 * as tmux's files read the globals declared in tmux.h: services and facts
 * set up once by daemon.c, not any module's private state.  Its writers are
 * few and named here: daemon.c (with dctx_init) sets everything up and
 * moves the phase; fleet.c's fence sets fenced and stopping; inventory.c
 * creates the pool with the first listing; record.c's goodbye frees the
 * store's worker when it is stuck.  Every other module only reads it.
 */
#ifndef RESPAWN_DAEMON_CTX_H
#define RESPAWN_DAEMON_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rng.h"
#include "core/billing.h"
#include "core/supervise.h"
#include "store/store.h"

struct config;
struct event_base;
struct fallback_overrides;
struct pool;
struct provider;
struct storeq;

#define DAEMON_HOSTNAME_MAX	256
#define DAEMON_PATH_MAX		1024

struct dctx {
	const struct config	*cfg;
	struct event_base	*base;
	/* The loop's own connection: start-up, and every job on SQLite. */
	struct store		*store;
	/* The store's worker: every store call once the loop runs. */
	struct storeq		*q;
	struct provider		*provider;
	/* The proxies known, NULL until the first listing is applied. */
	struct pool		*pool;
	struct fallback_overrides *fallback;

	/* From the configuration, checked at start. */
	struct supervise_params	 sp;
	struct billing_model	 billing;
	struct billing_policy	 release;
	struct billing_limits	 limits;

	char			 instance_id[STORE_ID_LEN];
	char			 hostname[DAEMON_HOSTNAME_MAX];
	bool			 fleet;		/* PostgreSQL: leases, peers */
	int64_t			 registered_mono;	/* instance registered */
	struct rng		 rng;		/* jitter only */

	/* The phase. */
	bool			 setup_done;	/* the start-up recovery began */
	bool			 stopping;	/* start nothing new */
	bool			 handover;	/* SIGUSR2: connectors live on */
	bool			 fenced;	/* the lease is lost */
	bool			 tearing_down;	/* answers only free */
};

/*
 * The instance's identity (host, pid, start time, random bits) and the
 * parameters read from c->cfg: supervision, billing, fallback overrides.
 * -EINVAL, logged, for a configuration the core refuses.
 */
int	dctx_init(struct dctx *c);

/*
 * One batch (one transaction, one fsync) for what a loop callback writes.
 * Only inline (SQLite): in fleet mode the loop never touches its
 * connection, and the worker commits each job on its own.
 */
void	dctx_batch_begin(struct dctx *c);
void	dctx_batch_end(struct dctx *c);

#endif
