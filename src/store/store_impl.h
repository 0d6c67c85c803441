/*
 * The contract between store.c and a backend (store_sqlite*.c,
 * store_pg*.c).  Only store.c and backends include this file.
 */
#ifndef RESPAWN_STORE_IMPL_H
#define RESPAWN_STORE_IMPL_H

#include "store/store.h"

/*
 * The callback of a list, whichever record it takes, and its argument:
 * each backend has one loop over a query's rows and hands each record on
 * through this.
 */
struct store_to {
	union {
		store_session_cb	session;
		store_instance_cb	instance;
		store_proxy_cb		proxy;
		store_intent_cb		intent;
		store_recovery_cb	run;
		store_event_cb		event;
	}	cb;
	void	*arg;
};

/*
 * One assignment's times, for store_phone_gaps: the backends read them,
 * store.c turns them into gaps, the same way for every backend.
 */
struct store_span {
	int64_t	assigned_at;
	int64_t	ended_at;	/* 0: not ended */
};

/*
 * A session's newest assignment as its list query reads it, in one
 * column: "requested,country,fallback" (NULL or "": none).  Fields that
 * do not parse are left empty: the session is read all the same.
 */
void	store_session_assignment(struct session *s, const char *text);

struct store_ops {
	const char	*name;
	int	(*open)(const char *url, void **ret, char *err);
	void	(*close)(void *b);
	const char *(*errmsg)(const void *b);
	int	(*schema_version)(void *b, int *ret);
	/* ids[i] 0: the phone already had a session (see store.h). */
	int	(*session_add_many)(void *b, const struct session_new *v,
		    size_t n, const char *actor, int64_t now, int64_t *ids);
	int	(*session_get)(void *b, int64_t id, const char *phone,
		    struct session *ret);
	int	(*session_list)(void *b, store_session_cb cb, void *arg);
	int	(*session_set_desired)(void *b, int64_t id,
		    enum session_desired desired, const char *actor,
		    int64_t now);
	int	(*session_remove)(void *b, int64_t id, const char *actor,
		    int64_t now);
	int	(*event_add)(void *b, int64_t now, const char *actor,
		    int64_t session_id, const char *kind, const char *detail);
	int	(*instance_register)(void *b, const struct instance *i);
	/* NULL: store_instance_succeed registers, then marks them dead. */
	int	(*instance_succeed)(void *b, const struct instance *i,
		    const char (*old)[STORE_ID_LEN], size_t n, int *ret_taken);
	int	(*instance_heartbeat)(void *b, const char *id, int64_t now,
		    bool in_progress, int64_t total, int64_t done);
	int	(*instance_set_status)(void *b, const char *id,
		    enum instance_status status, int64_t now);
	int	(*instance_reap)(void *b, const char *self, int64_t now,
		    int64_t stale_ms, int64_t delete_ms, int *ret_dead,
		    int *ret_deleted);
	int	(*instance_list)(void *b, store_instance_cb cb, void *arg);
	int	(*session_claim)(void *b, const char *self, int64_t now,
		    int *ret_claimed);
	int	(*session_report)(void *b, int64_t id, const char *self,
		    int64_t epoch, const struct session_report *r, int64_t now);
	int	(*session_release_all)(void *b, const char *self,
		    bool graceful, int64_t now);
	int	(*session_fingerprint)(void *b, int64_t *ret_count,
		    int64_t *ret_max_updated);
	/* Change the fingerprint: a daemon re-reads what it holds. */
	int	(*bump_generation)(void *b);
	int	(*proxy_add)(void *b, const struct proxy_row *p,
		    int64_t now, int64_t *ret_id);
	int	(*proxy_list)(void *b, int64_t released_since,
		    store_proxy_cb cb, void *arg);
	int	(*proxy_relist)(void *b, int64_t proxy_id, const char *country,
		    int64_t now);
	int	(*proxy_set_intent)(void *b, int64_t proxy_id,
		    int64_t intent_id, int64_t now);
	int	(*refused_add)(void *b, const char *phone, const char *ip,
		    int64_t now);
	int	(*refused_list)(void *b, const char *phone,
		    char (*ips)[STORE_IP_LEN], size_t max, size_t *ret_n);
	int	(*proxy_assign)(void *b, int64_t proxy_id, int64_t session_id,
		    const char *phone, const char *requested,
		    bool fallback_used, const char *reason, const char *self,
		    int64_t now);
	int	(*proxy_unassign)(void *b, int64_t proxy_id, bool keep,
		    int64_t now, int64_t held_for, int64_t held_until);
	int	(*proxy_set_state)(void *b, int64_t proxy_id,
		    enum proxy_state state, int64_t now);
	int	(*proxy_history)(void *b, const char *phone, int64_t *ids,
		    size_t max, size_t *ret_n);
	/* The phone's newest max assignments, newest first. */
	int	(*phone_spans)(void *b, const char *phone,
		    struct store_span *spans, size_t max, size_t *ret_n);
	int	(*proxy_request_release)(void *b, const char *ip,
		    const char *actor, int64_t now, struct proxy_row *ret);
	int	(*recovery_run_add)(void *b, const struct recovery_run *r,
		    int64_t *ret_id);
	int	(*intent_add)(void *b, const struct intent *i, const char *self,
		    int64_t now, int64_t *ret_id);
	int	(*intent_settle)(void *b, int64_t id, enum intent_state state,
		    const char *error, int64_t now);
	int	(*intent_list_open)(void *b, store_intent_cb cb, void *arg);
	int	(*recovery_run_last)(void *b, struct recovery_run *ret);
	/* Optional (NULL: -ENOTSUP): paged reads for the HTTP API. */
	int	(*recovery_run_list)(void *b, int64_t before_id, size_t limit,
		    store_recovery_cb cb, void *arg);
	int	(*event_list)(void *b, int64_t before_id, int64_t session_id,
		    size_t limit, store_event_cb cb, void *arg);
	int	(*batch_begin)(void *b);
	int	(*batch_end)(void *b);
	int	(*batch_abort)(void *b);
	/* Optional (NULL: the backend has no leases; see store_set_lease). */
	int	(*set_lease)(void *b, int64_t lease_ms);
	/* Optional (NULL: nothing waits on a lock; see store_set_wait). */
	int	(*set_wait)(void *b, int ms);
	/* Optional fleet operations (NULL: -ENOTSUP); see store.h. */
	int	(*fleet_share)(void *b, const char *self, int64_t *ret_share,
		    int64_t *ret_owned);
	int	(*session_release)(void *b, int64_t id, const char *self,
		    int64_t epoch, int64_t now);
	int	(*wake_fd)(void *b);
	int	(*wake_drain)(void *b);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

#endif
