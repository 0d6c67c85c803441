/*
 * The daemon: see daemon.h.  This file is the shell around the pure cores:
 * it turns signals, exits, datagrams and timers into supervisor events,
 * and carries out the actions the supervisor returns (ask the pool, spawn,
 * signal, persist).  It never calls the store once the loop runs: reads
 * and writes are jobs of the store's worker (storeq.h, daemon_store.c),
 * answered later on the loop.  On SQLite every callback's writes form one
 * batch, so a burst of 10,000 READY messages costs a handful of
 * transactions.  Fleet mode's own parts are in daemon_fleet.c.
 */
#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/argv.h"
#include "base/intmap.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "core/billing.h"
#include "core/fallback.h"
#include "core/pool.h"
#include "core/supervise.h"
#include "daemon/daemon.h"
#include "daemon/daemon_impl.h"
#include "provider/bdclient.h"
#include "provider/provider.h"
#include "provider/reconcile.h"
#include "store/store.h"
#include "sys/child.h"
#include "sys/notify.h"
#include "sys/procinfo.h"
#include "sys/sdnotify.h"

static void	daemon_offer_idle(struct daemon *d, const char *country);
static void	daemon_setup_finish_cb(evutil_socket_t fd, short what,
		    void *arg);
static void	daemon_setup_failed(struct daemon *d);
static void	daemon_session_reap(struct daemon *d, struct dsession *ds);
static void	daemon_notify_apply(struct dsession *ds,
		    const struct notify_msg *m);
static void	daemon_setup_continue(struct daemon *d);
static int	daemon_pool_refresh_cb(const struct proxy_row *row, void *arg);
static int	daemon_releasing_cb(const struct proxy_row *row, void *arg);
static void	daemon_pool_refresh(struct daemon *d);
static void	daemon_notify_cb(evutil_socket_t fd, short what, void *arg);
static void	daemon_schedule(struct dsession *ds);

/*
 * One batch (one transaction, one fsync) for what a callback writes.  Only
 * inline (SQLite): in fleet mode the loop never touches its connection,
 * and the worker commits each job on its own.  The store's answers need
 * none of their own: storeq delivers them inside one.
 */
static void
daemon_batch_begin(struct daemon *d)
{
	if (!storeq_threaded(d->q))
		(void)store_batch_begin(d->store);
}

static void
daemon_batch_end(struct daemon *d)
{
	if (!storeq_threaded(d->q) && store_batch_end(d->store) < 0)
		log_error("store.batch_failed",
		    LOGF_S("error", store_errmsg(d->store)));
}

/* xorshift64*: jitter only, seeded from the kernel. */
static double
daemon_random(struct daemon *d)
{
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return (double)((d->rng * 0x2545F4914F6CDD1DULL) >> 11) /
	    (double)(1ULL << 53);
}

enum session_status
daemon_status_of(enum supervise_state s)
{
	switch (s) {
	case SV_STOPPED:
		return SESSION_STATUS_STOPPED;
	case SV_STARTING:
		return SESSION_STATUS_STARTING;
	case SV_READY:
		return SESSION_STATUS_READY;
	case SV_BACKOFF:
		return SESSION_STATUS_BACKOFF;
	case SV_STOPPING:
		return SESSION_STATUS_STOPPING;
	case SV_FAILED:
		return SESSION_STATUS_FAILED;
	case SV_NEEDS_AUTH:
		return SESSION_STATUS_NEEDS_AUTH;
	default:
		return SESSION_STATUS_NEW;
	}
}

static void
daemon_persist(struct dsession *ds, bool touch)
{
	struct daemon		*d = ds->d;
	struct session_report	 rep = { 0 };
	char			 err[128];

	if (ds->removed)
		return;
	rep.status = daemon_status_of(ds->sv.state);
	rep.attempts = ds->sv.attempts;
	if (ds->sv.cause != SV_CAUSE_NONE) {
		if (ds->sv.cause == SV_CAUSE_EXIT ||
		    ds->sv.cause == SV_CAUSE_SIGNAL)
			snprintf(err, sizeof err, "%s %d",
			    ds->sv.cause == SV_CAUSE_EXIT ? "exit status" :
			    "killed by signal", ds->sv.last_exit < 0 ?
			    -ds->sv.last_exit : ds->sv.last_exit);
		else
			snprintf(err, sizeof err, "%s",
			    supervise_cause_name(ds->sv.cause));
		rep.last_error = err;
	}
	rep.connector_pid = ds->pid;
	rep.connector_started_at = (int64_t)ds->start_ticks;
	rep.touch_activity = touch || ds->sv.state == SV_READY;
	daemon_store_report(d, ds, &rep);
}

static void
daemon_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dsession	*ds = arg;

	(void)fd;
	(void)what;
	/*
	 * A READY=1 or WATCHDOG=1 may be waiting in the socket: read it
	 * before judging a readiness or watchdog timeout.
	 */
	if (ds->sv.state == SV_STARTING || ds->sv.state == SV_READY) {
		daemon_notify_cb(-1, 0, ds->d);
		/* What was read may have moved the deadline. */
		if (ds->sv.deadline == 0 || ds->sv.deadline > util_mono_ms()) {
			daemon_schedule(ds);
			return;
		}
	}
	daemon_batch_begin(ds->d);
	daemon_feed(ds, SV_EV_TIMER, 0, false);
	daemon_batch_end(ds->d);
}

static void
daemon_schedule(struct dsession *ds)
{
	struct timeval	tv;
	int64_t		left;

	if (ds->sv.deadline == 0) {
		evtimer_del(ds->timer);
		return;
	}
	left = ds->sv.deadline - util_mono_ms();
	if (left < 0)
		left = 0;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	evtimer_add(ds->timer, &tv);
}

/*
 * A proxy of this country became idle: a session waiting for one (in
 * backoff after the pool had none) tries again now instead of at its
 * timer, so a freed IP serves a waiting session before anything is bought
 * or released.
 */
static void
daemon_offer_idle(struct daemon *d, const char *country)
{
	struct dsession	*ds;

	TAILQ_FOREACH(ds, &d->all, link) {
		if (ds->waiting_proxy && ds->sv.state == SV_BACKOFF &&
		    strcmp(ds->country, country) == 0) {
			ds->waiting_proxy = false;
			daemon_feed(ds, SV_EV_TIMER, 0, false);
			return;
		}
	}
}

/* Detach the session's proxy; keep: it stays reserved for the session. */
static void
daemon_proxy_release(struct dsession *ds, bool keep)
{
	struct daemon	*d = ds->d;
	int64_t		 now = util_now_ms();

	if (ds->proxy_id == 0)
		return;
	/*
	 * A session a peer owns now: its proxy is the peer's to reactivate,
	 * so the store is left alone and our pool keeps it reserved.
	 */
	if (ds->lost) {
		(void)pool_detach(d->pool, ds->proxy_id, now, true);
		ds->proxy_id = 0;
		return;
	}
	(void)pool_detach(d->pool, ds->proxy_id, now, keep);
	daemon_store_proxy_unassign(d, ds->proxy_id, keep);
	ds->proxy_id = 0;
	if (!keep)
		daemon_offer_idle(d, ds->country);
}

/*
 * Purchases.  Sessions that need an IP in a country the pool has none of
 * wait in that country's demand; after a short window every waiter is
 * served by one call with count=k.  Each call is a durable intent first.
 */
struct daemon_demand {
	struct daemon	 *d;
	char		  country[COUNTRY_CODE_LEN];
	struct dsession	**waiting;
	size_t		  n, cap;
	struct event	 *timer;
	bool		  in_flight;
	int64_t		  intent_id;
	int		  count;
};

static void	daemon_acquire(struct dsession *ds);
static void	daemon_reconcile(struct daemon *d);
static void	daemon_purchase_record(struct daemon *d, int n);

