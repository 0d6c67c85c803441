/*
 * An imported fleet into the store: see import.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/failpoint.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "store/import.h"

#define IMPORT_HISTORY_MAX	8	/* a phone's previous proxies read */

/* What the store holds, sorted for lookups by phone and by IP. */
struct import_view {
	struct session		*sessions;
	size_t			 nsessions, capsessions;
	struct proxy_row	*proxies;	/* live ones of the target */
	size_t			 nproxies, capproxies;
	const char		*provider, *zone;
	struct import_listed	*listed;	/* sorted copy */
	size_t			 nlisted;
};

static int
import_view_session(const struct session *s, void *arg)
{
	struct import_view	*v = arg;

	if (v->nsessions == v->capsessions) {
		v->capsessions = v->capsessions == 0 ? 256 : v->capsessions * 2;
		v->sessions = xreallocarray(v->sessions, v->capsessions,
		    sizeof *v->sessions);
	}
	v->sessions[v->nsessions++] = *s;
	return 0;
}

static int
import_view_proxy(const struct proxy_row *p, void *arg)
{
	struct import_view	*v = arg;

	if (strcmp(p->provider, v->provider) != 0 ||
	    strcmp(p->zone, v->zone) != 0)
		return 0;
	if (v->nproxies == v->capproxies) {
		v->capproxies = v->capproxies == 0 ? 256 : v->capproxies * 2;
		v->proxies = xreallocarray(v->proxies, v->capproxies,
		    sizeof *v->proxies);
	}
	v->proxies[v->nproxies++] = *p;
	return 0;
}

static int
import_cmp_session(const void *a, const void *b)
{
	return strcmp(((const struct session *)a)->phone,
	    ((const struct session *)b)->phone);
}

static int
import_cmp_proxy(const void *a, const void *b)
{
	return strcmp(((const struct proxy_row *)a)->ip,
	    ((const struct proxy_row *)b)->ip);
}

static int
import_cmp_listed(const void *a, const void *b)
{
	return strcmp(((const struct import_listed *)a)->ip,
	    ((const struct import_listed *)b)->ip);
}

static const struct session *
import_find_session(const struct import_view *v, const char *phone)
{
	struct session	key;

	(void)util_strlcpy(key.phone, phone, sizeof key.phone);
	return v->nsessions == 0 ? NULL : bsearch(&key, v->sessions,
	    v->nsessions, sizeof *v->sessions, import_cmp_session);
}

static const struct proxy_row *
import_find_proxy(const struct import_view *v, const char *ip)
{
	struct proxy_row	key;

	(void)util_strlcpy(key.ip, ip, sizeof key.ip);
	return v->nproxies == 0 ? NULL : bsearch(&key, v->proxies,
	    v->nproxies, sizeof *v->proxies, import_cmp_proxy);
}

static const struct import_listed *
import_find_listed(const struct import_view *v, const char *ip)
{
	struct import_listed	key;

	(void)util_strlcpy(key.ip, ip, sizeof key.ip);
	return v->nlisted == 0 ? NULL : bsearch(&key, v->listed, v->nlisted,
	    sizeof *v->listed, import_cmp_listed);
}

static void
import_view_free(struct import_view *v)
{
	free(v->sessions);
	free(v->proxies);
	free(v->listed);
}

