/*
 * What operators see and steer in a running daemon: see ops.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "config/secret.h"
#include "core/pool.h"
#include "daemon/ctx.h"
#include "daemon/fleet.h"
#include "daemon/ops.h"
#include "daemon/proxy.h"
#include "daemon/purchase.h"
#include "daemon/record.h"
#include "daemon/recovery.h"
#include "daemon/sessions.h"
#include "daemon/spawn.h"
#include "daemon/supervisor.h"
#include "daemon/sync.h"
#include "http/api.h"
#include "http/webhook.h"
#include "provider/provider.h"
#include "store/storeq.h"

/* Sessions are counted by the status the store holds for them. */
#define OPS_STATES	(SESSION_STATUS_DORMANT + 1)

struct ops {
	struct dctx		*c;
	struct ops_parts	 p;
	struct api		*api;
	struct webhook		*webhook;
	struct secret		*webhook_key;
	int64_t			 heartbeat_ok_at;	/* wall ms */
	int64_t			 heartbeat_failures;
	int64_t			 restarts;	/* exits, then backoff */
};

/* --- readiness, restarts, live changes ---------------------------------- */

static bool
ops_ready(void *arg)
{
	struct ops	*o = arg;

	/* A store that refuses writes: records would be lost, not ready. */
	return o->c->setup_done && !recovery_in_progress(o->p.recovery) &&
	    !record_blocked(o->p.rec);
}

/* API writes are acted on within SYNC_DELAY_MS, many at once. */
static void
ops_changed(void *arg)
{
	struct ops	*o = arg;

	sync_soon(o->p.sync);
}

/*
 * Stop the connector (keeping its proxy reserved for it) and start it
 * again once it has stopped.  A session that is not running is started by
 * the store change the API made before calling this.
 */
static int
ops_restart(void *arg, int64_t id)
{
	struct ops	*o = arg;
	struct dsession	*ds = sessions_get(o->p.reg, id);

	/* Stopping: the answer stands, nothing more is started. */
	if (o->c->stopping)
		return 0;
	if (ds == NULL || supervise_gone(&ds->sv))
		return -ENOENT;
	switch (ds->sv.state) {
	case SV_READY:
	case SV_STARTING:
	case SV_BACKOFF:
		ds->restart = true;
		log_info("session.restart_requested", LOGF_I("session", ds->id));
		supervisor_feed(o->p.sup, ds, SV_EV_STOP, 0, true);
		supervisor_drain(o->p.sup);
		return 0;
	case SV_STOPPING:
		ds->restart = true;
		return 0;
	default:
		return 0;
	}
}

/* --- the seed's proxy status -------------------------------------------- */

struct ops_counts {
	int64_t	proxies[POOL_LOST + 1];
	int64_t	reserved;
	int64_t	sessions[OPS_STATES];
	int64_t	nsessions;
};

/*
 * One pass over the pool into plain counters (no allocation per proxy),
 * then one JSON object per country present; sessions by state are kept
 * up to date by the daemon at every transition.  At 10,000 sessions this
 * is what keeps GET /api/proxy/status cheap.
 */
