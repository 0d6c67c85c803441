/*
 * The HTTP API's routes: see api.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "base/validate.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "http/api.h"
#include "http/api_impl.h"
#include "http/dashboard.h"
#include "store/session_json.h"
#include "store/store.h"
#include "store/storeq.h"

/* A time stamp, or null for "never" (stored as 0). */
json_t *
api_time(int64_t ms)
{
	char	buf[UTIL_TIME_LEN];

	if (ms == 0)
		return json_null();
	util_fmt_time(ms, buf);
	return json_string(buf);
}

/*
 * The store a handler uses: the worker's connection when the route runs
 * off the loop (fleet mode), else the daemon's.
 */
struct store *
api_st(const struct api *a, const struct httpd_request *rq)
{
	return rq->worker != NULL ? rq->worker : a->store;
}

/* A store failure the client cannot fix: 503, with the backend's words. */
void
api_store_error(struct store *st, struct httpd_response *rs, int r)
{
	log_warn("api.store_error", LOGF_I("error", r),
	    LOGF_S("message", store_errmsg(st)));
	httpd_error(rs, r == -EBUSY ? 503 : 500, NULL, "the state store "
	    "failed: %s", r == -EBUSY ? "busy, try again" : "see the "
	    "daemon's log");
	if (r == -EBUSY)
		rs->retry_after = 1;
}

static void
api_healthz(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	rs->json = json_pack("{s:s}", "status", "ok");
}

static void
api_readyz(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api	*a = arg;

	if (a->d.ready(a->d.arg))
		rs->json = json_pack("{s:s}", "status", "ready");
	else
		httpd_error(rs, 503, NULL, "the start-up recovery has not "
		    "finished");
}

