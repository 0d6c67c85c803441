/*
 * The PostgreSQL backend's instances, their recovery runs and the audit
 * log (see store_pg.c for the backend): registration and succession,
 * heartbeats and status by the database's clock, reaping the dead; the
 * runs and events the HTTP API pages through.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "store/store_pg_impl.h"

/* --- the audit log ------------------------------------------------------ */

int
store_pg_event(struct store_pg *b, int64_t now, const char *actor,
    int64_t session_id, const char *kind, const char *detail)
{
	struct store_pg_args	a = { .n = 0 };

	if (detail != NULL && strlen(detail) > STORE_DETAIL_MAX) {
		snprintf(b->err, sizeof b->err, "event detail too long");
		return -E2BIG;
	}
	store_pg_arg_i64(&a, now);
	store_pg_arg(&a, actor);
	if (session_id > 0)
		store_pg_arg_i64(&a, session_id);
	else
		store_pg_arg(&a, NULL);
	store_pg_arg(&a, kind);
	store_pg_arg(&a, detail);
	return store_pg_run(b, "INSERT INTO events (at, actor, session_id, "
	    "kind, detail) VALUES ($1::bigint, $2, $3::bigint, $4, "
	    "coalesce($5::text, '{}'))", &a, NULL);
}

int
store_pg_event_add(void *p, int64_t now, const char *actor,
    int64_t session_id, const char *kind, const char *detail)
{
	struct store_pg	*b = p;
	int		 r;

	if ((r = store_pg_begin(b, STORE_PG_WRITE)) < 0)
		return r;
	r = store_pg_event(b, now, actor, session_id, kind, detail);
	return store_pg_end(b, STORE_PG_WRITE, r);
}

/* --- instances: liveness by the database's clock ----------------------- */

/* The instance's row, its heartbeat the database's now. */
static int
store_pg_instance_insert(struct store_pg *b, const struct instance *i)
{
	struct store_pg_args	 a = { .n = 0 };

	store_pg_arg(&a, i->id);
	store_pg_arg(&a, i->hostname);
	store_pg_arg_i64(&a, i->pid);
	store_pg_arg_i64(&a, i->started_at);
	store_pg_arg(&a, store_instance_status_name(i->status));
	return store_pg_run(b, "INSERT INTO instances (id, hostname, pid, "
	    "started_at, heartbeat_at, status) VALUES ($1, $2, $3::bigint, "
	    "$4::bigint, " STORE_PG_NOW_MS ", $5)", &a, NULL);
}

int
store_pg_instance_register(void *p, const struct instance *i)
{
	struct store_pg		*b = p;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	/* A newcomer: every share shrinks, and the others may shed some. */
	if ((r = store_pg_instance_insert(b, i)) == 0)
		r = store_pg_notify(b, "joined", i->id);
	return store_pg_end(b, STORE_PG_TX, r);
}

/*
 * A restarted daemon takes its predecessors' place in one transaction: it
 * registers, their sessions become its own (epoch + 1: anything they
 * still had in flight is fenced out) and they are marked dead without
 * touching their heartbeat.  Peers never see a moment in which the
 * sessions are free, nor one in which the fleet has an instance more
 * (that would make them shed sessions to the newcomer), and they are
 * woken once, for the newcomer.
 */
int
store_pg_instance_succeed(void *p, const struct instance *i,
    const char (*old)[STORE_ID_LEN], size_t n, int *ret_taken)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	size_t			 k;
	int			 r, taken = 0;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	if ((r = store_pg_instance_insert(b, i)) < 0)
		goto out;
	for (k = 0; k < n; k++) {
		a.n = 0;
		store_pg_arg(&a, i->id);
		store_pg_arg(&a, old[k]);
		if ((r = store_pg_run(b, "UPDATE sessions SET owner_instance = "
		    "$1, epoch = epoch + 1 WHERE owner_instance = $2", &a,
		    &res)) < 0)
			goto out;
		taken += store_pg_changes(res);
		PQclear(res);
		a.n = 0;
		store_pg_arg(&a, old[k]);
		if ((r = store_pg_run(b, "UPDATE instances SET status = "
		    "'dead', stopped_at = " STORE_PG_NOW_MS " WHERE id = $1 "
		    "AND status IN " STORE_PG_LIVE, &a, NULL)) < 0)
			goto out;
	}
	if ((r = store_pg_notify(b, "joined", i->id)) < 0)
		goto out;
	if ((r = store_pg_end(b, STORE_PG_TX, 0)) < 0)
		return r;
	*ret_taken = taken;
	return 0;
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