static void
daemon_demand_remove(struct dsession *ds)
{
	struct daemon_demand	*dm = ds->demand;
	size_t			 i;

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

/* Hand every waiter back to the pool (after a purchase, or a settle). */
static void
daemon_demand_retry(struct daemon_demand *dm)
{
	struct dsession	**w;
	size_t		  n, i;

	if (dm->n == 0)
		return;
	w = dm->waiting;
	n = dm->n;
	dm->waiting = NULL;
	dm->n = dm->cap = 0;
	for (i = 0; i < n; i++) {
		w[i]->demand = NULL;
		if (w[i]->sv.state == SV_STARTING && !w[i]->sv.spawned)
			daemon_acquire(w[i]);
	}
	free(w);
}

static void
daemon_demand_retry_all(struct daemon *d)
{
	size_t	i;

	daemon_batch_begin(d);
	for (i = 0; i < nitems(d->demand); i++)
		if (d->demand[i] != NULL && !d->demand[i]->in_flight)
			daemon_demand_retry(d->demand[i]);
	daemon_batch_end(d);
}

/*
 * What a purchase brought, recorded by the store's worker: a proxy row per
 * IP (ids come back for the pool), then the intent settled as owned.
 */
struct daemon_bought {
	struct daemon_demand	*dm;
	int64_t			 intent_id;
	int64_t			 now;
	size_t			 n;
	struct proxy_row	 rows[DAEMON_PURCHASE_MAX];
	int64_t			 ids[DAEMON_PURCHASE_MAX];	/* 0: failed */
	char			 err[STORE_ERROR_LEN];
};

static int
daemon_bought_run(struct store *st, void *arg)
{
	struct daemon_bought	*b = arg;
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
daemon_bought_done(int result, void *arg)
{
	struct daemon_bought	*b = arg;
	struct daemon_demand	*dm = b->dm;
	struct daemon		*d = dm->d;
	struct pool_proxy	 px;
	struct dsession		**w;
	size_t			 i, n, got = 0;

	dm->in_flight = false;
	if (d->tearing_down) {
		free(b);
		return;
	}
	if (result < 0)
		log_error("store.purchase_record_failed", LOGF_I("intent",
		    b->intent_id), LOGF_S("error", b->err));
	for (i = 0; i < b->n; i++) {
		if (b->ids[i] == 0)
			continue;
		memset(&px, 0, sizeof px);
		px.id = b->ids[i];
		(void)util_strlcpy(px.ip, b->rows[i].ip, sizeof px.ip);
		memcpy(px.country, b->rows[i].country, sizeof px.country);
		px.state = POOL_IDLE;
		px.idle_since = b->now;
		px.purchased_at = b->now;
		px.listed = true;
		pool_put(d->pool, &px);
		got++;
	}
	daemon_purchase_record(d, (int)b->n);
	d->purchased += (int64_t)b->n;
	log_info("purchase.done", LOGF_S("country", dm->country),
	    LOGF_I("count", (int64_t)b->n), LOGF_I("intent", b->intent_id));
	/* The first waiters get what was bought for them. */
	w = dm->waiting;
	n = dm->n < got ? dm->n : got;
	for (i = 0; i < n; i++)
		w[i]->bought = true;
	free(b);
	daemon_demand_retry(dm);
}

static void
daemon_purchase_done(const struct provider_result *r, void *arg)
{
	struct daemon_demand	*dm = arg;
	struct daemon		*d = dm->d;
	struct daemon_bought	*b;
	struct dsession		**w;
	int64_t			 now = util_now_ms();
	size_t			 i, n;

	dm->in_flight = false;
	/* Cancelled by the teardown: the demand is freed there. */
	if (d->tearing_down)
		return;
	daemon_batch_begin(d);
	switch (r->outcome) {
	case PROVIDER_OK:
		/* Still in flight until the store has the rows. */
		b = xcalloc(1, sizeof *b);
		b->dm = dm;
		b->intent_id = dm->intent_id;
		b->now = now;
		for (i = 0; i < r->n && b->n < DAEMON_PURCHASE_MAX; i++) {
			struct proxy_row	*row = &b->rows[b->n++];

			(void)util_strlcpy(row->provider,
			    provider_name(d->provider), sizeof row->provider);
			(void)util_strlcpy(row->zone, provider_zone(d->provider),
			    sizeof row->zone);
			(void)util_strlcpy(row->ip, r->proxies[i].key,
			    sizeof row->ip);
			memcpy(row->country, r->proxies[i].country,
			    sizeof row->country);
			row->type = PROXY_TYPE_ISP;
			row->purchased_at = now;
		}
		if (daemon_submit(d, daemon_bought_run, daemon_bought_done, b,
		    "purchase_record") < 0) {
			/* The listing will adopt the IPs: they are not lost. */
			free(b);
			daemon_reconcile(d);
			break;
		}
		dm->in_flight = true;
		break;
	case PROVIDER_FAILED:
		daemon_store_intent_settle(d, dm->intent_id, INTENT_FAILED,
		    r->message);
		if (r->sold_out) {
			log_warn("purchase.sold_out", LOGF_S("country",
			    dm->country), LOGF_S("msg", "no IPs for sale there: "
			    "sessions fall back"));
			pool_mark_empty(d->pool, dm->country, util_now_ms(),
			    DAEMON_SOLD_OUT_MS);
			daemon_demand_retry(dm);
			break;
		}
		log_error("purchase.failed", LOGF_S("country", dm->country),
		    LOGF_S("error", r->message));
		/* Not the phone's country's fault: wait and try again. */
		w = dm->waiting;
		n = dm->n;
		dm->waiting = NULL;
		dm->n = dm->cap = 0;
		for (i = 0; i < n; i++) {
			w[i]->demand = NULL;
			if (w[i]->sv.state == SV_STARTING && !w[i]->sv.spawned)
				daemon_feed(w[i], SV_EV_PROXY_WAIT, 0, false);
		}
		free(w);
		break;
	case PROVIDER_UNKNOWN:
		/* Never asked again: the listing tells what was bought. */
		daemon_store_intent_settle(d, dm->intent_id, INTENT_UNKNOWN,
		    r->message);
		log_warn("purchase.unknown", LOGF_S("country", dm->country),
		    LOGF_I("intent", dm->intent_id), LOGF_S("error",
		    r->message), LOGF_S("msg", "settling from the provider's "
		    "listing"));
		daemon_reconcile(d);
		break;
	}
	daemon_batch_end(d);
}

/* How many of count purchases the limits allow now (0: none). */
static int
daemon_purchase_allowed(struct daemon *d, int count)
{
	int64_t		 now = util_now_ms(), day;
	const char	*why = NULL;
	size_t		 i;
	int		 in_window = 0, r;

	if (billing_day_start(&d->billing, now, &day) == 0 &&
	    day != d->spend_day) {
		d->spend_day = day;
		d->spent_today = 0;
	}
	for (i = 0; i < d->npurchase_times; i++)
		if (now - d->purchase_times[i] < d->limits.window_ms)
			in_window++;
	r = billing_may_purchase(&d->billing, &d->limits, d->spent_today,
	    in_window, count, now, &why);
	if (r < 0) {
		log_warn("purchase.refused", LOGF_I("count", count),
		    LOGF_S("why", why != NULL ? why : strerror(-r)),
		    LOGF_I("spent_today_micros", d->spent_today));
		d->refused_purchases += count;
		return 0;
	}
	return r;
}

static void
daemon_purchase_record(struct daemon *d, int n)
{
	int64_t	now = util_now_ms();
	int	i;

	d->spent_today += (int64_t)n * billing_unit_price(&d->billing);
	for (i = 0; i < n; i++) {
		if (d->npurchase_times < DAEMON_PURCHASE_LOG) {
			d->purchase_times[d->npurchase_times++] = now;
			continue;
		}
		/* Full: replace the oldest. */
		{
			size_t	k, old = 0;

			for (k = 1; k < d->npurchase_times; k++)
				if (d->purchase_times[k] <
				    d->purchase_times[old])
					old = k;
			d->purchase_times[old] = now;
		}
	}
}

/* A purchase's intent, written by the store's worker before it is sent. */
struct daemon_intent {
	struct daemon_demand	*dm;
	struct intent		 in;
	char			 self[STORE_ID_LEN];
	int64_t			 now;
	int64_t			 id;
	char			 err[STORE_ERROR_LEN];
};

static int
daemon_intent_run(struct store *st, void *arg)
{
	struct daemon_intent	*it = arg;
	int			 r;

	if ((r = store_intent_add(st, &it->in, it->self, it->now,
	    &it->id)) < 0)
		(void)util_strlcpy(it->err, store_errmsg(st), sizeof it->err);
	return r;
}

static void
daemon_intent_done(int result, void *arg)
{
	struct daemon_intent	*it = arg;
	struct daemon_demand	*dm = it->dm;
	struct daemon		*d = dm->d;
	int			 r;

	dm->in_flight = false;
	if (d->tearing_down || d->stopping) {
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
	dm->in_flight = true;
	if ((r = provider_purchase(d->provider, dm->country, dm->count,
	    daemon_purchase_done, dm)) < 0) {
		struct provider_result	fail = { .outcome = PROVIDER_FAILED,
			.error = r, .message = strerror(-r) };

		daemon_purchase_done(&fail, dm);
	}
}

static void
daemon_demand_fire(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_demand	*dm = arg;
	struct daemon		*d = dm->d;
	struct daemon_intent	*it;
	int			 r;

	(void)fd;
	(void)what;
	if (dm->in_flight || dm->n == 0 || d->stopping)
		return;
	dm->count = dm->n < DAEMON_PURCHASE_MAX ? (int)dm->n :
	    DAEMON_PURCHASE_MAX;
	if ((r = daemon_purchase_allowed(d, dm->count)) <= 0) {
		struct dsession	**w = dm->waiting;
		size_t		  i, n = dm->n;

		/* Refused: the waiters are served from the idle pool later. */
		dm->waiting = NULL;
		dm->n = dm->cap = 0;
		for (i = 0; i < n; i++) {
			w[i]->demand = NULL;
			if (w[i]->sv.state == SV_STARTING && !w[i]->sv.spawned)
				daemon_feed(w[i], SV_EV_PROXY_WAIT, 0, false);
		}
		free(w);
		return;
	}
	dm->count = r;
	it = xcalloc(1, sizeof *it);
	it->dm = dm;
	(void)util_strlcpy(it->in.provider, provider_name(d->provider),
	    sizeof it->in.provider);
	(void)util_strlcpy(it->in.zone, provider_zone(d->provider),
	    sizeof it->in.zone);
	memcpy(it->in.country, dm->country, sizeof it->in.country);
	it->in.count = dm->count;
	(void)util_strlcpy(it->self, d->instance_id, sizeof it->self);
	it->now = util_now_ms();
	/* In the store before the provider is asked: a crash cannot leak. */
	if (daemon_submit(d, daemon_intent_run, daemon_intent_done, it,
	    "intent_add") < 0) {
		free(it);
		return;
	}
	dm->in_flight = true;
}

static void
daemon_demand_add(struct daemon *d, const char *cc, struct dsession *ds)
{
	struct daemon_demand	*dm;
	struct timeval		 tv = { 0, DAEMON_PURCHASE_WINDOW_MS * 1000 };
	int			 ci = (cc[0] - 'a') * 26 + (cc[1] - 'a');

	if (ci < 0 || ci >= (int)nitems(d->demand))
		return;
	if ((dm = d->demand[ci]) == NULL) {
		dm = xcalloc(1, sizeof *dm);
		dm->d = d;
		memcpy(dm->country, cc, sizeof dm->country);
		dm->timer = evtimer_new(d->base, daemon_demand_fire, dm);
		d->demand[ci] = dm;
	}
	if (ds->demand != NULL)
		daemon_demand_remove(ds);
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

static void
daemon_demand_free(struct daemon_demand *dm)
{
	if (dm == NULL)
		return;
	if (dm->timer != NULL)
		event_free(dm->timer);
	free(dm->waiting);
	free(dm);
}

/*
 * Acquiring a proxy takes two answers from the store's worker: the phone's
 * proxy history (for reactivation and reuse), then the assignment of the
 * pool's choice (which the store refuses if a peer's session holds the
 * IP).  Each answer finds its session by id and generation: a session
 * that was stopped, removed or asked again in between has moved on, and
 * what the answer would have given it is undone.
 */
struct daemon_acq {
	struct daemon		*d;
	int64_t			 session;
	int64_t			 gen;
	char			 phone[PHONE_LEN];
	char			 country[COUNTRY_CODE_LEN];
	char			 self[STORE_ID_LEN];
	int64_t			 history[POOL_MAX_HISTORY];
	size_t			 nhistory;
	/* The assignment. */
	struct pool_choice	 ch;
	const char		*reason;
	int64_t			 now;
	char			 err[STORE_ERROR_LEN];
};

/* The session an answer was for, if it still waits for it. */
static struct dsession *
daemon_acq_session(struct daemon_acq *a)
{
	struct dsession	*ds = intmap_get(a->d->by_id, a->session);

	if (ds == NULL || ds->acq_gen != a->gen || ds->removed || ds->lost ||
	    ds->sv.state != SV_STARTING || ds->sv.spawned || ds->proxy_id != 0)
		return NULL;
	return ds;
}

static int
daemon_acq_history_run(struct store *st, void *arg)
{
	struct daemon_acq	*a = arg;
	size_t			 n = 0;

	/* No history is no reason not to go on: a new IP will do. */
	if (store_proxy_history(st, a->phone, a->history, POOL_MAX_HISTORY,
	    &n) == 0)
		a->nhistory = n;
	return 0;
}

static int
daemon_acq_assign_run(struct store *st, void *arg)
{
	struct daemon_acq	*a = arg;
	int			 r;

	if ((r = store_proxy_assign(st, a->ch.proxy_id, a->session, a->phone,
	    a->country, a->ch.fallback_used, a->reason, a->self, a->now)) < 0)
		(void)util_strlcpy(a->err, store_errmsg(st), sizeof a->err);
	return r;
}

static void
daemon_acq_assigned(int result, void *arg)
{
	struct daemon_acq	*a = arg;
	struct daemon		*d = a->d;
	struct dsession		*ds;
	const struct pool_proxy	*px;
	int64_t			 now = util_now_ms();

	if (d->tearing_down) {
		free(a);
		return;
	}
	if ((ds = daemon_acq_session(a)) == NULL) {
		/* Moved on: the proxy goes back, in the store too. */
		(void)pool_detach(d->pool, a->ch.proxy_id, now, false);
		if (result == 0)
			daemon_store_proxy_unassign(d, a->ch.proxy_id, false);
		goto out;
	}
	ds->acq_gen = 0;
	if (result < 0) {
		log_error("store.proxy_assign_failed", LOGF_I("session", ds->id),
		    LOGF_S("error", a->err));
		(void)pool_detach(d->pool, a->ch.proxy_id, now, false);
		/* A peer may hold it: learn what the store knows. */
		if (d->fleet)
			daemon_pool_refresh(d);
		daemon_feed(ds, SV_EV_PROXY_WAIT, 0, false);
		goto out;
	}
	ds->proxy_id = a->ch.proxy_id;
	ds->proxy_how = a->ch.kind;
	ds->proxy_fallback = a->ch.fallback_used;
	px = pool_get(d->pool, a->ch.proxy_id);
	daemon_ops_assigned(ds, a->nhistory > 0 ? a->history[0] : 0,
	    a->ch.country);
	if (a->ch.kind == POOL_REACTIVATE)
		log_info("proxy.reactivated", LOGF_S("msg",
		    "reactivated existing proxy"), LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_S("proxy", px != NULL ?
		    px->ip : ""));
	if (a->ch.fallback_used)
		log_info("proxy.fallback", LOGF_S("msg",
		    "using fallback country"), LOGF_I("session", ds->id),
		    LOGF_S("requestedCountry", ds->country),
		    LOGF_S("country", a->ch.country));
	daemon_feed(ds, SV_EV_PROXY_READY, 0, false);
out:
	free(a);
}

/* With the history known: the pool's choice, then its assignment. */
static void
daemon_acq_choose(int result, void *arg)
{
	struct daemon_acq	*a = arg;
	struct daemon		*d = a->d;
	struct dsession		*ds;
	struct pool_request	 req = { 0 };
	size_t			 i;

	(void)result;
	if (d->tearing_down || (ds = daemon_acq_session(a)) == NULL) {
		free(a);
		return;
	}
	req.session_id = ds->id;
	req.phone = ds->phone;
	req.country = ds->country;
	req.can_purchase = provider_can_purchase(d->provider);
	{
		const char	*chain[FALLBACK_MAX];
		size_t		 nchain = 0;

		if (fallback_lookup(d->fallback, ds->country, chain,
		    &nchain) == 0)
			for (i = 0; i < nchain && i < POOL_MAX_CHAIN; i++)
				req.chain[req.nchain++] = chain[i];
	}
	for (i = 0; i < a->nhistory; i++)
		req.history[i] = a->history[i];
	req.nhistory = a->nhistory;
	a->now = util_now_ms();
	pool_choose(d->pool, &req, a->now, &a->ch);
	if (a->ch.kind == POOL_PURCHASE) {
		ds->acq_gen = 0;
		daemon_demand_add(d, a->ch.country, ds);
		goto done;
	}
	if (a->ch.kind == POOL_WAIT) {
		ds->acq_gen = 0;
		log_info("proxy.unavailable", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_S("country", ds->country));
		daemon_feed(ds, SV_EV_PROXY_WAIT, 0, false);
		goto done;
	}
	if (pool_attach(d->pool, a->ch.proxy_id, ds->id) < 0) {
		ds->acq_gen = 0;
		daemon_feed(ds, SV_EV_PROXY_WAIT, 0, false);
		goto done;
	}
	a->reason = a->ch.kind == POOL_REACTIVATE ? "reactivated" :
	    ds->bought ? "purchased" : "reused";
	if (ds->bought && a->ch.kind == POOL_REUSE)
		a->ch.kind = POOL_PURCHASE;	/* for the figures */
	ds->bought = false;
	memcpy(a->country, ds->country, sizeof a->country);
	if (daemon_submit(d, daemon_acq_assign_run, daemon_acq_assigned, a,
	    "proxy_assign") < 0) {
		ds->acq_gen = 0;
		(void)pool_detach(d->pool, a->ch.proxy_id, a->now, false);
		daemon_feed(ds, SV_EV_PROXY_WAIT, 0, false);
		goto done;
	}
	return;
done:
	free(a);
}

/* Ask the pool for a proxy, and tell the supervisor what came of it. */
static void
daemon_acquire(struct dsession *ds)
{
	struct daemon		*d = ds->d;
	struct daemon_acq	*a;

	/*
	 * A residential session needs no IP of ours: the provider keeps a
	 * sticky peer for its session id, derived from the phone.
	 */
	if (ds->ptype == PROXY_TYPE_RESIDENTIAL) {
		if (strcmp(provider_name(d->provider), "brightdata") != 0 ||
		    d->cfg->bd_res_zone[0] == '\0') {
			log_warn("proxy.residential_unavailable",
			    LOGF_I("session", ds->id), LOGF_S("msg",
			    "residential sessions need RESPAWN_PROVIDER="
			    "brightdata and BRIGHT_DATA_RESIDENTIAL_ZONE"));
			daemon_feed(ds, SV_EV_PROXY_WAIT, 0, false);
			return;
		}
		ds->proxy_how = POOL_WAIT;	/* none of ours: not counted */
		daemon_feed(ds, SV_EV_PROXY_READY, 0, false);
		return;
	}
	/* A restart after a failure keeps the proxy it had. */
	if (ds->proxy_id != 0) {
		daemon_feed(ds, SV_EV_PROXY_READY, 0, false);
		return;
	}
	a = xcalloc(1, sizeof *a);
	a->d = d;
	a->session = ds->id;
	a->gen = ds->acq_gen = ++d->acq_seq;
	memcpy(a->phone, ds->phone, sizeof a->phone);
	(void)util_strlcpy(a->self, d->instance_id, sizeof a->self);
	if (daemon_submit(d, daemon_acq_history_run, daemon_acq_choose, a,
	    "proxy_history") < 0) {
		ds->acq_gen = 0;
		free(a);
		daemon_feed(ds, SV_EV_PROXY_WAIT, 0, false);
	}
}

/* Add "NAME=value" to an environment under construction. */
static void
daemon_env_add(char **env, size_t *n, const char *name, const char *value)
{
	if (*n >= DAEMON_ENV_MAX - 1 || value == NULL)
		return;
	env[(*n)++] = xasprintf("%s=%s", name, value);
	env[*n] = NULL;
}

/*
 * The connector's environment: the contract's variables, and from our
 * own only a short allow-list plus RESPAWN_CONNECTOR_ENV, so that secrets
 * given to respawn through its environment never reach a connector.
 */
static char **
daemon_env(struct dsession *ds, const char *proxy_url, const char *dir)
{
	static const char *const allow[] = { "PATH", "HOME", "LANG", "LC_ALL",
	    "TZ", "TMPDIR", "USER", "LOGNAME" };
	struct daemon	*d = ds->d;
	char		**env = xcalloc(DAEMON_ENV_MAX, sizeof *env);
	char		  num[32], name[128];
	const char	 *p = d->cfg->connector_env;
	size_t		  n = 0, i, len;

	for (i = 0; i < nitems(allow); i++)
		daemon_env_add(env, &n, allow[i], getenv(allow[i]));
	while (*p != '\0') {
		p += strspn(p, ", ");
		len = strcspn(p, ", ");
		if (len > 0 && len < sizeof name) {
			memcpy(name, p, len);
			name[len] = '\0';
			daemon_env_add(env, &n, name, getenv(name));
		}
		p += len;
	}
	snprintf(num, sizeof num, "%lld", (long long)ds->id);
	daemon_env_add(env, &n, "RESPAWN_SESSION_ID", num);
	daemon_env_add(env, &n, "RESPAWN_USER_ID", ds->user_id);
	daemon_env_add(env, &n, "RESPAWN_PHONE", ds->phone);
	daemon_env_add(env, &n, "RESPAWN_COUNTRY", ds->country);
	daemon_env_add(env, &n, "RESPAWN_PROXY_URL", proxy_url);
	daemon_env_add(env, &n, "HTTPS_PROXY", proxy_url);
	daemon_env_add(env, &n, "HTTP_PROXY", proxy_url);
	daemon_env_add(env, &n, "ALL_PROXY", proxy_url);
	daemon_env_add(env, &n, "RESPAWN_SESSION_DIR", dir);
	daemon_env_add(env, &n, "NOTIFY_SOCKET", notify_path(d->notify));
	if (d->sp.watchdog_ms > 0) {
		snprintf(num, sizeof num, "%lld",
		    (long long)d->sp.watchdog_ms * 1000);
		daemon_env_add(env, &n, "WATCHDOG_USEC", num);
	}
	return env;
}

/*
 * The residential URL: brd-customer-C-zone-Z-country-cc-session-ID, the id
 * keyed by RESPAWN_SESSION_SALT, so a restart asks for the same peer.
 */
static int
daemon_residential_url(struct dsession *ds, char url[PROVIDER_URL_MAX])
{
	const struct config	*cfg = ds->d->cfg;
	char			 sid[BDCLIENT_SESSION_ID_LEN];
	char			 user[BDCLIENT_USERNAME_MAX];
	int			 r;

	if ((r = bdclient_session_id(ds->phone, ds->res_generation,
	    cfg->session_salt, sid)) < 0 ||
	    (r = bdclient_proxy_username_residential(cfg->bd_customer_id,
	    cfg->bd_res_zone, ds->country, sid, user, sizeof user)) < 0)
		return r;
	if (snprintf(url, PROVIDER_URL_MAX, "http://%s:%s@%s:%lld", user,
	    cfg->bd_res_password, cfg->bd_proxy_host,
	    (long long)cfg->bd_proxy_port) >= PROVIDER_URL_MAX)
		return -E2BIG;
	return 0;
}

/*
 * Starting a connector happens on a thread of its own (d->spawner): the
 * session's directory, its log file and posix_spawn, which returns only
 * once the child has exec'd (milliseconds on a loaded host).  The loop
 * prepares the request and takes the answer: the pid is registered then,
 * so an exit reaped before that is kept (daemon_early_exit) and replayed.
 * An answer for a session that moved on, or that arrives while the daemon
 * fences or tears down, kills what was started.
 */
struct daemon_spawn_job {
	struct daemon	*d;
	int64_t		 session;
	int64_t		 gen;
	char		**argv;		/* the daemon's, unchanged while it runs */
	char		**env;
	char		 dir[DAEMON_PATH_MAX];
	char		 logp[DAEMON_PATH_MAX];
	pid_t		 pid;
	uint64_t	 ticks;
	char		 err[CHILD_ERR_LEN];
};

static int
daemon_spawn_run(struct store *st, void *arg)
{
	struct daemon_spawn_job	*j = arg;
	struct child_request	 req = { 0 };
	int			 r;

	(void)st;
	/* The auth state lives here: private, and kept across restarts. */
	if (mkdir(j->dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(j->err, sizeof j->err, "session directory %s: %s",
		    j->dir, strerror(-r));
		return r;
	}
	req.argv = j->argv;
	req.envp = j->env;
	req.cwd = j->dir;
	req.log_path = j->logp;
	if ((r = child_start(&req, &j->pid, j->err)) < 0)
		return r;
	/* With the pid, the start time names this process for good. */
	if (procinfo_start_ticks(j->pid, &j->ticks) < 0)
		j->ticks = 0;
	return 0;
}

/* An exit of a pid not (yet) known: its status, if kept. */
static bool
daemon_early_exit_take(struct daemon *d, pid_t pid, int *ret_code)
{
	size_t	i;

	int64_t	now = util_mono_ms();

	/* A pid kept for longer was another process: pids are reused. */
	for (i = 0; i < DAEMON_EARLY_EXITS; i++) {
		if (d->early_exit[i].pid == pid &&
		    now - d->early_exit[i].at < DAEMON_EARLY_MAX_AGE_MS) {
			d->early_exit[i].pid = 0;
			*ret_code = d->early_exit[i].code;
			return true;
		}
	}
	return false;
}

static void
daemon_spawn_done(int result, void *arg)
{
	struct daemon_spawn_job	*j = arg;
	struct daemon		*d = j->d;
	struct dsession		*ds = NULL;
	size_t			 i, k;
	int			 code;

	argv_free(j->env);
	d->spawns_in_flight--;
	if (!d->tearing_down && !d->fenced && (ds = intmap_get(d->by_id,
	    j->session)) != NULL && (ds->spawn_gen != j->gen ||
	    ds->sv.state != SV_STARTING || ds->sv.spawned || ds->removed ||
	    ds->lost))
		ds = NULL;
	if (ds == NULL) {
		/* Nobody wants it any more: it must not live on. */
		if (result == 0 && j->pid > 0) {
			log_info("connector.unwanted", LOGF_I("session",
			    j->session), LOGF_I("pid", j->pid));
			(void)child_signal_group(j->pid, SIGKILL);
		}
		free(j);
		return;
	}
	ds->spawn_gen = 0;
	daemon_batch_begin(d);
	if (result < 0) {
		log_error("spawn.failed", LOGF_I("session", ds->id),
		    LOGF_S("error", j->err));
		daemon_feed(ds, SV_EV_SPAWN_FAILED, 0, false);
		goto out;
	}
	d->spawns++;
	ds->pid = j->pid;
	ds->start_ticks = j->ticks;
	intmap_put(d->by_pid, j->pid, ds);
	log_debug("connector.started", LOGF_I("session", ds->id),
	    LOGF_I("pid", j->pid));
	daemon_feed(ds, SV_EV_SPAWNED, 0, false);
	/* What it said before we knew its pid, in order: READY=1 above all. */
	for (i = 0; i < DAEMON_EARLY_NOTIFY && ds->pid == j->pid; i++) {
		k = (d->early_notify_next + i) % DAEMON_EARLY_NOTIFY;
		if (d->early_notify[k].sid != j->pid || util_mono_ms() -
		    d->early_notify[k].at >= DAEMON_EARLY_MAX_AGE_MS)
			continue;
		d->early_notify[k].sid = 0;
		daemon_notify_apply(ds, &d->early_notify[k].m);
	}
	/* Reaped before we knew its pid: the exit, replayed now. */
	if (daemon_early_exit_take(d, j->pid, &code) && ds->pid == j->pid) {
		(void)intmap_del(d->by_pid, j->pid);
		log_info("connector.exited", LOGF_I("session", ds->id),
		    LOGF_I("pid", j->pid), LOGF_I("status", code),
		    LOGF_S("state", supervise_state_name(ds->sv.state)));
		ds->pid = 0;
		daemon_feed(ds, SV_EV_EXIT, code, false);
		daemon_session_reap(d, ds);
	}
out:
	daemon_batch_end(d);
	free(j);
}

/* Prepare a connector's start and hand it to the spawner thread. */
static void
daemon_spawn(struct dsession *ds)
{
	struct daemon		*d = ds->d;
	const struct pool_proxy	*px = pool_get(d->pool, ds->proxy_id);
	struct daemon_spawn_job	*j;
	char			 url[PROVIDER_URL_MAX];

	if (d->fenced)
		return;
	if (ds->ptype == PROXY_TYPE_RESIDENTIAL) {
		if (daemon_residential_url(ds, url) < 0) {
			log_error("spawn.no_proxy_url", LOGF_I("session", ds->id));
			daemon_feed(ds, SV_EV_SPAWN_FAILED, 0, false);
			return;
		}
	} else if (px == NULL ||
	    provider_proxy_url(d->provider, px->ip, url) < 0) {
		log_error("spawn.no_proxy_url", LOGF_I("session", ds->id));
		daemon_feed(ds, SV_EV_SPAWN_FAILED, 0, false);
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->d = d;
	j->session = ds->id;
	j->gen = ds->spawn_gen = ++d->acq_seq;
	j->argv = d->connector_argv;
	snprintf(j->dir, sizeof j->dir, "%s/sessions/%lld", d->cfg->state_dir,
	    (long long)ds->id);
	snprintf(j->logp, sizeof j->logp, "%s/logs/%lld.log",
	    d->cfg->state_dir, (long long)ds->id);
	j->env = daemon_env(ds, url, j->dir);
	util_wipe(url, sizeof url);
	if (storeq_submit(d->spawner, daemon_spawn_run, daemon_spawn_done,
	    j) == 0) {
		d->spawns_in_flight++;
	} else {
		argv_free(j->env);
		free(j);
		ds->spawn_gen = 0;
		log_error("spawn.queue_full", LOGF_I("session", ds->id));
		daemon_feed(ds, SV_EV_SPAWN_FAILED, 0, false);
	}
}

/* After a conflict: is the session still ours?  The store's worker asks. */
struct daemon_owner {
	struct daemon	*d;
	int64_t		 session;
	int64_t		 gen;
	int64_t		 epoch;
	char		 self[STORE_ID_LEN];
	bool		 ours;
};

static int
daemon_owner_run(struct store *st, void *arg)
{
	struct daemon_owner	*o = arg;
	struct session		 s;
	int			 r;

	if ((r = store_session_get(st, o->session, &s)) == 0)
		o->ours = strcmp(s.owner, o->self) == 0 && s.epoch == o->epoch;
	return r;
}

static void
daemon_owner_done(int result, void *arg)
{
	struct daemon_owner	*o = arg;
	struct daemon		*d = o->d;
	struct dsession		*ds;

	if (!d->tearing_down &&
	    (ds = intmap_get(d->by_id, o->session)) != NULL &&
	    ds->owner_gen == o->gen && ds->sv.state == SV_BACKOFF &&
	    ds->sv.conflict) {
		/* A failed read says nothing: not ours is the safe answer. */
		ds->owner_gen = 0;
		log_info("session.conflict_checked", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_B("owner", o->ours),
		    LOGF_I("result", result));
			daemon_feed(ds, o->ours ? SV_EV_OWNER_OK : SV_EV_OWNER_LOST,
		    0, false);
		}
	free(o);
}

static void
daemon_check_owner(struct dsession *ds)
{
	struct daemon		*d = ds->d;
	struct daemon_owner	*o = xcalloc(1, sizeof *o);

	o->d = d;
	o->session = ds->id;
	o->gen = ds->owner_gen = ++d->acq_seq;
	o->epoch = ds->epoch;
	(void)util_strlcpy(o->self, d->instance_id, sizeof o->self);
	if (daemon_submit(d, daemon_owner_run, daemon_owner_done, o,
	    "owner_check") < 0) {
		free(o);
		ds->owner_gen = 0;
		daemon_feed(ds, SV_EV_OWNER_LOST, 0, false);
	}
}

static void	daemon_maybe_finish(struct daemon *d);
static void	daemon_notify_cb(evutil_socket_t fd, short what, void *arg);

/* A session of the start-up recovery reached a final answer. */
static void
daemon_recovery_settle(struct dsession *ds, bool ok)
{
	struct daemon	*d = ds->d;

	if (!ds->recovering)
		return;
	ds->recovering = false;
	if (ok) {
		int64_t	ms = util_mono_ms() - ds->recovery_t0;

		d->run.recovered++;
		d->run.total_recovery_ms += ms;
		metrics_hist_observe(&d->recovery_hist, (double)ms / 1000.0);
		if (ds->proxy_how == POOL_REACTIVATE)
			d->run.reactivated++;
		else if (ds->proxy_how == POOL_REUSE)
			d->run.reused++;
		else if (ds->proxy_how == POOL_PURCHASE) {
			/* A bought IP's first billing unit is the cost. */
			d->run.purchased++;
			d->run.cost_micros += billing_unit_price(&d->billing);
		}
		if (ds->proxy_fallback)
			d->run.fallbacks++;
	} else {
		d->run.failed++;
	}
	if (--d->run_pending > 0 || !d->run_open)
		return;
	d->run_open = false;
	d->run.finished_at = util_now_ms();
	metrics_hist_observe(&d->run_hist, (double)(d->run.finished_at -
	    d->run.started_at) / 1000.0);
	daemon_store_recovery_run(d, &d->run);
	log_info("recovery.completed", LOGF_S("msg",
	    "session recovery completed"), LOGF_S("cause", d->run.cause),
	    LOGF_I("sessions", d->run.sessions_total),
	    LOGF_I("recovered", d->run.recovered),
	    LOGF_I("failed", d->run.failed),
	    LOGF_I("reactivated", d->run.reactivated),
	    LOGF_I("reused", d->run.reused),
	    LOGF_I("fallbacks", d->run.fallbacks),
	    LOGF_I("duration_ms", d->run.finished_at - d->run.started_at),
	    LOGF_I("avg_recovery_ms", d->run.recovered ?
	    d->run.total_recovery_ms / d->run.recovered : 0));
	sdnotify_send("STATUS=recovery completed");
}

/* Carry out what the supervisor decided. */
static void
daemon_act(struct dsession *ds, const struct supervise_output *out)
{
	struct daemon	*d = ds->d;
	unsigned	 a = out->actions;

	if (out->from == SV_STARTING && out->to != SV_STARTING)
		d->starting--;
	else if (out->from != SV_STARTING && out->to == SV_STARTING)
		d->starting++;

	if ((a & SV_ACT_TERM) && ds->pid > 0)
		(void)child_signal_group(ds->pid, SIGTERM);
	if ((a & SV_ACT_KILL) && ds->pid > 0) {
		log_warn("connector.killed", LOGF_I("session", ds->id),
		    LOGF_I("pid", ds->pid));
		(void)child_signal_group(ds->pid, SIGKILL);
	}
	if ((a & SV_ACT_MARK_IP_BAD) && ds->ptype == PROXY_TYPE_RESIDENTIAL) {
		/* A new session id: the provider picks another peer. */
		ds->res_generation++;
		log_warn("proxy.refused", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_S("proxy", "residential"),
		    LOGF_I("generation", ds->res_generation));
		a &= ~(unsigned)SV_ACT_MARK_IP_BAD;
	}
	if (a & SV_ACT_MARK_IP_BAD) {
		const struct pool_proxy *px = pool_get(d->pool, ds->proxy_id);

		if (px != NULL) {
			log_warn("proxy.refused", LOGF_I("session", ds->id),
			    LOGF_S("phone", ds->phone), LOGF_S("proxy", px->ip));
			pool_mark_bad(d->pool, ds->phone, px->ip);
		}
		daemon_proxy_release(ds, false);
	}
	if (a & SV_ACT_RELEASE_PROXY)
		daemon_proxy_release(ds, false);
	if (a & SV_ACT_CANCEL_ACQUIRE) {
		ds->acq_gen = 0;	/* an answer on its way is undone */
		daemon_demand_remove(ds);
	}
	if (a & SV_ACT_ALERT_FAILED) {
		log_error("session.failed", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_I("attempts",
		    ds->sv.attempts), LOGF_S("cause",
		    supervise_cause_name(ds->sv.cause)));
		daemon_store_event(d, ds->id, "session.failed");
	}
	if (a & SV_ACT_ALERT_AUTH) {
		log_warn("session.needs_auth", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone), LOGF_S("msg",
		    "logged out: the customer must scan a QR code"));
		daemon_store_event(d, ds->id, "session.needs_auth");
	}
	if (a & SV_ACT_PERSIST)
		daemon_persist(ds, false);
	daemon_schedule(ds);
	daemon_ops_transition(ds, out);
	if (out->to == SV_STOPPED && ds->shedding)
		daemon_shed_done(ds);

	if (out->to == SV_READY && out->from != SV_READY)
		daemon_recovery_settle(ds, true);
	else if (out->to == SV_FAILED || out->to == SV_NEEDS_AUTH ||
	    (out->to == SV_STOPPED && out->from != SV_STOPPED))
		daemon_recovery_settle(ds, false);

	/* Actions that feed new events come last. */
	if (a & SV_ACT_CHECK_OWNER)
		daemon_check_owner(ds);
	if (a & SV_ACT_ACQUIRE)
		daemon_acquire(ds);
	if (a & SV_ACT_SPAWN)
		daemon_spawn(ds);
	if (out->from == SV_STARTING && out->to != SV_STARTING)
		daemon_admit(d);
}

void
daemon_feed(struct dsession *ds, enum supervise_event ev, int status,
    bool keep_proxy)
{
	struct supervise_input	in = { .event = ev, .status = status,
				    .keep_proxy = keep_proxy };
	struct supervise_output	out;

	supervise_step(&ds->sv, &ds->d->sp, &in, util_mono_ms(),
	    daemon_random(ds->d), &out);
	if (out.from != out.to) {
		ds->d->sv_count[out.from]--;
		ds->d->sv_count[out.to]++;
	}
	ds->waiting_proxy = ev == SV_EV_PROXY_WAIT && out.to == SV_BACKOFF;
	if (out.from != out.to)
		log_debug("session.state", LOGF_I("session", ds->id),
		    LOGF_S("event", supervise_event_name(ev)),
		    LOGF_S("from", supervise_state_name(out.from)),
		    LOGF_S("to", supervise_state_name(out.to)));
	daemon_act(ds, &out);
	if (ds->d->stopping)
		daemon_maybe_finish(ds->d);
}

void
daemon_enqueue(struct daemon *d, struct dsession *ds)
{
	if (ds->queued)
		return;
	if (d->qhead + d->qlen == d->qcap) {
		if (d->qhead > 0) {
			memmove(d->queue, d->queue + d->qhead,
			    d->qlen * sizeof *d->queue);
			d->qhead = 0;
		} else {
			d->qcap = d->qcap ? d->qcap * 2 : 256;
			d->queue = xreallocarray(d->queue, d->qcap,
			    sizeof *d->queue);
		}
	}
	d->queue[d->qhead + d->qlen++] = ds;
	ds->queued = true;
}

/*
 * Admit queued sessions while fewer than RESPAWN_START_CONCURRENCY are
 * starting: bounded concurrency without waiting for whole batches.
 */
void
daemon_admit(struct daemon *d)
{
	struct dsession	*ds;
	int		 budget = DAEMON_ADMIT_BATCH;

	while (d->qlen > 0 && !d->stopping &&
	    d->starting < d->cfg->start_concurrency) {
		/*
		 * A bounded batch per loop iteration: the rest follows from
		 * the loop, so READY=1 messages and exits are read in between
		 * and no readiness timer is judged on a stale view.
		 */
		if (budget-- == 0) {
			event_active(d->ev_admit, EV_TIMEOUT, 0);
			return;
		}
		ds = d->queue[d->qhead++];
		d->qlen--;
		ds->queued = false;
		if (ds->removed) {
			daemon_session_reap(d, ds);
			continue;
		}
		if (ds->desired != SESSION_DESIRED_RUNNING)
			continue;
		if (ds->recovering && ds->recovery_t0 == 0)
			ds->recovery_t0 = util_mono_ms();
		daemon_feed(ds, SV_EV_START, 0, false);
	}
}

static void
daemon_admit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;

	(void)fd;
	(void)what;
	daemon_batch_begin(d);
	daemon_admit(d);
	daemon_batch_end(d);
}

static struct dsession *
daemon_session_new(struct daemon *d, const struct session *s)
{
	struct dsession	*ds = xcalloc(1, sizeof *ds);

	ds->d = d;
	ds->id = s->id;
	ds->epoch = s->epoch;
	memcpy(ds->user_id, s->user_id, sizeof ds->user_id);
	memcpy(ds->phone, s->phone, sizeof ds->phone);
	memcpy(ds->country, s->country, sizeof ds->country);
	ds->priority = s->priority;
	ds->last_activity = s->last_activity_at ? s->last_activity_at :
	    s->created_at;
	ds->desired = s->desired;
	ds->ptype = s->proxy_type;
	ds->timer = evtimer_new(d->base, daemon_timer_cb, ds);
	ds->pidfd = -1;
	d->sv_count[ds->sv.state]++;
	intmap_put(d->by_id, ds->id, ds);
	TAILQ_INSERT_TAIL(&d->all, ds, link);
	return ds;
}

static void
daemon_session_free(struct dsession *ds)
{
	if (ds == NULL)
		return;
	ds->d->sv_count[ds->sv.state]--;
	daemon_demand_remove(ds);
	if (ds->timer != NULL)
		event_free(ds->timer);
	if (ds->pidfd_ev != NULL)
		event_free(ds->pidfd_ev);
	if (ds->pidfd >= 0)
		close(ds->pidfd);
	free(ds);
}

/* Drop a session that was removed from the store, once it has stopped. */
static void
daemon_session_reap(struct daemon *d, struct dsession *ds)
{
	/* Only once no process of it is left (stopped, failed, logged out). */
	if (!ds->removed || ds->queued || ds->pid > 0 ||
	    (ds->sv.state != SV_STOPPED && ds->sv.state != SV_FAILED &&
	    ds->sv.state != SV_NEEDS_AUTH))
		return;
	daemon_proxy_release(ds, false);
	intmap_del(d->by_id, ds->id);
	TAILQ_REMOVE(&d->all, ds, link);
	log_info("session.dropped", LOGF_I("session", ds->id),
	    LOGF_S("phone", ds->phone));
	daemon_session_free(ds);
}

/* Where a session ranks in recovery: priority countries, user, recency. */
static int
daemon_country_rank(const struct daemon *d, const char *cc)
{
	size_t	i;

	for (i = 0; i < d->cfg->n_priority_countries; i++)
		if (strcmp(d->cfg->priority_countries[i], cc) == 0)
			return (int)i;
	return (int)CONFIG_MAX_COUNTRIES;
}

static const struct daemon *daemon_sort_ctx;

static int
daemon_recovery_cmp(const void *a, const void *b)
{
	const struct dsession	*x = *(struct dsession *const *)a;
	const struct dsession	*y = *(struct dsession *const *)b;
	int			 rx = daemon_country_rank(daemon_sort_ctx, x->country);
	int			 ry = daemon_country_rank(daemon_sort_ctx, y->country);

	if (rx != ry)
		return rx < ry ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->last_activity != y->last_activity)
		return x->last_activity > y->last_activity ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* An adopted connector exited: it is not our child, so no status. */
static void
daemon_pidfd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dsession	*ds = arg;
	struct daemon	*d = ds->d;

	(void)fd;
	(void)what;
	event_free(ds->pidfd_ev);
	ds->pidfd_ev = NULL;
	close(ds->pidfd);
	ds->pidfd = -1;
	daemon_notify_cb(-1, 0, d);
	daemon_batch_begin(d);
	(void)intmap_del(d->by_pid, ds->pid);
	log_info("connector.exited", LOGF_I("session", ds->id),
	    LOGF_I("pid", ds->pid), LOGF_B("adopted", true),
	    LOGF_S("state", supervise_state_name(ds->sv.state)));
	ds->pid = 0;
	ds->start_ticks = 0;
	daemon_feed(ds, SV_EV_EXIT, 1, false);
	daemon_session_reap(d, ds);
	daemon_batch_end(d);
}

/*
 * A connector that outlived the previous daemon: take it back if it is
 * provably the one we started (pid and start time, leader of its own
 * session), and watch its exit through a pidfd.  Anything else that
 * claims the pid is left alone; a verified connector we cannot watch is
 * killed, so that two connectors of one phone never run.
 */
static bool
daemon_adopt(struct daemon *d, struct dsession *ds, const struct session *s,
    int64_t hist0)
{
	const struct pool_proxy	*px;
	pid_t			 pid = (pid_t)s->connector_pid;
	int			 fd;

	if (pid <= 1 || !procinfo_same(pid, (uint64_t)s->connector_started_at))
		return false;
	if (getsid(pid) != pid ||
	    (fd = pidfd_open(pid, 0)) < 0) {
		log_warn("connector.unverifiable", LOGF_I("session", ds->id),
		    LOGF_I("pid", pid), LOGF_S("msg", "stopping a leftover "
		    "connector before starting a new one"));
		(void)child_signal_group(pid, SIGKILL);
		return false;
	}
	ds->pid = pid;
	ds->start_ticks = (uint64_t)s->connector_started_at;
	ds->pidfd = fd;
	ds->pidfd_ev = event_new(d->base, fd, EV_READ, daemon_pidfd_cb, ds);
	event_add(ds->pidfd_ev, NULL);
	intmap_put(d->by_pid, pid, ds);
	/* Its proxy is the one kept for it. */
	if (hist0 != 0 && (px = pool_get(d->pool, hist0)) != NULL &&
	    px->reserved_for == ds->id && pool_attach(d->pool, px->id,
	    ds->id) == 0) {
		ds->proxy_id = px->id;
		ds->proxy_how = POOL_REACTIVATE;
	}
	d->adopted++;
	log_info("connector.adopted", LOGF_I("session", ds->id),
	    LOGF_S("phone", ds->phone), LOGF_I("pid", pid));
	daemon_feed(ds, SV_EV_ADOPT, s->status == SESSION_STATUS_READY, false);
	return true;
}

/*
 * Proxies the operator asked to release (`respawn proxy release`): taken
 * out of the pool, given back to the provider, then marked released.  An
 * unknown outcome stays releasing until a listing shows the IP gone.
 */
struct daemon_release {
	struct daemon	*d;
	int64_t		 id;
	char		 key[PROVIDER_KEY_MAX];
};

static void
daemon_release_done(const struct provider_result *r, void *arg)
{
	struct daemon_release	*rel = arg;
	struct daemon		*d = rel->d;
	const struct pool_proxy	*old;
	struct pool_proxy	 px;

	if (d->tearing_down) {
		free(rel);
		return;
	}
	old = pool_get(d->pool, rel->id);

	if (r->outcome == PROVIDER_OK) {
		daemon_store_proxy_state(d, rel->id, PROXY_RELEASED);
		if (old != NULL) {
			px = *old;
			px.state = POOL_RELEASED;
			px.listed = false;
			pool_put(d->pool, &px);
		}
		d->released++;
		log_info("proxy.released", LOGF_S("proxy", rel->key));
	} else if (r->outcome == PROVIDER_FAILED) {
		/* Still ours: back to the idle pool. */
		daemon_store_proxy_state(d, rel->id, PROXY_IDLE);
		if (old != NULL) {
			px = *old;
			px.state = POOL_IDLE;
			pool_put(d->pool, &px);
		}
		log_error("proxy.release_failed", LOGF_S("proxy", rel->key),
		    LOGF_S("error", r->message));
	} else {
		log_warn("proxy.release_unknown", LOGF_S("proxy", rel->key),
		    LOGF_S("msg", "settled by the next listing"));
	}
	free(rel);
}

/* Take a proxy out of the pool and ask the provider to take it back. */
static void
daemon_release_start(struct daemon *d, int64_t id, const char *key)
{
	struct daemon_release	*rel;
	const struct pool_proxy	*old = pool_get(d->pool, id);
	const char		*keys[1];
	struct pool_proxy	 px;

	if (old != NULL) {
		px = *old;
		px.state = POOL_RELEASING;
		pool_put(d->pool, &px);
	}
	daemon_store_proxy_state(d, id, PROXY_RELEASING);
	rel = xcalloc(1, sizeof *rel);
	rel->d = d;
	rel->id = id;
	(void)util_strlcpy(rel->key, key, sizeof rel->key);
	keys[0] = rel->key;
	log_info("proxy.releasing", LOGF_S("proxy", key));
	if (provider_release(d->provider, keys, 1, daemon_release_done,
	    rel) < 0) {
		struct provider_result	fail = { .outcome = PROVIDER_FAILED,
			.message = "could not start the release" };

		daemon_release_done(&fail, rel);
	}
}

static int
daemon_releasing_cb(const struct proxy_row *row, void *arg)
{
	struct daemon		*d = arg;
	const struct pool_proxy	*old;

	if (row->state != PROXY_RELEASING)
		return 0;
	old = pool_get(d->pool, row->id);
	/* Already asked, or given back since the row was read. */
	if (old != NULL && (old->state == POOL_RELEASING ||
	    old->state == POOL_RELEASED))
		return 0;
	daemon_release_start(d, row->id, row->ip);
	return 0;
}

/*
 * Idle IPs go back to the provider per RESPAWN_RELEASE_POLICY: with the
 * default (aware), an IP already paid for the current billing unit stays
 * for reuse until shortly before the next unit, then goes unless its
 * country is expected to need it.  Static lists are paid elsewhere:
 * nothing is given back.
 */
static void
daemon_release_sweep(struct daemon *d)
{
	const struct pool_proxy	*px;
	struct billing_decision	 dec;
	struct billing_ip	 ip;
	struct billing_demand	 dem;
	int			 rank[26 * 26] = { 0 }, ci;
	int			 acquiring[26 * 26] = { 0 };
	struct dsession		*ds;
	int64_t			 now = util_now_ms();
	size_t			 i;

	if (!provider_can_purchase(d->provider))
		return;
	/*
	 * Sessions whose acquisition is waiting for the store's answer are
	 * about to choose an idle IP of their country (one bought for them,
	 * say): that many idle IPs stay, whatever the policy.
	 */
	TAILQ_FOREACH(ds, &d->all, link) {
		ci = (ds->country[0] - 'a') * 26 + (ds->country[1] - 'a');
		if (ds->acq_gen != 0 && ci >= 0 && ci < 26 * 26)
			acquiring[ci]++;
	}
	for (i = 0; i < pool_count(d->pool); i++) {
		px = pool_at(d->pool, i);
		if (px->state != POOL_IDLE || px->sessions > 0 ||
		    px->reserved_for != 0 || !px->listed)
			continue;
		ci = (px->country[0] - 'a') * 26 + (px->country[1] - 'a');
		if (ci < 0 || ci >= 26 * 26)
			continue;
		ip.allocated_at = px->purchased_at ? px->purchased_at :
		    px->idle_since;
		ip.idle_since = px->idle_since ? px->idle_since : now;
		if (ip.idle_since < ip.allocated_at)
			ip.idle_since = ip.allocated_at;
		ip.owner_back_by = 0;
		ip.idle_rank = rank[ci]++;
		if (ip.idle_rank < acquiring[ci])
			continue;
		dem.expected = d->demand[ci] != NULL ? (int)d->demand[ci]->n : 0;
		if (billing_decide(&d->billing, &d->release, &ip, &dem, now,
		    &dec) < 0 || dec.action != BILLING_ACTION_RELEASE)
			continue;
		log_info("proxy.release", LOGF_S("proxy", px->ip),
		    LOGF_S("country", px->country), LOGF_S("why",
		    billing_reason_name(dec.reason)));
		daemon_release_start(d, px->id, px->ip);
	}
}

/*
 * A sync reads, on the store's worker, everything the loop needs to bring
 * its sessions in line with the store: the claim of free sessions (fleet
 * mode: up to the fair share), every session, every proxy row, the
 * sessions' fingerprint and, on a fleet heartbeat, the fair share.  The
 * loop applies the answer (daemon_sync_apply).  One sync is in flight at a
 * time, so answers are applied in the order they were read; a sync asked
 * for meanwhile follows the one in flight.
 */
struct daemon_sync_job {
	struct daemon		*d;
	uint64_t		 seq;
	bool			 startup;
	bool			 share;		/* read the fair share too */
	char			 self[STORE_ID_LEN];
	int64_t			 now;
	int64_t			 window_ms;	/* the recovery window */
	int			 claimed;
	char			 err[STORE_ERROR_LEN];
	struct session		*sessions;
	size_t			 n, cap;
	int64_t			*hist0;		/* startup: newest proxy, 0 */
	struct proxy_row	*proxies;
	size_t			 np, pcap;
	bool			 share_ok;
	int64_t			 fair, owned;
	bool			 fp_ok;
	int64_t			 fp_count, fp_gen;
};

static int
daemon_sync_collect(const struct session *s, void *arg)
{
	struct daemon_sync_job	*j = arg;

	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 256;
		j->sessions = xreallocarray(j->sessions, j->cap,
		    sizeof *j->sessions);
	}
	j->sessions[j->n++] = *s;
	return 0;
}

static int
daemon_rows_collect(const struct proxy_row *p, struct proxy_row **rows,
    size_t *n, size_t *cap)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*rows = xreallocarray(*rows, *cap, sizeof **rows);
	}
	(*rows)[(*n)++] = *p;
	return 0;
}