static void
api_metrics(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api	*a = arg;

	if (a->d.metrics(a->d.arg, &rs->text) < 0) {
		httpd_error(rs, 500, NULL, "the metrics exceed %d bytes",
		    HTTPD_TEXT_MAX);
		return;
	}
	rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void
api_proxy_status(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api	*a = arg;

	rs->json = a->d.proxy_status(a->d.arg);
}

/* --- what the route files share --------------------------------------- */

/* The optional ?country= filter. */
int
api_country_filter(const struct httpd_request *rq, struct api_page *pg,
    struct httpd_response *rs)
{
	const char	*why;
	char		*v, echo[HTTPD_ECHO_LEN];

	if ((v = httpd_query_str(rq, "country")) == NULL)
		return 0;
	if (validate_country(v, pg->country, &why) < 0) {
		httpd_error(rs, 400, "country", "country: '%s' %s",
		    httpd_echo(echo, sizeof echo, v, 16), why);
		free(v);
		return -EINVAL;
	}
	free(v);
	return 0;
}

int
api_state_filter(const struct httpd_request *rq, const char *alias,
    api_name_fn name, int nvalues, int *ret, bool *set,
    struct httpd_response *rs)
{
	const char	*param = "state";
	char		*v, *va, echo[HTTPD_ECHO_LEN];
	int		 i;

	v = httpd_query_str(rq, "state");
	va = alias != NULL ? httpd_query_str(rq, alias) : NULL;
	if (v != NULL && va != NULL) {
		httpd_error(rs, 400, alias, "%s: the deprecated name of state; "
		    "give one of them", alias);
		free(v);
		free(va);
		return -EINVAL;
	}
	if (v == NULL && (v = va) != NULL)
		param = alias;
	if (v == NULL)
		return 0;
	for (i = 0; i < nvalues; i++)
		if (strcmp(v, name(i)) == 0)
			break;
	if (i == nvalues) {
		httpd_error(rs, 400, param, "%s: '%s' is not one of its states",
		    param, httpd_echo(echo, sizeof echo, v, 32));
		free(v);
		return -EINVAL;
	}
	free(v);
	*ret = i;
	*set = true;
	return 0;
}

json_t *
api_page_answer(struct api_page *pg, const char *key)
{
	return json_pack("{s:o, s:o}", key, pg->items, "nextAfter", pg->more ?
	    json_integer(pg->last) : json_null());
}

/* After a write that succeeded, on the loop: the daemon acts on it now. */
static void
api_after_change(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api	*a = arg;

	(void)rq;
	if (rs->status >= 200 && rs->status < 300)
		a->d.changed(a->d.arg);
}

static void
api_after_restart(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api	*a = arg;

	if (rs->status < 200 || rs->status >= 300)
		return;
	a->d.changed(a->d.arg);
	/*
	 * A session this instance does not run (yet, or any more: a peer's)
	 * is started by the start just recorded, or by its owner: the answer
	 * stands either way.
	 */
	(void)a->d.restart(a->d.arg, rq->id);
}

/* --- proxies, instances, recovery runs, events -------------------------- */

static int
api_proxy_page_cb(const struct proxy_row *p, void *arg)
{
	struct api_page	*pg = arg;

	if (p->id <= pg->after || (pg->state_set && p->state != pg->state) ||
	    (pg->country[0] != '\0' && strcmp(p->country, pg->country) != 0))
		return 0;
	if (json_array_size(pg->items) == pg->limit) {
		pg->more = true;
		return 1;
	}
	/* idleSince: idleAt's deprecated name (0.1). */
	json_array_append_new(pg->items, json_pack("{s:I, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)p->id,
	    "ip", p->ip, "country", p->country, "provider", p->provider, "zone",
	    p->zone, "type", config_proxy_type_name(p->type), "state",
	    store_proxy_state_name(p->state), "sessionId", p->session_id ?
	    json_integer(p->session_id) : json_null(), "purchasedAt",
	    api_time(p->purchased_at), "assignedAt", api_time(p->assigned_at),
	    "idleAt", api_time(p->idle_since), "releasedAt",
	    api_time(p->state == PROXY_RELEASED ? p->released_at : 0),
	    "idleSince", api_time(p->idle_since)));
	pg->last = p->id;
	return 0;
}

static const char *
api_proxy_state_name(int i)
{
	return store_proxy_state_name((enum proxy_state)i);
}

static void
api_proxies(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	static const char *const allowed[] = { "limit", "after", "state",
	    "country", NULL };
	struct api	*a = arg;
	struct api_page	 pg = { 0 };
	int64_t		 limit;
	int		 r, state = 0;

	if (httpd_query_check(rq, allowed, rs) < 0 ||
	    httpd_query_i64(rq, "limit", API_PAGE_DEFAULT, 1, API_PAGE_MAX,
	    &limit, rs) < 0 ||
	    httpd_query_i64(rq, "after", 0, 0, INT64_MAX, &pg.after, rs) < 0 ||
	    api_country_filter(rq, &pg, rs) < 0)
		return;
	if (api_state_filter(rq, NULL, api_proxy_state_name, PROXY_LOST + 1,
	    &state, &pg.state_set, rs) < 0)
		return;
	pg.state = (enum proxy_state)state;
	pg.limit = (size_t)limit;
	pg.items = json_array();
	/*
	 * Every proxy the store knows, released ones too: the list is the
	 * history an operator reconciles against the provider's bill.
	 */
	if ((r = store_proxy_list_since(api_st(a, rq), 0, api_proxy_page_cb,
	    &pg)) < 0) {
		json_decref(pg.items);
		api_store_error(api_st(a, rq), rs, r);
		return;
	}
	rs->json = api_page_answer(&pg, "proxies");
}

static int
api_instance_cb(const struct instance *i, void *arg)
{
	/* instanceId, status, heartbeat: deprecated names (0.1). */
	json_array_append_new(arg, json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, "
	    "s:b, s:I, s:I, s:o, s:o, s:s, s:s, s:o}", "id", i->id, "hostname",
	    i->hostname, "pid", (json_int_t)i->pid, "state",
	    store_instance_status_name(i->status), "startedAt",
	    api_time(i->started_at), "heartbeatAt", api_time(i->heartbeat_at),
	    "recoveryInProgress", i->recovery_in_progress, "recoveryTotal",
	    (json_int_t)i->recovery_total, "recoveryDone",
	    (json_int_t)i->recovery_done, "recoveryCompletedAt",
	    api_time(i->recovery_completed_at), "stoppedAt",
	    api_time(i->stopped_at), "instanceId", i->id, "status",
	    store_instance_status_name(i->status), "heartbeat",
	    api_time(i->heartbeat_at)));
	return 0;
}

