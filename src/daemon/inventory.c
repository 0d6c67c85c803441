/*
 * The pool in line with the store and the provider's listing: see
 * inventory.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/failpoint.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "core/pool.h"
#include "daemon/ctx.h"
#include "daemon/inventory.h"
#include "daemon/jobs.h"
#include "provider/provider.h"
#include "provider/reconcile.h"
#include "store/store.h"

struct inventory {
	struct dctx		*c;
	struct jobs		*jobs;
	struct inventory_hooks	 hooks;
	bool			 running;	/* a listing or its job in flight */
	bool			 loaded;	/* the first listing applied */
	bool			 failed;	/* the last listing failed */
	int64_t			 last;		/* the last start, wall ms */
	int64_t			 asked_at;	/* the one in flight was asked */
	struct event		*ev_retry;	/* the first listing, again */
};

/* The store's proxy rows, read by the worker. */
struct inventory_rows {
	struct proxy_row	*rows;
	size_t			 n, cap;
};

static int
inventory_rows_add(const struct proxy_row *p, void *arg)
{
	struct inventory_rows	*rs = arg;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 256;
		rs->rows = xreallocarray(rs->rows, rs->cap, sizeof *rs->rows);
	}
	rs->rows[rs->n++] = *p;
	return 0;
}

static void
inventory_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	inventory_reconcile(arg);
}

struct inventory *
inventory_new(struct dctx *c, struct jobs *jobs,
    const struct inventory_hooks *hooks)
{
	struct inventory	*inv = xcalloc(1, sizeof *inv);

	inv->c = c;
	inv->jobs = jobs;
	inv->hooks = *hooks;
	if (c->base != NULL)
		inv->ev_retry = evtimer_new(c->base, inventory_retry_cb, inv);
	return inv;
}

void
inventory_free(struct inventory *inv)
{
	if (inv == NULL)
		return;
	if (inv->ev_retry != NULL)
		event_free(inv->ev_retry);
	free(inv);
}

bool
inventory_loaded(const struct inventory *inv)
{
	return inv->loaded;
}

int64_t
inventory_last_reconcile(const struct inventory *inv)
{
	return inv->last;
}

/* Rows of another provider or zone are known, but never offered. */
static bool
inventory_ours(const struct dctx *c, const struct proxy_row *row)
{
	return strcmp(row->provider, provider_name(c->provider)) == 0 &&
	    strcmp(row->zone, provider_zone(c->provider)) == 0;
}

/* A row's state in the pool; a row still purchasing is offered to nobody. */
static enum pool_proxy_state
inventory_state(enum proxy_state s)
{
	switch (s) {
	case PROXY_ACTIVE:
		return POOL_ACTIVE;
	case PROXY_IDLE:
		return POOL_IDLE;
	case PROXY_RELEASING:
		return POOL_RELEASING;
	case PROXY_RELEASED:
		return POOL_RELEASED;
	default:
		return POOL_LOST;
	}
}

void
inventory_entry(const struct dctx *c, const struct proxy_row *row,
    struct pool_proxy *ret)
{
	memset(ret, 0, sizeof *ret);
	ret->id = row->id;
	(void)util_strlcpy(ret->ip, row->ip, sizeof ret->ip);
	memcpy(ret->country, row->country, sizeof ret->country);
	ret->state = inventory_state(row->state);
	/* A proxy that had a session is kept for it: reactivation. */
	ret->reserved_for = row->state == PROXY_ACTIVE ? row->session_id : 0;
	ret->idle_since = row->idle_since;
	/*
	 * Active for a session that is gone (removed while no daemon ran):
	 * idle from now on, for another phone or the release policy.
	 */
	if (row->state == PROXY_ACTIVE && row->session_id == 0) {
		ret->state = POOL_IDLE;
		ret->idle_since = util_now_ms();
	}
	ret->purchased_at = row->purchased_at;
	ret->listed = inventory_ours(c, row) && row->state != PROXY_LOST;
	/* Held for the phone that left it, as the store remembers. */
	if (ret->state == POOL_IDLE && row->held_for != 0) {
		ret->owner = row->held_for;
		ret->owner_back_by = row->held_until;
	}
}

