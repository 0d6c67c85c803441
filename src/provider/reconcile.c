/*
 * Reconciliation of the provider's listing with the store: see
 * reconcile.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/country.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "provider/reconcile.h"

/* The store's rows of this provider and zone, live or recently released. */
struct reconcile_rows {
	const char		*provider;
	const char		*zone;
	struct proxy_row	*rows;
	size_t			 n, cap;
};

struct reconcile_intents {
	const char	*provider;
	struct intent	*v;
	size_t		 n, cap;
};

struct reconcile_peers {
	struct instance	*v;
	size_t		 n, cap;
};

static const char *const reconcile_action_names[] = {
	[RECONCILE_ADOPT] = "adopt",
	[RECONCILE_FOUND] = "found",
	[RECONCILE_COUNTRY] = "country",
	[RECONCILE_LOST] = "lost",
	[RECONCILE_RELEASED] = "released",
	[RECONCILE_INTENT_OWNED] = "intent_owned",
	[RECONCILE_INTENT_FAILED] = "intent_failed",
	[RECONCILE_INTENT_OPEN] = "intent_open",
};

const char *
reconcile_action_name(enum reconcile_action a)
{
	return (unsigned)a < nitems(reconcile_action_names) ?
	    reconcile_action_names[a] : "unknown";
}

static int
reconcile_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct provider_proxy *)a)->key,
	    ((const struct provider_proxy *)b)->key);
}

/* By ip; of one ip, the live row before released ones. */
static int
reconcile_row_cmp(const void *a, const void *b)
{
	const struct proxy_row	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->ip, y->ip)) != 0)
		return c;
	return (x->state == PROXY_RELEASED) - (y->state == PROXY_RELEASED);
}

static int
reconcile_rows_cb(const struct proxy_row *p, void *arg)
{
	struct reconcile_rows	*rs = arg;

	if (strcmp(p->provider, rs->provider) != 0 ||
	    strcmp(p->zone, rs->zone) != 0)
		return 0;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 256;
		rs->rows = xreallocarray(rs->rows, rs->cap, sizeof *rs->rows);
	}
	rs->rows[rs->n++] = *p;
	return 0;
}

static int
reconcile_intents_cb(const struct intent *in, void *arg)
{
	struct reconcile_intents	*is = arg;

	if (strcmp(in->provider, is->provider) != 0)
		return 0;
	if (is->n == is->cap) {
		is->cap = is->cap ? is->cap * 2 : 16;
		is->v = xreallocarray(is->v, is->cap, sizeof *is->v);
	}
	is->v[is->n++] = *in;
	return 0;
}

static int
reconcile_peers_cb(const struct instance *i, void *arg)
{
	struct reconcile_peers	*ps = arg;

	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 8;
		ps->v = xreallocarray(ps->v, ps->cap, sizeof *ps->v);
	}
	ps->v[ps->n++] = *i;
	return 0;
}

/* The first of the n sorted rows with ip (the live one, if any). */
static struct proxy_row *
reconcile_find(const struct reconcile_rows *rs, size_t n, const char *ip)
{
	size_t	lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(rs->rows[mid].ip, ip) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(rs->rows[lo].ip, ip) == 0 ?
	    &rs->rows[lo] : NULL;
}

static bool
reconcile_busy(const struct reconcile_scope *sc, int64_t id)
{
	size_t	i;

	for (i = 0; i < sc->nbusy; i++)
		if (sc->busy[i] == id)
			return true;
	return false;
}

/*
 * May the listing settle this intent?  Not while an answer may still come
 * to this process, nor while its asker lives, nor until settle_ms after
 * the asker was last seen: the provider may still be carrying out a
 * request its asker sent just before it died.  *blocking says whether a
 * kept intent covers a need of this instance (its own, or a dead one's,
 * whose sessions are taken over here) rather than a live peer's.
 */
static bool
reconcile_settleable(const struct reconcile_scope *sc,
    const struct reconcile_peers *ps, const struct intent *in,
    bool *blocking)
{
	const struct instance	*peer = NULL;
	int64_t			 seen;
	size_t			 i;

	*blocking = true;
	if (reconcile_busy(sc, in->id))
		return false;
	if (sc->self != NULL && strcmp(in->instance_id, sc->self) == 0)
		return in->created_at <= sc->asked_at && (sc->busy_since == 0 ||
		    in->created_at < sc->busy_since);
	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].id, in->instance_id) == 0)
			peer = &ps->v[i];
	if (!sc->solo && peer != NULL && peer->status != INSTANCE_STOPPED &&
	    peer->status != INSTANCE_DEAD &&
	    peer->heartbeat_at >= sc->asked_at - sc->peer_stale_ms) {
		*blocking = false;
		return false;
	}
	seen = in->created_at;
	if (peer != NULL && peer->heartbeat_at > seen)
		seen = peer->heartbeat_at;
	if (peer != NULL && peer->stopped_at > seen)
		seen = peer->stopped_at;
	return sc->asked_at >= seen + sc->settle_ms;
}