static void
ops_count(struct ops *o, struct ops_counts *c,
    json_t *by_country)
{
	static const enum pool_proxy_state shown[] = { POOL_ACTIVE, POOL_IDLE,
	    POOL_RELEASING, POOL_PURCHASING };
	int64_t			(*cc)[POOL_LOST + 1] = NULL;
	const struct pool_proxy	*px;
	json_t			*cj;
	char			 code[COUNTRY_CODE_LEN];
	int			 ci;
	size_t			 i, k, n = o->c->pool != NULL ? pool_count(o->c->pool) : 0;
	int64_t			 total;

	memset(c, 0, sizeof *c);
	if (by_country != NULL)
		cc = xcalloc(COUNTRY_INDEX_MAX, sizeof *cc);
	for (i = 0; i < n; i++) {
		px = pool_at(o->c->pool, i);
		if ((unsigned)px->state > POOL_LOST)
			continue;
		c->proxies[px->state]++;
		if (px->state == POOL_IDLE && px->reserved_for != 0)
			c->reserved++;
		if (cc != NULL && (ci = country_index(px->country)) >= 0)
			cc[ci][px->state]++;
	}
	for (i = 0; cc != NULL && i < COUNTRY_INDEX_MAX; i++) {
		total = cc[i][POOL_ACTIVE] + cc[i][POOL_IDLE] +
		    cc[i][POOL_RELEASING] + cc[i][POOL_PURCHASING];
		if (total == 0)
			continue;
		country_of_index((int)i, code);
		cj = json_pack("{s:I}", "total", (json_int_t)total);
		for (k = 0; k < nitems(shown); k++)
			if (shown[k] != POOL_PURCHASING || cc[i][shown[k]] > 0)
				json_object_set_new(cj, pool_state_name(shown[k]),
				    json_integer(cc[i][shown[k]]));
		json_object_set_new(by_country, code, cj);
	}
	free(cc);
	for (i = 0; i < OPS_STATES; i++) {
		c->sessions[i] = sessions_in_status(o->p.reg,
		    (enum session_status)i);
		c->nsessions += c->sessions[i];
	}
}

/* IPs the provider bills for now: bought and not yet given back. */
static int64_t
ops_held(const struct ops_counts *c)
{
	return c->proxies[POOL_PURCHASING] + c->proxies[POOL_ACTIVE] +
	    c->proxies[POOL_IDLE] + c->proxies[POOL_RELEASING];
}

static double
ops_money(int64_t micros)
{
	return (double)micros / 1e6;
}

static double
ops_ratio(int64_t part, int64_t whole)
{
	return whole > 0 ? (double)part / (double)whole : 0.0;
}

/* The recovery run of this instance, with the seed's key metrics. */
static json_t *
ops_run_json(const struct ops *o)
{
	const struct recovery_run	*r = recovery_run(o->p.recovery);
	char				 t[UTIL_TIME_LEN];
	int64_t				 end = r->finished_at ? r->finished_at :
					    util_now_ms();

	if (!o->c->setup_done)
		return json_null();
	util_fmt_time(r->started_at, t);
	return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:f, s:f, s:f, s:I, s:f}", "cause", r->cause, "startedAt", t,
	    "inProgress", recovery_in_progress(o->p.recovery), "durationMs",
	    (json_int_t)(end - r->started_at), "sessionCount",
	    (json_int_t)r->sessions_total, "recovered",
	    (json_int_t)r->recovered, "failed",
	    (json_int_t)r->failed, "reactivated", (json_int_t)r->reactivated,
	    "reused", (json_int_t)r->reused, "purchased",
	    (json_int_t)r->purchased, "fallbacks", (json_int_t)r->fallbacks,
	    "successRate", ops_ratio(r->recovered, r->recovered +
	    r->failed), "reactivationRate", ops_ratio(r->reactivated,
	    r->recovered), "fallbackRate", ops_ratio(r->fallbacks,
	    r->recovered), "avgRecoveryMs", (json_int_t)(r->recovered ?
	    r->total_recovery_ms / r->recovered : 0),
	    "costPerRecoveredSession", r->recovered ?
	    ops_money(r->cost_micros) / (double)r->recovered : 0.0);
}

/* ops_run_json, with sessionCount's deprecated name (0.1) too. */
static json_t *
ops_run_json_compat(const struct ops *o)
{
	json_t	*run = ops_run_json(o);

	if (json_is_object(run))
		json_object_set(run, "sessions", json_object_get(run,
		    "sessionCount"));
	return run;
}