void
inventory_apply_row(struct inventory *inv, const struct proxy_row *row)
{
	const struct pool_proxy	*old = pool_get(inv->c->pool, row->id);
	struct pool_proxy	 px;

	inventory_entry(inv->c, row, &px);
	if (old != NULL) {
		/* What the pool knows in memory (who uses it) stands. */
		struct pool_proxy	fresh = px;

		px = *old;
		px.listed = fresh.listed;
		/* The provider's word on the country (a listing). */
		memcpy(px.country, fresh.country, sizeof px.country);
		if (row->state == PROXY_LOST)
			px.state = POOL_LOST;
		else if (row->state == PROXY_RELEASING)
			px.state = POOL_RELEASING;
		else if (old->state == POOL_LOST) {
			/* Listed again: in use here, or as the store says. */
			px.state = old->sessions > 0 ? POOL_ACTIVE :
			    fresh.state;
			px.reserved_for = fresh.reserved_for;
			px.idle_since = fresh.idle_since;
		}
	}
	pool_put(inv->c->pool, &px);
}

void
inventory_refresh_row(struct inventory *inv, const struct proxy_row *row)
{
	const struct pool_proxy	*old = pool_get(inv->c->pool, row->id);
	struct pool_proxy	 px;

	if (old == NULL || old->sessions > 0) {
		inventory_apply_row(inv, row);
		return;
	}
	px = *old;
	px.state = inventory_state(row->state);
	if (row->state == PROXY_ACTIVE)
		px.reserved_for = row->session_id;
	else if (row->state == PROXY_IDLE) {
		px.reserved_for = 0;
		px.idle_since = row->idle_since;
	}
	pool_put(inv->c->pool, &px);
}

void
inventory_set_state(struct inventory *inv, int64_t id,
    enum pool_proxy_state state)
{
	const struct pool_proxy	*old = inv->c->pool != NULL ?
				    pool_get(inv->c->pool, id) : NULL;
	struct pool_proxy	 px;

	if (old == NULL)
		return;
	px = *old;
	px.state = state;
	/* Given back: the provider lists it no more. */
	if (state == POOL_RELEASED)
		px.listed = false;
	pool_put(inv->c->pool, &px);
}

/* --- the pool refreshed from the store ---------------------------------- */

struct inventory_refresh_job {
	struct inventory	*inv;
	struct inventory_rows	 rs;
	char			 err[STORE_ERROR_LEN];
};

static int
inventory_refresh_run(struct store *st, void *arg)
{
	struct inventory_refresh_job	*rj = arg;
	int				 r;

	if ((r = store_proxy_list(st, inventory_rows_add, &rj->rs)) < 0)
		(void)util_strlcpy(rj->err, store_errmsg(st), sizeof rj->err);
	return r;
}

static void
inventory_refresh_done(struct dsession *ds, enum job_fate fate, int result,
    void *arg)
{
	struct inventory_refresh_job	*rj = arg;
	size_t				 i;

	(void)ds;
	if (fate == JOB_CURRENT && rj->inv->c->pool != NULL) {
		if (result < 0)
			log_error("store.list_failed", LOGF_S("error",
			    rj->err));
		for (i = 0; i < rj->rs.n; i++)
			inventory_refresh_row(rj->inv, &rj->rs.rows[i]);
	}
	free(rj->rs.rows);
	free(rj);
}

void
inventory_refresh(struct inventory *inv)
{
	struct inventory_refresh_job	*rj;

	if (inv->c->pool == NULL)
		return;
	rj = xcalloc(1, sizeof *rj);
	rj->inv = inv;
	if (jobs_submit(inv->jobs, inv->c->q, NULL, 0, inventory_refresh_run,
	    inventory_refresh_done, rj, "pool_refresh") < 0)
		free(rj);
}

