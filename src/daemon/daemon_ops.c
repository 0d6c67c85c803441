/*
 * What operators see and steer in a running daemon: the HTTP API's view
 * of it (readiness, the seed's proxy status, restarts), /metrics, and the
 * webhooks of session status changes.  Everything here reads state the
 * daemon already keeps in memory, so a status request or a scrape costs
 * one pass over the sessions and the pool and never touches the store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/secret.h"
#include "daemon/daemon_impl.h"

/* One session's recovery: from queued to READY=1. */
static const double daemon_ops_session_buckets[] = { 0.1, 0.25, 0.5, 1, 2.5,
    5, 10, 30, 60, 120, 300, 600 };
/* A whole start-up recovery. */
static const double daemon_ops_run_buckets[] = { 1, 5, 10, 30, 60, 120, 300,
    600, 1800, 3600 };

#define DAEMON_OPS_STATES	(SV_NSTATES)

/* --- readiness, restarts, live changes ---------------------------------- */

static bool
daemon_ops_ready(void *arg)
{
	struct daemon	*d = arg;

	return d->setup_done && !d->run_open;
}

static void
daemon_ops_sync_cb(evutil_socket_t fd, short what, void *arg)
{
	daemon_sync_now(arg);
}

/* API writes are acted on within DAEMON_SYNC_DELAY_MS, many at once. */
static void
daemon_ops_changed(void *arg)
{
	struct daemon	*d = arg;
	struct timeval	 tv = { 0, DAEMON_SYNC_DELAY_MS * 1000 };

	if (d->setup_done && !d->stopping && !evtimer_pending(d->ev_sync, NULL))
		evtimer_add(d->ev_sync, &tv);
}

/*
 * Stop the connector (keeping its proxy reserved for it) and start it
 * again once it has stopped.  A session that is not running is started by
 * the store change the API made before calling this.
 */
static int
daemon_ops_restart(void *arg, int64_t id)
{
	struct daemon	*d = arg;
	struct dsession	*ds = intmap_get(d->by_id, id);

	/* Stopping: the answer stands, nothing more is started. */
	if (d->stopping)
		return 0;
	if (ds == NULL || ds->removed)
		return -ENOENT;
	switch (ds->sv.state) {
	case SV_READY:
	case SV_STARTING:
	case SV_BACKOFF:
		ds->restart = true;
		log_info("session.restart_requested", LOGF_I("session", ds->id));
		daemon_feed(ds, SV_EV_STOP, 0, true);
		return 0;
	case SV_STOPPING:
		ds->restart = true;
		return 0;
	default:
		return 0;
	}
}

/* --- the seed's proxy status -------------------------------------------- */

struct daemon_ops_counts {
	int64_t	proxies[POOL_LOST + 1];
	int64_t	reserved;
	int64_t	sessions[DAEMON_OPS_STATES];
	int64_t	nsessions;
};

/* Proxies by country (two letters) and state, in a flat table. */
#define DAEMON_OPS_CC(cc)	(((cc)[0] - 'a') * 26 + ((cc)[1] - 'a'))

static bool
daemon_ops_cc_ok(const char *cc)
{
	return cc[0] >= 'a' && cc[0] <= 'z' && cc[1] >= 'a' && cc[1] <= 'z' &&
	    cc[2] == '\0';
}

/*
 * One pass over the pool into plain counters (no allocation per proxy),
 * then one JSON object per country present; sessions by state are kept
 * up to date by the daemon at every transition.  At 10,000 sessions this
 * is what keeps GET /api/proxy/status cheap.
 */
