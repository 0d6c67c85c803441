/*
 * The PostgreSQL backend's proxies (see store_pg.c for the backend): the
 * pool's rows, their assignment to sessions (never one IP to sessions of
 * two instances), releases, the IPs a phone refused, its assignment
 * history; and the purchase intents, each committed before the provider
 * is asked.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/util.h"
#include "store/store_pg_impl.h"

/*
 * One UPDATE of one row, as a write of its own (a savepoint in a batch):
 * -ENOENT when it changed no row.
 */
static int
store_pg_update_row(struct store_pg *b, const char *sql,
    const struct store_pg_args *a)
{
	PGresult	*res = NULL;
	int		 r;

	if ((r = store_pg_begin(b, STORE_PG_WRITE)) < 0)
		return r;
	if ((r = store_pg_run(b, sql, a, &res)) == 0) {
		if (store_pg_changes(res) == 0)
			r = -ENOENT;
		PQclear(res);
	}
	return store_pg_end(b, STORE_PG_WRITE, r);
}

/* --- proxies ------------------------------------------------------------ */

#define STORE_PG_PROXY_COLUMNS						\
	"id, provider, zone, ip, country, type, state, session_id, "	\
	"purchased_at, assigned_at, idle_since, intent_id, "		\
	"released_at, held_for, held_until "

static void
store_pg_row_proxy(const PGresult *res, int i, struct proxy_row *p)
{
	size_t	k;

	memset(p, 0, sizeof *p);
	p->id = store_pg_i64(res, i, 0);
	(void)util_strlcpy(p->provider, store_pg_text(res, i, 1),
	    sizeof p->provider);
	(void)util_strlcpy(p->zone, store_pg_text(res, i, 2), sizeof p->zone);
	(void)util_strlcpy(p->ip, store_pg_text(res, i, 3), sizeof p->ip);
	(void)util_strlcpy(p->country, store_pg_text(res, i, 4),
	    sizeof p->country);
	p->type = strcmp(store_pg_text(res, i, 5), "residential") == 0 ?
	    PROXY_TYPE_RESIDENTIAL : PROXY_TYPE_ISP;
	for (k = 0; k <= PROXY_LOST; k++)
		if (strcmp(store_pg_text(res, i, 6),
		    store_proxy_state_name((enum proxy_state)k)) == 0)
			p->state = (enum proxy_state)k;
	p->session_id = store_pg_i64(res, i, 7);
	p->purchased_at = store_pg_i64(res, i, 8);
	p->assigned_at = store_pg_i64(res, i, 9);
	p->idle_since = store_pg_i64(res, i, 10);
	p->intent_id = store_pg_i64(res, i, 11);
	p->released_at = store_pg_i64(res, i, 12);
	p->held_for = store_pg_i64(res, i, 13);
	p->held_until = store_pg_i64(res, i, 14);
}

/*
 * Two daemons may add the same IP at once: the insert yields to the
 * live-IP unique index, and the loser is told it exists.
 */
int
store_pg_proxy_add(void *p, const struct proxy_row *px, int64_t now,
    int64_t *ret_id)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int64_t			 id = 0;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_WRITE)) < 0)
		return r;
	store_pg_arg(&a, px->provider);
	store_pg_arg(&a, px->zone);
	store_pg_arg(&a, px->ip);
	store_pg_arg(&a, px->country);
	store_pg_arg(&a, config_proxy_type_name(px->type));
	store_pg_arg_i64(&a, px->purchased_at ? px->purchased_at : now);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, px->intent_id);
	if ((r = store_pg_run(b, "INSERT INTO proxies (provider, zone, ip, "
	    "country, type, state, intent_id, purchased_at, idle_since, "
	    "updated_at) VALUES ($1, $2, $3, $4, $5, 'idle', NULLIF($8::bigint, "
	    "0), $6::bigint, $7::bigint, $7::bigint) ON CONFLICT (provider, "
	    "zone, ip) WHERE state <> 'released' DO NOTHING RETURNING id", &a,
	    &res)) == 0) {
		if (PQntuples(res) > 0)
			id = store_pg_i64(res, 0, 0);
		PQclear(res);
		if (id == 0) {
			snprintf(b->err, sizeof b->err, "proxy %s is in the "
			    "store already", px->ip);
			r = -EEXIST;
		}
	}
	if ((r = store_pg_end(b, STORE_PG_WRITE, r)) < 0)
		return r;
	*ret_id = id;
	return 0;
}