/* --- reconciliation ----------------------------------------------------- */

/*
 * The listing is copied into the job: the provider's result is gone once
 * its callback returns.  The steps reconcile_run took are copied too, and
 * logged on the loop.
 */
struct inventory_note {
	enum reconcile_action	 action;
	char			 key[PROVIDER_KEY_MAX];
	char			 country[COUNTRY_CODE_LEN];
	int64_t			 id;
	int64_t			 n, found, created_at;
	bool			 blocking;
};

struct inventory_recon {
	struct inventory	*inv;
	char			 provider[32];
	char			 zone[64];
	bool			 have_listing;
	struct provider_proxy	*listing;
	size_t			 nlisting;
	int64_t			 now;
	struct reconcile_scope	 scope;
	char			 self[STORE_ID_LEN];
	int64_t			 busy[INVENTORY_BUSY_MAX];
	int			 recon_r;
	struct reconcile_report	 rep;
	struct inventory_rows	 rs;
	char			 err[STORE_ERROR_LEN];
	struct inventory_note	*steps;
	size_t			 nsteps, scap;
};

static void
inventory_note(const struct reconcile_step *s, void *arg)
{
	struct inventory_recon	*rj = arg;
	struct inventory_note	*n;

	/* Bounded; what purchases must know of intents always fits. */
	if (rj->nsteps >= INVENTORY_STEPS_MAX &&
	    s->action != RECONCILE_INTENT_OWNED &&
	    s->action != RECONCILE_INTENT_FAILED &&
	    s->action != RECONCILE_INTENT_OPEN)
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
	n->n = s->n;
	n->found = s->found;
	n->created_at = s->created_at;
	n->blocking = s->blocking;
	if (s->key != NULL)
		(void)util_strlcpy(n->key, s->key, sizeof n->key);
	if (s->country != NULL)
		(void)util_strlcpy(n->country, s->country, sizeof n->country);
}

static void
inventory_log_step(const struct inventory *inv, const struct inventory_note *s)
{
	switch (s->action) {
	case RECONCILE_ADOPT:
		/* A static list's first load is no news. */
		if (inv->loaded || provider_can_purchase(inv->c->provider))
			log_info("proxy.adopted", LOGF_S("proxy", s->key),
			    LOGF_S("country", s->country[0] != '\0' ?
			    s->country : "unknown"), LOGF_S("msg",
			    s->country[0] != '\0' ? "the provider bills an IP "
			    "the store did not know: kept as idle" : "the "
			    "provider bills an IP the store did not know, of no "
			    "country it names: kept, offered to nobody"));
		break;
	case RECONCILE_FOUND:
		log_warn("proxy.found", LOGF_S("proxy", s->key),
		    LOGF_S("msg", "the provider lists a lost proxy again: "
		    "usable again"));
		break;
	case RECONCILE_COUNTRY:
		log_warn("proxy.country_corrected", LOGF_S("proxy", s->key),
		    LOGF_S("country", s->country), LOGF_S("msg", "the "
		    "provider's listing gives another country: it is taken"));
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
		    LOGF_I("asked", s->n), LOGF_I("found", s->found),
		    LOGF_S("msg", "settled from the provider's listing"));
		break;
	case RECONCILE_INTENT_OPEN:
		log_debug("purchase.unsettled", LOGF_I("intent", s->id),
		    LOGF_S("country", s->country), LOGF_B("blocking",
		    s->blocking), LOGF_S("msg", "its outcome may still "
		    "change: not settled by this listing"));
		break;
	}
}

static int
inventory_recon_run(struct store *st, void *arg)
{
	struct inventory_recon	*rj = arg;
	int			 r;

	if (rj->have_listing && (rj->recon_r = reconcile_run(st, rj->provider,
	    rj->zone, rj->listing, rj->nlisting, &rj->scope, false, rj->now,
	    inventory_note, rj, &rj->rep)) < 0)
		(void)util_strlcpy(rj->err, store_errmsg(st), sizeof rj->err);
	if ((r = store_proxy_list(st, inventory_rows_add, &rj->rs)) < 0 &&
	    rj->err[0] == '\0')
		(void)util_strlcpy(rj->err, store_errmsg(st), sizeof rj->err);
	return r;
}