static int
daemon_sync_collect_proxy(const struct proxy_row *p, void *arg)
{
	struct daemon_sync_job	*j = arg;

	return daemon_rows_collect(p, &j->proxies, &j->np, &j->pcap);
}

static int
daemon_sync_run(struct store *st, void *arg)
{
	struct daemon_sync_job	*j = arg;
	const struct session	*s;
	size_t			 i, n;
	int			 r;

	if ((r = store_session_claim(st, j->self, j->now, &j->claimed)) < 0 ||
	    (r = store_session_list(st, daemon_sync_collect, j)) < 0 ||
	    (r = store_proxy_list(st, daemon_sync_collect_proxy, j)) < 0) {
		(void)util_strlcpy(j->err, store_errmsg(st), sizeof j->err);
		return r;
	}
	/*
	 * At start, the sessions whose connector may be adopted or which
	 * turn dormant need their newest proxy: read it now, not per
	 * session from the loop.
	 */
	if (j->startup && j->n > 0) {
		j->hist0 = xcalloc(j->n, sizeof *j->hist0);
		for (i = 0; i < j->n; i++) {
			s = &j->sessions[i];
			if (strcmp(s->owner, j->self) != 0 ||
			    (s->connector_pid <= 0 && (s->last_activity_at ==
			    0 || j->now - s->last_activity_at <= j->window_ms)))
				continue;
			if (store_proxy_history(st, s->phone, &j->hist0[i], 1,
			    &n) < 0 || n != 1)
				j->hist0[i] = 0;
		}
	}
	j->fp_ok = store_session_fingerprint(st, &j->fp_count,
	    &j->fp_gen) == 0;
	if (j->share)
		j->share_ok = store_fleet_share(st, j->self, &j->fair,
		    &j->owned) == 0;
	return 0;
}

