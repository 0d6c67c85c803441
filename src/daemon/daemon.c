/*
 * `respawn serve`: see daemon.h.  This file only wires the daemon's
 * modules together and runs the loop: it sets up the shared context and
 * each module in order (README and docs/ARCHITECTURE.md walk them), turns
 * signals and the one-second tick into calls of theirs, connects the hooks
 * through which a lower module tells a higher one what happened, and tears
 * everything down in the order that keeps every callback safe.
 */
#include <sys/stat.h>

#include <errno.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/failpoint.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "core/fallback.h"
#include "core/pool.h"
#include "daemon/ctx.h"
#include "daemon/daemon.h"
#include "daemon/daemon_impl.h"
#include "daemon/fleet.h"
#include "daemon/inventory.h"
#include "daemon/jobs.h"
#include "daemon/lease.h"
#include "daemon/ops.h"
#include "daemon/qrwatch.h"
#include "daemon/proxy.h"
#include "daemon/purchase.h"
#include "daemon/record.h"
#include "daemon/recovery.h"
#include "daemon/sessions.h"
#include "daemon/succession.h"
#include "daemon/spawn.h"
#include "daemon/supervisor.h"
#include "daemon/sync.h"
#include "provider/provider.h"
#include "store/store.h"
#include "store/storeq.h"
#include "sys/sdnotify.h"

#define DAEMON_TICK_MS		1000
#define DAEMON_DRAIN_MS		15000	/* queued writes at shutdown */
#define DAEMON_DISPATCH_MS	10	/* callbacks per pass, then poll */

/* --- hooks: what lower modules tell higher ones ------------------------- */

static void
daemon_timer(struct dsession *ds, void *arg)
{
	struct daemon	*d = arg;

	supervisor_timer(d->sup, ds);
}

static void
daemon_acquire(void *arg, struct dsession *ds)
{
	struct daemon	*d = arg;

	proxy_acquire(d->px, ds);
}

static void
daemon_cancel_acquire(void *arg, struct dsession *ds)
{
	struct daemon	*d = arg;

	proxy_cancel(d->px, ds);
}

static void
daemon_give_back(void *arg, struct dsession *ds, bool bad)
{
	struct daemon	*d = arg;

	proxy_give_back(d->px, ds, bad);
}

static void
daemon_spawn(void *arg, struct dsession *ds)
{
	struct daemon	*d = arg;

	spawn_start(d->sp, ds);
}

static void
daemon_poll(void *arg)
{
	struct daemon	*d = arg;

	spawn_poll(d->sp);
}

/* A session's step: the recovery's figures, the webhooks, rebalancing. */
static void
daemon_moved(void *arg, struct dsession *ds,
    const struct supervise_output *out)
{
	struct daemon	*d = arg;

	recovery_moved(d->recovery, ds, out);
	ops_moved(d->ops, ds, out);
}

static void
daemon_give_up(void *arg, struct dsession *ds)
{
	struct daemon	*d = arg;

	fleet_give_up(d->fleet, ds);
}

/* During shutdown: once no connector runs, finish. */
static void
daemon_idle(void *arg)
{
	struct daemon	*d = arg;

	if (d->c.stopping && !d->c.fenced && sessions_pids(d->reg) == 0) {
		(void)failpoint("shutdown.stopped");
		event_base_loopexit(d->c.base, NULL);
	}
}

static void
daemon_retry(void *arg, struct dsession *ds)
{
	struct daemon	*d = arg;

	proxy_acquire(d->px, ds);
}

static void
daemon_assigned(void *arg, struct dsession *ds, const char *previous_ip,
    const char *country)
{
	struct daemon	*d = arg;

	ops_assigned(d->ops, ds, previous_ip, country);
}

static void	daemon_setup_finish(struct daemon *d);

static void
daemon_setup_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;

	(void)fd;
	(void)what;
	if (!d->c.stopping)
		daemon_setup_finish(d);
}

