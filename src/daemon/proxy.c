/*
 * Which proxy a session uses, and idle IPs given back: see proxy.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/country.h"
#include "base/failpoint.h"
#include "base/intmap.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "core/backoff.h"
#include "core/billing.h"
#include "core/fallback.h"
#include "core/pool.h"
#include "core/sweep.h"
#include "daemon/ctx.h"
#include "daemon/inventory.h"
#include "daemon/jobs.h"
#include "daemon/proxy.h"
#include "daemon/purchase.h"
#include "daemon/record.h"
#include "daemon/sessions.h"
#include "daemon/supervisor.h"
#include "provider/provider.h"

struct proxies {
	struct dctx		*c;
	struct sessions		*reg;
	struct supervisor	*sup;
	struct jobs		*jobs;
	struct record		*rec;
	struct inventory	*inv;
	struct purchases	*pur;
	struct proxy_hooks	 hooks;
	struct proxy_stats	 stats;
	int64_t			 last_sweep;
	struct intmap		*releases;	/* id -> struct proxy_release */
	struct event		*ev_again;	/* a listing for them, later */
};

_Static_assert(POOL_IP_LEN == STORE_IP_LEN, "one length for an IP");
_Static_assert(POOL_MAX_REFUSED == STORE_REFUSED_MAX,
    "the pool takes every refused IP the store keeps");

static const struct backoff_policy proxy_again = {
	.base_ms = PROXY_RELEASE_AGAIN_MS,
	.cap_ms = PROXY_RELEASE_AGAIN_MAX_MS,
};

/* A listing, to settle releases the provider did not confirm. */
static void
proxy_again_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxies	*px = arg;

	(void)fd;
	(void)what;
	if (!px->c->stopping)
		inventory_reconcile(px->inv);
}

struct proxies *
proxies_new(struct dctx *c, struct sessions *reg, struct supervisor *sup,
    struct jobs *jobs, struct record *rec, struct inventory *inv,
    struct purchases *pur, const struct proxy_hooks *hooks)
{
	struct proxies	*px = xcalloc(1, sizeof *px);

	px->c = c;
	px->reg = reg;
	px->sup = sup;
	px->jobs = jobs;
	px->rec = rec;
	px->inv = inv;
	px->pur = pur;
	px->hooks = *hooks;
	px->releases = intmap_new();
	if (c->base != NULL)
		px->ev_again = evtimer_new(c->base, proxy_again_cb, px);
	return px;
}

static int	proxy_release_free_cb(int64_t id, void *value, void *arg);

void
proxies_free(struct proxies *px)
{
	if (px == NULL)
		return;
	if (px->ev_again != NULL)
		event_free(px->ev_again);
	(void)intmap_walk(px->releases, proxy_release_free_cb, NULL);
	intmap_free(px->releases);
	free(px);
}

void
proxy_stats(const struct proxies *px, struct proxy_stats *ret)
{
	const struct pool_proxy	*p;
	int64_t			 now = util_now_ms();
	size_t			 i;

	*ret = px->stats;
	ret->held = 0;
	for (i = 0; px->c->pool != NULL && i < pool_count(px->c->pool); i++) {
		p = pool_at(px->c->pool, i);
		if (p->state == POOL_IDLE && pool_held(p, 0, now))
			ret->held++;
	}
}

/* --- a session's proxy -------------------------------------------------- */

/*
 * A proxy of this country became idle: a session waiting for one (in
 * backoff after the pool had none) tries again now instead of at its
 * timer, so a freed IP serves a waiting session before anything is bought
 * or released.
 */
static void
proxy_offer_idle(struct proxies *px, const char *country)
{
	struct dsession	*ds;

	for (ds = sessions_first(px->reg); ds != NULL;
	    ds = sessions_next(ds)) {
		if (ds->waiting_proxy && ds->sv.state == SV_BACKOFF &&
		    strcmp(ds->country, country) == 0) {
			ds->waiting_proxy = false;
			supervisor_feed(px->sup, ds, SV_EV_TIMER, 0, false);
			return;
		}
	}
}

