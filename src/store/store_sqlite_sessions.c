/*
 * The SQLite backend's sessions (see store_sqlite.c for the backend): the
 * operator's changes, which bump the generation the daemon watches, and
 * the daemon's side, claims, owner and epoch conditioned reports, and
 * giving them all up at a stop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "base/failpoint.h"
#include "base/util.h"
#include "store/store_sqlite_impl.h"

/* --- sessions ----------------------------------------------------------- */

/*
 * Operator changes to sessions (add, remove, start, stop) bump a counter,
 * so the daemon notices them with one cheap query instead of re-reading
 * every session each second.
 */
int
store_sqlite_bump_generation(struct store_sqlite *b)
{
	return store_sqlite_exec(b, "UPDATE meta SET value = value + 1 "
	    "WHERE key = 'sessions_generation'");
}

int
store_sqlite_bump(void *p)
{
	return store_sqlite_bump_generation(p);
}

/*
 * Many sessions in one write (store_session_add_many).  A phone that
 * already has a session is skipped by the insert itself (ON CONFLICT DO
 * NOTHING) rather than failing it, so the others still go in; any other
 * failure undoes them all.
 */
int
store_sqlite_session_add_many(void *p, const struct session_new *v, size_t n,
    const char *actor, int64_t now, int64_t *ids)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt	*st = NULL;
	char		 detail[512];
	size_t		 i;
	int		 r, rc;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "INSERT INTO sessions (user_id, phone, "
	    "country, priority, proxy_type, desired, created_at, updated_at, "
	    "last_activity_at, graceful_shutdown, shutdown_at) VALUES (?, ?, "
	    "?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?, NULLIF(?, 0)) ON CONFLICT "
	    "(phone) DO NOTHING", &st)) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, v[i].user_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, v[i].phone, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, v[i].country, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, v[i].priority);
		sqlite3_bind_text(st, 5, config_proxy_type_name(v[i].proxy_type),
		    -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, store_session_desired_name(
		    v[i].desired), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, now);
		sqlite3_bind_int64(st, 8, now);
		sqlite3_bind_int64(st, 9, v[i].last_activity_at);
		sqlite3_bind_int(st, 10, v[i].graceful_shutdown);
		sqlite3_bind_int64(st, 11, v[i].shutdown_at);
		if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
			r = store_sqlite_fail(b, rc);
			goto fail;
		}
		if (sqlite3_changes(b->db) == 0) {
			ids[i] = 0;
			continue;
		}
		ids[i] = sqlite3_last_insert_rowid(b->db);
		/* The values were validated by the caller; none needs escaping. */
		snprintf(detail, sizeof detail, "{\"phoneNumber\":\"%s\","
		    "\"country\":\"%s\"}", v[i].phone, v[i].country);
		if ((r = store_sqlite_event(b, now, actor, ids[i],
		    "session.added", detail)) < 0)
			goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* A test's failure after every insert: all must be undone. */
	if (failpoint("store.add_many")) {
		(void)util_strlcpy(b->err, "failpoint store.add_many",
		    sizeof b->err);
		r = -EIO;
		goto fail;
	}
	if ((r = store_sqlite_bump_generation(b)) < 0 ||
	    (r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	sqlite3_finalize(st);
	store_sqlite_rollback(b);
	return r;
}

#define SQ_SESSION_COLUMNS						\
	"s.id, s.user_id, s.phone, s.country, s.priority, s.proxy_type, "	\
	"s.desired, s.status, s.owner_instance, s.epoch, "		\
	"s.last_activity_at, s.graceful_shutdown, s.shutdown_at, "	\
	"s.attempts, s.last_error, s.created_at, s.updated_at, "	\
	"(SELECT p.ip FROM proxies p WHERE p.session_id = s.id AND "	\
	"  p.state = 'active' ORDER BY p.assigned_at DESC LIMIT 1), "	\
	"s.connector_pid, s.connector_started_at, "			\
	"(SELECT a.requested_country || ',' || a.country || ',' || "	\
	"  a.fallback_used FROM assignments a WHERE a.phone = s.phone "	\
	"  ORDER BY a.assigned_at DESC, a.id DESC LIMIT 1) "

static void
store_sqlite_row_session(sqlite3_stmt *st, struct session *s)
{
	memset(s, 0, sizeof *s);
	s->id = sqlite3_column_int64(st, 0);
	(void)util_strlcpy(s->user_id, store_sqlite_text(st, 1), sizeof s->user_id);
	(void)util_strlcpy(s->phone, store_sqlite_text(st, 2), sizeof s->phone);
	(void)util_strlcpy(s->country, store_sqlite_text(st, 3), sizeof s->country);
	s->priority = sqlite3_column_int64(st, 4);
	s->proxy_type = strcmp(store_sqlite_text(st, 5), "residential") == 0 ?
	    PROXY_TYPE_RESIDENTIAL : PROXY_TYPE_ISP;
	s->desired = strcmp(store_sqlite_text(st, 6), "stopped") == 0 ?
	    SESSION_DESIRED_STOPPED : SESSION_DESIRED_RUNNING;
	if (store_session_status_parse(store_sqlite_text(st, 7), &s->status) < 0)
		s->status = SESSION_STATUS_NEW;
	(void)util_strlcpy(s->owner, store_sqlite_text(st, 8), sizeof s->owner);
	s->epoch = sqlite3_column_int64(st, 9);
	s->last_activity_at = sqlite3_column_int64(st, 10);
	s->graceful_shutdown = sqlite3_column_int(st, 11) != 0;
	s->shutdown_at = sqlite3_column_int64(st, 12);
	s->attempts = sqlite3_column_int64(st, 13);
	(void)util_strlcpy(s->last_error, store_sqlite_text(st, 14),
	    sizeof s->last_error);
	s->created_at = sqlite3_column_int64(st, 15);
	s->updated_at = sqlite3_column_int64(st, 16);
	(void)util_strlcpy(s->proxy_ip, store_sqlite_text(st, 17), sizeof s->proxy_ip);
	s->connector_pid = sqlite3_column_int64(st, 18);
	s->connector_started_at = sqlite3_column_int64(st, 19);
	store_session_assignment(s, store_sqlite_text(st, 20));
}

int
store_sqlite_session_get(void *p, int64_t id, const char *phone, struct session *ret)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt	*st;
	int		 r, rc;

	r = store_sqlite_prepare(b, phone != NULL ?
	    "SELECT " SQ_SESSION_COLUMNS "FROM sessions s WHERE s.phone = ?" :
	    "SELECT " SQ_SESSION_COLUMNS "FROM sessions s WHERE s.id = ?", &st);
	if (r < 0)
		return r;
	if (phone != NULL)
		sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		store_sqlite_row_session(st, ret);
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = store_sqlite_fail(b, rc);
	}
	sqlite3_finalize(st);
	return r;
}

