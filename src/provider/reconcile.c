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

#define RECONCILE_COUNTRIES	COUNTRY_INDEX_MAX

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

static const char *const reconcile_action_names[] = {
	[RECONCILE_ADOPT] = "adopt",
	[RECONCILE_LOST] = "lost",
	[RECONCILE_RELEASED] = "released",
	[RECONCILE_INTENT_OWNED] = "intent_owned",
	[RECONCILE_INTENT_FAILED] = "intent_failed",
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

static int
reconcile_row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct proxy_row *)a)->ip,
	    ((const struct proxy_row *)b)->ip);
}

static int
reconcile_rows_cb(const struct proxy_row *p, void *arg)
{
	struct reconcile_rows	*rs = arg;

	if (strcmp(p->provider, rs->provider) != 0 ||
	    strcmp(p->zone, rs->zone) != 0 || p->state == PROXY_LOST)
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

int
reconcile_run(struct store *st, const char *provider, const char *zone,
    const struct provider_proxy *listed, size_t nlisted, bool dry_run,
    int64_t now, reconcile_cb each, void *arg, struct reconcile_report *ret)
{
	struct reconcile_rows	 rs = { .provider = provider, .zone = zone };
	struct reconcile_intents is = { .provider = provider };
	struct reconcile_report	 rep = { .listed = (int64_t)nlisted };
	struct reconcile_step	 step;
	struct provider_proxy	*sorted = NULL, k;
	struct proxy_row	 row, key;
	int64_t			*adopted_by_cc, id;
	size_t			 i;
	int			 r, ci;

	adopted_by_cc = xcalloc(RECONCILE_COUNTRIES, sizeof *adopted_by_cc);
	if ((r = store_proxy_list(st, reconcile_rows_cb, &rs)) < 0 ||
	    (r = store_intent_list_open(st, reconcile_intents_cb, &is)) < 0)
		goto out;
	if (rs.n > 1)
		qsort(rs.rows, rs.n, sizeof *rs.rows, reconcile_row_cmp);
	if (nlisted > 0) {
		sorted = xcalloc(nlisted, sizeof *sorted);
		memcpy(sorted, listed, nlisted * sizeof *sorted);
		qsort(sorted, nlisted, sizeof *sorted, reconcile_key_cmp);
	}
	if (!dry_run)
		store_batch_begin(st);

	/* Listed but unknown: adopt as idle. */
	for (i = 0; i < nlisted; i++) {
		(void)util_strlcpy(key.ip, listed[i].key, sizeof key.ip);
		if (rs.n > 0 && bsearch(&key, rs.rows, rs.n, sizeof *rs.rows,
		    reconcile_row_cmp) != NULL)
			continue;
		step = (struct reconcile_step){ RECONCILE_ADOPT, listed[i].key,
		    listed[i].country, 0 };
		if (!dry_run) {
			memset(&row, 0, sizeof row);
			(void)util_strlcpy(row.provider, provider,
			    sizeof row.provider);
			(void)util_strlcpy(row.zone, zone, sizeof row.zone);
			(void)util_strlcpy(row.ip, listed[i].key, sizeof row.ip);
			memcpy(row.country, listed[i].country,
			    sizeof row.country);
			row.type = PROXY_TYPE_ISP;
			if (store_proxy_ensure(st, &row, now, &id) < 0)
				continue;
			step.id = id;
		}
		rep.adopted++;
		if ((ci = country_index(listed[i].country)) >= 0)
			adopted_by_cc[ci]++;
		if (each != NULL)
			each(&step, arg);
	}
	/* Known but no longer listed: lost, or released if it was going. */
	for (i = 0; i < rs.n; i++) {
		if (rs.rows[i].state == PROXY_RELEASED)
			continue;
		(void)util_strlcpy(k.key, rs.rows[i].ip, sizeof k.key);
		if (sorted != NULL && bsearch(&k, sorted, nlisted,
		    sizeof *sorted, reconcile_key_cmp) != NULL)
			continue;
		step = (struct reconcile_step){ rs.rows[i].state ==
		    PROXY_RELEASING ? RECONCILE_RELEASED : RECONCILE_LOST,
		    rs.rows[i].ip, rs.rows[i].country, rs.rows[i].id };
		if (!dry_run)
			(void)store_proxy_set_state(st, rs.rows[i].id,
			    step.action == RECONCILE_RELEASED ? PROXY_RELEASED :
			    PROXY_LOST, now);
		if (step.action == RECONCILE_RELEASED)
			rep.released++;
		else
			rep.lost++;
		if (each != NULL)
			each(&step, arg);
	}
	/* Open intents: owned when IPs of their country turned up. */
	for (i = 0; i < is.n; i++) {
		bool	owned;

		ci = country_index(is.v[i].country);
		owned = ci >= 0 && adopted_by_cc[ci] > 0;
		if (owned)
			adopted_by_cc[ci] -= is.v[i].count;
		step = (struct reconcile_step){ owned ? RECONCILE_INTENT_OWNED :
		    RECONCILE_INTENT_FAILED, NULL, is.v[i].country, is.v[i].id };
		if (!dry_run)
			(void)store_intent_settle(st, is.v[i].id, owned ?
			    INTENT_OWNED : INTENT_FAILED, owned ? NULL :
			    "not in the provider's listing", now);
		if (owned)
			rep.intents_owned++;
		else
			rep.intents_failed++;
		if (each != NULL)
			each(&step, arg);
	}
	if (!dry_run)
		store_batch_end(st);
	*ret = rep;
	r = 0;
out:
	free(sorted);
	free(rs.rows);
	free(is.v);
	free(adopted_by_cc);
	return r;
}