/*
 * Until when a phone leaving now is expected back, from its reconnect
 * gaps: its IP is held for it that long (core/pool.h).
 */
static int64_t
proxy_back_by(const struct proxies *px, const struct dsession *ds,
    int64_t now)
{
	return billing_expect_back(&px->c->release, ds->gaps, ds->ngaps, now);
}

/*
 * Detach the session's proxy; keep: it stays reserved for the session,
 * else, with hold, it is held for the phone while it is expected back.
 */
static void
proxy_detach(struct proxies *px, struct dsession *ds, bool keep, bool hold)
{
	int64_t	now = util_now_ms(), back_by;

	if (ds->proxy_id == 0)
		return;
	/*
	 * A session a peer owns now: its proxy is the peer's to reactivate,
	 * so the store is left alone and our pool keeps it reserved.
	 */
	if (ds->sv.life == SV_LIFE_LOST) {
		(void)pool_detach(px->c->pool, ds->proxy_id, now, true, 0);
		ds->proxy_id = 0;
		return;
	}
	/* Removed for good, or refused by its phone: nobody to hold for. */
	back_by = keep || !hold || ds->sv.life == SV_LIFE_REMOVED ? 0 :
	    proxy_back_by(px, ds, now);
	(void)pool_detach(px->c->pool, ds->proxy_id, now, keep, back_by);
	/*
	 * Dying here leaves the store saying the proxy is the session's:
	 * the next start reactivates it for the session or keeps it for
	 * the phone, never offers it to another (test_crashpoints).
	 */
	(void)failpoint("proxy.detached");
	record_unassign(px->rec, ds->proxy_id, keep, back_by != 0 ? ds->id : 0,
	    back_by);
	ds->proxy_id = 0;
	if (!keep)
		proxy_offer_idle(px, ds->country);
}

void
proxy_give_back(struct proxies *px, struct dsession *ds, bool bad)
{
	const struct pool_proxy	*p;

	if (bad && ds->ptype == PROXY_TYPE_RESIDENTIAL) {
		/* A new session id: the provider picks another peer. */
		ds->res_generation++;
		log_warn("proxy.refused", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_S("proxy", "residential"),
		    LOGF_I("generation", ds->res_generation));
	} else if (bad && ds->proxy_id != 0 &&
	    (p = pool_get(px->c->pool, ds->proxy_id)) != NULL) {
		log_warn("proxy.refused", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_S("proxy", p->ip));
		/* In memory at once; in the store for every later start. */
		pool_mark_bad(px->c->pool, ds->phone, p->ip);
		record_refused(px->rec, ds->id, ds->phone, p->ip);
	}
	proxy_detach(px, ds, false, !bad);
}

void
proxy_cancel(struct proxies *px, struct dsession *ds)
{
	jobs_cancel(ds, JOB_ACQUIRE);
	purchase_forget(px->pur, ds);
}

void
proxy_adopt(struct proxies *px, struct dsession *ds, int64_t hist0)
{
	const struct pool_proxy	*p;

	if (hist0 != 0 && (p = pool_get(px->c->pool, hist0)) != NULL &&
	    p->reserved_for == ds->id && pool_attach(px->c->pool, p->id,
	    ds->id) == 0) {
		ds->proxy_id = p->id;
		ds->proxy_how = POOL_REACTIVATE;
	}
}

void
proxy_unkeep(struct proxies *px, struct dsession *ds, int64_t hist0)
{
	const struct pool_proxy	*p;

	int64_t			 now = util_now_ms(), back_by;

	if (hist0 != 0 && (p = pool_get(px->c->pool, hist0)) != NULL &&
	    p->reserved_for == ds->id) {
		back_by = proxy_back_by(px, ds, now);
		(void)pool_detach(px->c->pool, p->id, now, false, back_by);
		record_unassign(px->rec, p->id, false, ds->id, back_by);
	}
}

/* --- acquisition: history, the pool's choice, the assignment ----------- */

