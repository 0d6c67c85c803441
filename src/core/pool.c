/*
 * The proxy pool's decisions: see pool.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/intmap.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "core/billing.h"
#include "core/pool.h"

#define POOL_COUNTRIES		COUNTRY_INDEX_MAX
#define POOL_BAD_TOTAL		4096	/* (phone, ip) pairs remembered */

struct pool_bad {
	char	phone[20];
	char	ip[POOL_IP_LEN];
};

/* The proxies of one country, as indexes into pool.proxies. */
struct pool_country {
	size_t	*idx;
	size_t	 n;
	size_t	 cap;
	int64_t	 empty_until;	/* no purchases here before this time */
};

struct pool {
	struct pool_proxy	*proxies;
	size_t			 n;
	size_t			 cap;
	struct intmap		*by_id;		/* id -> index + 1 */
	struct pool_country	 countries[POOL_COUNTRIES];
	struct pool_bad		*bad;		/* a ring of POOL_BAD_TOTAL */
	size_t			 nbad;
	size_t			 badnext;
	struct pool_config	 cfg;
};

static const char *const pool_choice_names[] = {
	[POOL_REACTIVATE] = "reactivated",
	[POOL_REUSE] = "reused",
	[POOL_PURCHASE] = "purchase",
	[POOL_WAIT] = "wait",
};

static const char *const pool_state_names[] = {
	[POOL_PURCHASING] = "purchasing",
	[POOL_ACTIVE] = "active",
	[POOL_IDLE] = "idle",
	[POOL_RELEASING] = "releasing",
	[POOL_RELEASED] = "released",
	[POOL_LOST] = "lost",
};

const char *
pool_choice_name(enum pool_choice_kind k)
{
	return (unsigned)k < nitems(pool_choice_names) ?
	    pool_choice_names[k] : "unknown";
}

const char *
pool_state_name(enum pool_proxy_state s)
{
	return (unsigned)s < nitems(pool_state_names) ?
	    pool_state_names[s] : "unknown";
}

struct pool *
pool_new(const struct pool_config *cfg)
{
	struct pool	*p = xcalloc(1, sizeof *p);

	p->cfg = *cfg;
	if (p->cfg.sessions_per_ip < 1)
		p->cfg.sessions_per_ip = 1;
	p->by_id = intmap_new();
	p->bad = xcalloc(POOL_BAD_TOTAL, sizeof *p->bad);
	return p;
}

void
pool_free(struct pool *p)
{
	size_t	i;

	if (p == NULL)
		return;
	for (i = 0; i < POOL_COUNTRIES; i++)
		free(p->countries[i].idx);
	intmap_free(p->by_id);
	free(p->proxies);
	free(p->bad);
	free(p);
}

static struct pool_proxy *
pool_find(const struct pool *p, int64_t id)
{
	uintptr_t	v = (uintptr_t)intmap_get(p->by_id, id);

	return v == 0 ? NULL : &p->proxies[v - 1];
}

const struct pool_proxy *
pool_get(const struct pool *p, int64_t id)
{
	return pool_find(p, id);
}

size_t
pool_count(const struct pool *p)
{
	return p->n;
}

const struct pool_proxy *
pool_at(const struct pool *p, size_t i)
{
	return i < p->n ? &p->proxies[i] : NULL;
}

static void
pool_country_add(struct pool *p, int ci, size_t idx)
{
	struct pool_country	*c = &p->countries[ci];

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->idx = xreallocarray(c->idx, c->cap, sizeof *c->idx);
	}
	c->idx[c->n++] = idx;
}

static void
pool_country_remove(struct pool *p, int ci, size_t idx)
{
	struct pool_country	*c = &p->countries[ci];
	size_t			 i;

	for (i = 0; i < c->n; i++) {
		if (c->idx[i] == idx) {
			c->idx[i] = c->idx[--c->n];
			return;
		}
	}
}

void
pool_put(struct pool *p, const struct pool_proxy *px)
{
	struct pool_proxy	*old = pool_find(p, px->id);
	size_t			 idx;
	int			 ci = country_index(px->country);

	if (old != NULL) {
		idx = (size_t)(old - p->proxies);
		if (strcmp(old->country, px->country) != 0) {
			int oci = country_index(old->country);

			if (oci >= 0)
				pool_country_remove(p, oci, idx);
			if (ci >= 0)
				pool_country_add(p, ci, idx);
		}
		*old = *px;
		return;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->proxies = xreallocarray(p->proxies, p->cap,
		    sizeof *p->proxies);
	}
	idx = p->n++;
	p->proxies[idx] = *px;
	intmap_put(p->by_id, px->id, (void *)(uintptr_t)(idx + 1));
	if (ci >= 0)
		pool_country_add(p, ci, idx);
}

