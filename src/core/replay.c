/*
 * A trace replayed through the pool and the sweep: see replay.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "core/pool.h"
#include "core/replay.h"
#include "core/sweep.h"

enum replay_ev_type { REPLAY_DISCONNECT, REPLAY_CONNECT };

struct replay_ev {
	int64_t	t;
	size_t	phone;
	uint8_t	type;
	bool	restart;	/* the connect after, or the end by, a restart */
};

/* What the store would know of a phone, kept in memory. */
struct replay_phone {
	bool	seen;
	int64_t	proxy;				/* in use or last used */
	int64_t	history[POOL_MAX_HISTORY];	/* newest first */
	size_t	nhistory;
	int64_t	gaps[BILLING_HISTORY_MAX];	/* newest first */
	size_t	ngaps;
	int64_t	stopped_at;
};

struct replay {
	const struct trace		*t;
	const struct replay_config	*cfg;
	struct pool			*pool;
	struct replay_phone		*phones;
	int64_t				*bought_at;	/* by proxy id */
	int64_t				*released_at;	/* 0: held */
	size_t				 nproxies, cap;
	int64_t				 now;		/* the sweep's */
	struct replay_result		 res;
};

static int
replay_ev_cmp(const void *a, const void *b)
{
	const struct replay_ev	*x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	/* At one instant, disconnects first: the freed IP may serve. */
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->phone < y->phone ? -1 : x->phone > y->phone;
}

/* Each interval's connect and disconnect, in time order. */
static struct replay_ev *
replay_events(const struct trace *t, size_t *ret_n)
{
	const struct trace_interval	*iv;
	struct replay_ev		*ev;
	bool				*after_restart;
	size_t				 i, n = 0;

	ev = xcalloc(2 * trace_nintervals(t), sizeof *ev);
	after_restart = xcalloc(trace_nphones(t) + 1, sizeof *after_restart);
	/* Intervals come by start time, so a phone's come in order. */
	for (i = 0; i < trace_nintervals(t); i++) {
		iv = trace_interval_at(t, i);
		ev[n++] = (struct replay_ev){ iv->start, iv->phone,
		    REPLAY_CONNECT, after_restart[iv->phone] };
		ev[n++] = (struct replay_ev){ iv->end, iv->phone,
		    REPLAY_DISCONNECT, iv->restart };
		after_restart[iv->phone] = iv->restart;
	}
	free(after_restart);
	qsort(ev, n, sizeof *ev, replay_ev_cmp);
	*ret_n = n;
	return ev;
}

/* The provider's answer to a purchase: a new IP of that country, now. */
static int64_t
replay_buy(struct replay *rp, const char *country, int64_t now)
{
	struct pool_proxy	px = { 0 };

	if (rp->nproxies + 1 >= rp->cap) {
		rp->cap = rp->cap ? rp->cap * 2 : 1024;
		rp->bought_at = xreallocarray(rp->bought_at, rp->cap,
		    sizeof *rp->bought_at);
		rp->released_at = xreallocarray(rp->released_at, rp->cap,
		    sizeof *rp->released_at);
	}
	px.id = (int64_t)++rp->nproxies;
	snprintf(px.ip, sizeof px.ip, "198.18.%zu.%zu", rp->nproxies / 256,
	    rp->nproxies % 256);
	(void)util_strlcpy(px.country, country, sizeof px.country);
	px.state = POOL_IDLE;
	px.listed = true;
	px.purchased_at = now;
	px.idle_since = now;
	pool_put(rp->pool, &px);
	rp->bought_at[px.id] = now;
	rp->released_at[px.id] = 0;
	rp->res.purchases++;
	return px.id;
}

/* What store_proxy_history would answer: the proxy goes first. */
static void
replay_remember(struct replay_phone *ph, int64_t id)
{
	size_t	i, n = ph->nhistory;

	for (i = 0; i < n; i++)
		if (ph->history[i] == id)
			break;
	if (i == n && n < POOL_MAX_HISTORY)
		ph->nhistory = ++n;
	if (i == n)
		i = n - 1;
	memmove(ph->history + 1, ph->history, i * sizeof *ph->history);
	ph->history[0] = id;
}