/*
 * Rows a settled intent owns: those linked to it already (its answer
 * named them), then unlinked ones of its country that came into the store
 * since it was made (a listing adopted them), up to its count; those are
 * linked now.  Returns how many it owns.
 */
static int64_t
reconcile_claim(struct store *st, struct reconcile_rows *rs,
    const struct intent *in, bool dry_run, int64_t now)
{
	struct proxy_row	*row;
	int64_t			 owned = 0;
	size_t			 i;

	for (i = 0; i < rs->n; i++)
		if (rs->rows[i].intent_id == in->id &&
		    rs->rows[i].state != PROXY_RELEASED)
			owned++;
	for (i = 0; i < rs->n && owned < in->count; i++) {
		row = &rs->rows[i];
		if (row->intent_id != 0 || row->state == PROXY_RELEASED ||
		    row->state == PROXY_LOST ||
		    strcmp(row->country, in->country) != 0 ||
		    row->purchased_at < in->created_at - RECONCILE_SKEW_MS)
			continue;
		if (!dry_run && store_proxy_set_intent(st, row->id, in->id,
		    now) < 0)
			continue;
		row->intent_id = in->id;
		owned++;
	}
	return owned;
}

static void
reconcile_note(reconcile_cb each, void *arg, const struct reconcile_step *s)
{
	if (each != NULL)
		each(s, arg);
}

