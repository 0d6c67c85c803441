/*
 * Purchases per country, each a durable intent first: see purchase.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/country.h"
#include "base/failpoint.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "core/billing.h"
#include "core/pool.h"
#include "daemon/ctx.h"
#include "daemon/inventory.h"
#include "daemon/jobs.h"
#include "daemon/purchase.h"
#include "daemon/record.h"
#include "daemon/sessions.h"
#include "daemon/supervisor.h"
#include "provider/provider.h"

/* One country's demand: its waiters, and the purchase serving them. */
struct purchase_demand {
	struct purchases *p;
	char		  country[COUNTRY_CODE_LEN];
	struct dsession	**waiting;
	size_t		  n, cap;
	struct event	 *timer;
	bool		  in_flight;	/* an intent, a call or its rows */
	int64_t		  intent_id;
	int		  count;
};

struct purchases {
	struct dctx		*c;
	struct supervisor	*sup;
	struct jobs		*jobs;
	struct record		*rec;
	struct inventory	*inv;
	struct purchase_hooks	 hooks;
	struct purchase_demand	*demand[COUNTRY_INDEX_MAX];
	struct billing_ledger	 ledger;
	int64_t			 purchased;
	int64_t			 refused;
};

struct purchases *
purchases_new(struct dctx *c, struct supervisor *sup, struct jobs *jobs,
    struct record *rec, struct inventory *inv,
    const struct purchase_hooks *hooks)
{
	struct purchases	*p = xcalloc(1, sizeof *p);

	p->c = c;
	p->sup = sup;
	p->jobs = jobs;
	p->rec = rec;
	p->inv = inv;
	p->hooks = *hooks;
	return p;
}

static void
purchase_demand_free(struct purchase_demand *dm)
{
	if (dm == NULL)
		return;
	if (dm->timer != NULL)
		event_free(dm->timer);
	free(dm->waiting);
	free(dm);
}

void
purchases_free(struct purchases *p)
{
	size_t	i;

	if (p == NULL)
		return;
	for (i = 0; i < nitems(p->demand); i++)
		purchase_demand_free(p->demand[i]);
	free(p);
}

void
purchase_stats(const struct purchases *p, struct purchase_stats *ret)
{
	ret->purchased = p->purchased;
	ret->refused = p->refused;
	ret->spent_today = billing_ledger_spent(&p->ledger, &p->c->billing,
	    util_now_ms());
}

int
purchase_waiting(const struct purchases *p, const char *country)
{
	int	ci = country_index(country);

	return ci >= 0 && p->demand[ci] != NULL ? (int)p->demand[ci]->n : 0;
}

void
purchase_forget(struct purchases *p, struct dsession *ds)
{
	struct purchase_demand	*dm = ds->demand;
	size_t			 i;

	(void)p;
	if (dm == NULL)
		return;
	for (i = 0; i < dm->n; i++) {
		if (dm->waiting[i] == ds) {
			memmove(dm->waiting + i, dm->waiting + i + 1,
			    (dm->n - i - 1) * sizeof *dm->waiting);
			dm->n--;
			break;
		}
	}
	ds->demand = NULL;
}

/* Take every waiter out of the demand; the caller frees the array. */
static struct dsession **
purchase_take_waiters(struct purchase_demand *dm, size_t *ret_n)
{
	struct dsession	**w = dm->waiting;
	size_t		  i;

	*ret_n = dm->n;
	dm->waiting = NULL;
	dm->n = dm->cap = 0;
	for (i = 0; i < *ret_n; i++)
		w[i]->demand = NULL;
	return w;
}

/* A waiter still starting with no connector: the answer is for it. */
static bool
purchase_still_waits(const struct dsession *ds)
{
	return ds->sv.state == SV_STARTING && !ds->sv.spawned;
}

/* Hand every waiter back to the pool (after a purchase, or a settle). */
static void
purchase_retry(struct purchase_demand *dm)
{
	struct purchases	 *p = dm->p;
	struct dsession		**w;
	size_t			  n, i;

	if (dm->n == 0)
		return;
	w = purchase_take_waiters(dm, &n);
	for (i = 0; i < n; i++)
		if (purchase_still_waits(w[i]))
			p->hooks.retry(p->hooks.arg, w[i]);
	free(w);
}

