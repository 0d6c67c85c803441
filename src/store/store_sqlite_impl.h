/*
 * What the files of the SQLite backend share, and nobody else:
 * store_sqlite.c (statements, transactions and batches, the schema, the
 * operations table), store_sqlite_sessions.c (sessions, claims and
 * reports), store_sqlite_instances.c (instances, recovery runs, the audit
 * log) and store_sqlite_proxies.c (proxies, assignments, purchase
 * intents).  store_impl.h is the backend's contract with store.c.
 */
#ifndef RESPAWN_STORE_SQLITE_IMPL_H
#define RESPAWN_STORE_SQLITE_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store_impl.h"

struct store_sqlite {
	sqlite3	*db;
	int	 depth;		/* open store_batch_begin()s */
	bool	 batch_failed;	/* a write inside the batch failed */
	/*
	 * The daemon's loop (store_set_wait): after a write found the file
	 * locked, the writes of the next wait_ms fail at once, so one locked
	 * file costs the loop one wait per wait_ms, not one per write.
	 */
	int	 wait_ms;	/* 0: wait every time (the CLI) */
	int64_t	 locked_until;	/* monotonic ms */
	char	 err[STORE_ERROR_LEN];
};

/* Reads the row a statement is on into a record for the caller. */
typedef int	(*store_sqlite_row_fn)(sqlite3_stmt *st, void *arg);

/*
 * store_sqlite.c: errors, statements, a write's transaction (a savepoint
 * inside a batch: store_sqlite_begin ... store_sqlite_commit, or
 * store_sqlite_rollback), the loop over a query's rows.
 */
int		 store_sqlite_fail(struct store_sqlite *b, int rc);
int		 store_sqlite_exec(struct store_sqlite *b, const char *sql);
int		 store_sqlite_begin(struct store_sqlite *b);
int		 store_sqlite_commit(struct store_sqlite *b);
void		 store_sqlite_rollback(struct store_sqlite *b);
int		 store_sqlite_prepare(struct store_sqlite *b, const char *sql,
		    sqlite3_stmt **ret);
int		 store_sqlite_each(struct store_sqlite *b, sqlite3_stmt *st,
		    store_sqlite_row_fn fn, void *arg);
int		 store_sqlite_step_done(struct store_sqlite *b,
		    sqlite3_stmt *st);
const char	*store_sqlite_text(sqlite3_stmt *st, int col);

/* store_sqlite_sessions.c. */
int		 store_sqlite_bump_generation(struct store_sqlite *b);

/* store_sqlite_instances.c: an audit event, inside the caller's write. */
int		 store_sqlite_event(struct store_sqlite *b, int64_t now,
		    const char *actor, int64_t session_id, const char *kind,
		    const char *detail);

/* The operations of store_sqlite_ops (store_impl.h), by file. */
int		 store_sqlite_bump(void *p);
int		 store_sqlite_session_add_many(void *p,
		    const struct session_new *v, size_t n, const char *actor,
		    int64_t now, int64_t *ids);
int		 store_sqlite_session_get(void *p, int64_t id,
		    const char *phone, struct session *ret);
int		 store_sqlite_session_list(void *p, store_session_cb cb,
		    void *arg);
int		 store_sqlite_session_set_desired(void *p, int64_t id,
		    enum session_desired desired, const char *actor,
		    int64_t now);
int		 store_sqlite_session_remove(void *p, int64_t id,
		    const char *actor, int64_t now);
int		 store_sqlite_session_claim(void *p, const char *self,
		    int64_t now, int *ret_claimed);
int		 store_sqlite_session_report(void *p, int64_t id,
		    const char *self, int64_t epoch,
		    const struct session_report *rep, int64_t now);
int		 store_sqlite_session_release_all(void *p, const char *self,
		    bool graceful, int64_t now);
int		 store_sqlite_session_fingerprint(void *p, int64_t *ret_count,
		    int64_t *ret_gen);

int		 store_sqlite_event_add(void *p, int64_t now, const char *actor,
		    int64_t session_id, const char *kind, const char *detail);
int		 store_sqlite_event_list(void *p, int64_t before_id,
		    int64_t session_id, size_t limit, store_event_cb cb,
		    void *arg);
int		 store_sqlite_instance_register(void *p,
		    const struct instance *i);
int		 store_sqlite_instance_heartbeat(void *p, const char *id,
		    int64_t now, bool in_progress, int64_t total, int64_t done);
int		 store_sqlite_instance_set_status(void *p, const char *id,
		    enum instance_status status, int64_t now);
int		 store_sqlite_instance_reap(void *p, const char *self,
		    int64_t now, int64_t stale_ms, int64_t delete_ms,
		    int *ret_dead, int *ret_deleted);
int		 store_sqlite_instance_list(void *p, store_instance_cb cb,
		    void *arg);
int		 store_sqlite_recovery_run_add(void *p,
		    const struct recovery_run *run, int64_t *ret_id);
int		 store_sqlite_recovery_run_last(void *p,
		    struct recovery_run *ret);
int		 store_sqlite_recovery_run_list(void *p, int64_t before_id,
		    size_t limit, store_recovery_cb cb, void *arg);

int		 store_sqlite_proxy_add(void *p, const struct proxy_row *px,
		    int64_t now, int64_t *ret_id);
int		 store_sqlite_proxy_list(void *p, int64_t released_since,
		    store_proxy_cb cb, void *arg);
int		 store_sqlite_proxy_relist(void *p, int64_t proxy_id,
		    const char *country, int64_t now);
int		 store_sqlite_proxy_set_intent(void *p, int64_t proxy_id,
		    int64_t intent_id, int64_t now);
int		 store_sqlite_refused_add(void *p, const char *phone,
		    const char *ip, int64_t now);
int		 store_sqlite_refused_list(void *p, const char *phone,
		    char (*ips)[STORE_IP_LEN], size_t max, size_t *ret_n);
int		 store_sqlite_proxy_assign(void *p, int64_t proxy_id,
		    int64_t session_id, const char *phone,
		    const char *requested, bool fallback_used,
		    const char *reason, const char *self, int64_t now);
int		 store_sqlite_proxy_unassign(void *p, int64_t proxy_id,
		    bool keep, int64_t now, int64_t held_for,
		    int64_t held_until);
int		 store_sqlite_proxy_set_state(void *p, int64_t proxy_id,
		    enum proxy_state state, int64_t now);
int		 store_sqlite_proxy_request_release(void *p, const char *ip,
		    const char *actor, int64_t now, struct proxy_row *ret);
int		 store_sqlite_proxy_history(void *p, const char *phone,
		    int64_t *ids, size_t max, size_t *ret_n);
int		 store_sqlite_phone_spans(void *p, const char *phone,
		    struct store_span *spans, size_t max, size_t *ret_n);
int		 store_sqlite_intent_add(void *p, const struct intent *in,
		    const char *self, int64_t now, int64_t *ret_id);
int		 store_sqlite_intent_settle(void *p, int64_t id,
		    enum intent_state state, const char *error, int64_t now);
int		 store_sqlite_intent_list_open(void *p, store_intent_cb cb,
		    void *arg);

#endif