static void
daemon_sync_job_free(struct daemon_sync_job *j)
{
	free(j->sessions);
	free(j->hist0);
	free(j->proxies);
	free(j);
}

static void	daemon_sync_done(int result, void *arg);

/* Ask for a sync; one in flight already means one more after it. */
void
daemon_sync_request(struct daemon *d, bool startup, bool share)
{
	struct daemon_sync_job	*j;

	if (d->sync_busy) {
		d->sync_again = true;
		d->sync_share |= share;
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->d = d;
	j->seq = ++d->sync_sent;
	j->startup = startup;
	j->share = share;
	(void)util_strlcpy(j->self, d->instance_id, sizeof j->self);
	j->now = util_now_ms();
	j->window_ms = d->cfg->recovery_window_ms;
	if (daemon_submit(d, daemon_sync_run, daemon_sync_done, j,
	    "sync") < 0) {
		daemon_sync_job_free(j);
		if (startup)
			daemon_setup_failed(d);
		return;
	}
	d->sync_busy = true;
}

struct daemon_load {
	struct daemon	 *d;
	struct dsession	**list;
	size_t		  n, cap;
	int64_t		  dormant;
	bool		  startup;
};

/* One session of a sync's answer; hist0: its newest proxy (startup). */
static void
daemon_load(struct daemon_load *ld, const struct session *s, int64_t hist0)
{
	struct daemon		*d = ld->d;
	struct dsession		*ds = intmap_get(d->by_id, s->id);
	int64_t			 now = util_now_ms();

	if (strcmp(s->owner, d->instance_id) != 0) {
		if (ld->startup && ds == NULL)
			daemon_orphan(d, s);
		/* Taken by a peer (or given up): stop ours, touch nothing. */
		if (ds != NULL && !ds->removed && !ds->lost) {
			ds->lost = true;
			d->lost_sessions++;
			log_warn("session.lost", LOGF_I("session", ds->id),
			    LOGF_S("phone", ds->phone), LOGF_S("owner",
			    s->owner[0] != '\0' ? s->owner : "none"));
		}
		return;
	}
	/* Still being dropped: taken up again at the next sync. */
	if (ds != NULL && (ds->removed || ds->lost))
		return;
	if (ds == NULL) {
		ds = daemon_session_new(d, s);
		ds->seen = true;
		if (ld->startup && s->connector_pid > 0 &&
		    daemon_adopt(d, ds, s, hist0)) {
			if (s->desired != SESSION_DESIRED_RUNNING)
				daemon_feed(ds, SV_EV_STOP, 0, false);
			return;
		}
		/* Nobody runs it now: say so until it is started again. */
		if (ld->startup && s->status != SESSION_STATUS_STOPPED &&
		    s->status != SESSION_STATUS_NEW)
			daemon_persist(ds, false);
		/* Logged out: only the operator's start (after a QR scan) helps. */
		if (s->status == SESSION_STATUS_NEEDS_AUTH) {
			d->sv_count[ds->sv.state]--;
			ds->sv.state = SV_NEEDS_AUTH;
			d->sv_count[SV_NEEDS_AUTH]++;
			daemon_persist(ds, false);
			return;
		}
		if (s->desired != SESSION_DESIRED_RUNNING ||
		    !d->cfg->auto_reconnect)
			return;
		/* Idle beyond the window: dormant, not started by itself. */
		if (ld->startup && s->last_activity_at != 0 &&
		    now - s->last_activity_at > d->cfg->recovery_window_ms) {
			struct session_report rep = {
				.status = SESSION_STATUS_DORMANT };
			const struct pool_proxy *px;

			ld->dormant++;
			daemon_store_report(d, ds, &rep);
			/* Its proxy is no longer kept for it. */
			if (hist0 != 0 && (px = pool_get(d->pool, hist0)) !=
			    NULL && px->reserved_for == ds->id) {
				(void)pool_detach(d->pool, px->id, now, false);
				daemon_store_proxy_unassign(d, px->id, false);
			}
			return;
		}
		if (ld->n == ld->cap) {
			ld->cap = ld->cap ? ld->cap * 2 : 256;
			ld->list = xreallocarray(ld->list, ld->cap,
			    sizeof *ld->list);
		}
		ld->list[ld->n++] = ds;
		return;
	}
	ds->seen = true;
	/* `session start` of a failed, logged-out or dormant session. */
	if (s->status == SESSION_STATUS_NEW && s->desired ==
	    SESSION_DESIRED_RUNNING && !ds->queued && (ds->sv.state ==
	    SV_FAILED || ds->sv.state == SV_NEEDS_AUTH ||
	    ds->sv.state == SV_STOPPED)) {
		log_info("session.start_requested", LOGF_I("session", ds->id));
		daemon_enqueue(d, ds);
	}
	if (ds->desired != s->desired) {
		ds->desired = s->desired;
		if (s->desired == SESSION_DESIRED_RUNNING) {
			log_info("session.start_requested",
			    LOGF_I("session", ds->id));
			daemon_enqueue(d, ds);
		} else {
			log_info("session.stop_requested",
			    LOGF_I("session", ds->id));
			daemon_feed(ds, SV_EV_STOP, 0, false);
		}
	}
}

/*
 * Bring the in-memory sessions in line with a sync's answer: new sessions
 * are taken up and queued, changed desired states become start or stop
 * events, sessions gone from the store (or a peer's now) are stopped.  At
 * start-up this is the recovery's discovery step.
 */
static void
daemon_sync_apply(struct daemon *d, struct daemon_sync_job *j)
{
	struct daemon_load	 ld = { .d = d, .startup = j->startup };
	struct dsession		*ds, *next;
	size_t			 i;

	if (j->claimed > 0) {
		d->claimed += j->claimed;
		if (!j->startup)
			log_info("fleet.claimed", LOGF_I("sessions",
			    j->claimed));
	}
	/*
	 * Sessions taken over come with their proxies: know them first.
	 * Only then: what this instance changed since the answer was read
	 * is newer in memory than in the answer.
	 */
	if (d->pool != NULL && j->claimed > 0 && !j->startup)
		for (i = 0; i < j->np; i++)
			(void)daemon_pool_refresh_cb(&j->proxies[i], d);
	if (j->fp_ok) {
		d->fp_count = j->fp_count;
		d->fp_gen = j->fp_gen;
	}
	TAILQ_FOREACH(ds, &d->all, link)
		ds->seen = false;
	for (i = 0; i < j->n; i++)
		daemon_load(&ld, &j->sessions[i], j->hist0 != NULL ?
		    j->hist0[i] : 0);
	daemon_sort_ctx = d;
	if (ld.n > 1)
		qsort(ld.list, ld.n, sizeof *ld.list, daemon_recovery_cmp);
	for (i = 0; i < ld.n; i++) {
		if (j->startup) {
			ld.list[i]->recovering = true;
			d->run_pending++;
		}
		daemon_enqueue(d, ld.list[i]);
	}
	if (j->startup) {
		d->run.sessions_total = (int64_t)ld.n;
		if (ld.dormant > 0)
			log_info("recovery.dormant", LOGF_I("sessions",
			    ld.dormant), LOGF_S("msg", "sessions idle beyond "
			    "the recovery window are not started"));
	}
	free(ld.list);
	for (i = 0; i < j->np; i++)
		(void)daemon_releasing_cb(&j->proxies[i], d);
	if (j->startup)
		return;
	/* Sessions no longer in the store are stopped, then dropped. */
	for (ds = TAILQ_FIRST(&d->all); ds != NULL; ds = next) {
		next = TAILQ_NEXT(ds, link);
		/* Given up before this answer was read: now it can go. */
		if (ds->released_after != 0 && j->seq > ds->released_after) {
			ds->released_after = 0;
			daemon_session_reap(d, ds);
			continue;
		}
		if (ds->seen || ds->removed)
			continue;
		if (!ds->lost)
			log_info("session.removed", LOGF_I("session", ds->id),
			    LOGF_S("phone", ds->phone));
		ds->removed = true;
		ds->queued = false;
		ds->desired = SESSION_DESIRED_STOPPED;
		if (ds->sv.state != SV_STOPPED)
			daemon_feed(ds, SV_EV_STOP, 0, ds->lost);
		daemon_session_reap(d, ds);
	}
	if (j->share_ok)
		daemon_fleet_rebalance(d, j->fair, j->owned);
}

static void
daemon_sync_done(int result, void *arg)
{
	struct daemon_sync_job	*j = arg;
	struct daemon		*d = j->d;
	bool			 startup = j->startup;

	d->sync_busy = false;
	if (d->tearing_down) {
		daemon_sync_job_free(j);
		return;
	}
	if (result < 0) {
		log_error("store.sync_failed", LOGF_S("error", j->err));
	} else if (!d->fenced) {
			daemon_sync_apply(d, j);
		}
	daemon_sync_job_free(j);
	if (startup) {
		if (result < 0)
			daemon_setup_failed(d);
		else
			daemon_setup_continue(d);
		return;
	}
	daemon_admit(d);
	if (d->sync_again && !d->stopping) {
		bool	share = d->sync_share;

		d->sync_again = d->sync_share = false;
		daemon_sync_request(d, false, share);
	}
}

/* What a connector said, as supervisor events. */
static void
daemon_notify_apply(struct dsession *ds, const struct notify_msg *m)
{
	if (m->event == NOTIFY_EVENT_CONFLICT) {
		ds->d->conflicts++;
		daemon_feed(ds, SV_EV_CONFLICT, 0, false);
	}
	if (m->has_status)
		log_debug("connector.status", LOGF_I("session", ds->id),
		    LOGF_S("status", m->status));
	if (m->ready)
		daemon_feed(ds, SV_EV_READY, 0, false);
	if (m->watchdog)
		daemon_feed(ds, SV_EV_WATCHDOG, 0, false);
}

static void
daemon_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon		*d = arg;
	struct notify_msg	 m;
	struct dsession		*ds;
	pid_t			 sid;
	int			 r, budget = 4096;

	(void)fd;
	(void)what;
	daemon_batch_begin(d);
	while (budget-- > 0) {
		r = notify_recv(d->notify, &m);
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			d->notify_dropped++;
			continue;
		}
		/* Any process of the connector's session may speak for it. */
		sid = getsid(m.pid);
		ds = sid > 0 ? intmap_get(d->by_pid, sid) : NULL;
		if (ds == NULL && sid > 0 && d->spawns_in_flight > 0) {
			/*
			 * Maybe a connector whose start is still being
			 * answered: kept for daemon_spawn_done, the oldest
			 * overwritten (and then counted as dropped).
			 */
			if (d->early_notify[d->early_notify_next].sid > 0)
				d->notify_dropped++;
			d->early_notify[d->early_notify_next].sid = sid;
			d->early_notify[d->early_notify_next].at =
			    util_mono_ms();
			d->early_notify[d->early_notify_next].m = m;
			d->early_notify_next = (d->early_notify_next + 1) %
			    DAEMON_EARLY_NOTIFY;
			continue;
		}
		if (ds == NULL) {
			d->notify_dropped++;
			continue;
		}
		daemon_notify_apply(ds, &m);
	}
	daemon_batch_end(d);
}