static void
daemon_ops_count(struct daemon *d, struct daemon_ops_counts *c,
    json_t *by_country)
{
	static const enum pool_proxy_state shown[] = { POOL_ACTIVE, POOL_IDLE,
	    POOL_RELEASING, POOL_PURCHASING };
	int64_t			(*cc)[POOL_LOST + 1] = NULL;
	const struct pool_proxy	*px;
	json_t			*o;
	char			 code[3];
	size_t			 i, k, n = d->pool != NULL ? pool_count(d->pool) : 0;
	int64_t			 total;

	memset(c, 0, sizeof *c);
	if (by_country != NULL)
		cc = xcalloc(26 * 26, sizeof *cc);
	for (i = 0; i < n; i++) {
		px = pool_at(d->pool, i);
		if ((unsigned)px->state > POOL_LOST)
			continue;
		c->proxies[px->state]++;
		if (px->state == POOL_IDLE && px->reserved_for != 0)
			c->reserved++;
		if (cc != NULL && daemon_ops_cc_ok(px->country))
			cc[DAEMON_OPS_CC(px->country)][px->state]++;
	}
	for (i = 0; cc != NULL && i < 26 * 26; i++) {
		total = cc[i][POOL_ACTIVE] + cc[i][POOL_IDLE] +
		    cc[i][POOL_RELEASING] + cc[i][POOL_PURCHASING];
		if (total == 0)
			continue;
		code[0] = (char)('a' + i / 26);
		code[1] = (char)('a' + i % 26);
		code[2] = '\0';
		o = json_pack("{s:I}", "total", (json_int_t)total);
		for (k = 0; k < nitems(shown); k++)
			if (shown[k] != POOL_PURCHASING || cc[i][shown[k]] > 0)
				json_object_set_new(o, pool_state_name(shown[k]),
				    json_integer(cc[i][shown[k]]));
		json_object_set_new(by_country, code, o);
	}
	free(cc);
	for (i = 0; i < SV_NSTATES; i++) {
		c->sessions[i] = d->sv_count[i];
		c->nsessions += d->sv_count[i];
	}
}

/* IPs the provider bills for now: bought and not yet given back. */
static int64_t
daemon_ops_held(const struct daemon_ops_counts *c)
{
	return c->proxies[POOL_PURCHASING] + c->proxies[POOL_ACTIVE] +
	    c->proxies[POOL_IDLE] + c->proxies[POOL_RELEASING];
}

static double
daemon_ops_money(int64_t micros)
{
	return (double)micros / 1e6;
}

static double
daemon_ops_ratio(int64_t part, int64_t whole)
{
	return whole > 0 ? (double)part / (double)whole : 0.0;
}

/* The recovery run of this instance, with the seed's key metrics. */
static json_t *
daemon_ops_run_json(const struct daemon *d)
{
	const struct recovery_run	*r = &d->run;
	char				 t[UTIL_TIME_LEN];
	int64_t				 end = r->finished_at ? r->finished_at :
					    util_now_ms();

	if (!d->setup_done)
		return json_null();
	util_fmt_time(r->started_at, t);
	return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:f, s:f, s:f, s:I, s:f}", "cause", r->cause, "startedAt", t,
	    "inProgress", d->run_open, "durationMs", (json_int_t)(end -
	    r->started_at), "sessions", (json_int_t)r->sessions_total,
	    "recovered", (json_int_t)r->recovered, "failed",
	    (json_int_t)r->failed, "reactivated", (json_int_t)r->reactivated,
	    "reused", (json_int_t)r->reused, "purchased",
	    (json_int_t)r->purchased, "fallbacks", (json_int_t)r->fallbacks,
	    "successRate", daemon_ops_ratio(r->recovered, r->recovered +
	    r->failed), "reactivationRate", daemon_ops_ratio(r->reactivated,
	    r->recovered), "fallbackRate", daemon_ops_ratio(r->fallbacks,
	    r->recovered), "avgRecoveryMs", (json_int_t)(r->recovered ?
	    r->total_recovery_ms / r->recovered : 0),
	    "costPerRecoveredSession", r->recovered ?
	    daemon_ops_money(r->cost_micros) / (double)r->recovered : 0.0);
}