static void
api_instances(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	static const char *const allowed[] = { NULL };
	struct api	*a = arg;
	json_t		*list;
	int		 r;

	if (httpd_query_check(rq, allowed, rs) < 0)
		return;
	list = json_array();
	if ((r = store_instance_list(api_st(a, rq), api_instance_cb, list)) < 0) {
		json_decref(list);
		api_store_error(api_st(a, rq), rs, r);
		return;
	}
	rs->json = json_pack("{s:o}", "instances", list);
}

struct api_list {
	json_t	*items;
	int64_t	 last;
};

static int
api_run_cb(const struct recovery_run *run, void *arg)
{
	struct api_list	*l = arg;

	json_array_append_new(l->items, json_pack("{s:I, s:s, s:s, s:o, s:o, "
	    "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "id",
	    (json_int_t)run->id, "instanceId", run->instance_id, "cause",
	    run->cause, "startedAt", api_time(run->started_at), "finishedAt",
	    api_time(run->finished_at), "durationMs", (json_int_t)(
	    run->finished_at ? run->finished_at - run->started_at : 0),
	    "sessionCount", (json_int_t)run->sessions_total, "recovered",
	    (json_int_t)run->recovered, "failed", (json_int_t)run->failed,
	    "reactivated", (json_int_t)run->reactivated, "reused",
	    (json_int_t)run->reused, "purchased", (json_int_t)run->purchased,
	    "fallbacks", (json_int_t)run->fallbacks, "avgRecoveryMs",
	    (json_int_t)(run->recovered ? run->total_recovery_ms /
	    run->recovered : 0), "costPerRecoveredSession", run->recovered ?
	    (double)run->cost_micros / 1e6 / (double)run->recovered : 0.0));
	/* Deprecated (0.1): sessionCount's old name. */
	json_object_set_new(json_array_get(l->items, json_array_size(l->items) -
	    1), "sessions", json_integer(run->sessions_total));
	l->last = run->id;
	return 0;
}

static void
api_recovery(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	static const char *const allowed[] = { "limit", "before", NULL };
	struct api	*a = arg;
	struct api_list	 l = { 0 };
	int64_t		 limit, before;
	int		 r;

	if (httpd_query_check(rq, allowed, rs) < 0 ||
	    httpd_query_i64(rq, "limit", API_RUNS_DEFAULT, 1, API_RUNS_MAX,
	    &limit, rs) < 0 ||
	    httpd_query_i64(rq, "before", 0, 0, INT64_MAX, &before, rs) < 0)
		return;
	l.items = json_array();
	if ((r = store_recovery_run_list(api_st(a, rq), before, (size_t)limit,
	    api_run_cb, &l)) < 0) {
		json_decref(l.items);
		api_store_error(api_st(a, rq), rs, r);
		return;
	}
	rs->json = json_pack("{s:o, s:o}", "runs", l.items, "nextBefore",
	    json_array_size(l.items) == (size_t)limit && l.last > 1 ?
	    json_integer(l.last) : json_null());
}

