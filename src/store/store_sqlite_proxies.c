/*
 * The SQLite backend's proxies (see store_sqlite.c for the backend): the
 * pool's rows, their assignment to sessions, releases, the IPs a phone
 * refused, its assignment history; and the purchase intents, each
 * committed before the provider is asked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "base/util.h"
#include "store/store_sqlite_impl.h"

/* --- proxies ------------------------------------------------------------ */

#define STORE_SQLITE_PROXY_COLUMNS					\
	"id, provider, zone, ip, country, type, state, session_id, "	\
	"purchased_at, assigned_at, idle_since, intent_id, "		\
	"released_at, held_for, held_until "

static void
store_sqlite_row_proxy(sqlite3_stmt *st, struct proxy_row *p)
{
	size_t	k;

	memset(p, 0, sizeof *p);
	p->id = sqlite3_column_int64(st, 0);
	(void)util_strlcpy(p->provider, store_sqlite_text(st, 1),
	    sizeof p->provider);
	(void)util_strlcpy(p->zone, store_sqlite_text(st, 2), sizeof p->zone);
	(void)util_strlcpy(p->ip, store_sqlite_text(st, 3), sizeof p->ip);
	(void)util_strlcpy(p->country, store_sqlite_text(st, 4),
	    sizeof p->country);
	p->type = strcmp(store_sqlite_text(st, 5), "residential") == 0 ?
	    PROXY_TYPE_RESIDENTIAL : PROXY_TYPE_ISP;
	for (k = 0; k <= PROXY_LOST; k++)
		if (strcmp(store_sqlite_text(st, 6),
		    store_proxy_state_name((enum proxy_state)k)) == 0)
			p->state = (enum proxy_state)k;
	p->session_id = sqlite3_column_int64(st, 7);
	p->purchased_at = sqlite3_column_int64(st, 8);
	p->assigned_at = sqlite3_column_int64(st, 9);
	p->idle_since = sqlite3_column_int64(st, 10);
	p->intent_id = sqlite3_column_int64(st, 11);
	p->released_at = sqlite3_column_int64(st, 12);
	p->held_for = sqlite3_column_int64(st, 13);
	p->held_until = sqlite3_column_int64(st, 14);
}