static json_t *
daemon_ops_proxy_status(void *arg)
{
	struct daemon			*d = arg;
	struct daemon_ops_counts	 c;
	struct provider_health		 h;
	json_t				*o, *by_country = json_object(), *s;
	int				 i;

	daemon_ops_count(d, &c, by_country);
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "total",
	    (json_int_t)daemon_ops_held(&c), "active",
	    (json_int_t)c.proxies[POOL_ACTIVE], "idle",
	    (json_int_t)c.proxies[POOL_IDLE], "releasing",
	    (json_int_t)c.proxies[POOL_RELEASING], "purchasing",
	    (json_int_t)c.proxies[POOL_PURCHASING], "reserved",
	    (json_int_t)c.reserved, "byCountry", by_country);
	json_object_set_new(o, "estimatedMonthlyCost", json_real(
	    daemon_ops_money(daemon_ops_held(&c) *
	    d->billing.price_micros_per_ip_month)));
	json_object_set_new(o, "spendToday", json_real(
	    daemon_ops_money(d->spent_today)));
	json_object_set_new(o, "dailySpendLimit",
	    d->limits.daily_spend_max_micros > 0 ? json_real(daemon_ops_money(
	    d->limits.daily_spend_max_micros)) : json_null());
	json_object_set_new(o, "purchasesRefused",
	    json_integer(d->refused_purchases));
	s = json_object();
	json_object_set_new(s, "total", json_integer(c.nsessions));
	for (i = 0; i < SV_NSTATES; i++)
		json_object_set_new(s, store_session_status_name(
		    daemon_status_of((enum supervise_state)i)),
		    json_integer(c.sessions[i]));
	json_object_set_new(o, "sessions", s);
	provider_health(d->provider, &h);
	json_object_set_new(o, "provider", json_pack("{s:s, s:s}", "name",
	    provider_name(d->provider), "breaker", h.has_breaker ?
	    h.breaker.name : "none"));
	json_object_set_new(o, "instanceId", json_string(d->instance_id));
	json_object_set_new(o, "lastRecovery", daemon_ops_run_json(d));
	return o;
}

/* --- /metrics ----------------------------------------------------------- */

/* respawn_proxies{state,country}: one series per pair that exists. */
static int
daemon_ops_metrics_proxies(struct daemon *d, struct buf *b)
{
	int64_t			(*cc)[POOL_LOST + 1];
	const struct pool_proxy	*px;
	char			 code[3];
	size_t			 i, j, np;
	int64_t			 any;
	int			 r;

	cc = xcalloc(26 * 26, sizeof *cc);
	np = d->pool != NULL ? pool_count(d->pool) : 0;
	for (i = 0; i < np; i++) {
		px = pool_at(d->pool, i);
		if ((unsigned)px->state <= POOL_LOST &&
		    daemon_ops_cc_ok(px->country))
			cc[DAEMON_OPS_CC(px->country)][px->state]++;
	}
	r = metrics_family(b, "respawn_proxies", METRICS_GAUGE, "Proxies "
	    "known to this instance, by state and country.");
	for (i = 0; i < 26 * 26 && r >= 0; i++) {
		for (j = 0, any = 0; j <= POOL_LOST; j++)
			any += cc[i][j];
		if (any == 0)
			continue;
		code[0] = (char)('a' + i / 26);
		code[1] = (char)('a' + i % 26);
		code[2] = '\0';
		for (j = 0; j <= POOL_LOST && r >= 0; j++)
			r = metrics_sample(b, "respawn_proxies", (double)cc[i][j],
			    "state", pool_state_name((enum pool_proxy_state)j),
			    "country", code, NULL);
	}
	free(cc);
	return r;
}

/* A counter family with one unlabelled sample. */
static int
daemon_ops_counter(struct buf *b, const char *name, const char *help,
    double v)
{
	int	r;

	if ((r = metrics_family(b, name, METRICS_COUNTER, help)) < 0)
		return r;
	return metrics_sample(b, name, v, NULL);
}

static int
daemon_ops_gauge(struct buf *b, const char *name, const char *help, double v)
{
	int	r;

	if ((r = metrics_family(b, name, METRICS_GAUGE, help)) < 0)
		return r;
	return metrics_sample(b, name, v, NULL);
}