int
reconcile_run(struct store *st, const char *provider, const char *zone,
    const struct provider_proxy *listed, size_t nlisted,
    const struct reconcile_scope *sc, bool dry_run, int64_t now,
    reconcile_cb each, void *arg, struct reconcile_report *ret)
{
	struct reconcile_rows	 rs = { .provider = provider, .zone = zone };
	struct reconcile_intents is = { .provider = provider };
	struct reconcile_peers	 ps = { 0 };
	struct reconcile_report	 rep = { .listed = (int64_t)nlisted };
	struct reconcile_step	 step;
	struct provider_proxy	*sorted = NULL, k;
	struct proxy_row	 row, *known;
	char			 cc[COUNTRY_CODE_LEN];
	size_t			 i, nknown;
	int64_t			 id, owned;
	bool			 blocking;
	int			 r;

	if ((r = store_proxy_list_since(st, sc->asked_at - RECONCILE_SKEW_MS,
	    reconcile_rows_cb, &rs)) < 0 ||
	    (r = store_intent_list_open(st, reconcile_intents_cb, &is)) < 0 ||
	    (r = store_instance_list(st, reconcile_peers_cb, &ps)) < 0)
		goto out;
	if (rs.n > 1)
		qsort(rs.rows, rs.n, sizeof *rs.rows, reconcile_row_cmp);
	if (nlisted > 0) {
		sorted = xcalloc(nlisted, sizeof *sorted);
		memcpy(sorted, listed, nlisted * sizeof *sorted);
		qsort(sorted, nlisted, sizeof *sorted, reconcile_key_cmp);
	}
	nknown = rs.n;
	if (!dry_run)
		store_batch_begin(st);

	/* What the listing shows. */
	for (i = 0; i < nlisted; i++) {
		/* Its country, when it gives a usable one. */
		if (country_find(listed[i].country, cc) == NULL)
			cc[0] = '\0';
		memset(&step, 0, sizeof step);
		step.key = listed[i].key;
		step.country = cc;
		known = reconcile_find(&rs, nknown, listed[i].key);
		if (known != NULL && known->state == PROXY_RELEASED) {
			/*
			 * Given back after the listing was asked for: the
			 * listing is older than the release.
			 */
			rep.fresh++;
			continue;
		}
		if (known != NULL && known->state == PROXY_LOST) {
			step.action = RECONCILE_FOUND;
			step.id = known->id;
			if (!dry_run && store_proxy_relist(st, known->id, cc,
			    now) < 0)
				continue;
			known->state = known->session_id != 0 ? PROXY_ACTIVE :
			    PROXY_IDLE;
			if (cc[0] != '\0')
				memcpy(known->country, cc, sizeof cc);
			rep.found++;
			reconcile_note(each, arg, &step);
			continue;
		}
		if (known != NULL) {
			if (cc[0] == '\0' || strcmp(cc, known->country) == 0)
				continue;
			step.action = RECONCILE_COUNTRY;
			step.id = known->id;
			if (!dry_run && store_proxy_relist(st, known->id, cc,
			    now) < 0)
				continue;
			memcpy(known->country, cc, sizeof cc);
			rep.corrected++;
			reconcile_note(each, arg, &step);
			continue;
		}
		step.action = RECONCILE_ADOPT;
		memset(&row, 0, sizeof row);
		(void)util_strlcpy(row.provider, provider, sizeof row.provider);
		(void)util_strlcpy(row.zone, zone, sizeof row.zone);
		(void)util_strlcpy(row.ip, listed[i].key, sizeof row.ip);
		memcpy(row.country, cc, sizeof row.country);
		row.type = PROXY_TYPE_ISP;
		row.state = PROXY_IDLE;
		row.purchased_at = now;
		/* A peer may have added it meanwhile: it is known, then. */
		if (!dry_run && store_proxy_add(st, &row, now, &id) < 0)
			continue;
		row.id = dry_run ? 0 : id;
		step.id = row.id;
		rep.adopted++;
		reconcile_note(each, arg, &step);
		/* Kept for the intents below, after the rows looked up. */
		if (rs.n == rs.cap) {
			rs.cap = rs.cap ? rs.cap * 2 : 256;
			rs.rows = xreallocarray(rs.rows, rs.cap,
			    sizeof *rs.rows);
		}
		rs.rows[rs.n++] = row;
	}
	/* What the store holds and the listing does not show. */
	for (i = 0; i < nknown; i++) {
		known = &rs.rows[i];
		if (known->state == PROXY_RELEASED ||
		    known->state == PROXY_LOST)
			continue;
		(void)util_strlcpy(k.key, known->ip, sizeof k.key);
		if (sorted != NULL && bsearch(&k, sorted, nlisted,
		    sizeof *sorted, reconcile_key_cmp) != NULL)
			continue;
		/* Bought (or adopted) after the listing was asked for. */
		if (known->state != PROXY_RELEASING &&
		    known->purchased_at > sc->asked_at - RECONCILE_SKEW_MS) {
			rep.fresh++;
			continue;
		}
		memset(&step, 0, sizeof step);
		step.action = known->state == PROXY_RELEASING ?
		    RECONCILE_RELEASED : RECONCILE_LOST;
		step.key = known->ip;
		step.country = known->country;
		step.id = known->id;
		if (!dry_run && store_proxy_set_state(st, known->id,
		    step.action == RECONCILE_RELEASED ? PROXY_RELEASED :
		    PROXY_LOST, now) < 0)
			continue;
		known->state = step.action == RECONCILE_RELEASED ?
		    PROXY_RELEASED : PROXY_LOST;
		if (step.action == RECONCILE_RELEASED)
			rep.released++;
		else
			rep.lost++;
		reconcile_note(each, arg, &step);
	}
	/* Open intents, oldest first: settled when nothing can change. */
	for (i = 0; i < is.n; i++) {
		const struct intent	*in = &is.v[i];

		memset(&step, 0, sizeof step);
		step.country = in->country;
		step.id = in->id;
		step.n = in->count;
		step.created_at = in->created_at;
		if (!reconcile_settleable(sc, &ps, in, &blocking)) {
			/* This process knows its own in flight already. */
			if (sc->self != NULL &&
			    strcmp(in->instance_id, sc->self) == 0)
				continue;
			step.action = RECONCILE_INTENT_OPEN;
			step.blocking = blocking;
			rep.intents_open++;
			reconcile_note(each, arg, &step);
			continue;
		}
		owned = reconcile_claim(st, &rs, in, dry_run, now);
		step.action = owned > 0 ? RECONCILE_INTENT_OWNED :
		    RECONCILE_INTENT_FAILED;
		step.found = owned;
		if (!dry_run && store_intent_settle(st, in->id, owned > 0 ?
		    INTENT_OWNED : INTENT_FAILED, owned > 0 ? NULL :
		    "nothing of its country turned up in the provider's listing",
		    now) < 0)
			continue;
		if (owned > 0)
			rep.intents_owned++;
		else
			rep.intents_failed++;
		reconcile_note(each, arg, &step);
	}
	if (!dry_run)
		store_batch_end(st);
	*ret = rep;
	r = 0;
out:
	free(sorted);
	free(rs.rows);
	free(is.v);
	free(ps.v);
	return r;
}