static void
import_refuse(struct import_step *step, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
import_refuse(struct import_step *step, const char *fmt, ...)
{
	va_list	ap;

	step->action = IMPORT_REFUSED;
	va_start(ap, fmt);
	vsnprintf(step->why, sizeof step->why, fmt, ap);
	va_end(ap);
}

/* A phone the store has: the same session, or a conflict. */
static int
import_plan_known(struct store *st, const struct import_view *v,
    const struct import_row *row, const struct session *s,
    struct import_step *step)
{
	int64_t			 ids[IMPORT_HISTORY_MAX];
	const struct proxy_row	*px;
	size_t			 n, i;
	int			 r;

	step->session_id = s->id;
	if (strcmp(s->user_id, row->s.user_id) != 0 ||
	    strcmp(s->country, row->s.country) != 0) {
		import_refuse(step, "%s already has session %lld of user %s "
		    "in %s", row->s.phone, (long long)s->id, s->user_id,
		    s->country);
		return 0;
	}
	step->action = IMPORT_SAME;
	if (row->proxy_ip[0] == '\0')
		return 0;
	if ((r = store_proxy_history(st, row->s.phone, ids, nitems(ids),
	    &n)) < 0)
		return r;
	/* Its proxy is the one the file names, or was not long ago. */
	px = import_find_proxy(v, row->proxy_ip);
	for (i = 0; i < n; i++)
		if (px != NULL && px->id == ids[i])
			return 0;
	import_refuse(step, "%s already has session %lld, and %s is not "
	    "among its recent proxies", row->s.phone, (long long)s->id,
	    row->proxy_ip);
	return 0;
}

/* The proxy of a new session: listed, free, and nobody else's. */
static void
import_plan_proxy(const struct import_view *v, const struct import_target *tg,
    const struct import_row *row, struct import_step *step)
{
	const struct import_listed	*l = NULL;
	const struct proxy_row		*px;

	if (row->s.proxy_type == PROXY_TYPE_RESIDENTIAL) {
		import_refuse(step, "proxy %s for a residential session (it "
		    "rents no IP of its own)", row->proxy_ip);
		return;
	}
	if (tg->checked) {
		if ((l = import_find_listed(v, row->proxy_ip)) == NULL) {
			import_refuse(step, "proxy %s is not listed by %s%s%s "
			    "(the provider does not bill it to this account)",
			    row->proxy_ip, tg->provider, tg->zone[0] != '\0' ?
			    " zone " : "", tg->zone);
			return;
		}
		step->listed = true;
	}
	/* The provider knows where its IP is; else the file, else the phone. */
	if (l != NULL && l->country[0] != '\0')
		memcpy(step->country, l->country, sizeof step->country);
	else if (row->proxy_country[0] != '\0')
		memcpy(step->country, row->proxy_country, sizeof step->country);
	else
		memcpy(step->country, row->s.country, sizeof step->country);
	if ((px = import_find_proxy(v, row->proxy_ip)) == NULL)
		return;
	if (px->state == PROXY_LOST && step->listed) {
		step->proxy_id = px->id;
		step->relist = true;
		return;
	}
	if (px->state == PROXY_IDLE && px->session_id == 0 &&
	    px->held_for == 0) {
		step->proxy_id = px->id;
		return;
	}
	if (px->session_id != 0 || px->held_for != 0)
		import_refuse(step, "proxy %s is %s session %lld",
		    row->proxy_ip, px->session_id != 0 ? "used by" : "held for",
		    (long long)(px->session_id != 0 ? px->session_id :
		    px->held_for));
	else
		import_refuse(step, "proxy %s is %s here", row->proxy_ip,
		    store_proxy_state_name(px->state));
}

int
import_plan(struct store *st, const struct import_set *set,
    const struct import_target *tg, struct import_step *steps)
{
	struct import_view	 v;
	const struct import_row	*row;
	const struct session	*s;
	struct import_step	*step;
	size_t			 i, j;
	int			 r;

	memset(&v, 0, sizeof v);
	v.provider = tg->provider;
	v.zone = tg->zone;
	if ((r = store_session_list(st, import_view_session, &v)) < 0 ||
	    (r = store_proxy_list(st, import_view_proxy, &v)) < 0)
		goto out;
	if (v.nsessions > 0)
		qsort(v.sessions, v.nsessions, sizeof *v.sessions,
		    import_cmp_session);
	if (v.nproxies > 0)
		qsort(v.proxies, v.nproxies, sizeof *v.proxies,
		    import_cmp_proxy);
	if (tg->checked && tg->nlisted > 0) {
		v.listed = xcalloc(tg->nlisted, sizeof *v.listed);
		memcpy(v.listed, tg->listed, tg->nlisted * sizeof *v.listed);
		v.nlisted = tg->nlisted;
		qsort(v.listed, v.nlisted, sizeof *v.listed, import_cmp_listed);
	}
	for (i = 0; i < set->n; i++) {
		row = &set->rows[i];
		step = &steps[i];
		memset(step, 0, sizeof *step);
		if (row->error[0] != '\0') {
			import_refuse(step, "%s", row->error);
			continue;
		}
		if ((s = import_find_session(&v, row->s.phone)) != NULL) {
			if ((r = import_plan_known(st, &v, row, s, step)) < 0)
				goto out;
			continue;
		}
		step->action = IMPORT_ADD;
		if (row->proxy_ip[0] == '\0')
			continue;
		/* One IP, one phone: the first row that names it has it. */
		for (j = 0; j < i; j++) {
			if (steps[j].action != IMPORT_REFUSED &&
			    strcmp(set->rows[j].proxy_ip, row->proxy_ip) == 0)
				break;
		}
		if (j < i) {
			import_refuse(step, "proxy %s is also %s's (%s)",
			    row->proxy_ip, set->rows[j].s.phone,
			    set->rows[j].where);
			continue;
		}
		import_plan_proxy(&v, tg, row, step);
	}
	r = 0;
out:
	import_view_free(&v);
	return r;
}

/* The audit event of an imported session: where it came from. */
static int
import_event(struct store *st, const struct import_row *row,
    const struct import_step *step, const char *actor, const char *source,
    int64_t now)
{
	json_t	*o;
	char	*detail;
	int	 r;

	o = json_pack("{s:s, s:s, s:s}", "source", source, "from", row->where,
	    "phoneNumber", row->s.phone);
	if (o == NULL)
		return -EINVAL;
	if (row->proxy_ip[0] != '\0') {
		json_object_set_new(o, "proxyIp", json_string(row->proxy_ip));
		json_object_set_new(o, "country", json_string(step->country));
	}
	if (row->instance_id[0] != '\0')
		json_object_set_new(o, "instanceId",
		    json_string(row->instance_id));
	detail = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (detail == NULL || strlen(detail) >= STORE_DETAIL_MAX) {
		free(detail);
		return -EINVAL;
	}
	r = store_event_add(st, now, actor, step->session_id, IMPORT_EVENT,
	    detail);
	free(detail);
	return r;
}

/* A new session's proxy: recorded, then given to it as it was. */
static int
import_apply_proxy(struct store *st, const struct import_row *row,
    const struct import_target *tg, struct import_step *step,
    const char *actor, int64_t now)
{
	struct proxy_row	p;
	int64_t			id = step->proxy_id;
	int64_t			at = row->assigned_at != 0 ? row->assigned_at :
				    now;
	int			r;

	if (id == 0) {
		memset(&p, 0, sizeof p);
		(void)util_strlcpy(p.provider, tg->provider, sizeof p.provider);
		(void)util_strlcpy(p.zone, tg->zone, sizeof p.zone);
		(void)util_strlcpy(p.ip, row->proxy_ip, sizeof p.ip);
		memcpy(p.country, step->country, sizeof p.country);
		p.type = PROXY_TYPE_ISP;
		/* Billed since the old system had it, as far as is known. */
		p.purchased_at = at;
		if ((r = store_proxy_add(st, &p, now, &id)) < 0)
			return r;
	} else if (step->relist &&
	    (r = store_proxy_relist(st, id, step->country, now)) < 0)
		return r;
	if ((r = store_proxy_assign(st, id, step->session_id, row->s.phone,
	    row->s.country, strcmp(step->country, row->s.country) != 0,
	    IMPORT_REASON, actor, at)) < 0)
		return r;
	step->proxy_id = id;
	return 0;
}

int
import_apply(struct store *st, const struct import_set *set,
    const struct import_target *tg, struct import_step *steps,
    const char *actor, const char *source, int64_t now)
{
	struct session_new	*v;
	int64_t			*ids;
	size_t			*at, i, n = 0;
	bool			 opened = false;
	int			 r;

	v = xcalloc(set->n + 1, sizeof *v);
	ids = xcalloc(set->n + 1, sizeof *ids);
	at = xcalloc(set->n + 1, sizeof *at);
	for (i = 0; i < set->n; i++) {
		if (steps[i].action != IMPORT_ADD)
			continue;
		v[n] = set->rows[i].s;
		at[n++] = i;
	}
	if ((r = store_batch_begin(st)) < 0)
		goto out;
	opened = true;
	if (n > 0 && (r = store_session_add_many(st, v, n, actor, now,
	    ids)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (ids[i] == 0) {
			/* Added by someone else since the plan. */
			r = -EEXIST;
			goto out;
		}
		steps[at[i]].session_id = ids[i];
		if (set->rows[at[i]].proxy_ip[0] != '\0' &&
		    (r = import_apply_proxy(st, &set->rows[at[i]], tg,
		    &steps[at[i]], actor, now)) < 0)
			goto out;
		if ((r = import_event(st, &set->rows[at[i]], &steps[at[i]],
		    actor, source, now)) < 0)
			goto out;
	}
	/* A test's failure after every write: all must be undone. */
	if (failpoint("store.import")) {
		r = -EIO;
		goto out;
	}
	r = store_batch_end(st);
	opened = false;
out:
	/* Everything or nothing: a failed write undoes the import's others. */
	if (opened)
		(void)store_batch_abort(st);
	free(v);
	free(ids);
	free(at);
	return r;
}

int
import_run(struct store *st, const struct import_set *set,
    const struct import_target *tg, bool dry_run, bool partial,
    const char *actor, const char *source, int64_t now,
    struct import_step *steps, struct import_outcome *ret)
{
	struct import_outcome	o;
	size_t			i;
	int			r;

	memset(&o, 0, sizeof o);
	if ((r = import_plan(st, set, tg, steps)) < 0)
		return r;
	for (i = 0; i < set->n; i++) {
		o.count[steps[i].action]++;
		if (set->rows[i].error[0] == '\0' &&
		    set->rows[i].proxy_ip[0] != '\0')
			o.proxies++;
		if (steps[i].action == IMPORT_ADD && steps[i].listed)
			o.listed++;
	}
	if (!dry_run && o.count[IMPORT_ADD] > 0 &&
	    (o.count[IMPORT_REFUSED] == 0 || partial)) {
		if ((r = import_apply(st, set, tg, steps, actor, source,
		    now)) < 0)
			return r;
		o.written = true;
	}
	*ret = o;
	return 0;
}