static void
daemon_sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;
	struct dsession	*ds;
	pid_t		 pid;
	int		 status, code;

	(void)fd;
	(void)what;
	/* Read notifications first: a conflict notice precedes its exit. */
	daemon_notify_cb(-1, 0, d);
	daemon_batch_begin(d);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		code = WIFEXITED(status) ? WEXITSTATUS(status) :
		    WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
		if ((ds = intmap_del(d->by_pid, pid)) == NULL) {
			/*
			 * A connector whose start is still being answered
			 * (daemon_spawn_done), or one nobody wanted: kept,
			 * the oldest overwritten.
			 */
			d->early_exit[d->early_next].pid = pid;
			d->early_exit[d->early_next].code = code;
			d->early_exit[d->early_next].at = util_mono_ms();
			d->early_next = (d->early_next + 1) %
			    DAEMON_EARLY_EXITS;
			continue;
		}
		log_info("connector.exited", LOGF_I("session", ds->id),
		    LOGF_I("pid", pid), LOGF_I("status", code),
		    LOGF_S("state", supervise_state_name(ds->sv.state)));
		ds->pid = 0;
		daemon_feed(ds, SV_EV_EXIT, code, false);
		daemon_session_reap(d, ds);
	}
	daemon_batch_end(d);
}

/* During shutdown: once no connector runs, finish. */
static void
daemon_maybe_finish(struct daemon *d)
{
	if (!d->stopping || intmap_count(d->by_pid) > 0)
		return;
	event_base_loopexit(d->base, NULL);
}