static void
replay_connect(struct replay *rp, const struct replay_ev *ev)
{
	const struct trace_phone	*tp = trace_phone_at(rp->t, ev->phone);
	struct replay_phone		*ph = &rp->phones[ev->phone];
	struct pool_request		 req = { 0 };
	struct pool_choice		 ch;
	int64_t				 session = (int64_t)ev->phone + 1;
	size_t				 i;

	/* The start's gap, as store_phone_gaps gives it (not a restart). */
	if (ph->seen && !ev->restart) {
		memmove(ph->gaps + 1, ph->gaps, (BILLING_HISTORY_MAX - 1) *
		    sizeof *ph->gaps);
		ph->gaps[0] = ev->t - ph->stopped_at;
		if (ph->ngaps < BILLING_HISTORY_MAX)
			ph->ngaps++;
	}
	req.session_id = session;
	req.phone = tp->phone;
	req.country = tp->country;
	req.can_purchase = true;
	for (i = 0; i < ph->nhistory; i++)
		req.history[i] = ph->history[i];
	req.nhistory = ph->nhistory;
	pool_choose(rp->pool, &req, ev->t, &ch);
	if (ch.kind == POOL_PURCHASE) {
		(void)replay_buy(rp, ch.country, ev->t);
		/* As the daemon does: the session chooses again. */
		pool_choose(rp->pool, &req, ev->t, &ch);
	}
	if ((ch.kind != POOL_REACTIVATE && ch.kind != POOL_REUSE) ||
	    pool_attach(rp->pool, ch.proxy_id, session) < 0) {
		rp->res.waits++;
		ph->proxy = 0;
		return;
	}
	if (ch.displaced != 0)
		rp->res.displaced++;
	if (ph->seen) {
		bool	changed = ph->proxy != ch.proxy_id;

		rp->res.reconnects++;
		rp->res.changed += changed;
		if (ev->restart) {
			rp->res.restart_reconnects++;
			rp->res.restart_changed += changed;
		}
	}
	ph->seen = true;
	ph->proxy = ch.proxy_id;
	replay_remember(ph, ch.proxy_id);
}

static void
replay_disconnect(struct replay *rp, const struct replay_ev *ev)
{
	struct replay_phone	*ph = &rp->phones[ev->phone];
	int64_t			 back_by = 0;

	if (ph->proxy == 0)
		return;
	ph->stopped_at = ev->t;
	/* A restart keeps the IP reserved; a stop holds it a while. */
	if (!ev->restart)
		back_by = billing_expect_back(&rp->cfg->policy, ph->gaps,
		    ph->ngaps, ev->t);
	(void)pool_detach(rp->pool, ph->proxy, ev->t, ev->restart, back_by);
}

static void
replay_release_cb(const struct pool_proxy *px, enum billing_reason why,
    void *arg)
{
	struct replay		*rp = arg;
	struct pool_proxy	 gone = *px;

	(void)why;
	/* Given back at once: the provider's answer is not in question. */
	gone.state = POOL_RELEASED;
	pool_put(rp->pool, &gone);
	rp->released_at[px->id] = rp->now;
}

int
replay_run(const struct trace *t, const struct replay_config *cfg,
    struct replay_result *ret)
{
	struct replay		 rp = { .t = t, .cfg = cfg };
	struct pool_config	 pc = { 0 };
	struct replay_ev	*ev;
	const char		*why;
	int64_t			 from, to, now, units, c, end;
	size_t			 nev, e = 0, i;

