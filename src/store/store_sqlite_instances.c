/*
 * The SQLite backend's instances, their recovery runs and the audit log
 * (see store_sqlite.c for the backend): registration, heartbeats and
 * status, reaping the dead; the runs and events, also paged for the HTTP
 * API.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "store/store_sqlite_impl.h"

/* --- the audit log ------------------------------------------------------ */

int
store_sqlite_event(struct store_sqlite *b, int64_t now, const char *actor, int64_t session_id,
    const char *kind, const char *detail)
{
	sqlite3_stmt	*st;
	int		 r, rc;

	if (detail != NULL && strlen(detail) > STORE_DETAIL_MAX) {
		snprintf(b->err, sizeof b->err, "event detail too long");
		return -E2BIG;
	}
	if ((r = store_sqlite_prepare(b, "INSERT INTO events (at, actor, session_id, "
	    "kind, detail) VALUES (?, ?, ?, ?, coalesce(?, '{}'))", &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
	if (session_id > 0)
		sqlite3_bind_int64(st, 3, session_id);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
	if (detail != NULL)
		sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	r = rc == SQLITE_DONE ? 0 : store_sqlite_fail(b, rc);
	sqlite3_finalize(st);
	return r;
}

int
store_sqlite_event_add(void *p, int64_t now, const char *actor, int64_t session_id,
    const char *kind, const char *detail)
{
	struct store_sqlite	*b = p;
	int		 r;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_event(b, now, actor, session_id, kind, detail)) < 0 ||
	    (r = store_sqlite_commit(b)) < 0) {
		store_sqlite_rollback(b);
		return r;
	}
	return 0;
}

static int
store_sqlite_event_each(sqlite3_stmt *st, void *arg)
{
	struct store_to	*to = arg;
	struct audit_event	*e;
	int			 r;

	e = xmalloc(sizeof *e);	/* 4 KiB of detail: not on the stack */
	e->id = sqlite3_column_int64(st, 0);
	e->at = sqlite3_column_int64(st, 1);
	(void)util_strlcpy(e->actor, store_sqlite_text(st, 2), sizeof e->actor);
	e->session_id = sqlite3_column_int64(st, 3);
	(void)util_strlcpy(e->kind, store_sqlite_text(st, 4), sizeof e->kind);
	(void)util_strlcpy(e->detail, store_sqlite_text(st, 5),
	    sizeof e->detail);
	r = to->cb.event(e, to->arg);
	free(e);
	return r;
}

int
store_sqlite_event_list(void *p, int64_t before_id, int64_t session_id,
    size_t limit, store_event_cb cb, void *arg)
{
	struct store_sqlite	*b = p;
	struct store_to	 to = { .cb.event = cb, .arg = arg };
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "SELECT id, at, actor, "
	    "coalesce(session_id, 0), kind, detail FROM events WHERE id < ? "
	    "AND (? = 0 OR session_id = ?) ORDER BY id DESC LIMIT ?", &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, before_id > 0 ? before_id : INT64_MAX);
	sqlite3_bind_int64(st, 2, session_id);
	sqlite3_bind_int64(st, 3, session_id);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
	return store_sqlite_each(b, st, store_sqlite_event_each, &to);
}

/* --- instances ---------------------------------------------------------- */

int
store_sqlite_instance_register(void *p, const struct instance *i)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "INSERT INTO instances (id, hostname, "
	    "pid, started_at, heartbeat_at, status) VALUES (?, ?, ?, ?, ?, ?)",
	    &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, i->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, i->hostname, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, i->pid);
	sqlite3_bind_int64(st, 4, i->started_at);
	sqlite3_bind_int64(st, 5, i->started_at);
	sqlite3_bind_text(st, 6, store_instance_status_name(i->status), -1,
	    SQLITE_STATIC);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : 0;
}

int
store_sqlite_instance_heartbeat(void *p, const char *id, int64_t now,
    bool in_progress, int64_t total, int64_t done)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "UPDATE instances SET heartbeat_at = ?, "
	    "recovery_in_progress = ?, recovery_total = ?, recovery_done = ?, "
	    "recovery_completed_at = CASE WHEN ? = 0 AND recovery_in_progress "
	    "= 1 THEN ? ELSE recovery_completed_at END WHERE id = ?", &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, in_progress);
	sqlite3_bind_int64(st, 3, total);
	sqlite3_bind_int64(st, 4, done);
	sqlite3_bind_int(st, 5, in_progress);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_text(st, 7, id, -1, SQLITE_STATIC);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int
store_sqlite_instance_set_status(void *p, const char *id,
    enum instance_status status, int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "UPDATE instances SET status = ?, "
	    "heartbeat_at = ?, stopped_at = CASE WHEN ? IN ('stopped', 'dead') "
	    "THEN ? ELSE stopped_at END WHERE id = ?", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, store_instance_status_name(status), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, store_instance_status_name(status), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, id, -1, SQLITE_STATIC);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int