static void
inventory_recon_free(struct inventory_recon *rj)
{
	free(rj->listing);
	free(rj->steps);
	free(rj->rs.rows);
	free(rj);
}

/*
 * What the listing said of intents, for purchases: the settled ones, and
 * the open ones that cover a need here.  Its steps were capped at
 * INVENTORY_STEPS_MAX; so is this.
 */
static void
inventory_tell_intents(struct inventory *inv, const struct inventory_recon *rj)
{
	struct inventory_intent	*v;
	const struct inventory_note *s;
	size_t			 i, n = 0;

	v = xcalloc(rj->nsteps ? rj->nsteps : 1, sizeof *v);
	for (i = 0; i < rj->nsteps; i++) {
		s = &rj->steps[i];
		if (s->action != RECONCILE_INTENT_OWNED &&
		    s->action != RECONCILE_INTENT_FAILED &&
		    !(s->action == RECONCILE_INTENT_OPEN && s->blocking))
			continue;
		v[n].id = s->id;
		memcpy(v[n].country, s->country, sizeof v[n].country);
		v[n].count = s->n;
		v[n].created_at = s->created_at;
		v[n].open = s->action == RECONCILE_INTENT_OPEN;
		n++;
	}
	inv->hooks.intents(inv->hooks.arg, v, n);
	free(v);
}

static void
inventory_recon_applied(struct dsession *ds, enum job_fate fate, int result,
    void *arg)
{
	struct inventory_recon	*rj = arg;
	struct inventory	*inv = rj->inv;
	struct reconcile_report	*rep = &rj->rep;
	int64_t			 asked_at;
	bool			 first;
	size_t			 i;

	(void)ds;
	inv->running = false;
	if (fate != JOB_CURRENT) {
		inventory_recon_free(rj);
		return;
	}
	for (i = 0; i < rj->nsteps; i++)
		inventory_log_step(inv, &rj->steps[i]);
	if (rj->have_listing) {
		if (rj->recon_r < 0)
			log_error("reconcile.store_failed", LOGF_S("error",
			    rj->err));
		else if (rep->adopted > 0 || rep->lost > 0 ||
		    rep->released > 0 || rep->found > 0 ||
		    rep->corrected > 0 || rep->intents_owned > 0 ||
		    rep->intents_failed > 0)
			log_info("reconcile.done", LOGF_I("listed",
			    rep->listed), LOGF_I("adopted", rep->adopted),
			    LOGF_I("found", rep->found),
			    LOGF_I("corrected", rep->corrected),
			    LOGF_I("lost", rep->lost),
			    LOGF_I("released", rep->released),
			    LOGF_I("fresh", rep->fresh),
			    LOGF_I("intents_owned", rep->intents_owned),
			    LOGF_I("intents_failed", rep->intents_failed),
			    LOGF_I("intents_open", rep->intents_open));
	}
	if (result < 0) {
		/*
		 * What the rows say was read in a batch that may not have
		 * committed: nothing is applied.  The start waits for a
		 * listing the store took; later ones are every few minutes.
		 */
		log_error("store.list_failed", LOGF_S("error", rj->err[0] !=
		    '\0' ? rj->err : "its batch did not commit"));
		inventory_recon_free(rj);
		if (!inv->loaded && inv->ev_retry != NULL) {
			struct timeval	tv = { 1, 0 };

			evtimer_add(inv->ev_retry, &tv);
		}
		return;
	}
	if (inv->c->pool == NULL) {
		/* The stable policy holds IPs: see core/pool.h. */
		struct pool_config pc = {
			.sessions_per_ip = (int)inv->c->cfg->sessions_per_ip,
			.hold = inv->c->release.kind == BILLING_STABLE,
			.purchase_micros = billing_unit_price(&inv->c->billing),
			.change_micros = inv->c->release.change_cost_micros,
		};

		inv->c->pool = pool_new(&pc);
	}
	for (i = 0; i < rj->rs.n; i++)
		inventory_apply_row(inv, &rj->rs.rows[i]);
	/* Released rows are not read again: the pool learns it here. */
	for (i = 0; i < rj->nsteps; i++)
		if (rj->steps[i].action == RECONCILE_RELEASED)
			inventory_set_state(inv, rj->steps[i].id,
			    POOL_RELEASED);
	asked_at = rj->have_listing && rj->recon_r == 0 ? rj->scope.asked_at :
	    0;
	if (asked_at != 0)
		inventory_tell_intents(inv, rj);
	inventory_recon_free(rj);
	(void)failpoint("reconcile.applied");
	first = !inv->loaded;
	inv->loaded = true;
	inv->hooks.listed(inv->hooks.arg, first, asked_at);
}