static int
store_pg_proxy_each(const PGresult *res, int i, void *arg)
{
	struct store_to		*to = arg;
	struct proxy_row	 px;

	store_pg_row_proxy(res, i, &px);
	return to->cb.proxy(&px, to->arg);
}

int
store_pg_proxy_list(void *p, int64_t released_since, store_proxy_cb cb,
    void *arg)
{
	struct store_pg		*b = p;
	struct store_to		 to = { .cb.proxy = cb, .arg = arg };
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	int			 r;

	store_pg_arg_i64(&a, released_since);
	if ((r = store_pg_read(b, "SELECT " STORE_PG_PROXY_COLUMNS
	    "FROM proxies WHERE state <> 'released' OR released_at >= "
	    "$1::bigint ORDER BY id", &a, &res)) < 0)
		return r;
	return store_pg_each(res, store_pg_proxy_each, &to);
}

int
store_pg_proxy_relist(void *p, int64_t proxy_id, const char *country,
    int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };

	store_pg_arg(&a, country);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	return store_pg_update_row(b, "UPDATE proxies SET country = CASE WHEN "
	    "$1 <> '' THEN $1 ELSE country END, state = CASE WHEN state = "
	    "'lost' AND session_id IS NULL THEN 'idle' WHEN state = 'lost' "
	    "THEN 'active' ELSE state END, idle_since = CASE WHEN state = "
	    "'lost' AND session_id IS NULL THEN $2::bigint ELSE idle_since "
	    "END, updated_at = $2::bigint WHERE id = $3::bigint AND state <> "
	    "'released'", &a);
}

int
store_pg_proxy_set_intent(void *p, int64_t proxy_id, int64_t intent_id,
    int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };

	store_pg_arg_i64(&a, intent_id);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	return store_pg_update_row(b, "UPDATE proxies SET intent_id = $1::bigint, "
	    "updated_at = $2::bigint WHERE id = $3::bigint", &a);
}

int
store_pg_refused_add(void *p, const char *phone, const char *ip, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg(&a, phone);
	store_pg_arg(&a, ip);
	store_pg_arg_i64(&a, now);
	if ((r = store_pg_run(b, "INSERT INTO refused_ips (phone, ip, at) "
	    "VALUES ($1, $2, $3::bigint) ON CONFLICT (phone, ip) DO UPDATE SET "
	    "at = excluded.at", &a, &res)) < 0)
		goto out;
	PQclear(res);
	/* The newest STORE_REFUSED_MAX of the phone are enough. */
	a.n = 1;
	store_pg_arg_i64(&a, STORE_REFUSED_MAX);
	if ((r = store_pg_run(b, "DELETE FROM refused_ips WHERE phone = $1 AND "
	    "ip NOT IN (SELECT ip FROM refused_ips WHERE phone = $1 ORDER BY "
	    "at DESC, ip LIMIT $2::bigint)", &a, &res)) < 0)
		goto out;
	PQclear(res);
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

int
store_pg_refused_list(void *p, const char *phone, char (*ips)[STORE_IP_LEN],
    size_t max, size_t *ret_n)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	size_t			 n = 0;
	int			 i, rows, r;

	store_pg_arg(&a, phone);
	store_pg_arg_i64(&a, (int64_t)max);
	if ((r = store_pg_read(b, "SELECT ip FROM refused_ips WHERE phone = $1 "
	    "ORDER BY at DESC, ip LIMIT $2::bigint", &a, &res)) < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && n < max; i++)
		if (util_strlcpy(ips[n], store_pg_text(res, i, 0),
		    STORE_IP_LEN) == 0)
			n++;
	PQclear(res);
	*ret_n = n;
	return 0;
}

/*
 * Why a proxy could not be assigned: gone or not usable (-ENOENT), or in
 * use by another session (-EBUSY).
 */