store_sqlite_instance_reap(void *p, const char *self, int64_t now,
    int64_t stale_ms, int64_t delete_ms, int *ret_dead, int *ret_deleted)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r, dead, deleted;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "UPDATE instances SET status = 'dead', "
	    "stopped_at = ? WHERE id <> ? AND status IN ('starting', "
	    "'running', 'stopping') AND heartbeat_at < ?", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, self, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now - stale_ms);
	if ((dead = r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	if ((r = store_sqlite_prepare(b, "DELETE FROM instances WHERE id <> ? "
	    "AND status IN ('stopped', 'dead') AND coalesce(stopped_at, "
	    "heartbeat_at) < ?", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, self, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now - delete_ms);
	if ((deleted = r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	if ((r = store_sqlite_commit(b)) < 0)
		goto fail;
	*ret_dead = dead;
	*ret_deleted = deleted;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

static int
store_sqlite_instance_each(sqlite3_stmt *st, void *arg)
{
	struct store_to	*to = arg;
	struct instance		 i;
	size_t			 k;

	memset(&i, 0, sizeof i);
	(void)util_strlcpy(i.id, store_sqlite_text(st, 0), sizeof i.id);
	(void)util_strlcpy(i.hostname, store_sqlite_text(st, 1),
	    sizeof i.hostname);
	i.pid = sqlite3_column_int64(st, 2);
	i.started_at = sqlite3_column_int64(st, 3);
	i.heartbeat_at = sqlite3_column_int64(st, 4);
	for (k = 0; k <= INSTANCE_DEAD; k++)
		if (strcmp(store_sqlite_text(st, 5),
		    store_instance_status_name((enum instance_status)k)) == 0)
			i.status = (enum instance_status)k;
	i.recovery_in_progress = sqlite3_column_int(st, 6) != 0;
	i.recovery_total = sqlite3_column_int64(st, 7);
	i.recovery_done = sqlite3_column_int64(st, 8);
	i.recovery_completed_at = sqlite3_column_int64(st, 9);
	i.stopped_at = sqlite3_column_int64(st, 10);
	return to->cb.instance(&i, to->arg);
}

int
store_sqlite_instance_list(void *p, store_instance_cb cb, void *arg)
{
	struct store_sqlite	*b = p;
	struct store_to	 to = { .cb.instance = cb, .arg = arg };
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "SELECT id, hostname, pid, started_at, "
	    "heartbeat_at, status, recovery_in_progress, recovery_total, "
	    "recovery_done, recovery_completed_at, stopped_at FROM instances "
	    "ORDER BY started_at", &st)) < 0)
		return r;
	return store_sqlite_each(b, st, store_sqlite_instance_each, &to);
}

/* --- recovery runs ------------------------------------------------------ */

int
store_sqlite_recovery_run_add(void *p, const struct recovery_run *run,
    int64_t *ret_id)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "INSERT INTO recovery_runs "
	    "(instance_id, cause, started_at, finished_at, sessions_total, "
	    "recovered, failed, reactivated, reused, purchased, fallbacks, "
	    "total_recovery_ms, cost_micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?)", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, run->instance_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, run->cause, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, run->started_at);
	sqlite3_bind_int64(st, 4, run->finished_at);
	sqlite3_bind_int64(st, 5, run->sessions_total);
	sqlite3_bind_int64(st, 6, run->recovered);
	sqlite3_bind_int64(st, 7, run->failed);
	sqlite3_bind_int64(st, 8, run->reactivated);
	sqlite3_bind_int64(st, 9, run->reused);
	sqlite3_bind_int64(st, 10, run->purchased);
	sqlite3_bind_int64(st, 11, run->fallbacks);
	sqlite3_bind_int64(st, 12, run->total_recovery_ms);
	sqlite3_bind_int64(st, 13, run->cost_micros);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(b->db);
	return 0;
}

#define STORE_SQLITE_RUN_COLUMNS "instance_id, cause, started_at, " \
	"coalesce(finished_at, 0), sessions_total, recovered, failed, " \
	"reactivated, reused, purchased, fallbacks, total_recovery_ms, " \
	"cost_micros, id"

static void
store_sqlite_run_row(sqlite3_stmt *st, struct recovery_run *run)
{
	memset(run, 0, sizeof *run);
	(void)util_strlcpy(run->instance_id, store_sqlite_text(st, 0),
	    sizeof run->instance_id);
	(void)util_strlcpy(run->cause, store_sqlite_text(st, 1),
	    sizeof run->cause);
	run->started_at = sqlite3_column_int64(st, 2);
	run->finished_at = sqlite3_column_int64(st, 3);
	run->sessions_total = sqlite3_column_int64(st, 4);
	run->recovered = sqlite3_column_int64(st, 5);
	run->failed = sqlite3_column_int64(st, 6);
	run->reactivated = sqlite3_column_int64(st, 7);
	run->reused = sqlite3_column_int64(st, 8);
	run->purchased = sqlite3_column_int64(st, 9);
	run->fallbacks = sqlite3_column_int64(st, 10);
	run->total_recovery_ms = sqlite3_column_int64(st, 11);
	run->cost_micros = sqlite3_column_int64(st, 12);
	run->id = sqlite3_column_int64(st, 13);
}

int
store_sqlite_recovery_run_last(void *p, struct recovery_run *ret)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	struct recovery_run	 run;
	int			 r, rc;

	if ((r = store_sqlite_prepare(b, "SELECT " STORE_SQLITE_RUN_COLUMNS
	    " FROM recovery_runs ORDER BY id DESC LIMIT 1", &st)) < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_sqlite_fail(b, rc);
		sqlite3_finalize(st);
		return r;
	}
	store_sqlite_run_row(st, &run);
	sqlite3_finalize(st);
	*ret = run;
	return 0;
}

static int
store_sqlite_run_each(sqlite3_stmt *st, void *arg)
{
	struct store_to	*to = arg;
	struct recovery_run	 run;

	store_sqlite_run_row(st, &run);
	return to->cb.run(&run, to->arg);
}

int
store_sqlite_recovery_run_list(void *p, int64_t before_id, size_t limit,
    store_recovery_cb cb, void *arg)
{
	struct store_sqlite	*b = p;
	struct store_to	 to = { .cb.run = cb, .arg = arg };
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "SELECT " STORE_SQLITE_RUN_COLUMNS
	    " FROM recovery_runs WHERE id < ? ORDER BY id DESC LIMIT ?",
	    &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, before_id > 0 ? before_id : INT64_MAX);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	return store_sqlite_each(b, st, store_sqlite_run_each, &to);
}