static json_t *
ops_proxy_status(void *arg)
{
	struct ops			*o = arg;
	struct ops_counts	 c;
	struct provider_health		 h;
	struct purchase_stats		 ps;
	json_t				*st, *by_country = json_object(), *s;
	int				 i;

	purchase_stats(o->p.pur, &ps);
	ops_count(o, &c, by_country);
	st = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "total",
	    (json_int_t)ops_held(&c), "active",
	    (json_int_t)c.proxies[POOL_ACTIVE], "idle",
	    (json_int_t)c.proxies[POOL_IDLE], "releasing",
	    (json_int_t)c.proxies[POOL_RELEASING], "purchasing",
	    (json_int_t)c.proxies[POOL_PURCHASING], "reserved",
	    (json_int_t)c.reserved, "byCountry", by_country);
	json_object_set_new(st, "estimatedMonthlyCost", json_real(
	    ops_money(ops_held(&c) *
	    o->c->billing.price_micros_per_ip_month)));
	json_object_set_new(st, "spendToday", json_real(
	    ops_money(ps.spent_today)));
	json_object_set_new(st, "chargedToday",
	    sync_charged_today(o->p.sync) >= 0 ? json_real(ops_money(
	    sync_charged_today(o->p.sync))) : json_null());
	json_object_set_new(st, "dailySpendLimit",
	    o->c->limits.daily_spend_max_micros > 0 ? json_real(ops_money(
	    o->c->limits.daily_spend_max_micros)) : json_null());
	json_object_set_new(st, "purchasesRefused",
	    json_integer(ps.refused));
	s = json_object();
	json_object_set_new(s, "total", json_integer(c.nsessions));
	for (i = 0; i < OPS_STATES; i++)
		json_object_set_new(s, store_session_status_name(
		    (enum session_status)i), json_integer(c.sessions[i]));
	json_object_set_new(st, "sessions", s);
	provider_health(o->c->provider, &h);
	json_object_set_new(st, "provider", json_pack("{s:s, s:s}", "name",
	    provider_name(o->c->provider), "breaker", h.has_breaker ?
	    h.breaker.name : "none"));
	json_object_set_new(st, "instanceId", json_string(o->c->instance_id));
	json_object_set_new(st, "lastRecovery", ops_run_json_compat(o));
	return st;
}

/* --- /metrics ----------------------------------------------------------- */

