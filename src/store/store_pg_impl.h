/*
 * What the files of the PostgreSQL backend share, and nobody else:
 * store_pg.c (statements, calls and batches, the schema, the operations
 * table), store_pg_conn.c (the connection: opening, loss and reset,
 * wake-ups), store_pg_sessions.c (sessions and the fleet's claims on
 * them), store_pg_instances.c (instances, recovery runs, the audit log)
 * and store_pg_proxies.c (proxies, assignments, purchase intents).
 * store_impl.h is the backend's contract with store.c.
 */
#ifndef RESPAWN_STORE_PG_IMPL_H
#define RESPAWN_STORE_PG_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/store_impl.h"

#define STORE_PG_PARAMS_MAX		16

/* The database's clock in ms since the epoch, read once per statement. */
#define STORE_PG_NOW_MS							\
	"(SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
#define STORE_PG_LIVE	"('starting', 'running', 'stopping')"

/* When to try a lost connection again: a doubling, bounded backoff. */
struct store_pg_retry {
	bool	 broken;	/* lost: reconnect before the next use */
	int64_t	 at;		/* monotonic ms of the next attempt */
	int64_t	 backoff_ms;
};

struct store_pg {
	PGconn	*conn;
	struct store_pg_retry retry;
	int	 depth;		/* open store_batch_begin()s */
	bool	 dirty;		/* the batch's transaction has writes */
	bool	 batch_lost;	/* ...that a lost connection undid */
	int64_t	 lease_ms;	/* store_set_lease() */
	/*
	 * The wake-up channel: a second connection, opened on first use,
	 * that only LISTENs (store_pg_wake_fd).  NULL while closed.
	 */
	PGconn	*wake;
	struct store_pg_retry wake_retry;
	char	 err[STORE_ERROR_LEN];
};

/* How a call uses the connection: see store_pg_begin. */
enum store_pg_mode {
	STORE_PG_READ,		/* one or more reads */
	STORE_PG_WRITE,		/* one write statement */
	STORE_PG_TX,		/* several statements, one transaction */
};

/* One statement's parameters, all sent as text. */
struct store_pg_args {
	const char	*v[STORE_PG_PARAMS_MAX];
	char		 num[STORE_PG_PARAMS_MAX][24];
	int		 n;
};

/* Reads row i of a result into a record for the caller (store_pg_each). */
typedef int	(*store_pg_row_fn)(const PGresult *res, int i, void *arg);

/*
 * store_pg.c: a statement's parameters and results; statements, calls
 * (store_pg_begin ... store_pg_end) and the open batch; the schema.
 */
void		 store_pg_arg(struct store_pg_args *a, const char *s);
void		 store_pg_arg_i64(struct store_pg_args *a, int64_t v);
void		 store_pg_arg_bool(struct store_pg_args *a, bool v);
const char	*store_pg_text(const PGresult *res, int row, int col);
int64_t		 store_pg_i64(const PGresult *res, int row, int col);
bool		 store_pg_bool(const PGresult *res, int row, int col);
int		 store_pg_changes(const PGresult *res);
int		 store_pg_run(struct store_pg *b, const char *sql,
		    const struct store_pg_args *a, PGresult **ret);
int		 store_pg_begin(struct store_pg *b, enum store_pg_mode mode);
int		 store_pg_end(struct store_pg *b, enum store_pg_mode mode,
		    int r);
int		 store_pg_flush_batch(struct store_pg *b);
int		 store_pg_read(struct store_pg *b, const char *sql,
		    const struct store_pg_args *a, PGresult **ret);
int		 store_pg_each(PGresult *res, store_pg_row_fn fn, void *arg);
int		 store_pg_migrate(struct store_pg *b);

/* store_pg_conn.c: errors, the connection's loss and reset, wake-ups. */
void		 store_pg_setmsg(struct store_pg *b, const char *prefix,
		    const char *msg);
void		 store_pg_lost(struct store_pg *b);
int		 store_pg_ready(struct store_pg *b);
int		 store_pg_notify(struct store_pg *b, const char *what,
		    const char *instance);

/* store_pg_sessions.c. */
int		 store_pg_bump_generation(struct store_pg *b);

/* store_pg_instances.c: an audit event, inside the caller's call. */
int		 store_pg_event(struct store_pg *b, int64_t now,
		    const char *actor, int64_t session_id, const char *kind,
		    const char *detail);

/* The operations of store_pg_ops (store_impl.h), by file. */
int		 store_pg_open(const char *url, void **ret, char *err);
void		 store_pg_close(void *p);
const char	*store_pg_errmsg(const void *p);
int		 store_pg_set_lease(void *p, int64_t lease_ms);
int		 store_pg_wake_fd(void *p);
int		 store_pg_wake_drain(void *p);