/* Purchases of this instance a listing must not settle yet. */
static size_t
daemon_busy_intents(void *arg, int64_t *ids, size_t max, int64_t *since)
{
	struct daemon	*d = arg;

	return purchase_busy(d->pur, ids, max, since);
}

static void
daemon_intents(void *arg, const struct inventory_intent *v, size_t n)
{
	struct daemon	*d = arg;

	purchase_intents(d->pur, v, n);
}

/* A listing was applied: the first one lets the recovery go on. */
static void
daemon_listed(void *arg, bool first, int64_t asked_at)
{
	struct daemon	*d = arg;
	int64_t		 wait;

	proxy_listed(d->px, asked_at);
	if (!first) {
		dctx_batch_begin(&d->c);
		purchase_retry_all(d->pur);
		supervisor_drain(d->sup);
		dctx_batch_end(&d->c);
		return;
	}
	/*
	 * Peers started at the same moment register within this time, so
	 * the first claim already counts them: each takes its share instead
	 * of the first taking everything.
	 */
	wait = d->c.registered_mono + FLEET_SETTLE_MS - util_mono_ms();
	if (d->c.fleet && wait > 0) {
		struct timeval	tv = { wait / 1000, (wait % 1000) * 1000 };

		event_base_once(d->c.base, -1, EV_TIMEOUT,
		    daemon_setup_finish_cb, d, &tv);
		return;
	}
	daemon_setup_finish(d);
}

/* The start-up sync was applied (ok), or the sessions cannot be read. */
static void
daemon_loaded(void *arg, bool ok)
{
	struct daemon	*d = arg;

	if (!ok && !d->c.stopping && util_mono_ms() + DAEMON_START_RETRY_STEP_MS
	    - d->start_mono < DAEMON_START_RETRY_MS(d->c.cfg)) {
		struct timeval	tv = { 0, DAEMON_START_RETRY_STEP_MS * 1000 };

		/* A database restarting: the same read, a moment later. */
		log_warn("daemon.recovery_retry", LOGF_S("msg",
		    "cannot read the sessions yet; trying again"));
		event_base_once(d->c.base, -1, EV_TIMEOUT,
		    daemon_setup_finish_cb, d, &tv);
		return;
	}
	if (!ok) {
		log_error("daemon.recovery_failed", LOGF_S("msg",
		    "cannot read the sessions; stopping"));
		d->status = EX_IOERR;
		d->c.stopping = true;
		event_base_loopexit(d->c.base, NULL);
		return;
	}
	/* What an earlier daemon left and no session took over goes now. */
	spawn_stop_leftovers(d->sp);
	recovery_open(d->recovery);
	(void)failpoint("recovery.loaded");
	record_instance_status(d->rec, INSTANCE_RUNNING);
	sdnotify_send("READY=1\nSTATUS=recovering sessions");
	supervisor_admit(d->sup);
	d->c.setup_done = true;
	/*
	 * From now on a locked SQLite file stalls the loop (and the API's
	 * answers) for at most STORE_LOOP_WAIT_MS a call, not the default
	 * wait; the start-up above waited as long as the CLI does.
	 */
	(void)store_set_wait(d->c.store, STORE_LOOP_WAIT_MS);
}

static void
daemon_foreign(void *arg, const struct session *s)
{
	struct daemon	*d = arg;

	fleet_orphan(d->fleet, s);
}

static void
daemon_share(void *arg, int64_t fair, int64_t owned)
{
	struct daemon	*d = arg;

	fleet_rebalance(d->fleet, fair, owned);
}

/* --- signals and the tick ----------------------------------------------- */