static int
daemon_ops_metrics_provider(struct daemon *d, struct buf *b)
{
	static const char *const outcome[] = { "ok", "failed", "unknown" };
	static const char *const bstate[] = { "closed", "open", "half_open" };
	const struct provider_op_stats	*s;
	struct provider_health		 h;
	int				 r, op, k;

	r = metrics_family(b, "respawn_provider_operations_total",
	    METRICS_COUNTER, "Provider operations (list, purchase, release) "
	    "by outcome; unknown means the answer was lost.");
	for (op = 0; op < PROVIDER_OP_N && r >= 0; op++) {
		s = provider_op_stats(d->provider, (enum provider_op)op);
		for (k = 0; k <= PROVIDER_UNKNOWN && r >= 0; k++)
			r = metrics_sample(b, "respawn_provider_operations_total",
			    (double)s->outcomes[k], "op", provider_op_name(
			    (enum provider_op)op), "outcome", outcome[k], NULL);
		if (r >= 0)
			r = metrics_sample(b, "respawn_provider_operations_total",
			    (double)s->refused, "op", provider_op_name(
			    (enum provider_op)op), "outcome", "not_started",
			    NULL);
	}
	if (r >= 0)
		r = metrics_family(b, "respawn_provider_operation_duration_seconds",
		    METRICS_HISTOGRAM, "Time from a provider operation's start "
		    "to its answer, retries included.");
	for (op = 0; op < PROVIDER_OP_N && r >= 0; op++) {
		s = provider_op_stats(d->provider, (enum provider_op)op);
		if (s->latency.nbounds > 0)
			r = metrics_hist_write(b,
			    "respawn_provider_operation_duration_seconds",
			    &s->latency, "op", provider_op_name(
			    (enum provider_op)op), NULL);
	}
	provider_health(d->provider, &h);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_provider_requests_total",
		    "HTTP requests sent to the provider's API.",
		    (double)h.requests);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_provider_retries_total",
		    "Provider API requests that were retries.",
		    (double)h.retries);
	if (r >= 0)
		r = metrics_family(b, "respawn_provider_breaker_state",
		    METRICS_GAUGE, "The provider client's circuit breaker: 1 "
		    "for its current state (all 0 for a provider without "
		    "one).");
	for (k = 0; k < 3 && r >= 0; k++)
		r = metrics_sample(b, "respawn_provider_breaker_state",
		    h.has_breaker && (int)h.breaker.state == k ? 1 : 0,
		    "state", bstate[k], NULL);
	return r;
}

static int
daemon_ops_metrics_recovery(struct daemon *d, struct buf *b)
{
	const struct recovery_run	*run = &d->run;
	int				 r;

	r = metrics_family(b, "respawn_recovery_session_duration_seconds",
	    METRICS_HISTOGRAM, "Time for one session of a start-up recovery "
	    "to become ready.");
	if (r >= 0)
		r = metrics_hist_write(b,
		    "respawn_recovery_session_duration_seconds",
		    &d->recovery_hist, NULL);
	if (r >= 0)
		r = metrics_family(b, "respawn_recovery_duration_seconds",
		    METRICS_HISTOGRAM, "Time for a whole start-up recovery.");
	if (r >= 0)
		r = metrics_hist_write(b, "respawn_recovery_duration_seconds",
		    &d->run_hist, NULL);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_recovery_in_progress",
		    "1 while the start-up recovery runs.", d->run_open ? 1 : 0);
	if (r >= 0)
		r = metrics_family(b, "respawn_recovery_sessions",
		    METRICS_GAUGE, "Sessions of this instance's start-up "
		    "recovery, by outcome so far.");
	if (r >= 0)
		r = metrics_sample(b, "respawn_recovery_sessions",
		    (double)run->recovered, "outcome", "recovered", NULL);
	if (r >= 0)
		r = metrics_sample(b, "respawn_recovery_sessions",
		    (double)run->failed, "outcome", "failed", NULL);
	if (r >= 0)
		r = metrics_sample(b, "respawn_recovery_sessions",
		    (double)(run->sessions_total - run->recovered -
		    run->failed), "outcome", "pending", NULL);
	if (r >= 0)
		r = metrics_family(b, "respawn_recovery_proxies",
		    METRICS_GAUGE, "How the recovered sessions got their "
		    "proxies: reactivated (same IP), reused, purchased, and "
		    "fallback (a neighbouring country).");
	if (r >= 0)
		r = metrics_sample(b, "respawn_recovery_proxies",
		    (double)run->reactivated, "how", "reactivated", NULL);
	if (r >= 0)
		r = metrics_sample(b, "respawn_recovery_proxies",
		    (double)run->reused, "how", "reused", NULL);
	if (r >= 0)
		r = metrics_sample(b, "respawn_recovery_proxies",
		    (double)run->purchased, "how", "purchased", NULL);
	if (r >= 0)
		r = metrics_sample(b, "respawn_recovery_proxies",
		    (double)run->fallbacks, "how", "fallback", NULL);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_recovery_cost",
		    "What the IPs bought for the start-up recovery cost (first "
		    "billing unit each), in the billing currency.",
		    daemon_ops_money(run->cost_micros));
	return r;
}