/* respawn_proxies{state,country}: one series per pair that exists. */
static int
ops_metrics_proxies(struct ops *o, struct buf *b)
{
	int64_t			(*cc)[POOL_LOST + 1];
	const struct pool_proxy	*px;
	char			 code[COUNTRY_CODE_LEN];
	int			 ci;
	size_t			 i, j, np;
	int64_t			 any;
	int			 r;

	cc = xcalloc(COUNTRY_INDEX_MAX, sizeof *cc);
	np = o->c->pool != NULL ? pool_count(o->c->pool) : 0;
	for (i = 0; i < np; i++) {
		px = pool_at(o->c->pool, i);
		if ((unsigned)px->state <= POOL_LOST &&
		    (ci = country_index(px->country)) >= 0)
			cc[ci][px->state]++;
	}
	r = metrics_family(b, "respawn_proxies", METRICS_GAUGE, "Proxies "
	    "known to this instance, by state and country.");
	for (i = 0; i < COUNTRY_INDEX_MAX && r >= 0; i++) {
		for (j = 0, any = 0; j <= POOL_LOST; j++)
			any += cc[i][j];
		if (any == 0)
			continue;
		country_of_index((int)i, code);
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
ops_counter(struct buf *b, const char *name, const char *help,
    double v)
{
	int	r;

	if ((r = metrics_family(b, name, METRICS_COUNTER, help)) < 0)
		return r;
	return metrics_sample(b, name, v, NULL);
}

static int
ops_gauge(struct buf *b, const char *name, const char *help, double v)
{
	int	r;

	if ((r = metrics_family(b, name, METRICS_GAUGE, help)) < 0)
		return r;
	return metrics_sample(b, name, v, NULL);
}

/*
 * The provider's answers that were not what was asked, counted as the
 * provider's (docs/PROXIES.md): none of them is a purchase of ours.
 */
static int
ops_metrics_answers(struct ops *o, struct buf *b)
{
	static const char *const name = "respawn_provider_answer_anomalies_total";
	struct purchase_stats	 ps;
	struct proxy_stats	 xs;
	int			 r;

	purchase_stats(o->p.pur, &ps);
	proxy_stats(o->p.px, &xs);
	r = metrics_family(b, name, METRICS_COUNTER, "IPs in the provider's "
	    "answers that were not what was asked: named as new but held "
	    "already (known), beyond the count (surplus), missing (shortfall), "
	    "a release answer not naming the IP (unconfirmed) or naming others "
	    "(other).");
	if (r >= 0)
		r = metrics_sample(b, name, (double)ps.known, "kind", "known",
		    NULL);
	if (r >= 0)
		r = metrics_sample(b, name, (double)ps.surplus, "kind",
		    "surplus", NULL);
	if (r >= 0)
		r = metrics_sample(b, name, (double)ps.shortfall, "kind",
		    "shortfall", NULL);
	if (r >= 0)
		r = metrics_sample(b, name, (double)xs.release_unconfirmed,
		    "kind", "unconfirmed", NULL);
	if (r >= 0)
		r = metrics_sample(b, name, (double)xs.release_other, "kind",
		    "other", NULL);
	if (r >= 0)
		r = ops_gauge(b, "respawn_purchases_unsettled", "IPs of needs "
		    "waiting for a purchase of unknown outcome to be settled "
		    "by the provider's listing.", (double)ps.blocked);
	return r;
}

static int
ops_metrics_provider(struct ops *o, struct buf *b)
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
		s = provider_op_stats(o->c->provider, (enum provider_op)op);
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
		s = provider_op_stats(o->c->provider, (enum provider_op)op);
		if (s->latency.nbounds > 0)
			r = metrics_hist_write(b,
			    "respawn_provider_operation_duration_seconds",
			    &s->latency, "op", provider_op_name(
			    (enum provider_op)op), NULL);
	}
	if (r >= 0)
		r = ops_metrics_answers(o, b);
	provider_health(o->c->provider, &h);
	if (r >= 0)
		r = ops_counter(b, "respawn_provider_requests_total",
		    "HTTP requests sent to the provider's API.",
		    (double)h.requests);
	if (r >= 0)
		r = ops_counter(b, "respawn_provider_retries_total",
		    "Provider API requests that were retries.",
		    (double)h.retries);
	if (r >= 0)
		r = ops_gauge(b, "respawn_provider_requests_queued",
		    "Provider API requests waiting for a connection (each asks "
		    "the circuit breaker again when it gets one).",
		    (double)h.queued);
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
ops_metrics_recovery(struct ops *o, struct buf *b)
{
	const struct recovery_run	*run = recovery_run(o->p.recovery);
	int				 r;

	r = metrics_family(b, "respawn_recovery_session_duration_seconds",
	    METRICS_HISTOGRAM, "Time for one session of a start-up recovery "
	    "to become ready.");
	if (r >= 0)
		r = metrics_hist_write(b,
		    "respawn_recovery_session_duration_seconds",
		    recovery_session_hist(o->p.recovery), NULL);
	if (r >= 0)
		r = metrics_family(b, "respawn_recovery_duration_seconds",
		    METRICS_HISTOGRAM, "Time for a whole start-up recovery.");
	if (r >= 0)
		r = metrics_hist_write(b, "respawn_recovery_duration_seconds",
		    recovery_run_hist(o->p.recovery), NULL);
	if (r >= 0)
		r = ops_gauge(b, "respawn_recovery_in_progress",
		    "1 while the start-up recovery runs.",
		    recovery_in_progress(o->p.recovery) ? 1 : 0);
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
		r = ops_gauge(b, "respawn_recovery_cost",
		    "What the IPs bought for the start-up recovery cost (first "
		    "billing unit each), in the billing currency.",
		    ops_money(run->cost_micros));
	return r;
}

static int
ops_metrics_rest(struct ops *o, struct buf *b)
{
	struct webhook_stats	ws = { 0 };
	struct httpd_stats	hs = { 0 };
	struct storeq_stats	qs = { 0 };
	struct record_stats	rs;
	int64_t			now = util_now_ms();
	struct purchase_stats	ps;
	struct proxy_stats	xs;
	struct spawn_stats	ss;
	int			r;

	purchase_stats(o->p.pur, &ps);
	proxy_stats(o->p.px, &xs);
	spawn_stats(o->p.sp, &ss);
	r = ops_counter(b, "respawn_proxy_purchased_total",
	    "IPs bought from the provider.", (double)ps.purchased);
	if (r >= 0)
		r = ops_counter(b, "respawn_proxy_reactivated_total",
		    "Sessions given back the IP they had before.",
		    (double)xs.assigned[POOL_REACTIVATE]);
	if (r >= 0)
		r = ops_counter(b, "respawn_proxy_reused_total",
		    "Sessions given an idle IP of their country.",
		    (double)xs.assigned[POOL_REUSE]);
	if (r >= 0)
		r = ops_counter(b, "respawn_proxy_fallbacks_total",
		    "Sessions given an IP of a fallback country.",
		    (double)xs.fallbacks);
	if (r >= 0)
		r = ops_counter(b, "respawn_proxy_replaced_total",
		    "Sessions given a different IP than their last.",
		    (double)xs.replaced);
	if (r >= 0)
		r = ops_counter(b, "respawn_proxy_displaced_total",
		    "Sessions given an idle IP held for another phone expected "
		    "back (RESPAWN_IP_CHANGE_COST).", (double)xs.displaced);
	if (r >= 0)
		r = ops_gauge(b, "respawn_proxy_held", "Idle IPs held for the "
		    "phone that left them while it is expected back.",
		    (double)xs.held);
	if (r >= 0)
		r = ops_counter(b,
		    "respawn_proxy_purchases_refused_total", "IPs not bought "
		    "because of the daily spending or purchase-rate limit.",
		    (double)ps.refused);
	if (r >= 0)
		r = ops_counter(b, "respawn_proxy_released_total",
		    "IPs given back to the provider.", (double)xs.released);
	if (r >= 0)
		r = ops_gauge(b, "respawn_spend_today",
		    "Spent on IPs bought today (billing day), in the billing "
		    "currency.", ops_money(ps.spent_today));
	if (r >= 0 && sync_charged_today(o->p.sync) >= 0)
		r = ops_gauge(b, "respawn_charged_today",
		    "What the provider charges for today (billing day): every "
		    "IP held at any moment of it, at RESPAWN_IP_MONTHLY_PRICE.",
		    ops_money(sync_charged_today(o->p.sync)));
	if (r >= 0)
		r = ops_counter(b, "respawn_connector_spawns_total",
		    "Connector processes started.", (double)ss.spawns);
	if (r >= 0)
		r = ops_counter(b, "respawn_connector_restarts_total",
		    "Connector failures followed by a restart after backoff.",
		    (double)o->restarts);
	if (r >= 0)
		r = ops_counter(b, "respawn_session_conflicts_total",
		    "Conflicts reported by connectors (the session is open "
		    "elsewhere).", (double)ss.conflicts);
	if (r >= 0)
		r = ops_counter(b, "respawn_notify_dropped_total",
		    "Notify datagrams dropped (malformed, or from an unknown "
		    "process).", (double)ss.notify_dropped);
	if (r >= 0)
		r = ops_gauge(b, "respawn_lease_held", "1 while this "
		    "instance's heartbeat (its lease) is current.",
		    o->heartbeat_ok_at > 0 && now - o->heartbeat_ok_at <
		    FLEET_STALE_MS(o->c->cfg) ? 1 : 0);
	if (r >= 0)
		r = ops_gauge(b, "respawn_lease_age_seconds",
		    "Seconds since the instance's heartbeat was last renewed.",
		    o->heartbeat_ok_at > 0 ? (double)(now -
		    o->heartbeat_ok_at) / 1000.0 : 0);
	if (r >= 0)
		r = ops_counter(b, "respawn_lease_renew_failures_total",
		    "Heartbeats (lease renewals) that failed.",
		    (double)o->heartbeat_failures);
	if (o->webhook != NULL)
		webhook_stats(o->webhook, &ws);
	if (r >= 0)
		r = ops_counter(b, "respawn_webhook_emitted_total",
		    "Session events queued for webhooks.", (double)ws.emitted);
	if (r >= 0)
		r = ops_counter(b, "respawn_webhook_delivered_total",
		    "Webhook deliveries answered with 2xx.",
		    (double)ws.delivered);
	if (r >= 0)
		r = ops_counter(b,
		    "respawn_webhook_attempts_failed_total", "Webhook delivery "
		    "attempts that failed (retried unless given up).",
		    (double)ws.attempts_failed);
	if (r >= 0)
		r = ops_counter(b, "respawn_webhook_given_up_total",
		    "Webhook deliveries given up after every attempt.",
		    (double)ws.given_up);
	if (r >= 0)
		r = ops_counter(b, "respawn_webhook_dropped_total",
		    "Webhook deliveries dropped because the queue was full.",
		    (double)ws.dropped);
	if (r >= 0)
		r = ops_gauge(b, "respawn_webhook_pending", "Webhook "
		    "deliveries waiting or in flight.", (double)(ws.pending +
		    ws.in_flight));
	if (o->c->q != NULL)
		storeq_stats(o->c->q, &qs);
	record_stats(o->p.rec, &rs);
	if (r >= 0)
		r = ops_gauge(b, "respawn_store_writes_waiting", "Writes the "
		    "store has not taken yet (kept, retried in order).",
		    (double)rs.waiting);
	if (r >= 0)
		r = ops_counter(b, "respawn_store_write_failures_total",
		    "Writes the store refused, each attempt (a batch that did "
		    "not commit counts its writes).", (double)rs.failures);
	if (r >= 0)
		r = ops_counter(b, "respawn_store_batch_failures_total",
		    "Batches (SQLite transactions) whose commit failed.",
		    (double)store_batch_failures(o->c->store));
	if (r >= 0)
		r = ops_gauge(b, "respawn_store_blocked_seconds", "How long "
		    "the store has refused writes (0: it takes them).",
		    (double)rs.blocked_ms / 1000.0);
	if (r >= 0)
		r = ops_gauge(b, "respawn_store_jobs_pending", "Store "
		    "calls submitted to the store's worker and not yet "
		    "answered.", (double)qs.pending);
	if (r >= 0)
		r = ops_counter(b, "respawn_store_jobs_total",
		    "Store calls answered by the store's worker.",
		    (double)qs.completed);
	if (r >= 0)
		r = ops_counter(b, "respawn_store_job_failures_total",
		    "Store calls answered with an error.", (double)qs.failed);
	if (r >= 0)
		r = ops_counter(b, "respawn_store_jobs_refused_total",
		    "Store calls refused because the worker's queue was full.",
		    (double)qs.refused);
	if (r >= 0)
		r = ops_gauge(b, "respawn_store_busy_seconds", "How "
		    "long the store's worker has been in its current call (0: "
		    "idle); high means a slow or unreachable database.",
		    qs.busy_since_ms > 0 ? (double)(util_mono_ms() -
		    qs.busy_since_ms) / 1000.0 : 0);
	if (r >= 0)
		r = ops_gauge(b, "respawn_store_max_wait_seconds",
		    "The longest a store call has waited for its answer.",
		    (double)qs.max_wait_ms / 1000.0);
	if (o->api != NULL)
		api_stats(o->api, &hs);
	if (r >= 0)
		r = ops_counter(b, "respawn_api_requests_total",
		    "HTTP API requests.", (double)hs.requests);
	if (r >= 0)
		r = ops_counter(b, "respawn_api_unauthorized_total",
		    "HTTP API requests refused for a missing or wrong key.",
		    (double)hs.unauthorized);
	if (r >= 0)
		r = ops_counter(b, "respawn_api_store_late_total",
		    "HTTP API requests answered 503 because the state store "
		    "had not answered within 5 s.", (double)hs.late);
	return r;
}

static int
ops_metrics(void *arg, struct buf *b)
{
	struct ops			*o = arg;
	struct ops_counts	 c;
	int				 r, i;

	ops_count(o, &c, NULL);
	r = metrics_family(b, "respawn_build_info", METRICS_GAUGE,
	    "respawn's version; always 1.");
	if (r >= 0)
		r = metrics_sample(b, "respawn_build_info", 1, "version",
		    RESPAWN_VERSION, "instance", o->c->instance_id, NULL);
	if (r >= 0)
		r = ops_gauge(b, "respawn_ready", "1 once the start-up "
		    "recovery has finished and the store takes writes.",
		    ops_ready(o) ? 1 : 0);
	if (r >= 0)
		r = metrics_family(b, "respawn_sessions", METRICS_GAUGE,
		    "Sessions supervised by this instance, by state.");
	for (i = 0; i < OPS_STATES && r >= 0; i++)
		r = metrics_sample(b, "respawn_sessions",
		    (double)c.sessions[i], "state", store_session_status_name(
		    (enum session_status)i), NULL);
	if (r >= 0)
		r = ops_metrics_proxies(o, b);
	if (r >= 0)
		r = ops_gauge(b, "respawn_proxies_estimated_monthly_cost",
		    "A month of every IP held now, at RESPAWN_IP_MONTHLY_PRICE.",
		    ops_money(ops_held(&c) *
		    o->c->billing.price_micros_per_ip_month));
	if (r >= 0)
		r = ops_metrics_recovery(o, b);
	if (r >= 0)
		r = ops_metrics_provider(o, b);
	if (r >= 0)
		r = ops_metrics_rest(o, b);
	return r;
}

/* --- webhooks and counters on transitions ------------------------------- */

static json_t *
ops_session_data(const struct ops *o, const struct dsession *ds)
{
	const struct pool_proxy	*px = ds->proxy_id != 0 && o->c->pool != NULL ?
				    pool_get(o->c->pool, ds->proxy_id) : NULL;

	/* status: state's deprecated name (0.1). */
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:i, s:s}",
	    "sessionId", (json_int_t)ds->id, "userId", ds->user_id,
	    "phoneNumber", ds->phone, "country", ds->country, "state",
	    store_session_status_name(ds->status),
	    "proxyIp", px != NULL ? json_string(px->ip) : json_null(),
	    "proxyCountry", px != NULL ? json_string(px->country) : json_null(),
	    "fallbackUsed", ds->proxy_fallback, "attempts", ds->sv.attempts,
	    "status", store_session_status_name(ds->status));
}