static int
store_sqlite_session_each(sqlite3_stmt *st, void *arg)
{
	struct store_to	*to = arg;
	struct session		 s;

	store_sqlite_row_session(st, &s);
	return to->cb.session(&s, to->arg);
}

int
store_sqlite_session_list(void *p, store_session_cb cb, void *arg)
{
	struct store_sqlite	*b = p;
	struct store_to	 to = { .cb.session = cb, .arg = arg };
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "SELECT " SQ_SESSION_COLUMNS
	    "FROM sessions s ORDER BY s.id", &st)) < 0)
		return r;
	return store_sqlite_each(b, st, store_sqlite_session_each, &to);
}

int
store_sqlite_session_set_desired(void *p, int64_t id, enum session_desired desired,
    const char *actor, int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt	*st;
	int		 r, rc;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	/*
	 * Starting a failed, logged-out or dormant session is the operator's
	 * word that it may try again (after a QR scan): its status and
	 * attempts reset.
	 */
	if ((r = store_sqlite_prepare(b, "UPDATE sessions SET desired = ?, updated_at = ?, "
	    "status = CASE WHEN ?1 = 'running' AND status IN ('failed', "
	    "'needs_auth', 'dormant') THEN 'new' ELSE status END, attempts = "
	    "CASE WHEN ?1 = 'running' AND status IN ('failed', 'needs_auth', "
	    "'dormant') THEN 0 ELSE attempts END WHERE id = ?", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, store_session_desired_name(desired), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		goto fail;
	}
	if (sqlite3_changes(b->db) == 0) {
		r = -ENOENT;
		goto fail;
	}
	if ((r = store_sqlite_bump_generation(b)) < 0 ||
	    (r = store_sqlite_event(b, now, actor, id, desired == SESSION_DESIRED_RUNNING ?
	    "session.start_requested" : "session.stop_requested", NULL)) < 0 ||
	    (r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

int
store_sqlite_session_remove(void *p, int64_t id, const char *actor, int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt	*st;
	int		 r, rc;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "DELETE FROM sessions WHERE id = ?", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		goto fail;
	}
	if (sqlite3_changes(b->db) == 0) {
		r = -ENOENT;
		goto fail;
	}
	if ((r = store_sqlite_bump_generation(b)) < 0 ||
	    (r = store_sqlite_event(b, now, actor, id, "session.removed", NULL)) < 0 ||
	    (r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

/* --- the daemon's side ------------------------------------------------ */

int
store_sqlite_session_claim(void *p, const char *self, int64_t now,
    int *ret_claimed)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r, n;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "UPDATE sessions SET owner_instance = ?, "
	    "epoch = epoch + 1 WHERE owner_instance IS NULL OR owner_instance "
	    "NOT IN (SELECT id FROM instances WHERE status IN ('starting', "
	    "'running', 'stopping'))", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, self, -1, SQLITE_STATIC);
	if ((n = r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	if ((r = store_sqlite_commit(b)) < 0)
		goto fail;
	(void)now;
	*ret_claimed = n;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

int
store_sqlite_session_report(void *p, int64_t id, const char *self,
    int64_t epoch, const struct session_report *rep, int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "UPDATE sessions SET status = ?, "
	    "attempts = ?, last_error = ?, connector_pid = ?, "
	    "connector_started_at = ?, last_activity_at = CASE WHEN ? THEN ? "
	    "ELSE last_activity_at END, graceful_shutdown = CASE WHEN ? = "
	    "'ready' THEN 0 ELSE graceful_shutdown END "
	    "WHERE id = ? AND owner_instance = ? AND epoch = ?", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, store_session_status_name(rep->status), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, rep->attempts);
	if (rep->last_error != NULL)
		sqlite3_bind_text(st, 3, rep->last_error, -1, SQLITE_STATIC);
	if (rep->connector_pid > 0) {
		sqlite3_bind_int64(st, 4, rep->connector_pid);
		sqlite3_bind_int64(st, 5, rep->connector_started_at);
	}
	sqlite3_bind_int(st, 6, rep->touch_activity);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_text(st, 8, store_session_status_name(rep->status), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, id);
	sqlite3_bind_text(st, 10, self, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, epoch);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ESTALE : 0;
}

int
store_sqlite_session_release_all(void *p, const char *self, bool graceful,
    int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "UPDATE sessions SET owner_instance = "
	    "NULL, graceful_shutdown = ?, shutdown_at = CASE WHEN ? THEN ? "
	    "ELSE shutdown_at END WHERE owner_instance = ?", &st)) < 0)
		return r;
	sqlite3_bind_int(st, 1, graceful);
	sqlite3_bind_int(st, 2, graceful);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, self, -1, SQLITE_STATIC);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : 0;
}

int
store_sqlite_session_fingerprint(void *p, int64_t *ret_count,
    int64_t *ret_gen)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r, rc;

	if ((r = store_sqlite_prepare(b, "SELECT (SELECT count(*) FROM sessions), "
	    "(SELECT value FROM meta WHERE key = 'sessions_generation')",
	    &st)) < 0)
		return r;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = store_sqlite_fail(b, rc);
		sqlite3_finalize(st);
		return r;
	}
	*ret_count = sqlite3_column_int64(st, 0);
	*ret_gen = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return 0;
}