struct proxy_acq {
	struct proxies		*px;
	int64_t			 session;
	char			 phone[PHONE_LEN];
	char			 country[COUNTRY_CODE_LEN];
	char			 self[STORE_ID_LEN];
	int64_t			 history[POOL_MAX_HISTORY];
	size_t			 nhistory;
	char			 refused[POOL_MAX_REFUSED][POOL_IP_LEN];
	size_t			 nrefused;
	int64_t			 gaps[BILLING_HISTORY_MAX];
	size_t			 ngaps;
	bool			 have_gaps;
	int64_t			 asked_at;	/* wall ms, the start */
	/* The assignment. */
	struct pool_choice	 ch;
	const char		*reason;
	int64_t			 now;
	char			 err[STORE_ERROR_LEN];
};

/* The session still waits for a proxy: starting, no connector, none yet. */
static bool
proxy_still_wanted(const struct dsession *ds)
{
	return ds->sv.state == SV_STARTING && !ds->sv.spawned &&
	    ds->proxy_id == 0;
}

static int
proxy_history_run(struct store *st, void *arg)
{
	struct proxy_acq	*a = arg;
	size_t			 n = 0;

	/* No history is no reason not to go on: a new IP will do. */
	if (store_proxy_history(st, a->phone, a->history, POOL_MAX_HISTORY,
	    &n) == 0)
		a->nhistory = n;
	/* Nor are unknown gaps: the phone's IP is then held the least. */
	if (store_phone_gaps(st, a->phone, a->asked_at, a->gaps,
	    BILLING_HISTORY_MAX, &n) == 0) {
		a->ngaps = n;
		a->have_gaps = true;
	}
	/*
	 * The IPs the phone refused are a reason: without them, the phone
	 * could be given one again, and preferred for its history.
	 */
	return store_refused_list(st, a->phone, a->refused, POOL_MAX_REFUSED,
	    &a->nrefused);
}

static int
proxy_assign_run(struct store *st, void *arg)
{
	struct proxy_acq	*a = arg;
	int			 r;

	if ((r = store_proxy_assign(st, a->ch.proxy_id, a->session, a->phone,
	    a->country, a->ch.fallback_used, a->reason, a->self, a->now)) < 0)
		(void)util_strlcpy(a->err, store_errmsg(st), sizeof a->err);
	return r;
}

static void
proxy_assigned(struct dsession *ds, enum job_fate fate, int result,
    void *arg)
{
	struct proxy_acq	*a = arg;
	struct proxies		*px = a->px;
	const struct pool_proxy	*p, *prev;
	int64_t			 now = util_now_ms();

	if (fate == JOB_TEARDOWN)
		goto out;
	if (fate == JOB_MOVED_ON || !proxy_still_wanted(ds)) {
		/* Moved on: the proxy goes back, in the store too. */
		(void)pool_detach(px->c->pool, a->ch.proxy_id, now, false, 0);
		if (result == 0)
			record_unassign(px->rec, a->ch.proxy_id, false, 0, 0);
		goto out;
	}
	if (result < 0) {
		log_error("store.proxy_assign_failed", LOGF_I("session", ds->id),
		    LOGF_S("error", a->err));
		(void)pool_detach(px->c->pool, a->ch.proxy_id, now, false, 0);
		/* A peer may hold it: learn what the store knows. */
		if (px->c->fleet)
			inventory_refresh(px->inv);
		supervisor_feed(px->sup, ds, SV_EV_PROXY_WAIT, 0, false);
		goto out;
	}
	ds->proxy_id = a->ch.proxy_id;
	ds->proxy_how = a->ch.kind;
	ds->proxy_fallback = a->ch.fallback_used;
	p = pool_get(px->c->pool, a->ch.proxy_id);
	if ((unsigned)ds->proxy_how <= POOL_WAIT)
		px->stats.assigned[ds->proxy_how]++;
	if (ds->proxy_fallback)
		px->stats.fallbacks++;
	if (a->ch.displaced != 0) {
		px->stats.displaced++;
		log_info("proxy.displaced", LOGF_I("session", ds->id),
		    LOGF_I("heldFor", a->ch.displaced), LOGF_S("msg", "an IP "
		    "held for another phone: buying would have cost more"));
	}
	prev = NULL;
	if (a->nhistory > 0 && a->history[0] != ds->proxy_id) {
		px->stats.replaced++;
		prev = pool_get(px->c->pool, a->history[0]);
	}
	px->hooks.assigned(px->hooks.arg, ds, a->nhistory > 0 &&
	    a->history[0] != ds->proxy_id ? (prev != NULL ? prev->ip : "") :
	    NULL, a->ch.country);
	if (a->ch.kind == POOL_REACTIVATE)
		log_info("proxy.reactivated", LOGF_S("msg",
		    "reactivated existing proxy"), LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_S("proxy", p != NULL ?
		    p->ip : ""));
	if (a->ch.fallback_used)
		log_info("proxy.fallback", LOGF_S("msg",
		    "using fallback country"), LOGF_I("session", ds->id),
		    LOGF_S("requestedCountry", ds->country),
		    LOGF_S("country", a->ch.country));
	supervisor_feed(px->sup, ds, SV_EV_PROXY_READY, 0, false);
out:
	free(a);
}