static void
daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon	*d = arg;
	struct dsession	*ds, *next;

	(void)what;
	if (d->stopping)
		return;
	log_info("daemon.stopping", LOGF_S("signal", sig == SIGINT ? "SIGINT" :
	    sig == SIGUSR2 ? "SIGUSR2" : "SIGTERM"), LOGF_B("handover",
	    sig == SIGUSR2), LOGF_I("connectors",
	    (int64_t)intmap_count(d->by_pid)));
	sdnotify_send("STOPPING=1");
	d->stopping = true;
	if (sig == SIGUSR2) {
		/*
		 * A handover: connectors keep running for the next daemon to
		 * adopt; their pids and proxies stay recorded.
		 */
		d->handover = true;
		event_base_loopexit(d->base, NULL);
		return;
	}
	daemon_store_instance_status(d, INSTANCE_STOPPING);
	daemon_batch_begin(d);
	/* Proxies stay reserved for the restart. */
	for (ds = TAILQ_FIRST(&d->all); ds != NULL; ds = next) {
		next = TAILQ_NEXT(ds, link);
		ds->queued = false;
		if (ds->sv.state != SV_STOPPED)
			daemon_feed(ds, SV_EV_STOP, 0, true);
	}
	daemon_batch_end(d);
	daemon_maybe_finish(d);
}

/*
 * Live changes from the CLI or another instance show in the sessions'
 * fingerprint, read by the worker once a second; a change asks for a
 * sync.
 */
struct daemon_fp {
	struct daemon	*d;
	int64_t		 count, gen;
};

static int
daemon_fp_run(struct store *st, void *arg)
{
	struct daemon_fp	*f = arg;

	return store_session_fingerprint(st, &f->count, &f->gen);
}

static void
daemon_fp_done(int result, void *arg)
{
	struct daemon_fp	*f = arg;
	struct daemon		*d = f->d;

	d->fp_busy = false;
	if (!d->tearing_down && !d->stopping && result == 0 &&
	    (f->count != d->fp_count || f->gen != d->fp_gen)) {
		d->fp_count = f->count;
		d->fp_gen = f->gen;
		daemon_sync_request(d, false, false);
	}
	free(f);
}

static void
daemon_fp_check(struct daemon *d)
{
	struct daemon_fp	*f;

	/* A sync in flight reads the fingerprint itself. */
	if (d->fp_busy || d->sync_busy)
		return;
	f = xcalloc(1, sizeof *f);
	f->d = d;
	if (daemon_submit(d, daemon_fp_run, daemon_fp_done, f,
	    "fingerprint") < 0) {
		free(f);
		return;
	}
	d->fp_busy = true;
}

static void
daemon_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;
	int64_t		 now = util_now_ms();
	char		 status[128];

	(void)fd;
	(void)what;
	if (sdnotify_watchdog_interval_ms() > 0)
		sdnotify_send("WATCHDOG=1");
	if (d->stopping)
		return;
	/*
	 * First, before anything acts: after a pause (SIGSTOP, a stalled
	 * VM) or a database outage, a lease not renewed in time may already
	 * be a peer's to take.
	 */
	if (d->lease != NULL && util_mono_ms() -
	    lease_renewed_mono(d->lease) > DAEMON_RENEW_DEADLINE_MS(d)) {
		daemon_fence(d, "the lease was not renewed within its deadline");
		return;
	}
	daemon_batch_begin(d);
	if (d->lease != NULL) {
		int64_t	mono = util_mono_ms();

		d->lease_ok_mono = lease_renewed_mono(d->lease);
		d->heartbeat_ok_at = now - (mono - d->lease_ok_mono);
		if (lease_failures(d->lease) > d->heartbeat_failures) {
			d->heartbeat_failures = lease_failures(d->lease);
			log_warn("lease.renew_failed", LOGF_I("failures",
			    d->heartbeat_failures), LOGF_I("silent_ms", mono -
			    d->lease_ok_mono), LOGF_S("msg", "the database did "
			    "not take the lease renewal; fencing after "
			    "two thirds of the lease"));
		}
		lease_progress(d->lease, d->run_open, d->run.sessions_total,
		    d->run.recovered + d->run.failed);
		if (lease_state(d->lease) == LEASE_TAKEN) {
			daemon_batch_end(d);
			daemon_fence(d, "a peer declared this instance dead");
			return;
		}
		if (lease_state(d->lease) == LEASE_EXPIRED) {
			daemon_batch_end(d);
			daemon_fence(d, "the lease was not renewed within its "
			    "deadline");
			return;
		}
		if (d->setup_done && now - d->last_fleet_tick >=
		    DAEMON_HEARTBEAT_MS(d)) {
			d->last_fleet_tick = now;
			daemon_fleet_tick(d);
		}
	} else if (now - d->last_heartbeat >= DAEMON_HEARTBEAT_MS(d)) {
		int	hr;

		/* One host, SQLite (inline): the store is a local file. */
		hr = store_instance_heartbeat(d->store, d->instance_id, now,
		    d->run_open, d->run.sessions_total,
		    d->run.recovered + d->run.failed);
		if (hr < 0) {
			d->heartbeat_failures++;
			log_error("store.heartbeat_failed",
			    LOGF_S("error", store_errmsg(d->store)));
		} else {
			d->heartbeat_ok_at = now;
			d->lease_ok_mono = util_mono_ms();
		}
		d->last_heartbeat = now;
		if (d->run_open) {
			snprintf(status, sizeof status, "STATUS=recovering "
			    "%lld/%lld sessions", (long long)(d->run.recovered +
			    d->run.failed), (long long)d->run.sessions_total);
			sdnotify_send(status);
		}
	}
	/* Connector logs stay under their cap while connectors run. */
	if (now - d->last_log_trim >= DAEMON_LOG_TRIM_MS) {
		struct dsession	*ds;
		char		 logp[DAEMON_PATH_MAX];

		d->last_log_trim = now;
		TAILQ_FOREACH(ds, &d->all, link) {
			if (ds->pid <= 0)
				continue;
			snprintf(logp, sizeof logp, "%s/logs/%lld.log",
			    d->cfg->state_dir, (long long)ds->id);
			if (child_log_trim(logp, CHILD_LOG_MAX_DEFAULT) == 1)
				log_info("connector.log_trimmed",
				    LOGF_I("session", ds->id));
		}
	}
	if (d->pool_loaded && now - d->last_reconcile >= DAEMON_RECONCILE_MS)
		daemon_reconcile(d);
	/* Every minute, or oftener when the idle timeout is shorter. */
	if (d->pool_loaded && now - d->last_release_sweep >=
	    (d->release.kind == BILLING_IDLE_TIMEOUT &&
	    d->release.idle_timeout_ms / 4 < DAEMON_RELEASE_SWEEP_MS ?
	    d->release.idle_timeout_ms / 4 : DAEMON_RELEASE_SWEEP_MS)) {
		d->last_release_sweep = now;
		daemon_release_sweep(d);
	}
	/*
	 * Live changes from the CLI or the API, within a second; not before
	 * the start-up recovery has begun (it does the first sync itself).
	 */
	if (d->setup_done)
		daemon_fp_check(d);
	daemon_batch_end(d);
	daemon_admit(d);
}

/*
 * Instances of this host that claim to run but whose process is gone died
 * without a goodbye: a crash.  (Instances of other hosts are judged by
 * their heartbeat alone, in store_instance_reap.)
 */
struct daemon_crash {
	struct daemon	*d;
	int		 crashed;
	int		 graceful;
	char		 ids[8][STORE_ID_LEN];
	int		 nids;
};

static int
daemon_crash_cb(const struct instance *i, void *arg)
{
	struct daemon_crash	*cr = arg;

	if (strcmp(i->hostname, cr->d->hostname) != 0)
		return 0;
	if (i->status == INSTANCE_STOPPED)
		cr->graceful++;
	if (i->status != INSTANCE_STARTING && i->status != INSTANCE_RUNNING &&
	    i->status != INSTANCE_STOPPING)
		return 0;
	if (i->pid != getpid() && procinfo_alive((pid_t)i->pid))
		return 0;	/* still alive: another daemon on this host */
	if (cr->nids < (int)nitems(cr->ids))
		(void)util_strlcpy(cr->ids[cr->nids++], i->id, STORE_ID_LEN);
	cr->crashed++;
	return 0;
}

/*
 * Reconciliation (reconcile.c) and the pool: after the provider's listing
 * has been compared with the store, the pool is brought in line with the
 * store's rows.  It runs at start (before any session is recovered),
 * every few minutes, and whenever a purchase's outcome is unknown.
 */
static int
daemon_recon_pool_cb(const struct proxy_row *row, void *arg)
{
	struct daemon		*d = arg;
	const struct pool_proxy	*old = pool_get(d->pool, row->id);
	struct pool_proxy	 px = { 0 };
	bool			 ours;

	ours = strcmp(row->provider, provider_name(d->provider)) == 0 &&
	    strcmp(row->zone, provider_zone(d->provider)) == 0;
	if (old != NULL) {
		/* What the pool knows in memory (who uses it) stands. */
		px = *old;
	} else {
		px.id = row->id;
		(void)util_strlcpy(px.ip, row->ip, sizeof px.ip);
		memcpy(px.country, row->country, sizeof px.country);
		px.state = row->state == PROXY_ACTIVE ? POOL_ACTIVE :
		    row->state == PROXY_IDLE ? POOL_IDLE : POOL_LOST;
		/* A proxy that had a session is kept for it: reactivation. */
		px.reserved_for = row->state == PROXY_ACTIVE ?
		    row->session_id : 0;
		px.idle_since = row->idle_since;
		px.purchased_at = row->purchased_at;
	}
	if (row->state == PROXY_LOST)
		px.state = POOL_LOST;
	else if (row->state == PROXY_RELEASING)
		px.state = POOL_RELEASING;
	px.listed = ours && row->state != PROXY_LOST;
	pool_put(d->pool, &px);
	return 0;
}

static void
daemon_recon_step(const struct reconcile_step *s, void *arg)
{
	struct daemon	*d = arg;

	switch (s->action) {
	case RECONCILE_ADOPT:
		/* A static list's first load is no news. */
		if (d->pool_loaded || provider_can_purchase(d->provider))
			log_info("proxy.adopted", LOGF_S("proxy", s->key),
			    LOGF_S("country", s->country), LOGF_S("msg",
			    "the provider bills an IP the store did not know: "
			    "kept as idle"));
		break;
	case RECONCILE_LOST:
		log_warn("proxy.lost", LOGF_S("proxy", s->key),
		    LOGF_S("msg", "the provider no longer lists this proxy"));
		break;
	case RECONCILE_RELEASED:
		log_info("proxy.released", LOGF_S("proxy", s->key),
		    LOGF_S("msg", "its release went through"));
		break;
	case RECONCILE_INTENT_OWNED:
	case RECONCILE_INTENT_FAILED:
		log_info("purchase.settled", LOGF_I("intent", s->id),
		    LOGF_S("country", s->country), LOGF_S("outcome",
		    s->action == RECONCILE_INTENT_OWNED ? "owned" : "failed"),
		    LOGF_S("msg", "settled from the provider's listing"));
		break;
	}
}