static void
inventory_listed(const struct provider_result *r, void *arg)
{
	struct inventory	*inv = arg;
	struct inventory_recon	*rj;

	if (inv->c->tearing_down) {
		inv->running = false;
		return;
	}
	if (r->outcome != PROVIDER_OK) {
		/*
		 * Without a listing nothing is adopted or marked lost: the
		 * store's view stands until the next reconciliation.
		 */
		log_error("reconcile.failed", LOGF_S("provider",
		    provider_name(inv->c->provider)), LOGF_S("error",
		    r->message));
		inv->failed = true;
		if (inv->loaded) {
			inv->running = false;
			inv->hooks.listed(inv->hooks.arg, false, 0);
			return;
		}
	} else {
		inv->failed = false;
	}
	/* Still running until the store has answered. */
	rj = xcalloc(1, sizeof *rj);
	rj->inv = inv;
	(void)util_strlcpy(rj->provider, provider_name(inv->c->provider),
	    sizeof rj->provider);
	(void)util_strlcpy(rj->zone, provider_zone(inv->c->provider),
	    sizeof rj->zone);
	rj->now = util_now_ms();
	/*
	 * What this listing may decide: it was taken when it was asked for,
	 * and purchases of this instance still in flight are not its to
	 * settle (reconcile.h).
	 */
	(void)util_strlcpy(rj->self, inv->c->instance_id, sizeof rj->self);
	rj->scope.self = rj->self;
	rj->scope.asked_at = inv->asked_at;
	rj->scope.settle_ms = provider_settle_ms(inv->c->provider);
	/* A peer silent for a lease is gone (fleet.h, FLEET_STALE_MS). */
	rj->scope.peer_stale_ms = inv->c->cfg->lease_ms;
	rj->scope.solo = !inv->c->fleet;
	rj->scope.nbusy = inv->hooks.busy(inv->hooks.arg, rj->busy,
	    INVENTORY_BUSY_MAX, &rj->scope.busy_since);
	rj->scope.busy = rj->busy;
	if (r->outcome == PROVIDER_OK) {
		rj->have_listing = true;
		rj->nlisting = r->n;
		rj->listing = xcalloc(r->n ? r->n : 1, sizeof *rj->listing);
		if (r->n > 0)
			memcpy(rj->listing, r->proxies, r->n *
			    sizeof *rj->listing);
	}
	if (jobs_submit(inv->jobs, inv->c->q, NULL, 0, inventory_recon_run,
	    inventory_recon_applied, rj, "reconcile") < 0) {
		inv->running = false;
		inventory_recon_free(rj);
	}
}

void
inventory_reconcile(struct inventory *inv)
{
	int	r;

	if (inv->running)
		return;
	inv->last = util_now_ms();
	inv->asked_at = inv->last;
	if ((r = provider_list(inv->c->provider, inventory_listed, inv)) < 0) {
		log_error("reconcile.start_failed", LOGF_S("error",
		    strerror(-r)));
		return;
	}
	inv->running = true;
}