static void
daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon	*d = arg;
	struct dsession	*ds;

	(void)what;
	if (d->c.stopping)
		return;
	log_info("daemon.stopping", LOGF_S("signal", sig == SIGINT ? "SIGINT" :
	    sig == SIGUSR2 ? "SIGUSR2" : "SIGTERM"), LOGF_B("handover",
	    sig == SIGUSR2), LOGF_I("connectors",
	    (int64_t)sessions_pids(d->reg)));
	sdnotify_send("STOPPING=1");
	d->c.stopping = true;
	if (sig == SIGUSR2) {
		/*
		 * A handover: connectors keep running for the next daemon to
		 * adopt; their pids and proxies stay recorded.
		 */
		d->c.handover = true;
		(void)failpoint("handover");
		event_base_loopexit(d->c.base, NULL);
		return;
	}
	record_instance_status(d->rec, INSTANCE_STOPPING);
	dctx_batch_begin(&d->c);
	/* Proxies stay reserved for the restart. */
	for (ds = sessions_first(d->reg); ds != NULL; ds = sessions_next(ds)) {
		ds->queued = false;
		if (ds->sv.state != SV_STOPPED)
			supervisor_feed(d->sup, ds, SV_EV_STOP, 0, true);
	}
	supervisor_drain(d->sup);
	dctx_batch_end(&d->c);
}

/* The lease: fence when it is lost, publish what the renewer saw. */
static bool
daemon_lease_check(struct daemon *d, int64_t now)
{
	int64_t	mono = util_mono_ms();

	d->lease_ok_mono = lease_renewed_mono(d->lease);
	/*
	 * First, before anything acts: after a pause (SIGSTOP, a stalled
	 * VM) or a database outage, a lease not renewed in time may already
	 * be a peer's to take.
	 */
	if (lease_state(d->lease) == LEASE_TAKEN) {
		fleet_fence(d->fleet, "a peer declared this instance dead",
		    mono - d->lease_ok_mono);
		return false;
	}
	if (mono - d->lease_ok_mono > FLEET_RENEW_DEADLINE_MS(d->c.cfg) ||
	    lease_state(d->lease) == LEASE_EXPIRED) {
		fleet_fence(d->fleet, "the lease was not renewed within its "
		    "deadline", mono - d->lease_ok_mono);
		return false;
	}
	d->heartbeat_ok_at = now - (mono - d->lease_ok_mono);
	if (lease_failures(d->lease) > d->heartbeat_failures) {
		d->heartbeat_failures = lease_failures(d->lease);
		log_warn("lease.renew_failed", LOGF_I("failures",
		    d->heartbeat_failures), LOGF_I("silent_ms", mono -
		    d->lease_ok_mono), LOGF_S("msg", "the database did not take "
		    "the lease renewal; fencing after two thirds of the lease"));
	}
	return true;
}

/* One host, SQLite (inline): the heartbeat is a write to a local file. */
static void
daemon_heartbeat(struct daemon *d, int64_t now)
{
	const struct recovery_run	*run = recovery_run(d->recovery);
	bool				 open = recovery_pending(d->recovery);
	char				 status[128];

	if (store_instance_heartbeat(d->c.store, d->c.instance_id, now, open,
	    run->sessions_total, run->recovered + run->failed) < 0) {
		d->heartbeat_failures++;
		log_error("store.heartbeat_failed",
		    LOGF_S("error", store_errmsg(d->c.store)));
	} else {
		d->heartbeat_ok_at = now;
		d->lease_ok_mono = util_mono_ms();
	}
	d->last_heartbeat = now;
	d->heartbeat_open = open;
	if (open) {
		snprintf(status, sizeof status, "STATUS=recovering %lld/%lld "
		    "sessions", (long long)(run->recovered + run->failed),
		    (long long)run->sessions_total);
		sdnotify_send(status);
	}
}

/* Tell the service manager while the store refuses writes, and after. */
static void
daemon_store_status(struct daemon *d)
{
	struct record_stats	rs;
	char			status[128];

	if (record_blocked(d->rec)) {
		record_stats(d->rec, &rs);
		snprintf(status, sizeof status, "STATUS=the store refuses "
		    "writes: %zu waiting, nothing new starts", rs.waiting);
		sdnotify_send(status);
		d->said_blocked = true;
	} else if (d->said_blocked) {
		sdnotify_send("STATUS=the store takes writes again");
		d->said_blocked = false;
	}
}

