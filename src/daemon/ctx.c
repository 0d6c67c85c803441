/*
 * The daemon's shared context: see ctx.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "config/config_billing.h"
#include "core/fallback.h"
#include "daemon/ctx.h"
#include "provider/provider.h"
#include "store/store.h"
#include "store/storeq.h"

/* The supervisor's fixed parameters (the rest is configuration). */
#define DCTX_PROXY_WAIT_MS	5000	/* retry after the pool had none */
#define DCTX_STABLE_MS		60000	/* ready this long resets attempts */
#define DCTX_BACKOFF_CAP_MS	300000	/* the longest backoff */
#define DCTX_START_BURST	5	/* at most this many starts ... */
#define DCTX_START_INTERVAL_MS	10000	/* ... within this interval */

/* What the configuration says of supervision, billing and fallback. */
static int
dctx_params(struct dctx *c)
{
	const struct config	*cfg = c->cfg;
	const char		*why;
	struct config_billing	 bill;
	char			 perr[PROVIDER_ERR_LEN];

	c->sp = (struct supervise_params){
		.ready_timeout_ms = cfg->ready_timeout_ms,
		.watchdog_ms = cfg->watchdog_ms,
		.stop_timeout_ms = cfg->stop_timeout_ms,
		.backoff_base_ms = cfg->reconnect_delay_ms,
		.backoff_cap_ms = DCTX_BACKOFF_CAP_MS,
		.proxy_wait_ms = DCTX_PROXY_WAIT_MS,
		.stable_ms = DCTX_STABLE_MS,
		.max_attempts = (int)cfg->max_reconnect_attempts,
		.start_burst = DCTX_START_BURST,
		.start_interval_ms = DCTX_START_INTERVAL_MS,
		.auto_restart = cfg->auto_reconnect,
	};
	if (config_billing_load(cfg, &bill, &why) < 0) {
		log_error("daemon.billing_invalid", LOGF_S("error", why));
		return -EINVAL;
	}
	c->billing = bill.model;
	c->release = bill.policy;
	c->limits = bill.limits;
	if (fallback_override_parse(cfg->fallback_overrides, &c->fallback,
	    perr, sizeof perr) < 0) {
		log_error("daemon.fallback_failed", LOGF_S("error", perr));
		return -EINVAL;
	}
	return 0;
}

/* The instance's identity: host, pid, start time and 32 random bits. */
static void
dctx_identity(struct dctx *c)
{
	if (gethostname(c->hostname, sizeof c->hostname) < 0)
		(void)util_strlcpy(c->hostname, "localhost", sizeof c->hostname);
	c->hostname[sizeof c->hostname - 1] = '\0';
	rng_seed(&c->rng);
	snprintf(c->instance_id, sizeof c->instance_id, "%.40s-%d-%lld-%08x",
	    c->hostname, (int)getpid(), (long long)util_now_ms(),
	    (unsigned)rng_next(&c->rng));
}

int
dctx_init(struct dctx *c)
{
	dctx_identity(c);
	return dctx_params(c);
}

void
dctx_batch_begin(struct dctx *c)
{
	if (c->q != NULL && !storeq_threaded(c->q))
		(void)store_batch_begin(c->store);
}

void
dctx_batch_end(struct dctx *c)
{
	if (c->q != NULL && !storeq_threaded(c->q) &&
	    store_batch_end(c->store) < 0)
		log_error("store.batch_failed",
		    LOGF_S("error", store_errmsg(c->store)));
}