/* With the history known: the pool's choice, then its assignment. */
static void
proxy_choose(struct dsession *ds, enum job_fate fate, int result, void *arg)
{
	struct proxy_acq	*a = arg;
	struct proxies		*px = a->px;
	struct pool_request	 req = { 0 };
	const char		*chain[FALLBACK_MAX];
	size_t			 i, nchain = 0;

	if (fate != JOB_CURRENT || !proxy_still_wanted(ds))
		goto done;
	if (result < 0) {
		log_error("store.proxy_history_failed", LOGF_I("session",
		    ds->id), LOGF_S("msg", "the phone's refused IPs are not "
		    "known: waiting"));
		supervisor_feed(px->sup, ds, SV_EV_PROXY_WAIT, 0, false);
		goto done;
	}
	if (a->have_gaps) {
		memcpy(ds->gaps, a->gaps, sizeof ds->gaps);
		ds->ngaps = a->ngaps;
	}
	req.session_id = ds->id;
	req.phone = ds->phone;
	req.country = ds->country;
	req.can_purchase = provider_can_purchase(px->c->provider);
	if (fallback_lookup(px->c->fallback, ds->country, chain, &nchain) == 0)
		for (i = 0; i < nchain && i < POOL_MAX_CHAIN; i++)
			req.chain[req.nchain++] = chain[i];
	for (i = 0; i < a->nhistory; i++)
		req.history[i] = a->history[i];
	req.nhistory = a->nhistory;
	req.refused = (const char (*)[POOL_IP_LEN])a->refused;
	req.nrefused = a->nrefused;
	a->now = util_now_ms();
	pool_choose(px->c->pool, &req, a->now, &a->ch);
	if (a->ch.kind == POOL_PURCHASE) {
		purchase_need(px->pur, ds, a->ch.country);
		goto done;
	}
	if (a->ch.kind == POOL_WAIT) {
		log_info("proxy.unavailable", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_S("country", ds->country));
		supervisor_feed(px->sup, ds, SV_EV_PROXY_WAIT, 0, false);
		goto done;
	}
	if (pool_attach(px->c->pool, a->ch.proxy_id, ds->id) < 0) {
		supervisor_feed(px->sup, ds, SV_EV_PROXY_WAIT, 0, false);
		goto done;
	}
	a->reason = a->ch.kind == POOL_REACTIVATE ? "reactivated" :
	    ds->bought ? "purchased" : "reused";
	if (ds->bought && a->ch.kind == POOL_REUSE)
		a->ch.kind = POOL_PURCHASE;	/* for the figures */
	ds->bought = false;
	memcpy(a->country, ds->country, sizeof a->country);
	if (jobs_submit(px->jobs, px->c->q, ds, JOB_ACQUIRE, proxy_assign_run,
	    proxy_assigned, a, "proxy_assign") < 0) {
		(void)pool_detach(px->c->pool, a->ch.proxy_id, a->now, false,
		    0);
		supervisor_feed(px->sup, ds, SV_EV_PROXY_WAIT, 0, false);
		goto done;
	}
	return;
done:
	free(a);
}