/* Not the phone's country's fault: the waiters wait and try again. */
static void
purchase_defer(struct purchase_demand *dm)
{
	struct dsession	**w;
	size_t		  n, i;

	w = purchase_take_waiters(dm, &n);
	for (i = 0; i < n; i++)
		if (purchase_still_waits(w[i]))
			supervisor_feed(dm->p->sup, w[i], SV_EV_PROXY_WAIT, 0,
			    false);
	free(w);
}

void
purchase_retry_all(struct purchases *p)
{
	size_t	i;

	for (i = 0; i < nitems(p->demand); i++)
		if (p->demand[i] != NULL && !p->demand[i]->in_flight)
			purchase_retry(p->demand[i]);
}

/*
 * What a purchase brought, recorded by the store's worker: a proxy row per
 * IP (ids come back for the pool), then the intent settled as owned.
 */
struct purchase_bought {
	struct purchase_demand	*dm;
	int64_t			 intent_id;
	int64_t			 now;
	size_t			 n;
	struct proxy_row	 rows[PURCHASE_MAX];
	int64_t			 ids[PURCHASE_MAX];	/* 0: failed */
	char			 err[STORE_ERROR_LEN];
};

static int
purchase_bought_run(struct store *st, void *arg)
{
	struct purchase_bought	*b = arg;
	size_t			 i;
	int			 r, first = 0;

	for (i = 0; i < b->n; i++) {
		if ((r = store_proxy_ensure(st, &b->rows[i], b->now,
		    &b->ids[i])) < 0) {
			b->ids[i] = 0;
			if (first == 0) {
				first = r;
				(void)util_strlcpy(b->err, store_errmsg(st),
				    sizeof b->err);
			}
		}
	}
	if ((r = store_intent_settle(st, b->intent_id, INTENT_OWNED, NULL,
	    b->now)) < 0 && first == 0) {
		first = r;
		(void)util_strlcpy(b->err, store_errmsg(st), sizeof b->err);
	}
	return first;
}

static void
purchase_bought_done(struct dsession *ds, enum job_fate fate, int result,
    void *arg)
{
	struct purchase_bought	*b = arg;
	struct purchase_demand	*dm = b->dm;
	struct purchases	*p = dm->p;
	struct pool_proxy	 px;
	size_t			 i, n, got = 0;

	(void)ds;
	dm->in_flight = false;
	if (fate != JOB_CURRENT) {
		free(b);
		return;
	}
	if (result < 0) {
		/*
		 * Not in the store (or not all of it): bought all the same,
		 * so the listing adopts what the rows miss, and the waiters
		 * ask again once it has.
		 */
		log_error("store.purchase_record_failed", LOGF_I("intent",
		    b->intent_id), LOGF_S("error", b->err[0] != '\0' ? b->err :
		    "its batch did not commit"));
		billing_ledger_record(&p->ledger, &p->c->billing, (int)b->n,
		    b->now);
		p->purchased += (int64_t)b->n;
		free(b);
		inventory_reconcile(p->inv);
		return;
	}
	/* A test's crash: recorded, not yet given to the waiters. */
	(void)failpoint("purchase.recorded");
	for (i = 0; i < b->n; i++) {
		if (b->ids[i] == 0)
			continue;
		b->rows[i].id = b->ids[i];
		inventory_entry(p->c, &b->rows[i], &px);
		pool_put(p->c->pool, &px);
		got++;
	}
	billing_ledger_record(&p->ledger, &p->c->billing, (int)b->n, b->now);
	p->purchased += (int64_t)b->n;
	log_info("purchase.done", LOGF_S("country", dm->country),
	    LOGF_I("count", (int64_t)b->n), LOGF_I("intent", b->intent_id));
	/* The first waiters get what was bought for them. */
	n = dm->n < got ? dm->n : got;
	for (i = 0; i < n; i++)
		dm->waiting[i]->bought = true;
	free(b);
	purchase_retry(dm);
}