static int
api_event_cb(const struct audit_event *e, void *arg)
{
	struct api_list	*l = arg;
	json_t		*detail;

	if ((detail = json_loads(e->detail, 0, NULL)) == NULL)
		detail = json_string(e->detail);
	/* at: occurredAt's deprecated name (0.1). */
	json_array_append_new(l->items, json_pack("{s:I, s:o, s:s, s:o, s:s, "
	    "s:o, s:o}", "id", (json_int_t)e->id, "occurredAt", api_time(e->at),
	    "actor", e->actor, "sessionId", e->session_id ?
	    json_integer(e->session_id) : json_null(), "kind", e->kind,
	    "detail", detail, "at", api_time(e->at)));
	l->last = e->id;
	return 0;
}

static void
api_events(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	static const char *const allowed[] = { "limit", "before", "sessionId",
	    NULL };
	struct api	*a = arg;
	struct api_list	 l = { 0 };
	int64_t		 limit, before, sid;
	int		 r;

	if (httpd_query_check(rq, allowed, rs) < 0 ||
	    httpd_query_i64(rq, "limit", API_EVENTS_DEFAULT, 1, API_EVENTS_MAX,
	    &limit, rs) < 0 ||
	    httpd_query_i64(rq, "before", 0, 0, INT64_MAX, &before, rs) < 0 ||
	    httpd_query_i64(rq, "sessionId", 0, 1, INT64_MAX, &sid, rs) < 0)
		return;
	l.items = json_array();
	if ((r = store_event_list(api_st(a, rq), before, sid, (size_t)limit,
	    api_event_cb, &l)) < 0) {
		json_decref(l.items);
		api_store_error(api_st(a, rq), rs, r);
		return;
	}
	rs->json = json_pack("{s:o, s:o}", "events", l.items, "nextBefore",
	    json_array_size(l.items) == (size_t)limit && l.last > 1 ?
	    json_integer(l.last) : json_null());
}

/*
 * Routes that read or write the store run off the loop (offload), so a
 * slow database never stalls it; what only the daemon knows is answered
 * on the loop.
 */
const struct httpd_route api_routes[] = {
	/* The dashboard's embedded files (dashboard.c), without the key. */
	{ HTTPD_GET, "/", false, dashboard_serve, false, NULL, 0, false, NULL },
	{ HTTPD_GET, "/app.js", false, dashboard_serve, false, NULL, 0, false, NULL },
	{ HTTPD_GET, "/app.css", false, dashboard_serve, false, NULL, 0, false, NULL },
	{ HTTPD_GET, "/healthz", false, api_healthz, false, NULL, 0, false, NULL },
	{ HTTPD_GET, "/readyz", false, api_readyz, false, NULL, 0, false, NULL },
	{ HTTPD_GET, "/metrics", false, api_metrics, false, NULL, 0, false, NULL },
	{ HTTPD_GET, "/api/proxy/status", true, api_proxy_status, false, NULL,
	    0, false, NULL },
	{ HTTPD_GET, "/api/sessions", true, api_sessions_list, true, NULL, 0,
	    true, NULL },
	{ HTTPD_POST, "/api/sessions", true, api_sessions_add, true,
	    api_after_change, 0, false, NULL },
	{ HTTPD_POST, "/api/sessions/batch", true, api_sessions_batch, true,
	    api_after_change, API_BATCH_BODY_MAX, false, NULL },
	/* api_import.c: the provider's listing first (its before hook). */
	{ HTTPD_POST, "/api/import", true, api_import, true, api_after_change,
	    API_IMPORT_BODY_MAX, true, api_import_before },
	{ HTTPD_GET, "/api/sessions/{id}", true, api_sessions_show, true, NULL,
	    0, false, NULL },
	{ HTTPD_DELETE, "/api/sessions/{id}", true, api_sessions_delete, true,
	    api_after_change, 0, false, NULL },
	{ HTTPD_POST, "/api/sessions/{id}/start", true, api_sessions_start,
	    true, api_after_change, 0, false, NULL },
	{ HTTPD_POST, "/api/sessions/{id}/stop", true, api_sessions_stop, true,
	    api_after_change, 0, false, NULL },
	/* A restart is a start, then the connector's restart on the loop. */
	{ HTTPD_POST, "/api/sessions/{id}/restart", true, api_sessions_start,
	    true, api_after_restart, 0, false, NULL },
	/* api_connector.c: pairing, and the connector's log (?bytes=). */
	{ HTTPD_GET, "/api/sessions/{id}/qr", true, api_connector_qr, true,
	    NULL, 0, false, NULL },
	{ HTTPD_POST, "/api/sessions/{id}/pairing-code", true,
	    api_connector_pair, true, api_after_restart, 0, false, NULL },
	{ HTTPD_GET, "/api/sessions/{id}/pairing-code", true,
	    api_connector_pairing_code, true, NULL, 0, false, NULL },
	{ HTTPD_GET, "/api/sessions/{id}/log", true, api_connector_log, true,
	    NULL, 0, true, NULL },
	{ HTTPD_GET, "/api/proxies", true, api_proxies, true, NULL, 0, true, NULL },
	{ HTTPD_GET, "/api/instances", true, api_instances, true, NULL, 0,
	    true, NULL },
	{ HTTPD_GET, "/api/recovery", true, api_recovery, true, NULL, 0, true, NULL },
	{ HTTPD_GET, "/api/events", true, api_events, true, NULL, 0, true, NULL },
	{ HTTPD_OTHER, NULL, false, NULL, false, NULL, 0, false, NULL },
};