void
proxy_acquire(struct proxies *px, struct dsession *ds)
{
	struct proxy_acq	*a;
	char			 url[PROVIDER_URL_MAX];
	int			 r;

	/*
	 * A residential session needs no IP of ours: the provider keeps a
	 * sticky peer for its session id, derived from the phone.
	 */
	if (ds->ptype == PROXY_TYPE_RESIDENTIAL) {
		r = provider_session_url(px->c->provider, ds->phone,
		    ds->country, ds->res_generation, url);
		util_wipe(url, sizeof url);
		if (r < 0) {
			log_warn("proxy.residential_unavailable",
			    LOGF_I("session", ds->id), LOGF_S("msg",
			    "residential sessions need RESPAWN_PROVIDER="
			    "brightdata and BRIGHT_DATA_RESIDENTIAL_ZONE"));
			supervisor_feed(px->sup, ds, SV_EV_PROXY_WAIT, 0, false);
			return;
		}
		ds->proxy_how = POOL_WAIT;	/* none of ours: not counted */
		supervisor_feed(px->sup, ds, SV_EV_PROXY_READY, 0, false);
		return;
	}
	/* A restart after a failure keeps the proxy it had. */
	if (ds->proxy_id != 0) {
		supervisor_feed(px->sup, ds, SV_EV_PROXY_READY, 0, false);
		return;
	}
	a = xcalloc(1, sizeof *a);
	a->px = px;
	a->session = ds->id;
	a->asked_at = util_now_ms();
	memcpy(a->phone, ds->phone, sizeof a->phone);
	(void)util_strlcpy(a->self, px->c->instance_id, sizeof a->self);
	if (jobs_submit(px->jobs, px->c->q, ds, JOB_ACQUIRE, proxy_history_run,
	    proxy_choose, a, "proxy_history") < 0) {
		free(a);
		supervisor_feed(px->sup, ds, SV_EV_PROXY_WAIT, 0, false);
	}
}

/* --- IPs given back to the provider ------------------------------------- */

/*
 * Proxies the operator asked to release (`respawn proxy release`), and
 * the sweep's: taken out of the pool, given back to the provider, then
 * marked released once the provider's answer names them.  An answer that
 * does not (an unknown outcome, or one naming other IPs) leaves the proxy
 * releasing until a listing settles it: one asked for after the answer
 * that no longer shows it makes it released; one that still shows it has
 * the release asked again.  Each release is kept here, by proxy id, from
 * its request until it is settled.
 */
struct proxy_release {
	struct proxies	*px;
	int64_t		 id;
	char		 key[PROVIDER_KEY_MAX];
	bool		 in_flight;	/* the provider has not answered */
	int64_t		 answered_at;	/* wall ms of the last answer */
	int		 asked;		/* times asked */
};

static int
proxy_release_free_cb(int64_t id, void *value, void *arg)
{
	struct proxy_release	*rel = value;

	(void)id;
	(void)arg;
	/* One in flight is its callback's to free. */
	if (!rel->in_flight)
		free(rel);
	return 0;
}

static void
proxy_release_forget(struct proxies *px, struct proxy_release *rel)
{
	(void)intmap_del(px->releases, rel->id);
	free(rel);
}

/* Does the answer name key?  others: how many it names besides. */
static bool
proxy_release_named(const struct provider_result *r, const char *key,
    size_t *others)
{
	bool	named = false;
	size_t	i;

	*others = 0;
	for (i = 0; i < r->n; i++) {
		if (strcmp(r->proxies[i].key, key) == 0)
			named = true;
		else
			(*others)++;
	}
	return named;
}