static int
store_pg_proxy_refused(struct store_pg *b, int64_t proxy_id,
    int64_t session_id)
{
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	store_pg_arg_i64(&a, proxy_id);
	if ((r = store_pg_run(b, "SELECT p.state, p.ip, coalesce(p.session_id, "
	    "0), coalesce(s.owner_instance, '') FROM proxies p LEFT JOIN "
	    "sessions s ON s.id = p.session_id WHERE p.id = $1::bigint", &a,
	    &res)) < 0)
		return r;
	if (PQntuples(res) == 0 ||
	    (strcmp(store_pg_text(res, 0, 0), "active") != 0 &&
	    strcmp(store_pg_text(res, 0, 0), "idle") != 0)) {
		snprintf(b->err, sizeof b->err, "proxy %lld is not active or "
		    "idle", (long long)proxy_id);
		r = -ENOENT;
	} else if (store_pg_i64(res, 0, 2) == 0) {
		/* Freed since the UPDATE looked: a race, not a refusal. */
		snprintf(b->err, sizeof b->err, "proxy %lld changed while "
		    "being assigned; try again", (long long)proxy_id);
		r = -EBUSY;
	} else {
		snprintf(b->err, sizeof b->err, "proxy %lld (%s) is in use by "
		    "session %lld (owner '%s'): not given to session %lld",
		    (long long)proxy_id, store_pg_text(res, 0, 1),
		    (long long)store_pg_i64(res, 0, 2),
		    store_pg_text(res, 0, 3), (long long)session_id);
		r = -EBUSY;
	}
	PQclear(res);
	return r;
}

/*
 * A proxy goes to a session only when it is idle, or already active for
 * that very session (a reactivation).  Instances of a fleet each choose
 * from their own copy of the pool, which may be stale: the condition,
 * checked on the locked row, is what keeps two of them from giving one IP
 * to two sessions.  One exception: a proxy active for another session of
 * self's own, which self shares on purpose (RESPAWN_SESSIONS_PER_IP > 1,
 * counted by its pool); a session of a peer, or one unowned and keeping
 * its proxy for its next owner, is never shared.
 */
int
store_pg_proxy_assign(void *p, int64_t proxy_id, int64_t session_id,
    const char *phone, const char *requested, bool fallback_used,
    const char *reason, const char *self, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	char			 detail[256];
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg_i64(&a, session_id);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	store_pg_arg(&a, self);
	/* Whatever hold it had ends: it is in use again. */
	if ((r = store_pg_run(b, "UPDATE proxies p SET state = 'active', "
	    "session_id = $1::bigint, assigned_at = $2::bigint, idle_since = "
	    "NULL, held_for = NULL, held_until = NULL, updated_at = "
	    "$2::bigint WHERE p.id = $3::bigint AND "
	    "(p.state = 'idle' OR (p.state = 'active' AND (p.session_id = "
	    "$1::bigint OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = "
	    "p.session_id AND s.owner_instance = $4))))", &a, &res)) < 0)
		goto out;
	r = store_pg_changes(res);
	PQclear(res);
	if (r == 0) {
		r = store_pg_proxy_refused(b, proxy_id, session_id);
		goto out;
	}
	a.n = 2;
	if ((r = store_pg_run(b, "UPDATE assignments SET ended_at = "
	    "$2::bigint WHERE session_id = $1::bigint AND ended_at IS NULL",
	    &a, NULL)) < 0)
		goto out;
	a.n = 0;
	store_pg_arg_i64(&a, session_id);
	store_pg_arg(&a, phone);
	store_pg_arg(&a, requested);
	store_pg_arg_bool(&a, fallback_used);
	store_pg_arg(&a, reason);
	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	if ((r = store_pg_run(b, "INSERT INTO assignments (session_id, phone, "
	    "proxy_id, ip, country, requested_country, fallback_used, reason, "
	    "instance_id, assigned_at) SELECT $1::bigint, $2::text, id, ip, "
	    "country, $3::text, $4::boolean, $5::text, $6::text, $7::bigint "
	    "FROM proxies WHERE id = $8::bigint", &a, NULL)) < 0)
		goto out;
	snprintf(detail, sizeof detail, "{\"proxyId\":%lld,\"reason\":\"%s\","
	    "\"requestedCountry\":\"%s\",\"fallbackUsed\":%s}",
	    (long long)proxy_id, reason, requested,
	    fallback_used ? "true" : "false");
	r = store_pg_event(b, now, self, session_id, "proxy.assigned", detail);
out:
	return store_pg_end(b, STORE_PG_TX, r < 0 ? r : 0);
}