static int
api_call_run(struct store *st, void *arg)
{
	httpd_call_run(arg, st);
	return 0;
}

static void
api_call_done(int result, void *arg)
{
	httpd_call_finish(arg, result);
}

static int
api_offload(void *arg, struct httpd_call *c)
{
	struct api	*a = arg;

	return storeq_submit(a->q, api_call_run, api_call_done, c);
}

/* RESPAWN_STATE_DIR/api.addr, replaced atomically, for scripts and tests. */
static void
api_write_addr(const struct config *cfg, const char *addr)
{
	char	path[1024], tmp[1040];
	int	fd, ok;

	if ((size_t)snprintf(path, sizeof path, "%s/api.addr",
	    cfg->state_dir) >= sizeof path)
		return;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) < 0) {
		log_warn("api.addr_file", LOGF_S("path", tmp),
		    LOGF_S("error", strerror(errno)));
		return;
	}
	ok = dprintf(fd, "%s\n", addr) > 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		log_warn("api.addr_file", LOGF_S("path", path),
		    LOGF_S("error", strerror(errno)));
		(void)unlink(tmp);
	}
}

int
api_new(struct event_base *base, const struct config *cfg, struct store *st,
    struct storeq *q, const struct api_daemon *d, struct api **ret,
    char err[HTTPD_ERR_LEN])
{
	struct api	*a = xcalloc(1, sizeof *a);
	int		 r;

	a->store = st;
	a->q = q;
	a->cfg = cfg;
	a->d = *d;
	if ((r = httpd_new(base, cfg->api_listen, api_routes, a,
	    cfg->api_key_secret, &a->httpd, a->addr, err)) < 0) {
		free(a);
		return r;
	}
	if (q != NULL)
		httpd_set_offload(a->httpd, api_offload, a);
	api_write_addr(cfg, a->addr);
	log_info("api.listening", LOGF_S("address", a->addr),
	    LOGF_B("key", cfg->api_key_secret[0] != '\0'));
	*ret = a;
	return 0;
}

void
api_free(struct api *a)
{
	char	path[1024];

	if (a == NULL)
		return;
	/* A stopped daemon leaves no address behind for scripts to try. */
	if ((size_t)snprintf(path, sizeof path, "%s/api.addr",
	    a->cfg->state_dir) < sizeof path)
		(void)unlink(path);
	httpd_free(a->httpd);
	free(a);
}

const char *
api_address(const struct api *a)
{
	return a->addr;
}

void
api_stats(const struct api *a, struct httpd_stats *ret)
{
	httpd_stats(a->httpd, ret);
}