/*
 * The outcome of an UPDATE of one instance row that was refused: absent
 * (-ENOENT) or declared dead by a peer (-ESTALE: its lease is lost, and
 * its sessions are, or will be, taken with a new epoch).
 */
static int
store_pg_instance_refused(struct store_pg *b, const PGresult *res,
    const char *id)
{
	if (PQgetisnull(res, 0, 1)) {
		snprintf(b->err, sizeof b->err, "instance '%s' is not "
		    "registered", id);
		return -ENOENT;
	}
	snprintf(b->err, sizeof b->err, "instance '%s' was declared dead "
	    "(its lease expired); its sessions are no longer its own", id);
	return -ESTALE;
}

int
store_pg_instance_heartbeat(void *p, const char *id, int64_t now,
    bool in_progress, int64_t total, int64_t done)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_WRITE)) < 0)
		return r;
	store_pg_arg(&a, id);
	store_pg_arg_bool(&a, in_progress);
	store_pg_arg_i64(&a, total);
	store_pg_arg_i64(&a, done);
	store_pg_arg_i64(&a, now);
	if ((r = store_pg_run(b, "WITH u AS (UPDATE instances SET "
	    "heartbeat_at = " STORE_PG_NOW_MS ", recovery_in_progress = "
	    "$2::boolean, recovery_total = $3::bigint, recovery_done = "
	    "$4::bigint, recovery_completed_at = CASE WHEN NOT $2::boolean AND "
	    "recovery_in_progress THEN $5::bigint ELSE recovery_completed_at "
	    "END WHERE id = $1 AND status <> 'dead' RETURNING 1) "
	    "SELECT (SELECT count(*) FROM u), "
	    "(SELECT status FROM instances WHERE id = $1)", &a, &res)) == 0) {
		if (store_pg_i64(res, 0, 0) == 0)
			r = store_pg_instance_refused(b, res, id);
		PQclear(res);
	}
	return store_pg_end(b, STORE_PG_WRITE, r);
}

int
store_pg_instance_set_status(void *p, const char *id,
    enum instance_status status, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	(void)now;
	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg(&a, id);
	store_pg_arg(&a, store_instance_status_name(status));
	/* A dead instance does not come back to life by saying so. */
	if ((r = store_pg_run(b, "WITH u AS (UPDATE instances SET status = "
	    "$2::text, heartbeat_at = CASE WHEN $2::text = 'dead' THEN "
	    "heartbeat_at ELSE " STORE_PG_NOW_MS " END, stopped_at = CASE "
	    "WHEN $2::text IN ('stopped', 'dead') THEN " STORE_PG_NOW_MS
	    " ELSE stopped_at END WHERE id = $1 AND NOT (status = 'dead' AND "
	    "$2::text IN " STORE_PG_LIVE ") RETURNING 1) "
	    "SELECT (SELECT count(*) FROM u), "
	    "(SELECT status FROM instances WHERE id = $1)", &a, &res)) == 0) {
		if (store_pg_i64(res, 0, 0) == 0)
			r = store_pg_instance_refused(b, res, id);
		PQclear(res);
	}
	/* One fewer live instance: the others' shares grow. */
	if (r == 0 && (status == INSTANCE_STOPPED || status == INSTANCE_DEAD))
		r = store_pg_notify(b, store_instance_status_name(status), id);
	return store_pg_end(b, STORE_PG_TX, r);
}

int
store_pg_instance_reap(void *p, const char *self, int64_t now,
    int64_t stale_ms, int64_t delete_ms, int *ret_dead, int *ret_deleted)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r, dead, deleted;

	(void)now;	/* the database's clock decides; see store_pg.c */
	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, stale_ms);
	if ((r = store_pg_run(b, "UPDATE instances SET status = 'dead', "
	    "stopped_at = " STORE_PG_NOW_MS " WHERE id <> $1 AND status IN "
	    STORE_PG_LIVE " AND heartbeat_at < " STORE_PG_NOW_MS
	    " - $2::bigint", &a, &res)) < 0)
		goto out;
	dead = store_pg_changes(res);
	PQclear(res);
	if (dead > 0 && (r = store_pg_notify(b, "dead", "")) < 0)
		goto out;
	a.n = 1;
	store_pg_arg_i64(&a, delete_ms);
	if ((r = store_pg_run(b, "DELETE FROM instances WHERE id <> $1 AND "
	    "status IN ('stopped', 'dead') AND coalesce(stopped_at, "
	    "heartbeat_at) < " STORE_PG_NOW_MS " - $2::bigint", &a,
	    &res)) < 0)
		goto out;
	deleted = store_pg_changes(res);
	PQclear(res);
	if ((r = store_pg_end(b, STORE_PG_TX, 0)) < 0)
		return r;
	*ret_dead = dead;
	*ret_deleted = deleted;
	return 0;
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