static void
daemon_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon			*d = arg;
	const struct recovery_run	*run = recovery_run(d->recovery);
	int64_t				 now = util_now_ms();

	(void)fd;
	(void)what;
	if (sdnotify_watchdog_interval_ms() > 0)
		sdnotify_send("WATCHDOG=1");
	if (d->c.stopping)
		return;
	if (d->lease != NULL && !daemon_lease_check(d, now))
		return;
	dctx_batch_begin(&d->c);
	if (d->lease != NULL) {
		lease_progress(d->lease, recovery_pending(d->recovery),
		    run->sessions_total, run->recovered + run->failed);
		if (d->c.setup_done && now - d->last_fleet_tick >=
		    FLEET_HEARTBEAT_MS(d->c.cfg)) {
			d->last_fleet_tick = now;
			fleet_tick(d->fleet);
		}
	} else if (now - d->last_heartbeat >= FLEET_HEARTBEAT_MS(d->c.cfg) ||
	    d->heartbeat_open != recovery_pending(d->recovery)) {
		/* The recovery's end is told at once: recoveryCompletedAt. */
		daemon_heartbeat(d, now);
	}
	ops_heartbeat(d->ops, d->heartbeat_ok_at, d->heartbeat_failures);
	daemon_store_status(d);
	spawn_tick(d->sp, now);
	qrwatch_tick(d->qr);
	if (inventory_loaded(d->inv) && now -
	    inventory_last_reconcile(d->inv) >= INVENTORY_RECONCILE_MS)
		inventory_reconcile(d->inv);
	proxy_tick(d->px, now);
	/* Live changes from the CLI or the API, within a second. */
	sync_tick(d->sync);
	supervisor_admit(d->sup);
	supervisor_drain(d->sup);
	dctx_batch_end(&d->c);
}

/* --- set-up ------------------------------------------------------------- */

/*
 * The modules, each given what it uses; hooks point upwards.  0, or the
 * exit status.
 */
static int
daemon_modules(struct daemon *d)
{
	struct dctx			*c = &d->c;
	const struct supervisor_hooks	 sh = { .arg = d,
		.acquire = daemon_acquire, .cancel_acquire = daemon_cancel_acquire,
		.release_proxy = daemon_give_back, .spawn = daemon_spawn,
		.poll = daemon_poll, .moved = daemon_moved, .idle = daemon_idle,
		.give_up = daemon_give_up };
	const struct inventory_hooks	 ih = { .arg = d,
		.listed = daemon_listed, .busy = daemon_busy_intents,
		.intents = daemon_intents };
	const struct purchase_hooks	 ph = { .arg = d,
		.retry = daemon_retry };
	const struct proxy_hooks	 xh = { .arg = d,
		.assigned = daemon_assigned };
	const struct sync_hooks		 yh = { .arg = d,
		.loaded = daemon_loaded, .foreign = daemon_foreign,
		.share = daemon_share };
	struct sync_parts		 yp;
	struct ops_parts		 op;
	char				 err[512];
	int				 r;

	if ((r = daemon_store_open(d)) != 0)
		return r;
	d->reg = sessions_new(c->base, daemon_timer, d);
	d->jobs = jobs_new(c, d->reg);
	d->rec = record_new(c, d->jobs);
	d->recovery = recovery_new(c, d->rec);
	d->sup = supervisor_new(c, d->reg, d->jobs, d->rec, &sh);
	d->inv = inventory_new(c, d->jobs, &ih);
	d->pur = purchases_new(c, d->sup, d->jobs, d->rec, d->inv, &ph);
	d->px = proxies_new(c, d->reg, d->sup, d->jobs, d->rec, d->inv,
	    d->pur, &xh);
	if ((r = daemon_register(d)) != 0)
		return r;
	if ((r = spawner_new(c, d->reg, d->sup, d->jobs, d->rec, d->px,
	    &d->sp, err)) < 0) {
		log_error("daemon.spawner_failed", LOGF_S("error", err));
		return r == -EINVAL ? EX_CONFIG : EX_OSERR;
	}
	yp = (struct sync_parts){ .reg = d->reg, .sup = d->sup,
	    .jobs = d->jobs, .rec = d->rec, .inv = d->inv, .px = d->px,
	    .pur = d->pur, .sp = d->sp, .recovery = d->recovery };
	d->sync = sync_new(c, &yp, &yh);
	d->fleet = fleet_new(c, d->reg, d->sup, d->jobs, d->rec, d->recovery,
	    d->sync);
	op = (struct ops_parts){ .reg = d->reg, .sup = d->sup,
	    .recovery = d->recovery, .px = d->px, .pur = d->pur, .sp = d->sp,
	    .sync = d->sync, .rec = d->rec };
	err[0] = '\0';
	if ((r = ops_new(c, &op, &d->ops, err, sizeof err)) < 0) {
		log_error("daemon.api_failed", LOGF_S("error", err));
		return r == -EINVAL ? EX_CONFIG : EX_OSERR;
	}
	d->qr = qrwatch_new(c, d->reg, d->ops);
	return 0;
}