int
store_sqlite_proxy_add(void *p, const struct proxy_row *px, int64_t now,
    int64_t *ret_id)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r, rc;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "SELECT id FROM proxies WHERE provider "
	    "= ? AND zone = ? AND ip = ? AND state <> 'released'", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, px->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, px->zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, px->ip, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW) {
		snprintf(b->err, sizeof b->err, "proxy %s is in the store "
		    "already", px->ip);
		r = -EEXIST;
		goto fail;
	}
	if (rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		goto fail;
	}
	if ((r = store_sqlite_prepare(b, "INSERT INTO proxies (provider, zone, "
	    "ip, country, type, state, intent_id, purchased_at, idle_since, "
	    "updated_at) VALUES (?, ?, ?, ?, ?, 'idle', ?, ?, ?, ?)", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, px->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, px->zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, px->ip, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, px->country, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, config_proxy_type_name(px->type), -1,
	    SQLITE_STATIC);
	if (px->intent_id != 0)
		sqlite3_bind_int64(st, 6, px->intent_id);
	sqlite3_bind_int64(st, 7, px->purchased_at ? px->purchased_at : now);
	sqlite3_bind_int64(st, 8, now);
	sqlite3_bind_int64(st, 9, now);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	*ret_id = sqlite3_last_insert_rowid(b->db);
	if ((r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

static int
store_sqlite_proxy_each(sqlite3_stmt *st, void *arg)
{
	struct store_to	*to = arg;
	struct proxy_row	 px;

	store_sqlite_row_proxy(st, &px);
	return to->cb.proxy(&px, to->arg);
}

int
store_sqlite_proxy_list(void *p, int64_t released_since, store_proxy_cb cb,
    void *arg)
{
	struct store_sqlite	*b = p;
	struct store_to	 to = { .cb.proxy = cb, .arg = arg };
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "SELECT " STORE_SQLITE_PROXY_COLUMNS
	    "FROM proxies WHERE state <> 'released' OR released_at >= ? "
	    "ORDER BY id", &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, released_since);
	return store_sqlite_each(b, st, store_sqlite_proxy_each, &to);
}

int
store_sqlite_proxy_relist(void *p, int64_t proxy_id, const char *country,
    int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET country = CASE "
	    "WHEN ?1 <> '' THEN ?1 ELSE country END, state = CASE WHEN "
	    "state = 'lost' AND session_id IS NULL THEN 'idle' WHEN state = "
	    "'lost' THEN 'active' ELSE state END, idle_since = CASE WHEN state "
	    "= 'lost' AND session_id IS NULL THEN ?2 ELSE idle_since END, "
	    "updated_at = ?2 "
	    "WHERE id = ?3 AND state <> 'released'", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, country, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, proxy_id);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int
store_sqlite_proxy_set_intent(void *p, int64_t proxy_id, int64_t intent_id,
    int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET intent_id = ?, "
	    "updated_at = ? WHERE id = ?", &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, intent_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, proxy_id);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int
store_sqlite_refused_add(void *p, const char *phone, const char *ip,
    int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "INSERT INTO refused_ips (phone, ip, "
	    "at) VALUES (?, ?, ?) ON CONFLICT (phone, ip) DO UPDATE SET at = "
	    "excluded.at", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ip, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	/* The newest STORE_REFUSED_MAX of the phone are enough. */
	if ((r = store_sqlite_prepare(b, "DELETE FROM refused_ips WHERE phone "
	    "= ?1 AND ip NOT IN (SELECT ip FROM refused_ips WHERE phone = ?1 "
	    "ORDER BY at DESC, ip LIMIT ?2)", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, STORE_REFUSED_MAX);
	if ((r = store_sqlite_step_done(b, st)) < 0 ||
	    (r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

int
store_sqlite_refused_list(void *p, const char *phone,
    char (*ips)[STORE_IP_LEN], size_t max, size_t *ret_n)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	size_t			 n = 0;
	int			 r, rc = SQLITE_DONE;

	if ((r = store_sqlite_prepare(b, "SELECT ip FROM refused_ips WHERE "
	    "phone = ? ORDER BY at DESC, ip LIMIT ?", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if (util_strlcpy(ips[n], store_sqlite_text(st, 0),
		    STORE_IP_LEN) == 0)
			n++;
	if (n < max && rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	*ret_n = n;
	return 0;
}

int
store_sqlite_proxy_assign(void *p, int64_t proxy_id, int64_t session_id,
    const char *phone, const char *requested, bool fallback_used,
    const char *reason, const char *self, int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	char			 detail[256];
	int			 r;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	/* Whatever hold it had ends: it is in use again. */
	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET state = 'active', "
	    "session_id = ?, assigned_at = ?, idle_since = NULL, held_for = "
	    "NULL, held_until = NULL, updated_at = ? WHERE id = ? AND state IN "
	    "('active', 'idle')", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, session_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, proxy_id);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	if (r == 0) {
		r = -ENOENT;
		goto fail;
	}
	if ((r = store_sqlite_prepare(b, "UPDATE assignments SET ended_at = ? "
	    "WHERE session_id = ? AND ended_at IS NULL", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, session_id);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	if ((r = store_sqlite_prepare(b, "INSERT INTO assignments (session_id, "
	    "phone, proxy_id, ip, country, requested_country, fallback_used, "
	    "reason, instance_id, assigned_at) SELECT ?, ?, id, ip, country, ?, "
	    "?, ?, ?, ? FROM proxies WHERE id = ?", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, session_id);
	sqlite3_bind_text(st, 2, phone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, requested, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, fallback_used);
	sqlite3_bind_text(st, 5, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, self, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, proxy_id);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	snprintf(detail, sizeof detail, "{\"proxyId\":%lld,\"reason\":\"%s\","
	    "\"requestedCountry\":\"%s\",\"fallbackUsed\":%s}",
	    (long long)proxy_id, reason, requested,
	    fallback_used ? "true" : "false");
	if ((r = store_sqlite_event(b, now, self, session_id, "proxy.assigned",
	    detail)) < 0 || (r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

int
store_sqlite_proxy_unassign(void *p, int64_t proxy_id, bool keep,
    int64_t now, int64_t held_for, int64_t held_until)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	/* Kept for its session: the row already says so. */
	if (keep)
		return 0;
	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "UPDATE assignments SET ended_at = ? "
	    "WHERE proxy_id = ? AND ended_at IS NULL", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, proxy_id);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	/* Idle and held in one write: a restart never sees one alone. */
	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET state = 'idle', "
	    "session_id = NULL, idle_since = ?1, updated_at = ?1, held_for = "
	    "NULLIF(?2, 0), held_until = NULLIF(?3, 0) WHERE id = ?4 AND "
	    "state = 'active'", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, held_for);
	sqlite3_bind_int64(st, 3, held_until);
	sqlite3_bind_int64(st, 4, proxy_id);
	if ((r = store_sqlite_step_done(b, st)) < 0 ||
	    (r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

int
store_sqlite_proxy_set_state(void *p, int64_t proxy_id,
    enum proxy_state state, int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	/* A released IP is nobody's: no session, no hold. */
	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET state = ?1, "
	    "updated_at = ?2, released_at = CASE WHEN ?1 = 'released' THEN ?2 "
	    "ELSE released_at END, session_id = CASE WHEN ?1 = 'released' "
	    "THEN NULL ELSE session_id END, held_for = CASE WHEN ?1 = "
	    "'released' THEN NULL ELSE held_for END, held_until = CASE WHEN "
	    "?1 = 'released' THEN NULL ELSE held_until END WHERE id = ?3",
	    &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, store_proxy_state_name(state), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, proxy_id);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int
store_sqlite_proxy_request_release(void *p, const char *ip, const char *actor,
    int64_t now, struct proxy_row *ret)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	struct proxy_row	 row;
	char			 detail[160];
	int			 r, rc;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "SELECT " STORE_SQLITE_PROXY_COLUMNS
	    "FROM proxies WHERE ip = ? AND state NOT IN ('released', 'lost') "
	    "ORDER BY id DESC LIMIT 1", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store_sqlite_row_proxy(st, &row);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_sqlite_fail(b, rc);
		goto fail;
	}
	if (row.session_id != 0 || row.state == PROXY_ACTIVE) {
		r = -EBUSY;
		*ret = row;
		goto fail;
	}
	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET state = "
	    "'releasing', updated_at = ? WHERE id = ?", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, row.id);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	snprintf(detail, sizeof detail, "{\"proxyId\":%lld}", (long long)row.id);
	if ((r = store_sqlite_bump_generation(b)) < 0 ||
	    (r = store_sqlite_event(b, now, actor, 0, "proxy.release_requested",
	    detail)) < 0 || (r = store_sqlite_commit(b)) < 0)
		goto fail;
	row.state = PROXY_RELEASING;
	*ret = row;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

int
store_sqlite_proxy_history(void *p, const char *phone, int64_t *ids,
    size_t max, size_t *ret_n)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	size_t			 n = 0;
	int			 r, rc;

	if ((r = store_sqlite_prepare(b, "SELECT proxy_id FROM assignments "
	    "WHERE phone = ? GROUP BY proxy_id ORDER BY max(assigned_at) DESC, "
	    "max(id) DESC LIMIT ?", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max)
		ids[n++] = sqlite3_column_int64(st, 0);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	*ret_n = n;
	return 0;
}

int
store_sqlite_phone_spans(void *p, const char *phone, struct store_span *spans,
    size_t max, size_t *ret_n)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	size_t			 n = 0;
	int			 r, rc = SQLITE_DONE;

	if ((r = store_sqlite_prepare(b, "SELECT assigned_at, ended_at FROM "
	    "assignments WHERE phone = ? ORDER BY assigned_at DESC, id DESC "
	    "LIMIT ?", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		spans[n].assigned_at = sqlite3_column_int64(st, 0);
		spans[n].ended_at = sqlite3_column_int64(st, 1);
		n++;
	}
	if (n < max && rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	*ret_n = n;
	return 0;
}

/* --- purchase intents --------------------------------------------------- */

/*
 * The intent row is committed on its own, outside any batch, because the
 * provider must not be asked before it is on disk: a crash between the two
 * would otherwise leave a paid IP nobody knows about.
 */
int
store_sqlite_intent_add(void *p, const struct intent *in, const char *self,
    int64_t now, int64_t *ret_id)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	char			 detail[128];
	int64_t			 id;
	int			 r, depth = b->depth;

	if (depth > 0 && (r = store_sqlite_exec(b, "COMMIT")) < 0)
		return r;
	b->depth = 0;
	if ((r = store_sqlite_begin(b)) < 0)
		goto out;
	if ((r = store_sqlite_prepare(b, "INSERT INTO purchase_intents "
	    "(provider, zone, country, count, state, instance_id, created_at) "
	    "VALUES (?, ?, ?, ?, 'pending', ?, ?)", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, in->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, in->zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, in->country, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, in->count);
	sqlite3_bind_text(st, 5, self, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	id = sqlite3_last_insert_rowid(b->db);
	snprintf(detail, sizeof detail, "{\"intent\":%lld,\"country\":\"%s\","
	    "\"count\":%lld}", (long long)id, in->country, (long long)in->count);
	if ((r = store_sqlite_event(b, now, self, 0, "purchase.intent",
	    detail)) < 0 || (r = store_sqlite_commit(b)) < 0)
		goto fail;
	*ret_id = id;
	r = 0;
	goto out;
fail:
	store_sqlite_rollback(b);
out:
	if (depth > 0) {
		b->depth = depth;
		if (store_sqlite_exec(b, "BEGIN IMMEDIATE") < 0)
			b->depth = 0;
	}
	return r;
}

int
store_sqlite_intent_settle(void *p, int64_t id, enum intent_state state,
    const char *error, int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "UPDATE purchase_intents SET state = ?, "
	    "error = ?, settled_at = CASE WHEN ? IN ('owned', 'failed') THEN ? "
	    "ELSE settled_at END WHERE id = ?", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, store_intent_state_name(state), -1,
	    SQLITE_STATIC);
	if (error != NULL)
		sqlite3_bind_text(st, 2, error, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, store_intent_state_name(state), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, id);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

static int
store_sqlite_intent_each(sqlite3_stmt *st, void *arg)
{
	struct store_to	*to = arg;
	struct intent		 in;

	memset(&in, 0, sizeof in);
	in.id = sqlite3_column_int64(st, 0);
	(void)util_strlcpy(in.provider, store_sqlite_text(st, 1),
	    sizeof in.provider);
	(void)util_strlcpy(in.zone, store_sqlite_text(st, 2),
	    sizeof in.zone);
	(void)util_strlcpy(in.country, store_sqlite_text(st, 3),
	    sizeof in.country);
	in.count = sqlite3_column_int64(st, 4);
	in.state = strcmp(store_sqlite_text(st, 5), "unknown") == 0 ?
	    INTENT_UNKNOWN : INTENT_PENDING;
	in.created_at = sqlite3_column_int64(st, 6);
	(void)util_strlcpy(in.instance_id, store_sqlite_text(st, 7),
	    sizeof in.instance_id);
	return to->cb.intent(&in, to->arg);
}

int
store_sqlite_intent_list_open(void *p, store_intent_cb cb, void *arg)
{
	struct store_sqlite	*b = p;
	struct store_to	 to = { .cb.intent = cb, .arg = arg };
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "SELECT id, provider, zone, country, "
	    "count, state, created_at, coalesce(instance_id, '') FROM "
	    "purchase_intents WHERE state IN "
	    "('pending', 'unknown') ORDER BY id", &st)) < 0)
		return r;
	return store_sqlite_each(b, st, store_sqlite_intent_each, &to);
}