static void
proxy_released(const struct provider_result *r, void *arg)
{
	struct proxy_release	*rel = arg;
	struct proxies		*px = rel->px;
	size_t			 others = 0;
	bool			 named;

	rel->in_flight = false;
	if (px->c->tearing_down) {
		proxy_release_forget(px, rel);
		return;
	}
	rel->answered_at = util_now_ms();
	named = r->outcome == PROVIDER_OK &&
	    proxy_release_named(r, rel->key, &others);
	if (others > 0) {
		/* Not ours to conclude anything from: the listing will. */
		px->stats.release_other += (int64_t)others;
		log_warn("provider.release_answer_other", LOGF_S("proxy",
		    rel->key), LOGF_I("others", (int64_t)others),
		    LOGF_S("msg", "the provider's answer names IPs that were "
		    "not asked for: checked against its listing"));
	}
	if (named) {
		/* A test's crash: given back, and the store does not know. */
		(void)failpoint("release.answered");
		record_proxy_state(px->rec, rel->id, PROXY_RELEASED);
		inventory_set_state(px->inv, rel->id, POOL_RELEASED);
		px->stats.released++;
		log_info("proxy.released", LOGF_S("proxy", rel->key));
		proxy_release_forget(px, rel);
	} else if (r->outcome == PROVIDER_FAILED) {
		/* Still ours: back to the idle pool. */
		record_proxy_state(px->rec, rel->id, PROXY_IDLE);
		inventory_set_state(px->inv, rel->id, POOL_IDLE);
		log_error("proxy.release_failed", LOGF_S("proxy", rel->key),
		    LOGF_S("error", r->message));
		proxy_release_forget(px, rel);
	} else if (r->outcome == PROVIDER_OK) {
		px->stats.release_unconfirmed++;
		log_warn("proxy.release_unconfirmed", LOGF_S("proxy",
		    rel->key), LOGF_S("msg", "the provider's answer does not "
		    "name it: settled by the next listing"));
	} else {
		log_warn("proxy.release_unknown", LOGF_S("proxy", rel->key),
		    LOGF_S("msg", "settled by the next listing"));
	}
	if (!named && r->outcome != PROVIDER_FAILED) {
		/*
		 * A listing now settles it if it went; one after the backoff
		 * has it asked again if it did not (proxy_listed).
		 */
		int64_t		ms = backoff_ceiling_ms(&proxy_again,
				    (unsigned)(rel->asked - 1)) + 100;
		struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

		inventory_reconcile(px->inv);
		if (px->ev_again != NULL)
			evtimer_add(px->ev_again, &tv);
	} else if (others > 0)
		inventory_reconcile(px->inv);
}

/* Ask the provider to take a proxy back (it is releasing already). */
static void
proxy_release_ask(struct proxies *px, struct proxy_release *rel)
{
	const char	*keys[1];

	rel->in_flight = true;
	rel->asked++;
	keys[0] = rel->key;
	(void)failpoint("release.requested");
	if (provider_release(px->c->provider, keys, 1, proxy_released,
	    rel) < 0) {
		struct provider_result	fail = { .outcome = PROVIDER_FAILED,
			.message = "could not start the release" };

		proxy_released(&fail, rel);
	}
}

/* Take a proxy out of the pool and ask the provider to take it back. */
static void
proxy_release_start(struct proxies *px, int64_t id, const char *key)
{
	struct proxy_release	*rel;

	if ((rel = intmap_get(px->releases, id)) != NULL && rel->in_flight)
		return;
	inventory_set_state(px->inv, id, POOL_RELEASING);
	record_proxy_state(px->rec, id, PROXY_RELEASING);
	if (rel == NULL) {
		rel = xcalloc(1, sizeof *rel);
		rel->px = px;
		rel->id = id;
		(void)util_strlcpy(rel->key, key, sizeof rel->key);
		intmap_put(px->releases, id, rel);
	}
	log_info("proxy.releasing", LOGF_S("proxy", key));
	proxy_release_ask(px, rel);
}

void
proxy_release_row(struct proxies *px, const struct proxy_row *row)
{
	const struct pool_proxy	*old;

	if (row->state != PROXY_RELEASING || px->c->pool == NULL)
		return;
	old = pool_get(px->c->pool, row->id);
	/* Already asked, or given back since the row was read. */
	if (intmap_get(px->releases, row->id) != NULL || (old != NULL &&
	    (old->state == POOL_RELEASING || old->state == POOL_RELEASED)))
		return;
	proxy_release_start(px, row->id, row->ip);
}