static void
ops_emit(struct ops *o, const char *event, json_t *data)
{
	if (o->webhook == NULL) {
		json_decref(data);
		return;
	}
	webhook_emit(o->webhook, event, util_now_ms(), data);
}

void
ops_qr(struct ops *o, struct dsession *ds, const char *qr)
{
	json_t	*data = ops_session_data(o, ds);

	json_object_set_new(data, "qr", json_string(qr));
	ops_emit(o, "session.qr", data);
}

void
ops_moved(struct ops *o, struct dsession *ds,
    const struct supervise_output *out)
{
	json_t	*data;

	if (out->from == out->to)
		return;
	if (out->to == SV_BACKOFF && !ds->waiting_proxy &&
	    (out->from == SV_READY || out->from == SV_STARTING))
		o->restarts++;
	if (out->to == SV_READY) {
		ops_emit(o, "session.ready", ops_session_data(o, ds));
	} else if (out->to == SV_NEEDS_AUTH) {
		ops_emit(o, "session.needs_auth", ops_session_data(o, ds));
	} else if (out->to == SV_FAILED) {
		data = ops_session_data(o, ds);
		json_object_set_new(data, "cause", json_string(
		    supervise_cause_name(ds->sv.cause)));
		ops_emit(o, "session.failed", data);
	}
	/* A restart asked for through the API: stopped, so start again. */
	if (out->to == SV_STOPPED && ds->restart) {
		ds->restart = false;
		if (ds->desired == SESSION_DESIRED_RUNNING &&
		    !supervise_gone(&ds->sv) &&
		    !o->c->stopping)
			sessions_enqueue(o->p.reg, ds);
	}
}