static int
daemon_ops_metrics_rest(struct daemon *d, struct buf *b)
{
	struct webhook_stats	ws = { 0 };
	struct httpd_stats	hs = { 0 };
	struct storeq_stats	qs = { 0 };
	int64_t			now = util_now_ms();
	int			r;

	r = daemon_ops_counter(b, "respawn_proxy_purchased_total",
	    "IPs bought from the provider.", (double)d->purchased);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_proxy_reactivated_total",
		    "Sessions given back the IP they had before.",
		    (double)d->assigned[POOL_REACTIVATE]);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_proxy_reused_total",
		    "Sessions given an idle IP of their country.",
		    (double)d->assigned[POOL_REUSE]);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_proxy_fallbacks_total",
		    "Sessions given an IP of a fallback country.",
		    (double)d->fallbacks);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_proxy_replaced_total",
		    "Sessions given a different IP than their last.",
		    (double)d->proxy_replaced);
	if (r >= 0)
		r = daemon_ops_counter(b,
		    "respawn_proxy_purchases_refused_total", "IPs not bought "
		    "because of the daily spending or purchase-rate limit.",
		    (double)d->refused_purchases);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_proxy_released_total",
		    "IPs given back to the provider.", (double)d->released);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_spend_today",
		    "Spent on IPs bought today (billing day), in the billing "
		    "currency.", daemon_ops_money(d->spent_today));
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_connector_spawns_total",
		    "Connector processes started.", (double)d->spawns);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_connector_restarts_total",
		    "Connector failures followed by a restart after backoff.",
		    (double)d->restarts);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_session_conflicts_total",
		    "Conflicts reported by connectors (the session is open "
		    "elsewhere).", (double)d->conflicts);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_notify_dropped_total",
		    "Notify datagrams dropped (malformed, or from an unknown "
		    "process).", (double)d->notify_dropped);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_lease_held", "1 while this "
		    "instance's heartbeat (its lease) is current.",
		    d->heartbeat_ok_at > 0 && now - d->heartbeat_ok_at <
		    DAEMON_STALE_MS(d) ? 1 : 0);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_lease_age_seconds",
		    "Seconds since the instance's heartbeat was last renewed.",
		    d->heartbeat_ok_at > 0 ? (double)(now -
		    d->heartbeat_ok_at) / 1000.0 : 0);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_lease_renew_failures_total",
		    "Heartbeats (lease renewals) that failed.",
		    (double)d->heartbeat_failures);
	if (d->webhook != NULL)
		webhook_stats(d->webhook, &ws);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_webhook_emitted_total",
		    "Session events queued for webhooks.", (double)ws.emitted);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_webhook_delivered_total",
		    "Webhook deliveries answered with 2xx.",
		    (double)ws.delivered);
	if (r >= 0)
		r = daemon_ops_counter(b,
		    "respawn_webhook_attempts_failed_total", "Webhook delivery "
		    "attempts that failed (retried unless given up).",
		    (double)ws.attempts_failed);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_webhook_given_up_total",
		    "Webhook deliveries given up after every attempt.",
		    (double)ws.given_up);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_webhook_dropped_total",
		    "Webhook deliveries dropped because the queue was full.",
		    (double)ws.dropped);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_webhook_pending", "Webhook "
		    "deliveries waiting or in flight.", (double)(ws.pending +
		    ws.in_flight));
	if (d->q != NULL)
		storeq_stats(d->q, &qs);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_store_jobs_pending", "Store "
		    "calls submitted to the store's worker and not yet "
		    "answered.", (double)qs.pending);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_store_jobs_total",
		    "Store calls answered by the store's worker.",
		    (double)qs.completed);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_store_job_failures_total",
		    "Store calls answered with an error.", (double)qs.failed);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_store_jobs_refused_total",
		    "Store calls refused because the worker's queue was full.",
		    (double)qs.refused);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_store_busy_seconds", "How "
		    "long the store's worker has been in its current call (0: "
		    "idle); high means a slow or unreachable database.",
		    qs.busy_since_ms > 0 ? (double)(util_mono_ms() -
		    qs.busy_since_ms) / 1000.0 : 0);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_store_max_wait_seconds",
		    "The longest a store call has waited for its answer.",
		    (double)qs.max_wait_ms / 1000.0);
	if (d->api != NULL)
		api_stats(d->api, &hs);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_api_requests_total",
		    "HTTP API requests.", (double)hs.requests);
	if (r >= 0)
		r = daemon_ops_counter(b, "respawn_api_unauthorized_total",
		    "HTTP API requests refused for a missing or wrong key.",
		    (double)hs.unauthorized);
	return r;
}