void
pool_mark_bad(struct pool *p, const char *phone, const char *ip)
{
	struct pool_bad	*b = &p->bad[p->badnext];

	if (pool_is_bad(p, phone, ip))
		return;
	(void)util_strlcpy(b->phone, phone, sizeof b->phone);
	(void)util_strlcpy(b->ip, ip, sizeof b->ip);
	p->badnext = (p->badnext + 1) % POOL_BAD_TOTAL;
	if (p->nbad < POOL_BAD_TOTAL)
		p->nbad++;
}

bool
pool_is_bad(const struct pool *p, const char *phone, const char *ip)
{
	size_t	i;

	for (i = 0; i < p->nbad; i++)
		if (strcmp(p->bad[i].phone, phone) == 0 &&
		    strcmp(p->bad[i].ip, ip) == 0)
			return true;
	return false;
}

void
pool_mark_empty(struct pool *p, const char *country, int64_t now,
    int64_t for_ms)
{
	int	ci = country_index(country);

	if (ci >= 0)
		p->countries[ci].empty_until = now + for_ms;
}

/* Can this proxy take one more session of this phone? */
static bool
pool_usable(const struct pool *p, const struct pool_proxy *px,
    const struct pool_request *r)
{
	size_t	i;

	if (!px->listed || px->sessions >= p->cfg.sessions_per_ip)
		return false;
	if (px->state != POOL_ACTIVE && px->state != POOL_IDLE)
		return false;
	if (px->reserved_for != 0 && px->reserved_for != r->session_id)
		return false;
	for (i = 0; i < r->nrefused && i < POOL_MAX_REFUSED; i++)
		if (strcmp(r->refused[i], px->ip) == 0)
			return false;
	return !pool_is_bad(p, r->phone, px->ip);
}

bool
pool_held(const struct pool_proxy *px, int64_t session_id, int64_t now)
{
	return px->sessions == 0 && px->owner != 0 &&
	    px->owner != session_id &&
	    billing_owner_expected(px->owner_back_by, now);
}

/*
 * Is a better than b for a phone with no IP of its own?  With several
 * sessions per IP, used ones first (fill them); then one whose owner is
 * not expected back; then the one idle the longest, so recently freed IPs
 * stay for the phones that just left them.
 */
static bool
pool_better(const struct pool_proxy *a, const struct pool_proxy *b,
    int64_t session_id, int64_t now)
{
	bool	ha, hb;

	if (b == NULL)
		return true;
	if (a->sessions != b->sessions)
		return a->sessions > b->sessions;
	ha = pool_held(a, session_id, now);
	hb = pool_held(b, session_id, now);
	if (ha != hb)
		return !ha;
	if (a->idle_since != b->idle_since)
		return a->idle_since < b->idle_since;
	return a->id < b->id;
}

/*
 * The best idle proxy of a country for a phone: one this phone used
 * before (the most recent first), else the best of the others
 * (pool_better).  With holds, a proxy held for another phone is skipped.
 */
static const struct pool_proxy *
pool_pick_idle(const struct pool *p, const struct pool_request *r,
    const char *country, int64_t now)
{
	const struct pool_country	*c;
	const struct pool_proxy		*px, *best = NULL;
	size_t				 i;
	int				 ci = country_index(country);

	if (ci < 0)
		return NULL;
	for (i = 0; i < r->nhistory; i++) {
		px = pool_find(p, r->history[i]);
		if (px != NULL && strcmp(px->country, country) == 0 &&
		    pool_usable(p, px, r) &&
		    (!p->cfg.hold || !pool_held(px, r->session_id, now)))
			return px;
	}
	c = &p->countries[ci];
	for (i = 0; i < c->n; i++) {
		px = &p->proxies[c->idx[i]];
		if (!pool_usable(p, px, r))
			continue;
		if (p->cfg.hold && pool_held(px, r->session_id, now))
			continue;
		if (pool_better(px, best, r->session_id, now))
			best = px;
	}
	return best;
}

/*
 * The held proxy of a country whose owner is least likely to come back
 * while another phone uses it: the one with the smallest share of its
 * hold left, (back_by - now) / (back_by - idle_since).  That share stands
 * for the owner's chance to return, which fades as the hold runs out.
 */
static const struct pool_proxy *
pool_pick_held(const struct pool *p, const struct pool_request *r,
    const char *country, int64_t now)
{
	const struct pool_country	*c;
	const struct pool_proxy		*px, *best = NULL;
	size_t				 i;
	int				 ci = country_index(country);

	if (ci < 0)
		return NULL;
	c = &p->countries[ci];
	for (i = 0; i < c->n; i++) {
		px = &p->proxies[c->idx[i]];
		if (!pool_usable(p, px, r) || !pool_held(px, r->session_id, now))
			continue;
		/* a/b < c/d, as a*d < c*b: the spans are positive. */
		if (best == NULL || (__int128)(px->owner_back_by - now) *
		    (best->owner_back_by - best->idle_since + 1) <
		    (__int128)(best->owner_back_by - now) *
		    (px->owner_back_by - px->idle_since + 1))
			best = px;
	}
	return best;
}