struct proxy_relisted {
	int64_t	*ids;
	size_t	 n, cap;
};

static int
proxy_relisted_cb(int64_t id, void *value, void *arg)
{
	struct proxy_relisted	*rl = arg;

	(void)value;
	if (rl->n == rl->cap) {
		rl->cap = rl->cap ? rl->cap * 2 : 16;
		rl->ids = xreallocarray(rl->ids, rl->cap, sizeof *rl->ids);
	}
	rl->ids[rl->n++] = id;
	return 0;
}

void
proxy_listed(struct proxies *px, int64_t asked_at)
{
	struct proxy_relisted	 rl = { 0 };
	struct proxy_release	*rel;
	const struct pool_proxy	*p;
	size_t			 i;

	if (px->c->pool == NULL)
		return;
	(void)intmap_walk(px->releases, proxy_relisted_cb, &rl);
	for (i = 0; i < rl.n; i++) {
		rel = intmap_get(px->releases, rl.ids[i]);
		if (rel->in_flight || rel->answered_at >= asked_at)
			continue;
		p = pool_get(px->c->pool, rel->id);
		if (p == NULL || p->state != POOL_RELEASING) {
			/* Settled by the listing (released, or lost). */
			proxy_release_forget(px, rel);
			continue;
		}
		/*
		 * Listed after the answer: the provider still has it.  Asked
		 * again, less often each time, so a provider that keeps
		 * answering beside the point is not asked in a loop.
		 */
		if (asked_at < rel->answered_at + backoff_ceiling_ms(
		    &proxy_again, (unsigned)(rel->asked - 1)))
			continue;
		log_warn("proxy.release_again", LOGF_S("proxy", rel->key),
		    LOGF_S("msg", "still listed by the provider after its "
		    "release: asked again"));
		proxy_release_ask(px, rel);
	}
	free(rl.ids);
}

/*
 * Idle IPs go back to the provider per RESPAWN_RELEASE_POLICY: the core's
 * sweep decides (core/sweep.c, the one `respawn cost simulate` replays),
 * with what only the shell knows: the sessions about to choose an idle IP
 * and those waiting for a purchase.  Static lists are paid elsewhere:
 * nothing is given back.
 */
static void
proxy_sweep_release(const struct pool_proxy *p, enum billing_reason why,
    void *arg)
{
	struct proxies	*px = arg;

	log_info("proxy.release", LOGF_S("proxy", p->ip),
	    LOGF_S("country", p->country), LOGF_S("why",
	    billing_reason_name(why)));
	proxy_release_start(px, p->id, p->ip);
}

static void
proxy_sweep(struct proxies *px)
{
	struct sweep_demand	*dem;
	struct dsession		*ds;
	char			 cc[COUNTRY_CODE_LEN];
	int			 ci;

	if (!provider_can_purchase(px->c->provider))
		return;
	dem = xcalloc(1, sizeof *dem);
	for (ds = sessions_first(px->reg); ds != NULL; ds = sessions_next(ds))
		if (jobs_pending(ds, JOB_ACQUIRE) &&
		    (ci = country_index(ds->country)) >= 0)
			dem->acquiring[ci]++;
	for (ci = 0; ci < COUNTRY_INDEX_MAX; ci++) {
		country_of_index(ci, cc);
		dem->waiting[ci] = purchase_waiting(px->pur, cc);
	}
	(void)sweep_run(px->c->pool, &px->c->billing, &px->c->release, dem,
	    util_now_ms(), proxy_sweep_release, px);
	free(dem);
}

void
proxy_tick(struct proxies *px, int64_t now)
{
	int64_t	every = PROXY_SWEEP_MS;

	if (px->c->pool == NULL || !inventory_loaded(px->inv))
		return;
	/* Every minute, or oftener when the idle timeout is shorter. */
	if (px->c->release.kind == BILLING_IDLE_TIMEOUT &&
	    px->c->release.idle_timeout_ms / 4 < every)
		every = px->c->release.idle_timeout_ms / 4;
	if (now - px->last_sweep < every)
		return;
	px->last_sweep = now;
	proxy_sweep(px);
}