static void	daemon_setup_finish(struct daemon *d);
static void	daemon_demand_retry_all(struct daemon *d);

/*
 * The provider's listing is compared with the store (reconcile_run) on the
 * store's worker, which then reads every proxy row for the pool.  The
 * listing is copied into the job: the provider's result is gone once its
 * callback returns.
 */
struct daemon_recon_note {
	enum reconcile_action	 action;
	char			 key[PROVIDER_KEY_MAX];
	char			 country[COUNTRY_CODE_LEN];
	int64_t			 id;
};

struct daemon_recon {
	struct daemon		*d;
	char			 provider[32];
	char			 zone[64];
	bool			 have_listing;
	struct provider_proxy	*listing;
	size_t			 nlisting;
	int64_t			 now;
	bool			 log_adopted;
	int			 recon_r;
	struct reconcile_report	 rep;
	struct proxy_row	*rows;
	size_t			 nrows, cap;
	char			 err[STORE_ERROR_LEN];
	/* The steps taken, logged on the loop (copied: keys go away). */
	struct daemon_recon_note *steps;
	size_t			 nsteps, scap;
};

static void
daemon_recon_note(const struct reconcile_step *s, void *arg)
{
	struct daemon_recon		*rj = arg;
	struct daemon_recon_note	*n;

	if (rj->nsteps == DAEMON_RECON_STEPS_MAX)
		return;
	if (rj->nsteps == rj->scap) {
		rj->scap = rj->scap ? rj->scap * 2 : 64;
		rj->steps = xreallocarray(rj->steps, rj->scap,
		    sizeof *rj->steps);
	}
	n = &rj->steps[rj->nsteps++];
	memset(n, 0, sizeof *n);
	n->action = s->action;
	n->id = s->id;
	if (s->key != NULL)
		(void)util_strlcpy(n->key, s->key, sizeof n->key);
	if (s->country != NULL)
		(void)util_strlcpy(n->country, s->country, sizeof n->country);
}

static int
daemon_recon_collect(const struct proxy_row *p, void *arg)
{
	struct daemon_recon	*rj = arg;

	return daemon_rows_collect(p, &rj->rows, &rj->nrows, &rj->cap);
}

static int
daemon_recon_run(struct store *st, void *arg)
{
	struct daemon_recon	*rj = arg;
	int			 r;

	if (rj->have_listing && (rj->recon_r = reconcile_run(st, rj->provider,
	    rj->zone, rj->listing, rj->nlisting, false, rj->now,
	    daemon_recon_note, rj, &rj->rep)) < 0)
		(void)util_strlcpy(rj->err, store_errmsg(st), sizeof rj->err);
	if ((r = store_proxy_list(st, daemon_recon_collect, rj)) < 0 &&
	    rj->err[0] == '\0')
		(void)util_strlcpy(rj->err, store_errmsg(st), sizeof rj->err);
	return r;
}

static void
daemon_recon_free(struct daemon_recon *rj)
{
	free(rj->listing);
	free(rj->steps);
	free(rj->rows);
	free(rj);
}

static void
daemon_recon_applied(int result, void *arg)
{
	struct daemon_recon	*rj = arg;
	struct daemon		*d = rj->d;
	struct reconcile_report	*rep = &rj->rep;
	size_t			 i;

	d->recon_running = false;
	if (d->tearing_down) {
		daemon_recon_free(rj);
		return;
	}
	for (i = 0; i < rj->nsteps; i++) {
		struct reconcile_step	st = { .action = rj->steps[i].action,
			.key = rj->steps[i].key,
			.country = rj->steps[i].country, .id = rj->steps[i].id };

		daemon_recon_step(&st, d);
	}
	if (rj->have_listing) {
		if (rj->recon_r < 0)
			log_error("reconcile.store_failed", LOGF_S("error",
			    rj->err));
		else if (rep->adopted > 0 || rep->lost > 0 ||
		    rep->released > 0 || rep->intents_owned > 0 ||
		    rep->intents_failed > 0)
			log_info("reconcile.done", LOGF_I("listed",
			    rep->listed), LOGF_I("adopted", rep->adopted),
			    LOGF_I("lost", rep->lost),
			    LOGF_I("released", rep->released),
			    LOGF_I("intents_owned", rep->intents_owned),
			    LOGF_I("intents_failed", rep->intents_failed));
	}
	if (result < 0)
		log_error("store.list_failed", LOGF_S("error", rj->err));
	if (d->pool == NULL)
		d->pool = pool_new((int)d->cfg->sessions_per_ip);
	for (i = 0; i < rj->nrows; i++)
		(void)daemon_recon_pool_cb(&rj->rows[i], d);
	daemon_recon_free(rj);
	if (!d->pool_loaded) {
		int64_t	wait = d->registered_mono + DAEMON_FLEET_SETTLE_MS -
			    util_mono_ms();

		d->pool_loaded = true;
		/*
		 * Peers started at the same moment register within this
		 * time, so the first claim already counts them: each takes
		 * its share instead of the first taking everything.
		 */
		if (d->fleet && wait > 0) {
			struct timeval	tv = { wait / 1000,
					    (wait % 1000) * 1000 };

			event_base_once(d->base, -1, EV_TIMEOUT,
			    daemon_setup_finish_cb, d, &tv);
			return;
		}
		daemon_setup_finish(d);
		return;
	}
	daemon_demand_retry_all(d);
}

static void
daemon_recon_done(const struct provider_result *r, void *arg)
{
	struct daemon		*d = arg;
	struct daemon_recon	*rj;

	if (d->tearing_down) {
		d->recon_running = false;
		return;
	}
	if (r->outcome != PROVIDER_OK) {
		/*
		 * Without a listing nothing is adopted or marked lost: the
		 * store's view stands until the next reconciliation.
		 */
		log_error("reconcile.failed", LOGF_S("provider",
		    provider_name(d->provider)), LOGF_S("error", r->message));
		d->recon_failed = true;
		if (d->pool_loaded) {
			d->recon_running = false;
			daemon_demand_retry_all(d);
			return;
		}
	} else {
		d->recon_failed = false;
	}
	/* Still running until the store has answered. */
	rj = xcalloc(1, sizeof *rj);
	rj->d = d;
	(void)util_strlcpy(rj->provider, provider_name(d->provider),
	    sizeof rj->provider);
	(void)util_strlcpy(rj->zone, provider_zone(d->provider),
	    sizeof rj->zone);
	rj->now = util_now_ms();
	if (r->outcome == PROVIDER_OK) {
		rj->have_listing = true;
		rj->nlisting = r->n;
		rj->listing = xcalloc(r->n ? r->n : 1, sizeof *rj->listing);
		if (r->n > 0)
			memcpy(rj->listing, r->proxies, r->n *
			    sizeof *rj->listing);
	}
	if (daemon_submit(d, daemon_recon_run, daemon_recon_applied, rj,
	    "reconcile") < 0) {
		d->recon_running = false;
		daemon_recon_free(rj);
	}
}

static void
daemon_reconcile(struct daemon *d)
{
	int	r;

	if (d->recon_running)
		return;
	d->last_reconcile = util_now_ms();
	if ((r = provider_list(d->provider, daemon_recon_done, d)) < 0) {
		log_error("reconcile.start_failed", LOGF_S("error",
		    strerror(-r)));
		return;
	}
	d->recon_running = true;
}

/*
 * What the store says of proxies this instance does not use itself: a
 * peer may have bought, assigned or released them since our pool was
 * loaded.  Proxies our sessions use stay as the pool knows them.
 */
static int
daemon_pool_refresh_cb(const struct proxy_row *row, void *arg)
{
	struct daemon		*d = arg;
	const struct pool_proxy	*old = pool_get(d->pool, row->id);
	struct pool_proxy	 px;

	if (old == NULL || old->sessions > 0)
		return daemon_recon_pool_cb(row, arg);
	px = *old;
	switch (row->state) {
	case PROXY_ACTIVE:
		px.state = POOL_ACTIVE;
		px.reserved_for = row->session_id;
		break;
	case PROXY_IDLE:
		px.state = POOL_IDLE;
		px.reserved_for = 0;
		px.idle_since = row->idle_since;
		break;
	case PROXY_RELEASING:
		px.state = POOL_RELEASING;
		break;
	case PROXY_RELEASED:
		px.state = POOL_RELEASED;
		break;
	default:
		px.state = POOL_LOST;
		break;
	}
	pool_put(d->pool, &px);
	return 0;
}

/* The pool refreshed from the store's rows, read by the worker. */
struct daemon_rows {
	struct daemon		*d;
	struct proxy_row	*rows;
	size_t			 n, cap;
	char			 err[STORE_ERROR_LEN];
};

static int
daemon_rows_collect_cb(const struct proxy_row *p, void *arg)
{
	struct daemon_rows	*rs = arg;

	return daemon_rows_collect(p, &rs->rows, &rs->n, &rs->cap);
}

static int
daemon_rows_run(struct store *st, void *arg)
{
	struct daemon_rows	*rs = arg;
	int			 r;

	if ((r = store_proxy_list(st, daemon_rows_collect_cb, rs)) < 0)
		(void)util_strlcpy(rs->err, store_errmsg(st), sizeof rs->err);
	return r;
}

static void
daemon_rows_done(int result, void *arg)
{
	struct daemon_rows	*rs = arg;
	struct daemon		*d = rs->d;
	size_t			 i;

	if (!d->tearing_down && d->pool != NULL) {
		if (result < 0)
			log_error("store.list_failed", LOGF_S("error",
			    rs->err));
		for (i = 0; i < rs->n; i++)
			(void)daemon_pool_refresh_cb(&rs->rows[i], d);
	}
	free(rs->rows);
	free(rs);
}

static void
daemon_pool_refresh(struct daemon *d)
{
	struct daemon_rows	*rs;

	if (d->pool == NULL)
		return;
	rs = xcalloc(1, sizeof *rs);
	rs->d = d;
	if (daemon_submit(d, daemon_rows_run, daemon_rows_done, rs,
	    "pool_refresh") < 0)
		free(rs);
}

static int
daemon_mkdirs(const struct config *cfg)
{
	static const char *const sub[] = { "", "/sessions", "/logs" };
	char	path[DAEMON_PATH_MAX];
	size_t	i;

	for (i = 0; i < nitems(sub); i++) {
		snprintf(path, sizeof path, "%s%s", cfg->state_dir, sub[i]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			log_error("daemon.state_dir_failed", LOGF_S("dir", path),
			    LOGF_S("error", strerror(errno)));
			return -errno;
		}
	}
	return 0;
}

