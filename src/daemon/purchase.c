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
#include "core/backoff.h"
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
	int64_t		  intent_id;	/* in flight; 0 while being written */
	int64_t		  intent_at;	/* when it was made */
	int		  count;
	/* The last purchase, when its outcome is not wholly known. */
	int64_t		  unknown_id;
	int64_t		  unknown_count;	/* IPs it may have bought */
	int64_t		  unknown_at;
	int64_t		  expired_logged;	/* an intent whose wait ended */
	bool		  wait_logged;		/* this wait was logged */
	unsigned	  intent_failures;	/* in a row: the backoff */
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
	/* Open intents of dead instances, from the last listing. */
	struct inventory_intent	*blocks;
	size_t			 nblocks;
	struct event		*ev_settle;
	struct purchase_stats	 st;
};

static void	purchase_settle_cb(evutil_socket_t fd, short what, void *arg);

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
	if (c->base != NULL)
		p->ev_settle = evtimer_new(c->base, purchase_settle_cb, p);
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
	if (p->ev_settle != NULL)
		event_free(p->ev_settle);
	free(p->blocks);
	free(p);
}

/* --- needs an unsettled purchase may have covered ------------------------ */

/*
 * IPs of dm's country that may have been bought already and are not known
 * yet: this instance's purchase of unknown outcome, and open intents of
 * dead instances, each for PURCHASE_BLOCK_MAX_MS at most.  Buying for as
 * many waiters again could buy one need twice.
 */
static int64_t
purchase_blocked(struct purchase_demand *dm, int64_t now)
{
	struct purchases		*p = dm->p;
	const struct inventory_intent	*b;
	int64_t				 n = 0, expired = 0;
	size_t				 i;

	if (dm->unknown_id != 0) {
		if (now - dm->unknown_at < PURCHASE_BLOCK_MAX_MS)
			n += dm->unknown_count;
		else
			expired = dm->unknown_id;
	}
	for (i = 0; i < p->nblocks; i++) {
		b = &p->blocks[i];
		if (b->id == dm->unknown_id ||
		    strcmp(b->country, dm->country) != 0)
			continue;
		if (now - b->created_at < PURCHASE_BLOCK_MAX_MS)
			n += b->count;
		else
			expired = b->id;
	}
	if (expired != 0 && expired != dm->expired_logged) {
		dm->expired_logged = expired;
		log_warn("purchase.unsettled_expired", LOGF_I("intent",
		    expired), LOGF_S("country", dm->country), LOGF_S("msg",
		    "no listing settled this purchase in time: buying for "
		    "its need again; a listing adopts what it bought"));
	}
	return n;
}

static bool
purchase_anything_blocked(struct purchases *p)
{
	size_t	i;

	if (p->nblocks > 0)
		return true;
	for (i = 0; i < nitems(p->demand); i++)
		if (p->demand[i] != NULL && p->demand[i]->unknown_id != 0)
			return true;
	return false;
}

/* While a purchase waits for a settlement, listings are asked for. */
static void
purchase_settle_arm(struct purchases *p)
{
	struct timeval	tv = { PURCHASE_SETTLE_POLL_MS / 1000,
			    (PURCHASE_SETTLE_POLL_MS % 1000) * 1000 };

	if (p->ev_settle != NULL && !evtimer_pending(p->ev_settle, NULL))
		evtimer_add(p->ev_settle, &tv);
}

static void
purchase_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct purchases	*p = arg;

	(void)fd;
	(void)what;
	if (p->c->stopping || !purchase_anything_blocked(p))
		return;
	inventory_reconcile(p->inv);
	purchase_settle_arm(p);
}

size_t
purchase_busy(const struct purchases *p, int64_t *ids, size_t max,
    int64_t *since)
{
	const struct purchase_demand	*dm;
	int64_t				 now = util_now_ms();
	int64_t				 settle = provider_settle_ms(p->c->provider);
	size_t				 i, n = 0;

	*since = 0;
	for (i = 0; i < nitems(p->demand); i++) {
		if ((dm = p->demand[i]) == NULL)
			continue;
		if (dm->in_flight && dm->intent_id == 0 && (*since == 0 ||
		    dm->intent_at < *since))
			*since = dm->intent_at;
		if (dm->in_flight && dm->intent_id != 0 && n < max)
			ids[n++] = dm->intent_id;
		/* Its request may still be carried out meanwhile. */
		if (dm->unknown_id != 0 && now < dm->unknown_at + settle &&
		    n < max)
			ids[n++] = dm->unknown_id;
	}
	return n;
}