/* Everything up to the first listing: 0, or the exit status. */
static int
daemon_setup(struct daemon *d)
{
	struct dctx	*c = &d->c;
	char		 perr[PROVIDER_ERR_LEN], err[STORE_ERROR_LEN];
	int		 r;

	if (dctx_init(c) < 0)
		return EX_CONFIG;
	if (provider_open(c->base, c->cfg, &c->provider, perr) < 0) {
		log_error("daemon.provider_failed", LOGF_S("error", perr));
		return EX_CONFIG;
	}
	if ((r = daemon_mkdirs(c->cfg)) != 0 || (r = daemon_modules(d)) != 0)
		return r;
	if (c->fleet) {
		struct lease_params	lp = {
			.db = c->cfg->db,
			.instance_id = c->instance_id,
			.period_ms = FLEET_HEARTBEAT_MS(c->cfg),
			.deadline_ms = FLEET_RENEW_DEADLINE_MS(c->cfg),
			.lease_ms = c->cfg->lease_ms,
		};

		while ((r = lease_start(&lp, &d->lease, err)) < 0 &&
		    daemon_start_retry(d, "lease", r, err))
			;
		if (r < 0) {
			log_error("daemon.lease_failed", LOGF_S("error", err));
			return EX_IOERR;
		}
		d->lease_ok_mono = lease_renewed_mono(d->lease);
		fleet_wake_watch(d->fleet);
	}
	recovery_begin(d->recovery);
	/* The rest follows the provider's listing (daemon_listed). */
	inventory_reconcile(d->inv);
	return 0;
}

/* Second half of the start, once the pool matches the provider. */
static void
daemon_setup_finish(struct daemon *d)
{
	sync_startup(d->sync);
}

/* --- tear-down ---------------------------------------------------------- */

static void
daemon_teardown(struct daemon *d)
{
	struct dctx	*c = &d->c;

	/*
	 * The provider first: freeing it calls back every operation still in
	 * flight (purchases, releases, a listing), and those callbacks must
	 * find the daemon whole; tearing_down makes them do nothing.
	 */
	c->tearing_down = true;
	provider_free(c->provider);
	c->provider = NULL;
	/*
	 * Then the store's worker: the results it still holds find
	 * tearing_down set, and the API's answers still have a server.
	 */
	storeq_free(c->q);
	c->q = NULL;
	/* Connectors started and not yet answered are killed there. */
	spawner_free(d->sp);
	lease_stop(d->lease);
	if (d->ev_tick != NULL)
		event_free(d->ev_tick);
	if (d->ev_sigterm != NULL)
		event_free(d->ev_sigterm);
	if (d->ev_sigint != NULL)
		event_free(d->ev_sigint);
	if (d->ev_sigusr2 != NULL)
		event_free(d->ev_sigusr2);
	qrwatch_free(d->qr);
	ops_free(d->ops);
	fleet_free(d->fleet);
	sync_free(d->sync);
	proxies_free(d->px);
	purchases_free(d->pur);
	inventory_free(d->inv);
	supervisor_free(d->sup);
	recovery_free(d->recovery);
	record_free(d->rec);
	jobs_free(d->jobs);
	sessions_free(d->reg);
	pool_free(c->pool);
	fallback_overrides_free(c->fallback);
	store_close(c->store);
	if (c->base != NULL)
		event_base_free(c->base);
}