static void
purchase_answered(const struct provider_result *r, void *arg)
{
	struct purchase_demand	*dm = arg;
	struct purchases	*p = dm->p;
	struct purchase_bought	*b;
	int64_t			 now = util_now_ms();
	size_t			 i;

	dm->in_flight = false;
	/* Cancelled by the teardown: the demand is freed there. */
	if (p->c->tearing_down)
		return;
	dctx_batch_begin(p->c);
	switch (r->outcome) {
	case PROVIDER_OK:
		/* A test's crash: bought, and the store does not know. */
		(void)failpoint("purchase.answered");
		/* Still in flight until the store has the rows. */
		b = xcalloc(1, sizeof *b);
		b->dm = dm;
		b->intent_id = dm->intent_id;
		b->now = now;
		for (i = 0; i < r->n && b->n < PURCHASE_MAX; i++) {
			struct proxy_row	*row = &b->rows[b->n++];

			(void)util_strlcpy(row->provider,
			    provider_name(p->c->provider), sizeof row->provider);
			(void)util_strlcpy(row->zone,
			    provider_zone(p->c->provider), sizeof row->zone);
			(void)util_strlcpy(row->ip, r->proxies[i].key,
			    sizeof row->ip);
			memcpy(row->country, r->proxies[i].country,
			    sizeof row->country);
			row->type = PROXY_TYPE_ISP;
			row->state = PROXY_IDLE;
			row->purchased_at = now;
			row->idle_since = now;
		}
		if (jobs_submit(p->jobs, p->c->q, NULL, 0, purchase_bought_run,
		    purchase_bought_done, b, "purchase_record") < 0) {
			/* The listing will adopt the IPs: they are not lost. */
			free(b);
			inventory_reconcile(p->inv);
			break;
		}
		dm->in_flight = true;
		break;
	case PROVIDER_FAILED:
		record_intent_settle(p->rec, dm->intent_id, INTENT_FAILED,
		    r->message);
		if (r->sold_out) {
			log_warn("purchase.sold_out", LOGF_S("country",
			    dm->country), LOGF_S("msg", "no IPs for sale there: "
			    "sessions fall back"));
			pool_mark_empty(p->c->pool, dm->country, util_now_ms(),
			    PURCHASE_SOLD_OUT_MS);
			purchase_retry(dm);
			break;
		}
		log_error("purchase.failed", LOGF_S("country", dm->country),
		    LOGF_S("error", r->message));
		purchase_defer(dm);
		break;
	case PROVIDER_UNKNOWN:
		/* Never asked again: the listing tells what was bought. */
		record_intent_settle(p->rec, dm->intent_id, INTENT_UNKNOWN,
		    r->message);
		log_warn("purchase.unknown", LOGF_S("country", dm->country),
		    LOGF_I("intent", dm->intent_id), LOGF_S("error",
		    r->message), LOGF_S("msg", "settling from the provider's "
		    "listing"));
		inventory_reconcile(p->inv);
		break;
	}
	dctx_batch_end(p->c);
}

/* A purchase's intent, written by the store's worker before it is sent. */
struct purchase_intent {
	struct purchase_demand	*dm;
	struct intent		 in;
	char			 self[STORE_ID_LEN];
	int64_t			 now;
	int64_t			 id;
	char			 err[STORE_ERROR_LEN];
};

static int
purchase_intent_run(struct store *st, void *arg)
{
	struct purchase_intent	*it = arg;
	int			 r;

	if ((r = store_intent_add(st, &it->in, it->self, it->now,
	    &it->id)) < 0)
		(void)util_strlcpy(it->err, store_errmsg(st), sizeof it->err);
	return r;
}