static int
daemon_ops_metrics(void *arg, struct buf *b)
{
	struct daemon			*d = arg;
	struct daemon_ops_counts	 c;
	int				 r, i;

	daemon_ops_count(d, &c, NULL);
	r = metrics_family(b, "respawn_build_info", METRICS_GAUGE,
	    "respawn's version; always 1.");
	if (r >= 0)
		r = metrics_sample(b, "respawn_build_info", 1, "version",
		    RESPAWN_VERSION, "instance", d->instance_id, NULL);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_ready", "1 once the start-up "
		    "recovery has finished.", daemon_ops_ready(d) ? 1 : 0);
	if (r >= 0)
		r = metrics_family(b, "respawn_sessions", METRICS_GAUGE,
		    "Sessions supervised by this instance, by state.");
	for (i = 0; i < SV_NSTATES && r >= 0; i++)
		r = metrics_sample(b, "respawn_sessions",
		    (double)c.sessions[i], "state", store_session_status_name(
		    daemon_status_of((enum supervise_state)i)), NULL);
	if (r >= 0)
		r = daemon_ops_metrics_proxies(d, b);
	if (r >= 0)
		r = daemon_ops_gauge(b, "respawn_proxies_estimated_monthly_cost",
		    "A month of every IP held now, at RESPAWN_IP_MONTHLY_PRICE.",
		    daemon_ops_money(daemon_ops_held(&c) *
		    d->billing.price_micros_per_ip_month));
	if (r >= 0)
		r = daemon_ops_metrics_recovery(d, b);
	if (r >= 0)
		r = daemon_ops_metrics_provider(d, b);
	if (r >= 0)
		r = daemon_ops_metrics_rest(d, b);
	return r;
}

/* --- webhooks and counters on transitions ------------------------------- */

static json_t *
daemon_ops_session_data(const struct dsession *ds)
{
	const struct pool_proxy	*px = ds->proxy_id != 0 && ds->d->pool != NULL ?
				    pool_get(ds->d->pool, ds->proxy_id) : NULL;

	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:i}",
	    "sessionId", (json_int_t)ds->id, "userId", ds->user_id,
	    "phoneNumber", ds->phone, "country", ds->country, "status",
	    store_session_status_name(daemon_status_of(ds->sv.state)),
	    "proxyIp", px != NULL ? json_string(px->ip) : json_null(),
	    "proxyCountry", px != NULL ? json_string(px->country) : json_null(),
	    "fallbackUsed", ds->proxy_fallback, "attempts", ds->sv.attempts);
}

static void
daemon_ops_emit(struct dsession *ds, const char *event, json_t *data)
{
	struct daemon	*d = ds->d;

	if (d->webhook == NULL) {
		json_decref(data);
		return;
	}
	webhook_emit(d->webhook, event, util_now_ms(), data);
}

void
daemon_ops_transition(struct dsession *ds, const struct supervise_output *out)
{
	struct daemon	*d = ds->d;
	json_t		*data;

	if (out->from == out->to)
		return;
	if (out->to == SV_BACKOFF && !ds->waiting_proxy &&
	    (out->from == SV_READY || out->from == SV_STARTING))
		d->restarts++;
	if (out->to == SV_READY) {
		daemon_ops_emit(ds, "session.ready", daemon_ops_session_data(ds));
	} else if (out->to == SV_NEEDS_AUTH) {
		daemon_ops_emit(ds, "session.needs_auth",
		    daemon_ops_session_data(ds));
	} else if (out->to == SV_FAILED) {
		data = daemon_ops_session_data(ds);
		json_object_set_new(data, "cause", json_string(
		    supervise_cause_name(ds->sv.cause)));
		daemon_ops_emit(ds, "session.failed", data);
	}
	/* A restart asked for through the API: stopped, so start again. */
	if (out->to == SV_STOPPED && ds->restart) {
		ds->restart = false;
		if (ds->desired == SESSION_DESIRED_RUNNING && !ds->removed &&
		    !d->stopping)
			daemon_enqueue(d, ds);
	}
}