void
ops_assigned(struct ops *o, struct dsession *ds, const char *previous_ip,
    const char *country)
{
	json_t	*data;

	if (ds->proxy_fallback) {
		data = ops_session_data(o, ds);
		json_object_set_new(data, "requestedCountry",
		    json_string(ds->country));
		json_object_set_new(data, "fallbackCountry",
		    json_string(country));
		ops_emit(o, "session.fallback_used", data);
	}
	if (previous_ip != NULL) {
		data = ops_session_data(o, ds);
		json_object_set_new(data, "previousIp", previous_ip[0] != '\0' ?
		    json_string(previous_ip) : json_null());
		ops_emit(o, "session.proxy_replaced", data);
	}
}

void
ops_heartbeat(struct ops *o, int64_t ok_at, int64_t failures)
{
	o->heartbeat_ok_at = ok_at;
	o->heartbeat_failures = failures;
}

/* --- start and stop ----------------------------------------------------- */

static int
ops_webhooks(struct ops *o, char *err, size_t errlen)
{
	struct webhook_params	 p = { 0 };
	char			 serr[SECRET_ERR_LEN], werr[256];
	int			 r;

	if (o->c->cfg->webhook_urls[0] == '\0')
		return 0;
	if (o->c->cfg->webhook_secret[0] == '\0') {
		snprintf(err, errlen, "RESPAWN_WEBHOOK_URLS needs "
		    "RESPAWN_WEBHOOK_SECRET (the signing key)");
		return -EINVAL;
	}
	if ((r = secret_resolve(o->c->cfg->webhook_secret, &o->webhook_key,
	    serr)) < 0) {
		snprintf(err, errlen, "RESPAWN_WEBHOOK_SECRET: %s", serr);
		return r;
	}
	p.urls = o->c->cfg->webhook_urls;
	p.secret = secret_value(o->webhook_key);
	p.secret_len = secret_len(o->webhook_key);
	p.queue_max = (size_t)o->c->cfg->webhook_queue;
	p.attempts = (int)o->c->cfg->webhook_attempts;
	p.timeout_ms = o->c->cfg->webhook_timeout_ms;
	p.instance_id = o->c->instance_id;
	if ((r = webhook_new(o->c->base, &p, &o->webhook, werr)) < 0) {
		snprintf(err, errlen, "webhooks: %s", werr);
		return r;
	}
	return 0;
}

int
ops_new(struct dctx *c, const struct ops_parts *parts, struct ops **ret,
    char *err, size_t errlen)
{
	struct api_daemon	 ad = {
		.ready = ops_ready,
		.proxy_status = ops_proxy_status,
		.metrics = ops_metrics,
		.changed = ops_changed,
		.restart = ops_restart,
		.provider = c->provider,
		.instance_id = c->instance_id,
	};
	struct ops		*o = xcalloc(1, sizeof *o);
	char			 aerr[HTTPD_ERR_LEN];
	int			 r;

	o->c = c;
	o->p = *parts;
	ad.arg = o;
	if ((r = ops_webhooks(o, err, errlen)) < 0) {
		ops_free(o);
		return r;
	}
	if ((r = api_new(c->base, c->cfg, c->store, c->q, &ad, &o->api,
	    aerr)) < 0) {
		snprintf(err, errlen, "%s", aerr);
		ops_free(o);
		return r;
	}
	*ret = o;
	return 0;
}

void
ops_free(struct ops *o)
{
	if (o == NULL)
		return;
	api_free(o->api);
	webhook_free(o->webhook);
	secret_free(o->webhook_key);
	free(o);
}