int
store_pg_proxy_unassign(void *p, int64_t proxy_id, bool keep, int64_t now,
    int64_t held_for, int64_t held_until)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	int			 r;

	/* Kept for its session: the row already says so. */
	if (keep)
		return 0;
	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	if ((r = store_pg_run(b, "UPDATE assignments SET ended_at = $1::bigint "
	    "WHERE proxy_id = $2::bigint AND ended_at IS NULL", &a,
	    NULL)) < 0)
		goto out;
	/* Idle and held in one write: a restart never sees one alone. */
	store_pg_arg_i64(&a, held_for);
	store_pg_arg_i64(&a, held_until);
	r = store_pg_run(b, "UPDATE proxies SET state = 'idle', session_id = "
	    "NULL, idle_since = $1::bigint, updated_at = $1::bigint, "
	    "held_for = NULLIF($3::bigint, 0), held_until = "
	    "NULLIF($4::bigint, 0) WHERE id = $2::bigint AND state = 'active'",
	    &a, NULL);
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

int
store_pg_proxy_set_state(void *p, int64_t proxy_id, enum proxy_state state,
    int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };

	store_pg_arg(&a, store_proxy_state_name(state));
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	/* A released IP is nobody's: no session, no hold. */
	return store_pg_update_row(b, "UPDATE proxies SET state = $1::text, "
	    "updated_at = $2::bigint, released_at = CASE WHEN $1::text = "
	    "'released' THEN $2::bigint ELSE released_at END, session_id = "
	    "CASE WHEN $1::text = 'released' THEN NULL ELSE session_id END, "
	    "held_for = CASE WHEN $1::text = 'released' THEN NULL ELSE "
	    "held_for END, held_until = CASE WHEN $1::text = 'released' THEN "
	    "NULL ELSE held_until END WHERE id = $3::bigint", &a);
}

int
store_pg_proxy_request_release(void *p, const char *ip, const char *actor,
    int64_t now, struct proxy_row *ret)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	struct proxy_row	 row;
	char			 detail[160];
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg(&a, ip);
	if ((r = store_pg_run(b, "SELECT " STORE_PG_PROXY_COLUMNS "FROM "
	    "proxies WHERE ip = $1 AND state NOT IN ('released', 'lost') "
	    "ORDER BY id DESC LIMIT 1 FOR UPDATE", &a, &res)) < 0)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		r = -ENOENT;
		goto out;
	}
	store_pg_row_proxy(res, 0, &row);
	PQclear(res);
	if (row.session_id != 0 || row.state == PROXY_ACTIVE) {
		*ret = row;
		r = -EBUSY;
		goto out;
	}
	a.n = 0;
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, row.id);
	if ((r = store_pg_run(b, "UPDATE proxies SET state = 'releasing', "
	    "updated_at = $1::bigint WHERE id = $2::bigint", &a, NULL)) < 0)
		goto out;
	snprintf(detail, sizeof detail, "{\"proxyId\":%lld}",
	    (long long)row.id);
	if ((r = store_pg_bump_generation(b)) < 0 ||
	    (r = store_pg_event(b, now, actor, 0, "proxy.release_requested",
	    detail)) < 0)
		goto out;
	if ((r = store_pg_end(b, STORE_PG_TX, 0)) < 0)
		return r;
	row.state = PROXY_RELEASING;
	*ret = row;
	return 0;
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

int
store_pg_proxy_history(void *p, const char *phone, int64_t *ids, size_t max,
    size_t *ret_n)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	size_t			 n = 0;
	int			 i, rows, r;

	store_pg_arg(&a, phone);
	store_pg_arg_i64(&a, (int64_t)max);
	if ((r = store_pg_read(b, "SELECT proxy_id FROM assignments WHERE "
	    "phone = $1 GROUP BY proxy_id ORDER BY max(assigned_at) DESC, "
	    "max(id) DESC LIMIT $2::bigint", &a, &res)) < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && n < max; i++)
		ids[n++] = store_pg_i64(res, i, 0);
	PQclear(res);
	*ret_n = n;
	return 0;
}