void
daemon_ops_assigned(struct dsession *ds, int64_t previous_proxy,
    const char *country)
{
	struct daemon		*d = ds->d;
	const struct pool_proxy	*prev;
	json_t			*data;

	if ((unsigned)ds->proxy_how <= POOL_WAIT)
		d->assigned[ds->proxy_how]++;
	if (ds->proxy_fallback) {
		d->fallbacks++;
		data = daemon_ops_session_data(ds);
		json_object_set_new(data, "requestedCountry",
		    json_string(ds->country));
		json_object_set_new(data, "fallbackCountry",
		    json_string(country));
		daemon_ops_emit(ds, "session.fallback_used", data);
	}
	if (previous_proxy != 0 && previous_proxy != ds->proxy_id) {
		d->proxy_replaced++;
		prev = pool_get(d->pool, previous_proxy);
		data = daemon_ops_session_data(ds);
		json_object_set_new(data, "previousIp", prev != NULL ?
		    json_string(prev->ip) : json_null());
		daemon_ops_emit(ds, "session.proxy_replaced", data);
	}
}

/* --- start and stop ----------------------------------------------------- */

static int
daemon_ops_webhooks(struct daemon *d, char *err, size_t errlen)
{
	struct webhook_params	 p = { 0 };
	char			 serr[SECRET_ERR_LEN], werr[256];
	int			 r;

	if (d->cfg->webhook_urls[0] == '\0')
		return 0;
	if (d->cfg->webhook_secret[0] == '\0') {
		snprintf(err, errlen, "RESPAWN_WEBHOOK_URLS needs "
		    "RESPAWN_WEBHOOK_SECRET (the signing key)");
		return -EINVAL;
	}
	if ((r = secret_resolve(d->cfg->webhook_secret, &d->webhook_key,
	    serr)) < 0) {
		snprintf(err, errlen, "RESPAWN_WEBHOOK_SECRET: %s", serr);
		return r;
	}
	p.urls = d->cfg->webhook_urls;
	p.secret = secret_value(d->webhook_key);
	p.secret_len = secret_len(d->webhook_key);
	p.queue_max = (size_t)d->cfg->webhook_queue;
	p.attempts = (int)d->cfg->webhook_attempts;
	p.timeout_ms = d->cfg->webhook_timeout_ms;
	p.instance_id = d->instance_id;
	if ((r = webhook_new(d->base, &p, &d->webhook, werr)) < 0) {
		snprintf(err, errlen, "webhooks: %s", werr);
		return r;
	}
	return 0;
}

int
daemon_ops_start(struct daemon *d, char *err, size_t errlen)
{
	struct api_daemon	 ad = {
		.arg = d,
		.ready = daemon_ops_ready,
		.proxy_status = daemon_ops_proxy_status,
		.metrics = daemon_ops_metrics,
		.changed = daemon_ops_changed,
		.restart = daemon_ops_restart,
	};
	char			 aerr[HTTPD_ERR_LEN];
	int			 r;

	metrics_hist_init(&d->recovery_hist, daemon_ops_session_buckets,
	    nitems(daemon_ops_session_buckets));
	metrics_hist_init(&d->run_hist, daemon_ops_run_buckets,
	    nitems(daemon_ops_run_buckets));
	if ((d->ev_sync = evtimer_new(d->base, daemon_ops_sync_cb, d)) == NULL) {
		snprintf(err, errlen, "cannot create a timer");
		return -ENOMEM;
	}
	if ((r = daemon_ops_webhooks(d, err, errlen)) < 0)
		return r;
	if ((r = api_new(d->base, d->cfg, d->store, d->q, &ad, &d->api,
	    aerr)) < 0) {
		snprintf(err, errlen, "%s", aerr);
		return r;
	}
	return 0;
}

void
daemon_ops_stop(struct daemon *d)
{
	api_free(d->api);
	d->api = NULL;
	webhook_free(d->webhook);
	d->webhook = NULL;
	secret_free(d->webhook_key);
	d->webhook_key = NULL;
	if (d->ev_sync != NULL)
		event_free(d->ev_sync);
	d->ev_sync = NULL;
}