static void
purchase_intent_done(struct dsession *ds, enum job_fate fate, int result,
    void *arg)
{
	struct purchase_intent	*it = arg;
	struct purchase_demand	*dm = it->dm;
	struct purchases	*p = dm->p;
	int			 r;

	(void)ds;
	dm->in_flight = false;
	if (fate != JOB_CURRENT || p->c->stopping) {
		free(it);
		return;
	}
	if (result < 0) {
		/* Nothing asked: the waiters are served when they retry. */
		log_error("store.intent_failed", LOGF_S("error", it->err));
		free(it);
		return;
	}
	dm->intent_id = it->id;
	free(it);
	log_info("purchase.start", LOGF_S("country", dm->country),
	    LOGF_I("count", dm->count), LOGF_I("intent", dm->intent_id));
	/* A test's crash: the intent is written, nothing asked yet. */
	(void)failpoint("purchase.intent");
	dm->in_flight = true;
	if ((r = provider_purchase(p->c->provider, dm->country, dm->count,
	    purchase_answered, dm)) < 0) {
		struct provider_result	fail = { .outcome = PROVIDER_FAILED,
			.error = r, .message = strerror(-r) };

		purchase_answered(&fail, dm);
	}
}

static void
purchase_fire(evutil_socket_t fd, short what, void *arg)
{
	struct purchase_demand	*dm = arg;
	struct purchases	*p = dm->p;
	struct purchase_intent	*it;
	const char		*why = NULL;
	int			 r;

	(void)fd;
	(void)what;
	if (dm->in_flight || dm->n == 0 || p->c->stopping)
		return;
	dm->count = dm->n < PURCHASE_MAX ? (int)dm->n : PURCHASE_MAX;
	r = billing_ledger_allow(&p->ledger, &p->c->billing, &p->c->limits,
	    dm->count, util_now_ms(), &why);
	if (r <= 0) {
		log_warn("purchase.refused", LOGF_I("count", dm->count),
		    LOGF_S("why", why != NULL ? why : strerror(-r)),
		    LOGF_I("spent_today_micros", billing_ledger_spent(
		    &p->ledger, &p->c->billing, util_now_ms())));
		p->refused += dm->count;
		/* Refused: the waiters are served from the idle pool later. */
		dctx_batch_begin(p->c);
		purchase_defer(dm);
		dctx_batch_end(p->c);
		return;
	}
	dm->count = r;
	it = xcalloc(1, sizeof *it);
	it->dm = dm;
	(void)util_strlcpy(it->in.provider, provider_name(p->c->provider),
	    sizeof it->in.provider);
	(void)util_strlcpy(it->in.zone, provider_zone(p->c->provider),
	    sizeof it->in.zone);
	memcpy(it->in.country, dm->country, sizeof it->in.country);
	it->in.count = dm->count;
	(void)util_strlcpy(it->self, p->c->instance_id, sizeof it->self);
	it->now = util_now_ms();
	/* In the store before the provider is asked: a crash cannot leak. */
	if (jobs_submit(p->jobs, p->c->q, NULL, 0, purchase_intent_run,
	    purchase_intent_done, it, "intent_add") < 0) {
		free(it);
		return;
	}
	dm->in_flight = true;
}

void
purchase_need(struct purchases *p, struct dsession *ds, const char *cc)
{
	struct purchase_demand	*dm;
	struct timeval		 tv = { 0, PURCHASE_WINDOW_MS * 1000 };
	int			 ci = country_index(cc);

	if (ci < 0)
		return;
	if ((dm = p->demand[ci]) == NULL) {
		dm = xcalloc(1, sizeof *dm);
		dm->p = p;
		memcpy(dm->country, cc, sizeof dm->country);
		dm->timer = evtimer_new(p->c->base, purchase_fire, dm);
		p->demand[ci] = dm;
	}
	if (ds->demand != NULL)
		purchase_forget(p, ds);
	if (dm->n == dm->cap) {
		dm->cap = dm->cap ? dm->cap * 2 : 16;
		dm->waiting = xreallocarray(dm->waiting, dm->cap,
		    sizeof *dm->waiting);
	}
	dm->waiting[dm->n++] = ds;
	ds->demand = dm;
	if (!dm->in_flight && !evtimer_pending(dm->timer, NULL))
		evtimer_add(dm->timer, &tv);
}