int
store_pg_phone_spans(void *p, const char *phone, struct store_span *spans,
    size_t max, size_t *ret_n)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	size_t			 n = 0;
	int			 i, rows, r;

	store_pg_arg(&a, phone);
	store_pg_arg_i64(&a, (int64_t)max);
	if ((r = store_pg_read(b, "SELECT assigned_at, ended_at FROM "
	    "assignments WHERE phone = $1 ORDER BY assigned_at DESC, id DESC "
	    "LIMIT $2::bigint", &a, &res)) < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && n < max; i++) {
		spans[n].assigned_at = store_pg_i64(res, i, 0);
		spans[n].ended_at = store_pg_i64(res, i, 1);
		n++;
	}
	PQclear(res);
	*ret_n = n;
	return 0;
}

/* --- purchase intents --------------------------------------------------- */

/*
 * The intent row is committed on its own, outside any batch, because the
 * provider must not be asked before it is durable: a crash between the two
 * would otherwise leave a paid IP nobody knows about.  The batch's writes
 * so far commit with it; the batch goes on in a new transaction.
 */
int
store_pg_intent_add(void *p, const struct intent *in, const char *self,
    int64_t now, int64_t *ret_id)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	char			 detail[128];
	int64_t			 id = 0;
	int			 r, depth = b->depth;

	if (depth > 0 && (r = store_pg_flush_batch(b)) < 0)
		return r;
	b->depth = 0;
	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		goto out;
	store_pg_arg(&a, in->provider);
	store_pg_arg(&a, in->zone);
	store_pg_arg(&a, in->country);
	store_pg_arg_i64(&a, in->count);
	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, now);
	if ((r = store_pg_run(b, "INSERT INTO purchase_intents (provider, "
	    "zone, country, count, state, instance_id, created_at) VALUES "
	    "($1, $2, $3, $4::bigint, 'pending', $5, $6::bigint) RETURNING id",
	    &a, &res)) == 0) {
		id = store_pg_i64(res, 0, 0);
		PQclear(res);
		snprintf(detail, sizeof detail, "{\"intent\":%lld,"
		    "\"country\":\"%s\",\"count\":%lld}", (long long)id,
		    in->country, (long long)in->count);
		r = store_pg_event(b, now, self, 0, "purchase.intent", detail);
	}
	if ((r = store_pg_end(b, STORE_PG_TX, r)) == 0)
		*ret_id = id;
out:
	b->depth = depth;
	return r;
}

int
store_pg_intent_settle(void *p, int64_t id, enum intent_state state,
    const char *error, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };

	store_pg_arg(&a, store_intent_state_name(state));
	store_pg_arg(&a, error);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, id);
	return store_pg_update_row(b, "UPDATE purchase_intents SET state = "
	    "$1::text, error = $2::text, settled_at = CASE WHEN $1::text IN "
	    "('owned', 'failed') THEN $3::bigint ELSE settled_at END WHERE id "
	    "= $4::bigint", &a);
}

static int
store_pg_intent_each(const PGresult *res, int i, void *arg)
{
	struct store_to	*to = arg;
	struct intent	 in;

	memset(&in, 0, sizeof in);
	in.id = store_pg_i64(res, i, 0);
	(void)util_strlcpy(in.provider, store_pg_text(res, i, 1),
	    sizeof in.provider);
	(void)util_strlcpy(in.zone, store_pg_text(res, i, 2),
	    sizeof in.zone);
	(void)util_strlcpy(in.country, store_pg_text(res, i, 3),
	    sizeof in.country);
	in.count = store_pg_i64(res, i, 4);
	in.state = strcmp(store_pg_text(res, i, 5), "unknown") == 0 ?
	    INTENT_UNKNOWN : INTENT_PENDING;
	in.created_at = store_pg_i64(res, i, 6);
	(void)util_strlcpy(in.instance_id, store_pg_text(res, i, 7),
	    sizeof in.instance_id);
	return to->cb.intent(&in, to->arg);
}

int
store_pg_intent_list_open(void *p, store_intent_cb cb, void *arg)
{
	struct store_pg	*b = p;
	struct store_to	 to = { .cb.intent = cb, .arg = arg };
	PGresult	*res;
	int		 r;

	if ((r = store_pg_read(b, "SELECT id, provider, zone, country, count, "
	    "state, created_at, instance_id FROM purchase_intents WHERE "
	    "state IN "
	    "('pending', 'unknown') ORDER BY id", NULL, &res)) < 0)
		return r;
	return store_pg_each(res, store_pg_intent_each, &to);
}