static int
store_pg_instance_each(const PGresult *res, int i, void *arg)
{
	struct store_to	*to = arg;
	struct instance	 in;
	size_t		 k;

	memset(&in, 0, sizeof in);
	(void)util_strlcpy(in.id, store_pg_text(res, i, 0),
	    sizeof in.id);
	(void)util_strlcpy(in.hostname, store_pg_text(res, i, 1),
	    sizeof in.hostname);
	in.pid = store_pg_i64(res, i, 2);
	in.started_at = store_pg_i64(res, i, 3);
	in.heartbeat_at = store_pg_i64(res, i, 4);
	for (k = 0; k <= INSTANCE_DEAD; k++)
		if (strcmp(store_pg_text(res, i, 5),
		    store_instance_status_name(
		    (enum instance_status)k)) == 0)
			in.status = (enum instance_status)k;
	in.recovery_in_progress = store_pg_bool(res, i, 6);
	in.recovery_total = store_pg_i64(res, i, 7);
	in.recovery_done = store_pg_i64(res, i, 8);
	in.recovery_completed_at = store_pg_i64(res, i, 9);
	in.stopped_at = store_pg_i64(res, i, 10);
	return to->cb.instance(&in, to->arg);
}

int
store_pg_instance_list(void *p, store_instance_cb cb, void *arg)
{
	struct store_pg	*b = p;
	struct store_to	 to = { .cb.instance = cb, .arg = arg };
	PGresult	*res;
	int		 r;

	if ((r = store_pg_read(b, "SELECT id, hostname, pid, started_at, "
	    "heartbeat_at, status, recovery_in_progress, recovery_total, "
	    "recovery_done, recovery_completed_at, stopped_at FROM instances "
	    "ORDER BY started_at, id", NULL, &res)) < 0)
		return r;
	return store_pg_each(res, store_pg_instance_each, &to);
}

/* --- recovery runs ------------------------------------------------------ */

int
store_pg_recovery_run_add(void *p, const struct recovery_run *run,
    int64_t *ret_id)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int64_t			 id = 0;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_WRITE)) < 0)
		return r;
	store_pg_arg(&a, run->instance_id);
	store_pg_arg(&a, run->cause);
	store_pg_arg_i64(&a, run->started_at);
	store_pg_arg_i64(&a, run->finished_at);
	store_pg_arg_i64(&a, run->sessions_total);
	store_pg_arg_i64(&a, run->recovered);
	store_pg_arg_i64(&a, run->failed);
	store_pg_arg_i64(&a, run->reactivated);
	store_pg_arg_i64(&a, run->reused);
	store_pg_arg_i64(&a, run->purchased);
	store_pg_arg_i64(&a, run->fallbacks);
	store_pg_arg_i64(&a, run->total_recovery_ms);
	store_pg_arg_i64(&a, run->cost_micros);
	if ((r = store_pg_run(b, "INSERT INTO recovery_runs (instance_id, "
	    "cause, started_at, finished_at, sessions_total, recovered, "
	    "failed, reactivated, reused, purchased, fallbacks, "
	    "total_recovery_ms, cost_micros) VALUES ($1, $2, $3::bigint, "
	    "$4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::bigint, "
	    "$9::bigint, $10::bigint, $11::bigint, $12::bigint, $13::bigint) "
	    "RETURNING id", &a, &res)) == 0) {
		id = store_pg_i64(res, 0, 0);
		PQclear(res);
	}
	if ((r = store_pg_end(b, STORE_PG_WRITE, r)) < 0)
		return r;
	*ret_id = id;
	return 0;
}

/* --- paged reads, for the HTTP API -------------------------------------- */

/* Those of store_sqlite_instances.c, in the same order. */
#define STORE_PG_RUN_COLUMNS						\
	"instance_id, cause, started_at, coalesce(finished_at, 0), "	\
	"sessions_total, recovered, failed, reactivated, reused, "	\
	"purchased, fallbacks, total_recovery_ms, cost_micros, id "