static int
daemon_setup(struct daemon *d)
{
	struct instance		 inst = { 0 };
	struct daemon_crash	 cr = { .d = d };
	char			 err[STORE_ERROR_LEN], perr[PROVIDER_ERR_LEN];
	char			 path[DAEMON_PATH_MAX], dbshown[512];
	uint32_t		 rnd;
	int			 i, dead = 0, deleted = 0, r;

	if (gethostname(d->hostname, sizeof d->hostname) < 0)
		(void)util_strlcpy(d->hostname, "localhost", sizeof d->hostname);
	d->hostname[sizeof d->hostname - 1] = '\0';
	if (getrandom(&d->rng, sizeof d->rng, 0) != sizeof d->rng)
		d->rng = (uint64_t)util_now_ms() ^ (uint64_t)getpid() << 32;
	d->rng |= 1;
	rnd = (uint32_t)d->rng;
	snprintf(d->instance_id, sizeof d->instance_id, "%.40s-%d-%lld-%08x",
	    d->hostname, (int)getpid(), (long long)util_now_ms(), rnd);

	{
		const char	*why;

		d->billing = (struct billing_model)BILLING_MODEL_DEFAULT;
		d->billing.unit = strcmp(d->cfg->billing_unit, "month") == 0 ?
		    BILLING_UNIT_MONTH : strcmp(d->cfg->billing_unit, "hour") ==
		    0 ? BILLING_UNIT_HOUR : BILLING_UNIT_DAY;
		d->billing.boundary_hour_utc = (int)d->cfg->billing_boundary_hour;
		d->billing.price_micros_per_ip_month =
		    d->cfg->ip_month_price_micros;
		d->release = (struct billing_policy)BILLING_POLICY_DEFAULT;
		d->release.kind = strcmp(d->cfg->release_policy, "keep") == 0 ?
		    BILLING_KEEP : strcmp(d->cfg->release_policy,
		    "idle-timeout") == 0 ? BILLING_IDLE_TIMEOUT : BILLING_AWARE;
		d->release.margin_ms = d->cfg->release_margin_ms;
		d->release.idle_timeout_ms = d->cfg->idle_timeout_ms;
		d->limits.daily_spend_max_micros =
		    d->cfg->daily_spend_limit_micros;
		d->limits.purchases_max = (int)d->cfg->purchases_max;
		d->limits.window_ms = d->cfg->purchase_window_ms;
		if (billing_model_check(&d->billing, &why) < 0 ||
		    billing_policy_check(&d->release, &d->billing, &why) < 0) {
			log_error("daemon.billing_invalid", LOGF_S("error", why));
			return -EINVAL;
		}
		d->purchase_times = xcalloc(DAEMON_PURCHASE_LOG,
		    sizeof *d->purchase_times);
	}
	if (fallback_override_parse(d->cfg->fallback_overrides, &d->fallback,
	    perr, sizeof perr) < 0) {
		log_error("daemon.fallback_failed", LOGF_S("error", perr));
		return -EINVAL;
	}
	if (argv_split(d->cfg->connector, &d->connector_argv) < 0) {
		log_error("daemon.no_connector", LOGF_S("msg",
		    "RESPAWN_CONNECTOR must name the connector command"));
		return -EINVAL;
	}
	if (strcmp(d->cfg->provider, "brightdata") == 0) {
		r = provider_bd_open(d->base, d->cfg, &d->provider, perr);
	} else if (d->cfg->static_proxies[0] == '\0') {
		log_error("daemon.no_proxies", LOGF_S("msg",
		    "RESPAWN_STATIC_PROXIES must name the proxy list file"));
		return -EINVAL;
	} else {
		r = provider_static_open(d->base, d->cfg->static_proxies,
		    &d->provider, perr);
	}
	if (r < 0) {
		log_error("daemon.provider_failed", LOGF_S("error", perr));
		return r;
	}
	if ((r = daemon_mkdirs(d->cfg)) < 0)
		return r;
	if ((r = store_open(d->cfg->db, &d->store, err)) < 0) {
		log_error("daemon.store_failed", LOGF_S("error", err));
		return r;
	}
	d->fleet = strcmp(store_backend(d->store), "postgresql") == 0;
	(void)store_set_lease(d->store, d->cfg->lease_ms);
	/*
	 * In fleet mode the loop never waits for the database: once the
	 * loop runs, every store call goes through a worker thread with a
	 * connection of its own.  On SQLite jobs run inline.
	 */
	if ((r = storeq_new(d->base, d->fleet ? d->cfg->db : NULL, d->store,
	    &d->q, err)) < 0) {
		log_error("daemon.store_failed", LOGF_S("error", err));
		return r;
	}
	/* posix_spawn waits for the child's exec: not on the loop either. */
	if ((r = storeq_new_thread(d->base, &d->spawner, err)) < 0) {
		log_error("daemon.spawner_failed", LOGF_S("error", err));
		return r;
	}

	/* Tell a crash from a graceful shutdown, then clean up old instances. */
	(void)store_instance_list(d->store, daemon_crash_cb, &cr);
	memcpy(d->crashed, cr.ids, sizeof d->crashed);
	d->ncrashed = cr.nids;
	for (i = 0; i < cr.nids; i++) {
		log_warn("instance.crashed", LOGF_S("instance", cr.ids[i]),
		    LOGF_S("msg", "previous instance on this host stopped "
		    "without a graceful shutdown"));
		(void)store_instance_set_status(d->store, cr.ids[i],
		    INSTANCE_DEAD, util_now_ms());
	}
	if (store_instance_reap(d->store, d->instance_id, util_now_ms(),
	    DAEMON_STALE_MS(d), DAEMON_DEAD_KEEP_MS, &dead, &deleted) == 0 &&
	    (dead > 0 || deleted > 0))
		log_info("instance.cleanup", LOGF_I("marked_dead", dead),
		    LOGF_I("deleted", deleted));
	inst.pid = getpid();
	inst.started_at = util_now_ms();
	inst.status = INSTANCE_STARTING;
	(void)util_strlcpy(inst.id, d->instance_id, sizeof inst.id);
	(void)util_strlcpy(inst.hostname, d->hostname, sizeof inst.hostname);
	if ((r = store_instance_register(d->store, &inst)) < 0) {
		log_error("store.register_failed",
		    LOGF_S("error", store_errmsg(d->store)));
		return r;
	}
	d->last_heartbeat = util_now_ms();
	d->heartbeat_ok_at = d->last_heartbeat;
	d->lease_ok_mono = d->registered_mono = util_mono_ms();
	util_redact_url(d->cfg->db, dbshown, sizeof dbshown);
	log_info("daemon.started", LOGF_S("instance", d->instance_id),
	    LOGF_S("version", RESPAWN_VERSION), LOGF_S("db", dbshown),
	    LOGF_B("fleet", d->fleet));

	snprintf(path, sizeof path, "%s/notify.sock", d->cfg->state_dir);
	if ((r = notify_open(path, &d->notify)) < 0) {
		log_error("daemon.notify_failed", LOGF_S("path", path),
		    LOGF_S("error", strerror(-r)));
		return r;
	}
	{
		char	oerr[512];

		if ((r = daemon_ops_start(d, oerr, sizeof oerr)) < 0) {
			log_error("daemon.api_failed", LOGF_S("error", oerr));
			return r;
		}
	}
	if (d->fleet) {
		struct lease_params	lp = {
			.db = d->cfg->db,
			.instance_id = d->instance_id,
			.period_ms = DAEMON_HEARTBEAT_MS(d),
			.deadline_ms = DAEMON_RENEW_DEADLINE_MS(d),
			.lease_ms = d->cfg->lease_ms,
		};

		if ((r = lease_start(&lp, &d->lease, err)) < 0) {
			log_error("daemon.lease_failed", LOGF_S("error", err));
			return r;
		}
		d->lease_ok_mono = lease_renewed_mono(d->lease);
		daemon_wake_watch(d);
	}

	(void)util_strlcpy(d->run.instance_id, d->instance_id,
	    sizeof d->run.instance_id);
	d->run.started_at = util_now_ms();
	(void)util_strlcpy(d->run.cause, cr.crashed > 0 ? "crash" : "graceful",
	    sizeof d->run.cause);
	log_info("recovery.starting", LOGF_S("msg",
	    "starting session recovery after server restart"),
	    LOGF_S("cause", d->run.cause));
	/* The rest follows the provider's listing (daemon_setup_finish). */
	daemon_reconcile(d);
	return d->recon_running ? 0 : -EIO;
}

static void
daemon_setup_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;

	if (!d->stopping)
		daemon_setup_finish(d);
}

/* Second half of the start, once the pool matches the provider. */
static void
daemon_setup_finish(struct daemon *d)
{
	daemon_sync_request(d, true, false);
}

/* The start-up recovery cannot read the sessions: nothing to do but stop. */
static void
daemon_setup_failed(struct daemon *d)
{
	log_error("daemon.recovery_failed", LOGF_S("msg",
	    "cannot read the sessions; stopping"));
	d->stopping = true;
	event_base_loopexit(d->base, NULL);
}

/* The start-up sync was applied: the recovery runs. */
static void
daemon_setup_continue(struct daemon *d)
{
	if (d->run.sessions_total == 0)
		log_info("recovery.nothing", LOGF_S("msg",
		    "no active sessions to recover"));
	else
		d->run_open = true;
	daemon_store_instance_status(d, INSTANCE_RUNNING);
	sdnotify_send("READY=1\nSTATUS=recovering sessions");
	daemon_admit(d);
	if (d->run_open && d->run_pending == 0)
		d->run_open = false;
	d->setup_done = true;
	/* Asked for while the start-up sync was in flight. */
	if (d->sync_again && !d->stopping) {
		bool	share = d->sync_share;

		d->sync_again = d->sync_share = false;
		daemon_sync_request(d, false, share);
	}
}

/* The API changed the store: act on it now rather than at the next tick. */
void
daemon_sync_now(struct daemon *d)
{
	if (d->stopping || !d->setup_done)
		return;
	daemon_sync_request(d, false, false);
}

static void
daemon_teardown(struct daemon *d)
{
	struct dsession	*ds;
	size_t		 i;

	/*
	 * The provider first: freeing it calls back every operation still in
	 * flight (purchases, releases, a listing), and those callbacks must
	 * find the daemon whole; tearing_down makes them do nothing.
	 */
	d->tearing_down = true;
	provider_free(d->provider);
	d->provider = NULL;
	/*
	 * Then the store's worker: the results it still holds find
	 * tearing_down set, and the API's answers still have a server.
	 */
	storeq_free(d->q);
	d->q = NULL;
	/* Connectors started and not yet answered are killed there. */
	storeq_free(d->spawner);
	d->spawner = NULL;
	while ((ds = TAILQ_FIRST(&d->all)) != NULL) {
		TAILQ_REMOVE(&d->all, ds, link);
		daemon_session_free(ds);
	}
	if (d->ev_notify != NULL)
		event_free(d->ev_notify);
	if (d->ev_tick != NULL)
		event_free(d->ev_tick);
	if (d->ev_admit != NULL)
		event_free(d->ev_admit);
	if (d->ev_sigterm != NULL)
		event_free(d->ev_sigterm);
	if (d->ev_sigint != NULL)
		event_free(d->ev_sigint);
	if (d->ev_sigchld != NULL)
		event_free(d->ev_sigchld);
	if (d->ev_sigusr2 != NULL)
		event_free(d->ev_sigusr2);
	lease_stop(d->lease);
	if (d->ev_wake != NULL)
		event_free(d->ev_wake);
	daemon_ops_stop(d);
	notify_close(d->notify);
	for (i = 0; i < nitems(d->demand); i++)
		daemon_demand_free(d->demand[i]);
	pool_free(d->pool);
	fallback_overrides_free(d->fallback);
	store_close(d->store);
	intmap_free(d->by_id);
	intmap_free(d->by_pid);
	argv_free(d->connector_argv);
	free(d->queue);
	free(d->purchase_times);
	if (d->base != NULL)
		event_base_free(d->base);
}

/*
 * The last writes of a graceful stop: every session given up (marked
 * gracefully stopped unless handed over) and the instance stopped.  They
 * go through the worker too, after everything it still holds, and on its
 * connection, the one known to work (the loop's may have been idle since
 * the database last restarted).
 */
struct daemon_bye {
	char	self[STORE_ID_LEN];
	bool	graceful;
	char	err[STORE_ERROR_LEN];
	int	result;
	bool	done;
};

static int
daemon_bye_run(struct store *st, void *arg)
{
	struct daemon_bye	*b = arg;
	int64_t			 now = util_now_ms();
	int			 r;

	if ((r = store_session_release_all(st, b->self, b->graceful,
	    now)) < 0 || (r = store_instance_set_status(st, b->self,
	    INSTANCE_STOPPED, now)) < 0)
		(void)util_strlcpy(b->err, store_errmsg(st), sizeof b->err);
	return r;
}

static void
daemon_bye_done(int result, void *arg)
{
	struct daemon_bye	*b = arg;

	b->result = result;
	b->done = true;
}

static int
daemon_goodbye(struct daemon *d)
{
	struct daemon_bye	b = { .graceful = !d->handover,
				    .result = -ETIMEDOUT };

	(void)util_strlcpy(b.self, d->instance_id, sizeof b.self);
	/*
	 * First what is queued, and what its answers queue in turn (an
	 * acquisition undone gives its proxy back): all before the goodbye.
	 */
	if (storeq_drain(d->q, DAEMON_DRAIN_MS) < 0)
		log_warn("store.drain_slow", LOGF_I("ms", DAEMON_DRAIN_MS));
	if (storeq_submit(d->q, daemon_bye_run, daemon_bye_done, &b) < 0) {
		log_error("store.shutdown_failed", LOGF_S("error",
		    "the store's queue is full"));
		return -ENOBUFS;
	}
	if (storeq_drain(d->q, DAEMON_DRAIN_MS) < 0 || !b.done) {
		log_error("store.drain_timeout", LOGF_I("ms", DAEMON_DRAIN_MS),
		    LOGF_S("msg", "writes still queued are abandoned"));
		/* The worker must not write into b once this returns. */
		storeq_free(d->q);
		d->q = NULL;
		return -ETIMEDOUT;
	}
	if (b.result < 0) {
		log_error("store.shutdown_failed", LOGF_S("error", b.err));
		return b.result;
	}
	return 0;
}

/*
 * The loop: after DAEMON_DISPATCH_MS of callbacks in one pass it polls its
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
	struct daemon	 d = { .cfg = cfg, .wake_fd = -1 };
	struct timeval	 tick = { DAEMON_TICK_MS / 1000,
			    (DAEMON_TICK_MS % 1000) * 1000 };
	int		 ex = 0;

	/* Descriptors inherited without close-on-exec must not reach connectors. */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	sdnotify_init();
	signal(SIGPIPE, SIG_IGN);
	TAILQ_INIT(&d.all);
	d.by_id = intmap_new();
	d.by_pid = intmap_new();
	d.sp = (struct supervise_params){
		.ready_timeout_ms = cfg->ready_timeout_ms,
		.watchdog_ms = cfg->watchdog_ms,
		.stop_timeout_ms = cfg->stop_timeout_ms,
		.backoff_base_ms = cfg->reconnect_delay_ms,
		.backoff_cap_ms = DAEMON_BACKOFF_CAP_MS,
		.proxy_wait_ms = DAEMON_PROXY_WAIT_MS,
		.stable_ms = DAEMON_STABLE_MS,
		.max_attempts = (int)cfg->max_reconnect_attempts,
		.start_burst = DAEMON_START_BURST,
		.start_interval_ms = DAEMON_START_INTERVAL_MS,
		.auto_restart = cfg->auto_reconnect,
	};
	if ((d.base = daemon_event_base()) == NULL) {
		log_error("daemon.event_base_failed");
		daemon_teardown(&d);
		return 71;
	}
	d.ev_admit = event_new(d.base, -1, 0, daemon_admit_cb, &d);
	/* Signals are events; SIGCHLD must be caught before any spawn. */
	d.ev_sigusr2 = evsignal_new(d.base, SIGUSR2, daemon_signal_cb, &d);
	evsignal_add(d.ev_sigusr2, NULL);
	d.ev_sigchld = evsignal_new(d.base, SIGCHLD, daemon_sigchld_cb, &d);
	d.ev_sigterm = evsignal_new(d.base, SIGTERM, daemon_signal_cb, &d);
	d.ev_sigint = evsignal_new(d.base, SIGINT, daemon_signal_cb, &d);
	evsignal_add(d.ev_sigchld, NULL);
	evsignal_add(d.ev_sigterm, NULL);
	evsignal_add(d.ev_sigint, NULL);
	if (daemon_setup(&d) < 0) {
		daemon_teardown(&d);
		return 78;
	}
	d.ev_notify = event_new(d.base, notify_fd(d.notify),
	    EV_READ | EV_PERSIST, daemon_notify_cb, &d);
	event_add(d.ev_notify, NULL);
	d.ev_tick = event_new(d.base, -1, EV_PERSIST, daemon_tick_cb, &d);
	event_add(d.ev_tick, &tick);
	event_base_dispatch(d.base);

	/* No renewal after this: the status written below is final. */
	lease_stop(d.lease);
	d.lease = NULL;
	if (d.fenced) {
		/* Not ours any more: nothing is written for the sessions. */
		log_error("daemon.fenced", LOGF_S("instance", d.instance_id),
		    LOGF_S("msg", "stopped every connector and purchase; exit "
		    "for a restart under a new instance id"));
		daemon_teardown(&d);
		return DAEMON_EXIT_FENCED;
	}
	/*
	 * Stopped by a signal: every connector has exited, or is handed
	 * over.  What the worker still holds is written first, in order.
	 */
	if (daemon_goodbye(&d) < 0)
		ex = 74;
	log_info("daemon.stopped", LOGF_S("instance", d.instance_id),
	    LOGF_B("handover", d.handover), LOGF_I("spawns", d.spawns),
	    LOGF_I("adopted", d.adopted),
	    LOGF_I("notify_dropped", d.notify_dropped));
	daemon_teardown(&d);
	return ex;
}