/* --- the loop ----------------------------------------------------------- */

/*
 * After DAEMON_DISPATCH_MS of callbacks in one pass the loop polls its
 * descriptors again before running more, so work that re-arms itself
 * (admission, spawns, the store's answers) takes turns with readiness
 * messages, exits and HTTP requests instead of running ahead of them.
 */
static struct event_base *
daemon_event_base(void)
{
	struct event_config	*cfg;
	struct event_base	*base;
	struct timeval		 tv = { 0, DAEMON_DISPATCH_MS * 1000 };

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	(void)event_config_set_max_dispatch_interval(cfg, &tv, -1, 0);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

int
daemon_run(const struct config *cfg)
{
	struct daemon	 d = { .c = { .cfg = cfg },
			    .start_mono = util_mono_ms() };
	struct timeval	 tick = { DAEMON_TICK_MS / 1000,
			    (DAEMON_TICK_MS % 1000) * 1000 };
	struct spawn_stats ss;
	int		 ex = 0;

	/* Descriptors inherited without close-on-exec must not reach connectors. */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	sdnotify_init();
	signal(SIGPIPE, SIG_IGN);
	if ((d.c.base = daemon_event_base()) == NULL) {
		log_error("daemon.event_base_failed");
		return EX_OSERR;
	}
	/* Signals are events. */
	d.ev_sigusr2 = evsignal_new(d.c.base, SIGUSR2, daemon_signal_cb, &d);
	d.ev_sigterm = evsignal_new(d.c.base, SIGTERM, daemon_signal_cb, &d);
	d.ev_sigint = evsignal_new(d.c.base, SIGINT, daemon_signal_cb, &d);
	evsignal_add(d.ev_sigusr2, NULL);
	evsignal_add(d.ev_sigterm, NULL);
	evsignal_add(d.ev_sigint, NULL);
	if ((ex = daemon_setup(&d)) != 0) {
		daemon_teardown(&d);
		return ex;
	}
	d.ev_tick = event_new(d.c.base, -1, EV_PERSIST, daemon_tick_cb, &d);
	event_add(d.ev_tick, &tick);
	event_base_dispatch(d.c.base);

	/* No renewal after this: the status written below is final. */
	lease_stop(d.lease);
	d.lease = NULL;
	if (d.c.fenced) {
		/* Not ours any more: nothing is written for the sessions. */
		log_error("daemon.fenced", LOGF_S("instance", d.c.instance_id),
		    LOGF_S("msg", "stopped every connector and purchase; exit "
		    "for a restart under a new instance id"));
		daemon_teardown(&d);
		return FLEET_EXIT_FENCED;
	}
	/*
	 * Stopped by a signal: every connector has exited, or is handed
	 * over.  What the worker still holds is written first, in order.
	 */
	ex = d.status;
	if (record_goodbye(d.rec, !d.c.handover, DAEMON_DRAIN_MS) < 0)
		ex = EX_IOERR;
	spawn_stats(d.sp, &ss);
	log_info("daemon.stopped", LOGF_S("instance", d.c.instance_id),
	    LOGF_B("handover", d.c.handover), LOGF_I("spawns", ss.spawns),
	    LOGF_I("adopted", ss.adopted),
	    LOGF_I("notify_dropped", ss.notify_dropped));
	daemon_teardown(&d);
	return ex;
}