static void
store_pg_row_run(const PGresult *res, int i, struct recovery_run *run)
{
	memset(run, 0, sizeof *run);
	(void)util_strlcpy(run->instance_id, store_pg_text(res, i, 0),
	    sizeof run->instance_id);
	(void)util_strlcpy(run->cause, store_pg_text(res, i, 1),
	    sizeof run->cause);
	run->started_at = store_pg_i64(res, i, 2);
	run->finished_at = store_pg_i64(res, i, 3);
	run->sessions_total = store_pg_i64(res, i, 4);
	run->recovered = store_pg_i64(res, i, 5);
	run->failed = store_pg_i64(res, i, 6);
	run->reactivated = store_pg_i64(res, i, 7);
	run->reused = store_pg_i64(res, i, 8);
	run->purchased = store_pg_i64(res, i, 9);
	run->fallbacks = store_pg_i64(res, i, 10);
	run->total_recovery_ms = store_pg_i64(res, i, 11);
	run->cost_micros = store_pg_i64(res, i, 12);
	run->id = store_pg_i64(res, i, 13);
}

int
store_pg_recovery_run_last(void *p, struct recovery_run *ret)
{
	struct store_pg		*b = p;
	PGresult		*res;
	struct recovery_run	 run;
	int			 r;

	if ((r = store_pg_read(b, "SELECT " STORE_PG_RUN_COLUMNS "FROM "
	    "recovery_runs ORDER BY id DESC LIMIT 1", NULL, &res)) < 0)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	store_pg_row_run(res, 0, &run);
	PQclear(res);
	*ret = run;
	return 0;
}

/* A page's bounds as parameters: below before_id (0: none), limit rows. */
static void
store_pg_arg_page(struct store_pg_args *a, int64_t before_id, size_t limit)
{
	store_pg_arg_i64(a, before_id > 0 ? before_id : INT64_MAX);
	store_pg_arg_i64(a, limit > (size_t)INT64_MAX ? INT64_MAX :
	    (int64_t)limit);
}

static int
store_pg_run_each(const PGresult *res, int i, void *arg)
{
	struct store_to		*to = arg;
	struct recovery_run	 run;

	store_pg_row_run(res, i, &run);
	return to->cb.run(&run, to->arg);
}

int
store_pg_recovery_run_list(void *p, int64_t before_id, size_t limit,
    store_recovery_cb cb, void *arg)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	struct store_to		 to = { .cb.run = cb, .arg = arg };
	PGresult		*res;
	int			 r;

	store_pg_arg_page(&a, before_id, limit);
	if ((r = store_pg_read(b, "SELECT " STORE_PG_RUN_COLUMNS "FROM "
	    "recovery_runs WHERE id < $1::bigint ORDER BY id DESC LIMIT "
	    "$2::bigint", &a, &res)) < 0)
		return r;
	return store_pg_each(res, store_pg_run_each, &to);
}

static int
store_pg_event_each(const PGresult *res, int i, void *arg)
{
	struct store_to		*to = arg;
	struct audit_event	*e;
	int			 r;

	e = xmalloc(sizeof *e);	/* 4 KiB of detail: not on the stack */
	e->id = store_pg_i64(res, i, 0);
	e->at = store_pg_i64(res, i, 1);
	(void)util_strlcpy(e->actor, store_pg_text(res, i, 2),
	    sizeof e->actor);
	e->session_id = store_pg_i64(res, i, 3);
	(void)util_strlcpy(e->kind, store_pg_text(res, i, 4),
	    sizeof e->kind);
	(void)util_strlcpy(e->detail, store_pg_text(res, i, 5),
	    sizeof e->detail);
	r = to->cb.event(e, to->arg);
	free(e);
	return r;
}

int
store_pg_event_list(void *p, int64_t before_id, int64_t session_id,
    size_t limit, store_event_cb cb, void *arg)
{
	struct store_pg		*b = p;
	struct store_to		 to = { .cb.event = cb, .arg = arg };
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	int			 r;

	store_pg_arg_page(&a, before_id, limit);
	store_pg_arg_i64(&a, session_id);
	if ((r = store_pg_read(b, "SELECT id, at, actor, coalesce(session_id, "
	    "0), kind, detail FROM events WHERE id < $1::bigint AND "
	    "($3::bigint = 0 OR session_id = $3::bigint) ORDER BY id DESC "
	    "LIMIT $2::bigint", &a, &res)) < 0)
		return r;
	return store_pg_each(res, store_pg_event_each, &to);
}