	if (billing_model_check(&cfg->model, &why) < 0 ||
	    billing_policy_check(&cfg->policy, &cfg->model, &why) < 0 ||
	    trace_nintervals(t) == 0)
		return -EINVAL;
	pc.sessions_per_ip = cfg->sessions_per_ip;
	pc.hold = cfg->policy.kind == BILLING_STABLE;
	pc.purchase_micros = billing_unit_price(&cfg->model);
	pc.change_micros = cfg->policy.change_cost_micros;
	rp.pool = pool_new(&pc);
	rp.phones = xcalloc(trace_nphones(t), sizeof *rp.phones);
	ev = replay_events(t, &nev);
	trace_span(t, &from, &to);
	/* Ticks on the minute, as a daemon started at some minute would. */
	for (now = from - from % REPLAY_TICK_MS; now <= to;
	    now += REPLAY_TICK_MS) {
		for (; e < nev && ev[e].t <= now; e++) {
			if (ev[e].type == REPLAY_CONNECT)
				replay_connect(&rp, &ev[e]);
			else
				replay_disconnect(&rp, &ev[e]);
		}
		rp.now = now;
		(void)sweep_run(rp.pool, &cfg->model, &cfg->policy, NULL, now,
		    replay_release_cb, &rp);
	}
	/* What was held to the end of the trace is paid to its end. */
	end = to;
	for (i = 1; i <= rp.nproxies; i++) {
		int64_t	rel = rp.released_at[i] > 0 ? rp.released_at[i] : end;

		if (billing_units(&cfg->model, rp.bought_at[i], rel,
		    &units) < 0 || billing_cost(&cfg->model, rp.bought_at[i],
		    rel, &c) < 0) {
			units = 0;
			c = 0;
		}
		rp.res.ip_units += units;
		rp.res.cost_micros += c;
	}
	*ret = rp.res;
	free(ev);
	free(rp.phones);
	free(rp.bought_at);
	free(rp.released_at);
	pool_free(rp.pool);
	return 0;
}

/* --- the bounds ---------------------------------------------------------- */

int
replay_bounds(const struct trace *t, const struct billing_model *m,
    struct replay_bounds *ret)
{
	struct replay_ev	*ev;
	int			*cur, *peak, *country, *online;
	int64_t			*last_day, day, d, limit = 0, floor = 0;
	int64_t			 from, to, day0, days;
	const char		*why;
	size_t			 nev, i;
	int			 c;

	if (billing_model_check(m, &why) < 0 || trace_nintervals(t) == 0)
		return -EINVAL;
	trace_span(t, &from, &to);
	if (billing_day_start(m, from, &day0) < 0)
		return -EINVAL;
	days = (to - 1 - day0) / BILLING_DAY_MS + 1;
	cur = xcalloc(COUNTRY_INDEX_MAX, sizeof *cur);
	peak = xcalloc(COUNTRY_INDEX_MAX, sizeof *peak);
	country = xcalloc(trace_nphones(t), sizeof *country);
	last_day = xcalloc(trace_nphones(t), sizeof *last_day);
	online = xcalloc(trace_nphones(t), sizeof *online);
	for (i = 0; i < trace_nphones(t); i++) {
		country[i] = country_index(trace_phone_at(t, i)->country);
		last_day[i] = -1;
	}
	ev = replay_events(t, &nev);
	day = 0;
	for (i = 0; i <= nev; i++) {
		d = i < nev ? (ev[i].t - day0) / BILLING_DAY_MS : days;
		while (day < d) {
			size_t	k;

			/* A new day starts with those still connected. */
			for (c = 0; c < COUNTRY_INDEX_MAX; c++) {
				limit += peak[c];
				peak[c] = cur[c];
			}
			day++;
			for (k = 0; k < trace_nphones(t) && day < days; k++)
				if (online[k] > 0) {
					last_day[k] = day;
					floor++;
				}
		}
		if (i == nev)
			break;
		c = country[ev[i].phone];
		if (ev[i].type == REPLAY_CONNECT) {
			cur[c]++;
			online[ev[i].phone]++;
			if (last_day[ev[i].phone] != day) {
				last_day[ev[i].phone] = day;
				floor++;
			}
		} else {
			cur[c]--;
			online[ev[i].phone]--;
		}
		if (cur[c] > peak[c])
			peak[c] = cur[c];
	}
	ret->limit = limit;
	ret->floor = floor;
	ret->days = days;
	free(ev);
	free(cur);
	free(peak);
	free(country);
	free(last_day);
	free(online);
	return 0;
}
