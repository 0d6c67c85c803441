/*
 * Cost simulator: what each release policy of core/billing.c costs on a
 * 30-day trace of 1,000 phones, against the lower bound, and how many
 * reconnects keep their IP.
 *
 * The trace is generated from a seed, so every run with the same seed
 * prints the same figures.  It mixes:
 *
 *   - always-on phones: online all the time but for network drops (most
 *     of a few minutes, some of hours, a few of days);
 *   - intermittent phones: on for 1-8 hours, off for 5 minutes to 2 hours
 *     (or until the local morning, at night), several times a day;
 *   - churning numbers: a number lives 1-10 days (always-on or
 *     intermittent), leaves for good, and a new number, perhaps of another
 *     country, takes its place after up to 2 days;
 *   - a daily deploy at 03:00 UTC: every connected session drops and
 *     reconnects 1-20 seconds later, its IP reserved for it meanwhile
 *     (the daemon keeps assignments over restarts under every policy).
 *
 * Each policy replays the same trace through the same simple pool: a
 * phone gets its previous IP if it is still held and free, else an idle IP
 * of its country (one whose last phone is not expected back first, then
 * the longest idle), else a purchase.  Every minute the pool asks
 * billing_decide about each idle IP due for a look.  The "affinity pool"
 * rows change one thing in the pool: an idle IP still held for a phone
 * expected back (billing_owner_expected) is offered to no other phone; a
 * phone finding none buys.  The demand rows pass, per country, the new
 * numbers of the last 24 hours as expected demand.  An IP costs what
 * billing_cost says for its allocation; the lower bound is the sum over
 * days of each day's peak of phones connected at once, times the price of
 * a day (BRIEF section 5), and, tighter because an IP serves one country,
 * the same sum taken per country.
 *
 * usage: cost [-s SEED] [-p PHONES] [-d DAYS] [-c COUNTRIES]
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/billing.h"

#define COST_PHONES_DEFAULT	1000
#define COST_PHONES_MAX		100000
#define COST_DAYS_DEFAULT	30
#define COST_DAYS_MAX		365
#define COST_COUNTRIES		20
#define COST_RUNS		8	/* policies compared */
#define COST_TICK_MS		(60 * INT64_C(1000))
#define COST_DEPLOY_HOUR	3
#define COST_SEC		INT64_C(1000)
#define COST_MIN		(60 * COST_SEC)
#define COST_H			BILLING_HOUR_MS
#define COST_DAY		BILLING_DAY_MS
/* 2026-03-02 00:00 UTC, a Monday: where the trace starts. */
#define COST_T0			(INT64_C(1772409600) * COST_SEC)
/* 3.00 a month per IP: only ratios matter, the price sets the scale. */
#define COST_PRICE		INT64_C(3000000)

/* Shares of phone slots, in percent. */
#define COST_ALWAYS_PCT		50
#define COST_INTERMITTENT_PCT	35	/* the rest churn */

enum cost_kind { COST_ALWAYS, COST_INTERMITTENT, COST_CHURN };
enum cost_ev_type { COST_DISCONNECT, COST_CONNECT };

struct cost_ev {
	int64_t	t;
	int	phone;
	uint8_t	type;
	bool	restart;	/* a deploy: the IP is reserved meanwhile */
};

struct cost_phone {
	int	country;
	int	kind;
	/* Replay state, reset for each policy. */
	bool	seen;
	int	prev_ip;
	int64_t	idle_since;
	int64_t	gaps[BILLING_HISTORY_MAX];	/* newest first */
	size_t	ngaps;
};

struct cost_ip {
	int	country;
	int64_t	alloc;
	int64_t	released;	/* -1 while held */
	int	user;		/* phone using it, or -1 */
	int	reserved;	/* phone it is kept for over a deploy, or -1 */
	int	owner;		/* phone that used it last, or -1 */
	int64_t	idle_since;
	int64_t	recheck;
};

struct cost_trace {
	struct cost_phone	*phones;
	size_t			 nphones;
	struct cost_ev		*evs;
	size_t			 nevs, cap;
	int64_t			 end;
	int			 days;
};