void
purchase_intents(struct purchases *p, const struct inventory_intent *v,
    size_t n)
{
	struct purchase_demand	*dm;
	size_t			 i, k, nb = 0;

	free(p->blocks);
	p->blocks = NULL;
	p->nblocks = 0;
	for (i = 0; i < n; i++) {
		if (v[i].open) {
			nb++;
			continue;
		}
		/* Settled: what it bought is in the store now. */
		for (k = 0; k < nitems(p->demand); k++) {
			if ((dm = p->demand[k]) == NULL ||
			    dm->unknown_id != v[i].id)
				continue;
			dm->unknown_id = 0;
			dm->unknown_count = 0;
		}
	}
	if (nb > PURCHASE_BLOCKS_MAX)
		nb = PURCHASE_BLOCKS_MAX;
	if (nb > 0) {
		p->blocks = xcalloc(nb, sizeof *p->blocks);
		for (i = 0; i < n && p->nblocks < nb; i++)
			if (v[i].open)
				p->blocks[p->nblocks++] = v[i];
	}
	if (purchase_anything_blocked(p))
		purchase_settle_arm(p);
}

static int
purchase_time_cmp(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

void
purchase_seed(struct purchases *p, int64_t *times, size_t n)
{
	size_t	i;

	/* The ledger takes purchases in time order (its ring, its day). */
	qsort(times, n, sizeof *times, purchase_time_cmp);
	for (i = 0; i < n; i++)
		billing_ledger_record(&p->ledger, &p->c->billing, 1, times[i]);
	if (n > 0)
		log_info("purchase.seeded", LOGF_I("purchases", (int64_t)n),
		    LOGF_I("spent_today_micros", billing_ledger_spent(
		    &p->ledger, &p->c->billing, util_now_ms())));
}

void
purchase_stats(const struct purchases *p, struct purchase_stats *ret)
{
	const struct purchase_demand	*dm;
	size_t				 i;

	*ret = p->st;
	ret->spent_today = billing_ledger_spent(&p->ledger, &p->c->billing,
	    util_now_ms());
	ret->blocked = 0;
	for (i = 0; i < nitems(p->demand); i++)
		if ((dm = p->demand[i]) != NULL && dm->unknown_id != 0)
			ret->blocked += dm->unknown_count;
	for (i = 0; i < p->nblocks; i++)
		ret->blocked += p->blocks[i].count;
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
 * What a purchase brought, recorded by the store's worker: a proxy row
 * for each IP new to the store, linked to the intent; then the intent,
 * owned when the answer named as many new IPs as asked, unknown when it
 * named fewer (the listing tells the rest).  An IP the store holds
 * already is not added again: whatever the answer says, it is not new.
 */
struct purchase_bought {
	struct purchase_demand	*dm;
	int64_t			 intent_id;
	int64_t			 count;		/* asked */
	int64_t			 now;
	size_t			 n;		/* named by the answer */
	struct proxy_row	*rows;
	int64_t			*ids;		/* 0: not added */
	size_t			 nnew, nknown;
	char			 err[STORE_ERROR_LEN];
};

static void
purchase_bought_free(struct purchase_bought *b)
{
	free(b->rows);
	free(b->ids);
	free(b);
}

static int
purchase_bought_run(struct store *st, void *arg)
{
	struct purchase_bought	*b = arg;
	char			 why[STORE_ERROR_LEN];
	size_t			 i;
	int			 r, first = 0;

	b->nnew = b->nknown = 0;
	for (i = 0; i < b->n; i++) {
		b->ids[i] = 0;
		b->rows[i].intent_id = b->intent_id;
		r = store_proxy_add(st, &b->rows[i], b->now, &b->ids[i]);
		if (r == -EEXIST) {
			b->nknown++;
			continue;
		}
		if (r < 0) {
			b->ids[i] = 0;
			if (first == 0) {
				first = r;
				(void)util_strlcpy(b->err, store_errmsg(st),
				    sizeof b->err);
			}
			continue;
		}
		b->nnew++;
	}
	if (first != 0)
		return first;
	if ((int64_t)b->nnew >= b->count)
		r = store_intent_settle(st, b->intent_id, INTENT_OWNED, NULL,
		    b->now);
	else {
		snprintf(why, sizeof why, "the provider's answer named %zu "
		    "new IPs of %lld asked (%zu known already): settled by "
		    "the listing", b->nnew, (long long)b->count, b->nknown);
		r = store_intent_settle(st, b->intent_id, INTENT_UNKNOWN, why,
		    b->now);
	}
	if (r < 0)
		(void)util_strlcpy(b->err, store_errmsg(st), sizeof b->err);
	return r;
}

/* Part of dm's need may have been bought: wait for a listing to tell. */
static void
purchase_unknown(struct purchase_demand *dm, int64_t intent_id,
    int64_t count)
{
	dm->unknown_id = intent_id;
	dm->unknown_count = count;
	dm->unknown_at = util_now_ms();
	inventory_reconcile(dm->p->inv);
	purchase_settle_arm(dm->p);
}

static void
purchase_bought_done(struct dsession *ds, enum job_fate fate, int result,
    void *arg)
{
	struct purchase_bought	*b = arg;
	struct purchase_demand	*dm = b->dm;
	struct purchases	*p = dm->p;
	struct pool_proxy	 px;
	int64_t			 bought;
	size_t			 i, n;

	(void)ds;
	dm->in_flight = false;
	dm->intent_id = 0;
	if (fate != JOB_CURRENT) {
		purchase_bought_free(b);
		return;
	}
	if (result < 0) {
		/*
		 * Not in the store (or not all of it): bought all the same,
		 * so the listing adopts what the rows miss and settles the
		 * intent; until then its need is not bought again.
		 */
		log_error("store.purchase_record_failed", LOGF_I("intent",
		    b->intent_id), LOGF_S("error", b->err[0] != '\0' ? b->err :
		    "its batch did not commit"));
		bought = (int64_t)b->n < b->count ? (int64_t)b->n : b->count;
		billing_ledger_record(&p->ledger, &p->c->billing, (int)bought,
		    b->now);
		p->st.purchased += bought;
		purchase_unknown(dm, b->intent_id, b->count);
		purchase_bought_free(b);
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
	}
	/* The provider's surplus is not a purchase of ours: not counted. */
	bought = (int64_t)b->nnew < b->count ? (int64_t)b->nnew : b->count;
	billing_ledger_record(&p->ledger, &p->c->billing, (int)bought, b->now);
	p->st.purchased += bought;
	log_info("purchase.done", LOGF_S("country", dm->country),
	    LOGF_I("count", bought), LOGF_I("intent", b->intent_id));
	if ((int64_t)b->n != b->count || b->nknown > 0) {
		p->st.known += (int64_t)b->nknown;
		if ((int64_t)b->nnew > b->count)
			p->st.surplus += (int64_t)b->nnew - b->count;
		else
			p->st.shortfall += b->count - (int64_t)b->nnew;
		log_warn("purchase.answer_mismatch", LOGF_I("intent",
		    b->intent_id), LOGF_S("country", dm->country),
		    LOGF_I("asked", b->count), LOGF_I("named", (int64_t)b->n),
		    LOGF_I("new", (int64_t)b->nnew), LOGF_I("known",
		    (int64_t)b->nknown), LOGF_S("msg", "the provider's answer "
		    "is not what was asked: only IPs new to the store are "
		    "given, and its listing settles the rest"));
	}
	if ((int64_t)b->nnew < b->count)
		purchase_unknown(dm, b->intent_id, b->count -
		    (int64_t)b->nnew);
	else if (b->nknown > 0)
		inventory_reconcile(p->inv);
	/* The first waiters get what was bought for them. */
	n = dm->n < b->nnew ? dm->n : b->nnew;
	for (i = 0; i < n; i++)
		dm->waiting[i]->bought = true;
	purchase_bought_free(b);
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
		b->count = dm->count;
		b->now = now;
		b->n = r->n < PURCHASE_ANSWER_MAX ? r->n : PURCHASE_ANSWER_MAX;
		if (r->n > PURCHASE_ANSWER_MAX)
			log_warn("purchase.answer_truncated", LOGF_I("named",
			    (int64_t)r->n), LOGF_S("msg", "more IPs than one "
			    "answer may hold: the listing adopts the rest"));
		b->rows = xcalloc(b->n ? b->n : 1, sizeof *b->rows);
		b->ids = xcalloc(b->n ? b->n : 1, sizeof *b->ids);
		for (i = 0; i < b->n; i++) {
			struct proxy_row	*row = &b->rows[i];

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
			purchase_unknown(dm, b->intent_id, b->count);
			purchase_bought_free(b);
			dm->intent_id = 0;
			break;
		}
		dm->in_flight = true;
		break;
	case PROVIDER_FAILED:
		record_intent_settle(p->rec, dm->intent_id, INTENT_FAILED,
		    r->message);
		dm->intent_id = 0;
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
		/*
		 * Never asked again: the listing tells what was bought, and
		 * until it does, the need is not bought for again.
		 */
		record_intent_settle(p->rec, dm->intent_id, INTENT_UNKNOWN,
		    r->message);
		log_warn("purchase.unknown", LOGF_S("country", dm->country),
		    LOGF_I("intent", dm->intent_id), LOGF_S("error",
		    r->message), LOGF_S("msg", "settling from the provider's "
		    "listing"));
		purchase_unknown(dm, dm->intent_id, dm->count);
		dm->intent_id = 0;
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

	/* A test's full disk, for this write alone (failpoint.h). */
	if (failpoint("store.intent")) {
		(void)util_strlcpy(it->err, "database or disk is full "
		    "(failpoint store.intent)", sizeof it->err);
		return -ENOSPC;
	}
	if ((r = store_intent_add(st, &it->in, it->self, it->now,
	    &it->id)) < 0)
		(void)util_strlcpy(it->err, store_errmsg(st), sizeof it->err);
	return r;
}

/* Fire dm again after a while (its intent could not be written). */
static void
purchase_rearm(struct purchase_demand *dm)
{
	static const struct backoff_policy again = {
		.base_ms = PURCHASE_RETRY_MIN_MS,
		.cap_ms = PURCHASE_RETRY_MAX_MS,
	};
	int64_t		ms = backoff_ceiling_ms(&again, dm->intent_failures++);
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(dm->timer, &tv);
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
		/*
		 * Nothing asked.  The waiters keep waiting, and the purchase
		 * is tried again soon: the journal's retries tell when the
		 * store takes writes again.
		 */
		log_error("store.intent_failed", LOGF_S("country",
		    dm->country), LOGF_S("error", it->err[0] != '\0' ?
		    it->err : "its batch did not commit"));
		free(it);
		purchase_rearm(dm);
		return;
	}
	dm->intent_failures = 0;
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
	int64_t			 now = util_now_ms(), blocked, want;
	int			 r;

	(void)fd;
	(void)what;
	if (dm->in_flight || dm->n == 0 || p->c->stopping)
		return;
	/* Waiters a purchase of unknown outcome may have served wait. */
	want = dm->n < PURCHASE_MAX ? (int64_t)dm->n : PURCHASE_MAX;
	if ((blocked = purchase_blocked(dm, now)) >= want) {
		if (!dm->wait_logged)
			log_info("purchase.waiting_settlement", LOGF_S("country",
			    dm->country), LOGF_I("waiting", (int64_t)dm->n),
			    LOGF_I("unsettled", blocked), LOGF_S("msg", "a "
			    "purchase of unknown outcome may have bought these: "
			    "waiting for the provider's listing"));
		dm->wait_logged = true;
		purchase_settle_arm(p);
		return;
	}
	dm->wait_logged = false;
	dm->count = (int)(want - blocked);
	r = billing_ledger_allow(&p->ledger, &p->c->billing, &p->c->limits,
	    dm->count, now, &why);
	if (r <= 0) {
		log_warn("purchase.refused", LOGF_I("count", dm->count),
		    LOGF_S("why", why != NULL ? why : strerror(-r)),
		    LOGF_I("spent_today_micros", billing_ledger_spent(
		    &p->ledger, &p->c->billing, now)));
		p->st.refused += dm->count;
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
	it->now = now;
	/* In the store before the provider is asked: a crash cannot leak. */
	if (jobs_submit(p->jobs, p->c->q, NULL, 0, purchase_intent_run,
	    purchase_intent_done, it, "intent_add") < 0) {
		free(it);
		purchase_rearm(dm);
		return;
	}
	dm->in_flight = true;
	dm->intent_id = 0;
	dm->intent_at = now;
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