int		 store_pg_bump(void *p);
int		 store_pg_session_add_many(void *p, const struct session_new *v,
		    size_t n, const char *actor, int64_t now, int64_t *ids);
int		 store_pg_session_get(void *p, int64_t id, const char *phone,
		    struct session *ret);
int		 store_pg_session_list(void *p, store_session_cb cb, void *arg);
int		 store_pg_session_set_desired(void *p, int64_t id,
		    enum session_desired desired, const char *actor,
		    int64_t now);
int		 store_pg_session_remove(void *p, int64_t id, const char *actor,
		    int64_t now);
int		 store_pg_fleet_share(void *p, const char *self,
		    int64_t *ret_share, int64_t *ret_owned);
int		 store_pg_session_claim(void *p, const char *self, int64_t now,
		    int *ret_claimed);
int		 store_pg_session_report(void *p, int64_t id, const char *self,
		    int64_t epoch, const struct session_report *rep,
		    int64_t now);
int		 store_pg_session_release(void *p, int64_t id, const char *self,
		    int64_t epoch, int64_t now);
int		 store_pg_session_release_all(void *p, const char *self,
		    bool graceful, int64_t now);
int		 store_pg_session_fingerprint(void *p, int64_t *ret_count,
		    int64_t *ret_gen);

int		 store_pg_event_add(void *p, int64_t now, const char *actor,
		    int64_t session_id, const char *kind, const char *detail);
int		 store_pg_instance_register(void *p, const struct instance *i);
int		 store_pg_instance_succeed(void *p, const struct instance *i,
		    const char (*old)[STORE_ID_LEN], size_t n, int *ret_taken);
int		 store_pg_instance_heartbeat(void *p, const char *id,
		    int64_t now, bool in_progress, int64_t total, int64_t done);
int		 store_pg_instance_set_status(void *p, const char *id,
		    enum instance_status status, int64_t now);
int		 store_pg_instance_reap(void *p, const char *self, int64_t now,
		    int64_t stale_ms, int64_t delete_ms, int *ret_dead,
		    int *ret_deleted);
int		 store_pg_instance_list(void *p, store_instance_cb cb,
		    void *arg);
int		 store_pg_recovery_run_add(void *p,
		    const struct recovery_run *run, int64_t *ret_id);
int		 store_pg_recovery_run_last(void *p, struct recovery_run *ret);
int		 store_pg_recovery_run_list(void *p, int64_t before_id,
		    size_t limit, store_recovery_cb cb, void *arg);
int		 store_pg_event_list(void *p, int64_t before_id,
		    int64_t session_id, size_t limit, store_event_cb cb,
		    void *arg);

int		 store_pg_proxy_add(void *p, const struct proxy_row *px,
		    int64_t now, int64_t *ret_id);
int		 store_pg_proxy_list(void *p, int64_t released_since,
		    store_proxy_cb cb, void *arg);
int		 store_pg_proxy_relist(void *p, int64_t proxy_id,
		    const char *country, int64_t now);
int		 store_pg_proxy_set_intent(void *p, int64_t proxy_id,
		    int64_t intent_id, int64_t now);
int		 store_pg_refused_add(void *p, const char *phone,
		    const char *ip, int64_t now);
int		 store_pg_refused_list(void *p, const char *phone,
		    char (*ips)[STORE_IP_LEN], size_t max, size_t *ret_n);
int		 store_pg_proxy_assign(void *p, int64_t proxy_id,
		    int64_t session_id, const char *phone,
		    const char *requested, bool fallback_used,
		    const char *reason, const char *self, int64_t now);
int		 store_pg_proxy_unassign(void *p, int64_t proxy_id, bool keep,
		    int64_t now, int64_t held_for, int64_t held_until);
int		 store_pg_proxy_set_state(void *p, int64_t proxy_id,
		    enum proxy_state state, int64_t now);
int		 store_pg_proxy_request_release(void *p, const char *ip,
		    const char *actor, int64_t now, struct proxy_row *ret);
int		 store_pg_proxy_history(void *p, const char *phone,
		    int64_t *ids, size_t max, size_t *ret_n);
int		 store_pg_phone_spans(void *p, const char *phone,
		    struct store_span *spans, size_t max, size_t *ret_n);
int		 store_pg_intent_add(void *p, const struct intent *in,
		    const char *self, int64_t now, int64_t *ret_id);
int		 store_pg_intent_settle(void *p, int64_t id,
		    enum intent_state state, const char *error, int64_t now);
int		 store_pg_intent_list_open(void *p, store_intent_cb cb,
		    void *arg);

#endif