/*
 * Is taking px from its owner cheaper than buying?  The expected cost of
 * the change is what a change is worth times the owner's chance to come
 * back meanwhile (the share of its hold left); buying costs one unit.
 */
static bool
pool_take_cheaper(const struct pool *p, const struct pool_proxy *px,
    int64_t now)
{
	return (__int128)(px->owner_back_by - now) * p->cfg.change_micros <
	    (__int128)p->cfg.purchase_micros *
	    (px->owner_back_by - px->idle_since + 1);
}

static void
pool_set_choice(struct pool_choice *ret, enum pool_choice_kind kind,
    const struct pool_proxy *px, const char *country)
{
	ret->kind = kind;
	ret->proxy_id = px != NULL ? px->id : 0;
	(void)util_strlcpy(ret->country, country, sizeof ret->country);
}

/*
 * Try one country: reuse an idle proxy there, else (with holds) take one
 * held for another phone where that is cheaper than buying by the
 * numbers (pool_take_cheaper), else buy there, else take a held one
 * rather than wait.
 */
static bool
pool_try_country(const struct pool *p, const struct pool_request *r,
    const char *country, int64_t now, struct pool_choice *ret)
{
	const struct pool_proxy	*px;
	int			 ci = country_index(country);
	bool			 can_buy;

	if ((px = pool_pick_idle(p, r, country, now)) != NULL) {
		pool_set_choice(ret, POOL_REUSE, px, country);
		if (pool_held(px, r->session_id, now))
			ret->displaced = px->owner;
		return true;
	}
	can_buy = r->can_purchase && ci >= 0 &&
	    p->countries[ci].empty_until <= now;
	px = p->cfg.hold ? pool_pick_held(p, r, country, now) : NULL;
	if (px != NULL && (!can_buy || pool_take_cheaper(p, px, now))) {
		pool_set_choice(ret, POOL_REUSE, px, country);
		ret->displaced = px->owner;
		return true;
	}
	if (can_buy) {
		pool_set_choice(ret, POOL_PURCHASE, NULL, country);
		return true;
	}
	return false;
}

void
pool_choose(const struct pool *p, const struct pool_request *r, int64_t now,
    struct pool_choice *ret)
{
	const struct pool_proxy	*px;
	size_t			 i;

	memset(ret, 0, sizeof *ret);
	/*
	 * 1. The previous proxy, if it is still ours to use: in the session's
	 * country, or a fallback one that was kept for it (moving the phone
	 * to a new IP would be a change WhatsApp notices).
	 */
	if (r->nhistory > 0 && (px = pool_find(p, r->history[0])) != NULL &&
	    (strcmp(px->country, r->country) == 0 ||
	    px->reserved_for == r->session_id) && pool_usable(p, px, r) &&
	    (!p->cfg.hold || !pool_held(px, r->session_id, now))) {
		ret->kind = POOL_REACTIVATE;
		ret->proxy_id = px->id;
		ret->fallback_used = strcmp(px->country, r->country) != 0;
		(void)util_strlcpy(ret->country, px->country,
		    sizeof ret->country);
		return;
	}
	/* 2, 3. The requested country. */
	if (pool_try_country(p, r, r->country, now, ret))
		return;
	/* 4. The fallback chain. */
	for (i = 0; i < r->nchain && i < POOL_MAX_CHAIN; i++) {
		if (r->chain[i] == NULL || strcmp(r->chain[i], r->country) == 0)
			continue;
		if (pool_try_country(p, r, r->chain[i], now, ret)) {
			ret->fallback_used = true;
			return;
		}
	}
	ret->kind = POOL_WAIT;
}

int
pool_attach(struct pool *p, int64_t proxy_id, int64_t session_id)
{
	struct pool_proxy	*px = pool_find(p, proxy_id);

	if (px == NULL)
		return -ENOENT;
	if (px->sessions >= p->cfg.sessions_per_ip)
		return -EBUSY;
	px->sessions++;
	px->state = POOL_ACTIVE;
	px->owner = session_id;
	px->owner_back_by = 0;
	/* Only a proxy for one session is kept for it across restarts. */
	px->reserved_for = p->cfg.sessions_per_ip == 1 ? session_id : 0;
	return 0;
}

int
pool_detach(struct pool *p, int64_t proxy_id, int64_t now, bool keep,
    int64_t back_by)
{
	struct pool_proxy	*px = pool_find(p, proxy_id);

	if (px == NULL)
		return -ENOENT;
	if (px->sessions > 0)
		px->sessions--;
	if (!keep)
		px->reserved_for = 0;
	if (px->sessions == 0 && px->reserved_for == 0) {
		px->state = POOL_IDLE;
		px->idle_since = now;
		/* Shared by several sessions, an IP is nobody's to hold. */
		px->owner_back_by = p->cfg.sessions_per_ip == 1 ? back_by : 0;
	}
	return 0;
}