struct cost_result {
	int64_t	cost;
	int64_t	purchases;
	int64_t	reconnects, same;
	int64_t	restart_reconnects, restart_same;
	int64_t	lost_released, lost_taken;	/* why an IP changed */
	int64_t	ip_days;
};

struct cost_run {
	const char		*name;
	struct billing_policy	 policy;
	bool			 demand;
	bool			 affinity_pool;	/* skip IPs kept for others */
};

/* UTC offsets of the simulated countries, in hours, for their nights. */
static const int cost_utc_offset[COST_COUNTRIES] = {
	-3, 5, 1, 3, -5, 7, 0, 1, 2, -6, 8, 3, 1, -4, 4, 1, 9, 2, -3, 0,
};

static uint64_t cost_rng_state;
/* Countries in use, at most COST_COUNTRIES (-c). */
static int cost_ncountries = COST_COUNTRIES;

/* splitmix64: small, fast and good enough for a trace. */
static uint64_t
cost_rand(void)
{
	uint64_t z = (cost_rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int64_t
cost_uniform(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(cost_rand() % (uint64_t)(hi - lo + 1));
}

static bool
cost_chance(int pct)
{
	return (int)(cost_rand() % 100) < pct;
}

static void *
cost_alloc(size_t n, size_t size)
{
	void	*p = calloc(n, size);

	if (p == NULL) {
		fprintf(stderr, "cost: out of memory\n");
		exit(1);
	}
	return p;
}

/* Countries by a Zipf-like weight: a few big ones, a long tail. */
static int
cost_pick_country(void)
{
	int64_t	total = 0, x;
	int	c;

	for (c = 0; c < cost_ncountries; c++)
		total += 1000 / (c + 1);
	x = cost_uniform(0, total - 1);
	for (c = 0; c < cost_ncountries; c++) {
		x -= 1000 / (c + 1);
		if (x < 0)
			return c;
	}
	return cost_ncountries - 1;
}

static void
cost_push(struct cost_trace *tr, int64_t t, int phone, int type, bool restart)
{
	if (tr->nevs == tr->cap) {
		tr->cap = tr->cap == 0 ? 4096 : tr->cap * 2;
		tr->evs = realloc(tr->evs, tr->cap * sizeof(*tr->evs));
		if (tr->evs == NULL) {
			fprintf(stderr, "cost: out of memory\n");
			exit(1);
		}
	}
	tr->evs[tr->nevs++] = (struct cost_ev){ t, phone, (uint8_t)type,
	    restart };
}

/*
 * One online interval [s, e), split at every deploy inside it: the
 * session drops at the deploy and comes back seconds later.
 */
static void
cost_online(struct cost_trace *tr, int phone, int64_t s, int64_t e)
{
	int64_t	d, back;

	if (e > tr->end)
		e = tr->end;
	if (s >= e)
		return;
	cost_push(tr, s, phone, COST_CONNECT, false);
	d = (s - COST_T0) / COST_DAY * COST_DAY + COST_T0 +
	    COST_DEPLOY_HOUR * COST_H;
	for (; d < e; d += COST_DAY) {
		if (d <= s)
			continue;
		back = d + cost_uniform(COST_SEC, 20 * COST_SEC);
		if (back >= e)
			break;
		cost_push(tr, d, phone, COST_DISCONNECT, true);
		cost_push(tr, back, phone, COST_CONNECT, true);
	}
	cost_push(tr, e, phone, COST_DISCONNECT, false);
}

/* An always-on phone's drops: mostly minutes, some hours, a few days. */
static int64_t
cost_always_gap(void)
{
	int	x = (int)(cost_rand() % 100);

	if (x < 70)
		return cost_uniform(COST_MIN, 30 * COST_MIN);
	if (x < 95)
		return cost_uniform(COST_H, 8 * COST_H);
	return cost_uniform(COST_DAY, 4 * COST_DAY);
}

/*
 * An intermittent phone's time off: minutes to two hours by day; at its
 * country's night, more often until the morning.
 */
static int64_t
cost_intermittent_gap(int country, int64_t t)
{
	int64_t	local = t + cost_utc_offset[country] * COST_H, hour, morning;

	hour = (local % COST_DAY + COST_DAY) % COST_DAY / COST_H;
	if ((hour >= 23 || hour < 6) && cost_chance(60)) {
		morning = local - (local % COST_DAY + COST_DAY) % COST_DAY +
		    7 * COST_H + (hour >= 23 ? COST_DAY : 0);
		return morning - local + cost_uniform(0, 2 * COST_H);
	}
	return cost_uniform(5 * COST_MIN, 2 * COST_H);
}

/* A number's life from born to gone: alternate online and offline. */
static void
cost_life(struct cost_trace *tr, int phone, int64_t born, int64_t gone)
{
	struct cost_phone	*p = &tr->phones[phone];
	int64_t			 t = born, on;

	while (t < gone) {
		if (p->kind == COST_ALWAYS)
			on = (int64_t)(-log1p(-(double)(cost_rand() >> 11) /
			    (double)(UINT64_C(1) << 53)) * 2 * COST_DAY);
		else
			on = cost_uniform(COST_H, 8 * COST_H);
		if (on < COST_MIN)
			on = COST_MIN;
		if (t + on > gone)
			on = gone - t;
		cost_online(tr, phone, t, t + on);
		t += on;
		t += p->kind == COST_ALWAYS ? cost_always_gap() :
		    cost_intermittent_gap(p->country, t);
	}
}

static int
cost_ev_cmp(const void *a, const void *b)
{
	const struct cost_ev	*x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	/* At one instant, disconnects first: the freed IP may serve. */
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->phone - y->phone;
}

static void
cost_trace_build(struct cost_trace *tr, int slots, int days)
{
	int64_t	born, gone;
	size_t	cap = (size_t)slots * (size_t)(days + 2);
	int	s, kind;

	tr->days = days;
	tr->end = COST_T0 + days * COST_DAY;
	tr->phones = cost_alloc(cap, sizeof(*tr->phones));
	for (s = 0; s < slots; s++) {
		int	x = (int)(cost_rand() % 100);

		kind = x < COST_ALWAYS_PCT ? COST_ALWAYS :
		    x < COST_ALWAYS_PCT + COST_INTERMITTENT_PCT ?
		    COST_INTERMITTENT : COST_CHURN;
		born = COST_T0 + cost_uniform(0, 10 * COST_MIN);
		do {
			struct cost_phone *p = &tr->phones[tr->nphones];

			p->country = cost_pick_country();
			p->kind = kind;
			if (kind == COST_CHURN) {
				p->kind = cost_chance(50) ? COST_ALWAYS :
				    COST_INTERMITTENT;
				gone = born + cost_uniform(COST_DAY,
				    10 * COST_DAY);
			} else
				gone = tr->end;
			cost_life(tr, (int)tr->nphones, born, gone);
			tr->nphones++;
			born = gone + cost_uniform(0, 2 * COST_DAY);
		} while (kind == COST_CHURN && born < tr->end &&
		    tr->nphones < cap);
	}
	qsort(tr->evs, tr->nevs, sizeof(*tr->evs), cost_ev_cmp);
}

/* The simple pool's state during one replay. */
struct cost_pool {
	const struct billing_model	*m;
	const struct cost_run		*run;
	struct cost_trace		*tr;
	struct cost_ip			*ips;
	size_t				 nips, cap;
	int64_t				(*arrival_log)[2];	/* t, country */
	size_t				 narrivals;
	struct cost_result		 res;
};

/* When the phone that last used ip is expected back at the latest, or 0. */
static int64_t
cost_owner_back_by(const struct cost_pool *pl, const struct cost_ip *ip)
{
	const struct cost_phone	*p;

	if (ip->owner < 0)
		return 0;
	p = &pl->tr->phones[ip->owner];
	/* A phone that has moved to another IP will not come back to this. */
	if (p->prev_ip != (int)(ip - pl->ips))
		return 0;
	return billing_expect_back(&pl->run->policy, p->gaps, p->ngaps,
	    ip->idle_since);
}

static bool
cost_ip_idle(const struct cost_ip *ip)
{
	return ip->released < 0 && ip->user < 0 && ip->reserved < 0;
}

/*
 * The idle IP a phone without its own gets: first one whose last phone
 * is not expected back, then the longest idle.  The same for every
 * policy, with the default affinity bounds, so only releases differ.
 */
static int
cost_pick_idle(struct cost_pool *pl, int country, int64_t now)
{
	static const struct billing_policy def = BILLING_POLICY_DEFAULT;
	struct cost_ip	*ip;
	int64_t		 back;
	int		 best = -1;
	bool		 best_free = false, is_free;
	size_t		 i;

	for (i = 0; i < pl->nips; i++) {
		ip = &pl->ips[i];
		if (ip->country != country || !cost_ip_idle(ip))
			continue;
		back = 0;
		if (ip->owner >= 0 &&
		    pl->tr->phones[ip->owner].prev_ip == (int)i)
			back = billing_expect_back(&def,
			    pl->tr->phones[ip->owner].gaps,
			    pl->tr->phones[ip->owner].ngaps, ip->idle_since);
		is_free = !billing_owner_expected(back, now);
		if (pl->run->affinity_pool && !is_free)
			continue;
		if (best < 0 || (is_free && !best_free) ||
		    (is_free == best_free &&
		    ip->idle_since < pl->ips[best].idle_since)) {
			best = (int)i;
			best_free = is_free;
		}
	}
	return best;
}

static void
cost_connect(struct cost_pool *pl, const struct cost_ev *ev)
{
	struct cost_phone	*p = &pl->tr->phones[ev->phone];
	struct cost_ip		*ip;
	int			 id = -1;

	if (p->prev_ip >= 0) {
		ip = &pl->ips[p->prev_ip];
		if (ip->released < 0 && ip->user < 0 &&
		    (ip->reserved < 0 || ip->reserved == ev->phone))
			id = p->prev_ip;
	}
	if (p->seen) {
		pl->res.reconnects++;
		pl->res.same += id >= 0;
		if (id < 0 && pl->ips[p->prev_ip].released >= 0)
			pl->res.lost_released++;
		else if (id < 0)
			pl->res.lost_taken++;
		if (ev->restart) {
			pl->res.restart_reconnects++;
			pl->res.restart_same += id >= 0;
		}
		memmove(p->gaps + 1, p->gaps,
		    (BILLING_HISTORY_MAX - 1) * sizeof(p->gaps[0]));
		p->gaps[0] = ev->t - p->idle_since;
		if (p->ngaps < BILLING_HISTORY_MAX)
			p->ngaps++;
	} else {
		/* A new number: it counts toward its country's demand. */
		pl->arrival_log[pl->narrivals][0] = ev->t;
		pl->arrival_log[pl->narrivals][1] = p->country;
		pl->narrivals++;
	}
	if (id < 0)
		id = cost_pick_idle(pl, p->country, ev->t);
	if (id < 0) {
		if (pl->nips == pl->cap) {
			pl->cap = pl->cap == 0 ? 1024 : pl->cap * 2;
			pl->ips = realloc(pl->ips, pl->cap * sizeof(*pl->ips));
			if (pl->ips == NULL) {
				fprintf(stderr, "cost: out of memory\n");
				exit(1);
			}
		}
		id = (int)pl->nips++;
		pl->ips[id] = (struct cost_ip){ .country = p->country,
		    .alloc = ev->t, .released = -1, .user = -1,
		    .reserved = -1, .owner = -1 };
		pl->res.purchases++;
	}
	ip = &pl->ips[id];
	ip->user = ev->phone;
	ip->reserved = -1;
	p->prev_ip = id;
	p->seen = true;
}

static void
cost_disconnect(struct cost_pool *pl, const struct cost_ev *ev)
{
	struct cost_phone	*p = &pl->tr->phones[ev->phone];
	struct cost_ip		*ip = &pl->ips[p->prev_ip];

	ip->user = -1;
	p->idle_since = ev->t;
	if (ev->restart) {
		ip->reserved = ev->phone;
		return;
	}
	ip->owner = ev->phone;
	ip->idle_since = ev->t;
	ip->recheck = ev->t;
}

/*
 * The demand the caller supplies: new numbers of the country seen in the
 * last 24 hours, taken as tomorrow's arrivals.
 */
static int
cost_demand(struct cost_pool *pl, int country, int64_t now)
{
	size_t	i;
	int	n = 0;

	for (i = pl->narrivals; i > 0; i--) {
		if (pl->arrival_log[i - 1][0] < now - COST_DAY)
			break;
		n += pl->arrival_log[i - 1][1] == country;
	}
	return n;
}

/* Rank of an idle IP among its country's idle IPs with no owner expected. */
static int
cost_rank(struct cost_pool *pl, size_t id, int64_t now)
{
	const struct cost_ip	*me = &pl->ips[id], *ip;
	size_t			 i;
	int			 rank = 0;

	for (i = 0; i < pl->nips; i++) {
		ip = &pl->ips[i];
		if (i == id || ip->country != me->country || !cost_ip_idle(ip))
			continue;
		if (cost_owner_back_by(pl, ip) >= now)
			continue;
		/* The most recently used first. */
		if (ip->idle_since > me->idle_since ||
		    (ip->idle_since == me->idle_since && i < id))
			rank++;
	}
	return rank;
}

static void
cost_tick(struct cost_pool *pl, int64_t now)
{
	struct billing_decision	d;
	struct billing_demand	dem;
	struct billing_ip	f;
	struct cost_ip		*ip;
	size_t			 i;

	for (i = 0; i < pl->nips; i++) {
		ip = &pl->ips[i];
		if (!cost_ip_idle(ip) || ip->recheck > now)
			continue;
		f.allocated_at = ip->alloc;
		f.idle_since = ip->idle_since < ip->alloc ? ip->alloc :
		    ip->idle_since;
		f.owner_back_by = cost_owner_back_by(pl, ip);
		f.idle_rank = 0;
		dem.expected = 0;
		if (pl->run->demand) {
			dem.expected = cost_demand(pl, ip->country, now);
			if (dem.expected > 0)
				f.idle_rank = cost_rank(pl, i, now);
		}
		if (billing_decide(pl->m, &pl->run->policy, &f, &dem, now,
		    &d) < 0) {
			fprintf(stderr, "cost: billing_decide refused\n");
			exit(1);
		}
		if (d.action == BILLING_ACTION_RELEASE)
			ip->released = now;
		else
			ip->recheck = d.recheck_at;
	}
}

static void
cost_replay(struct cost_trace *tr, const struct billing_model *m,
    const struct cost_run *run, struct cost_result *ret)
{
	struct cost_pool	pl;
	int64_t			now, c, units;
	size_t			e = 0, i;

	memset(&pl, 0, sizeof pl);
	pl.m = m;
	pl.run = run;
	pl.tr = tr;
	pl.arrival_log = cost_alloc(tr->nphones, sizeof(*pl.arrival_log));
	for (i = 0; i < tr->nphones; i++) {
		tr->phones[i].seen = false;
		tr->phones[i].prev_ip = -1;
		tr->phones[i].ngaps = 0;
	}
	for (now = COST_T0; now < tr->end; now += COST_TICK_MS) {
		for (; e < tr->nevs && tr->evs[e].t <= now; e++) {
			if (tr->evs[e].type == COST_CONNECT)
				cost_connect(&pl, &tr->evs[e]);
			else
				cost_disconnect(&pl, &tr->evs[e]);
		}
		cost_tick(&pl, now);
	}
	for (i = 0; i < pl.nips; i++) {
		int64_t rel = pl.ips[i].released < 0 ? tr->end :
		    pl.ips[i].released;

		if (billing_cost(m, pl.ips[i].alloc, rel, &c) < 0 ||
		    billing_units(m, pl.ips[i].alloc, rel, &units) < 0) {
			fprintf(stderr, "cost: billing_cost refused\n");
			exit(1);
		}
		pl.res.cost += c;
		pl.res.ip_days += units;
	}
	*ret = pl.res;
	free(pl.ips);
	free(pl.arrival_log);
}

/*
 * The lower bounds: each day's peak of phones connected at once, summed
 * over days; and the same per country, since an IP serves one country.
 */
static void
cost_bounds(const struct cost_trace *tr, int64_t *ret_peak_days,
    int64_t *ret_country_days, int64_t *ret_distinct_days)
{
	int64_t	*cur = cost_alloc(COST_COUNTRIES, sizeof(int64_t));
	int64_t	*peak = cost_alloc(COST_COUNTRIES, sizeof(int64_t));
	int64_t	*last_day = cost_alloc(tr->nphones, sizeof(int64_t));
	int64_t	 total = 0, total_peak = 0, sum = 0, csum = 0, dsum = 0;
	int64_t	 day = 0, d;
	size_t	 i;
	int	 c;

	for (i = 0; i < tr->nphones; i++)
		last_day[i] = -1;
	for (i = 0; i <= tr->nevs; i++) {
		d = i < tr->nevs ? (tr->evs[i].t - COST_T0) / COST_DAY :
		    tr->days;
		while (day < d) {
			/* A new day starts with those still connected. */
			sum += total_peak;
			total_peak = total;
			for (c = 0; c < COST_COUNTRIES; c++) {
				csum += peak[c];
				peak[c] = cur[c];
			}
			day++;
		}
		if (i == tr->nevs)
			break;
		c = tr->phones[tr->evs[i].phone].country;
		if (tr->evs[i].type == COST_CONNECT) {
			cur[c]++;
			total++;
			if (last_day[tr->evs[i].phone] != day) {
				last_day[tr->evs[i].phone] = day;
				dsum++;
			}
		} else {
			cur[c]--;
			total--;
		}
		if (total > total_peak)
			total_peak = total;
		if (cur[c] > peak[c])
			peak[c] = cur[c];
	}
	*ret_peak_days = sum;
	*ret_country_days = csum;
	*ret_distinct_days = dsum;
	free(cur);
	free(peak);
	free(last_day);
}

static double
cost_pct(int64_t a, int64_t b)
{
	return b == 0 ? 0.0 : 100.0 * (double)a / (double)b;
}

static int
cost_parse(const char *s, int64_t lo, int64_t hi, int64_t *ret)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*ret = v;
	return 0;
}

int
main(int argc, char **argv)
{
	struct billing_model	m = BILLING_MODEL_DEFAULT;
	struct billing_policy	aware = BILLING_POLICY_DEFAULT;
	struct cost_run		runs[COST_RUNS];
	struct cost_trace	tr;
	struct cost_result	res;
	int64_t			seed = 1, phones = COST_PHONES_DEFAULT;
	int64_t			days = COST_DAYS_DEFAULT, bound_days, nc;
	int64_t			country_days, distinct_days, bound;
	int64_t			restarts = 0, unit;
	size_t			i, nruns = 0;
	int			opt;

	while ((opt = getopt(argc, argv, "s:p:d:c:")) != -1) {
		switch (opt) {
		case 'c':
			if (cost_parse(optarg, 1, COST_COUNTRIES, &nc) < 0)
				goto usage;
			cost_ncountries = (int)nc;
			break;
		case 's':
			if (cost_parse(optarg, 0, INT64_MAX, &seed) < 0)
				goto usage;
			break;
		case 'p':
			if (cost_parse(optarg, 1, COST_PHONES_MAX,
			    &phones) < 0)
				goto usage;
			break;
		case 'd':
			if (cost_parse(optarg, 1, COST_DAYS_MAX, &days) < 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	m.price_micros_per_ip_month = COST_PRICE;
	cost_rng_state = (uint64_t)seed;
	memset(&tr, 0, sizeof tr);
	cost_trace_build(&tr, (int)phones, (int)days);
	cost_bounds(&tr, &bound_days, &country_days, &distinct_days);
	for (i = 0; i < tr.nevs; i++)
		restarts += tr.evs[i].restart &&
		    tr.evs[i].type == COST_CONNECT;
	unit = billing_unit_price(&m);
	bound = bound_days * unit;

	runs[nruns++] = (struct cost_run){ "buy-and-keep",
	    { .kind = BILLING_KEEP }, false, false };
	runs[nruns] = (struct cost_run){ "seed: release after 1 h idle",
	    aware, false, false };
	runs[nruns++].policy.kind = BILLING_IDLE_TIMEOUT;
	runs[nruns] = (struct cost_run){ "aware, no affinity", aware, false,
	    false };
	runs[nruns].policy.affinity_min_ms = 0;
	runs[nruns++].policy.affinity_max_ms = 0;
	runs[nruns++] = (struct cost_run){ "aware (default)", aware, false,
	    false };
	runs[nruns++] = (struct cost_run){ "aware + demand", aware, true,
	    false };
	runs[nruns++] = (struct cost_run){ "aware, affinity pool", aware,
	    false, true };
	runs[nruns++] = (struct cost_run){ "aware + demand, affinity pool",
	    aware, true, true };

	printf("trace: seed %" PRId64 ", %" PRId64 " phone slots, %d "
	    "countries, %" PRId64 " days, %zu numbers (churn included), "
	    "%zu events, %" PRId64 " deploy reconnects\n", seed, phones,
	    cost_ncountries, days, tr.nphones, tr.nevs, restarts);
	printf("billing: per IP-day %.4f (%.2f a month / %d days), days from "
	    "%02d:00 UTC\n", (double)unit / 1e6,
	    (double)m.price_micros_per_ip_month / 1e6, m.days_per_month,
	    m.boundary_hour_utc);
	printf("lower bound: %" PRId64 " IP-days (sum of daily peaks), %.2f;"
	    " per country %" PRId64 " IP-days (+%.1f%%); phones online per day"
	    " summed %" PRId64 " (+%.1f%%)\n\n", bound_days,
	    (double)bound / 1e6, country_days,
	    cost_pct(country_days - bound_days, bound_days), distinct_days,
	    cost_pct(distinct_days - bound_days, bound_days));
	printf("%-30s %9s %8s %8s %8s %8s %8s %8s %9s %13s\n", "policy",
	    "cost", "IP-days", "vs bound", "vs ctry", "vs onl", "same IP",
	    "same IP*",
	    "purchases", "lost: rel/tkn");
	for (i = 0; i < nruns; i++) {
		cost_replay(&tr, &m, &runs[i], &res);
		printf("%-30s %9.2f %8" PRId64 " %+7.1f%% %+7.1f%% %+7.1f%% "
		    "%7.2f%% "
		    "%7.2f%% %9" PRId64 " %6" PRId64 "/%-6" PRId64 "\n",
		    runs[i].name,
		    (double)res.cost / 1e6, res.ip_days,
		    cost_pct(res.cost - bound, bound),
		    cost_pct(res.ip_days - country_days, country_days),
		    cost_pct(res.ip_days - distinct_days, distinct_days),
		    cost_pct(res.same, res.reconnects),
		    cost_pct(res.same - res.restart_same,
		    res.reconnects - res.restart_reconnects), res.purchases,
		    res.lost_released, res.lost_taken);
	}
	printf("\nvs bound: cost over the sum of daily peaks; vs ctry: over "
	    "the per-country sum;\nvs onl: over the phones online each day "
	    "summed (one IP per phone and day).\n"
	    "same IP: share of reconnects on the "
	    "phone's previous IP; same IP*: the same,\nnot counting the "
	    "deploy's reconnects (their IPs are reserved under every "
	    "policy).\nlost: reconnects that found their IP released, or "
	    "taken by another phone.\n");
	free(tr.phones);
	free(tr.evs);
	return 0;
usage:
	fprintf(stderr, "usage: cost [-s SEED] [-p PHONES] [-d DAYS] "
	    "[-c COUNTRIES]\n");
	return 64;
}
