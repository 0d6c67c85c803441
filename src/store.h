/*
 * The state store: the one interface through which respawn reads and
 * writes durable state.  State lives in the database, not in memory: after
 * a crash the database plus the provider's own listing are enough to
 * rebuild everything.
 *
 * The interface is backend-neutral.  store.c picks the backend from the
 * RESPAWN_DB value (a file path: SQLite; postgresql://: PostgreSQL, for
 * fleet mode) and forwards each call through an operations table, so a
 * backend is one file (store_sqlite.c, later store_pg.c).  Records are
 * plain structs with fixed-size fields, owned by the caller.
 *
 * Every write is one transaction (BEGIN IMMEDIATE on SQLite) that also
 * appends its audit event, so the audit log cannot miss a change.  Calls
 * return 0 or negative errno: -ENOENT for a missing record, -EEXIST for a
 * duplicate, -EBUSY when the database stayed locked past the busy timeout,
 * -EPROTO for a schema newer than this binary, -EIO for anything else (the
 * backend's message is kept for store_errmsg()).  Times are milliseconds
 * since the Unix epoch; money is in micro-units of the billing currency.
 */
#ifndef RESPAWN_STORE_H
#define RESPAWN_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "validate.h"

#define STORE_SCHEMA_VERSION	1
#define STORE_ID_LEN		96	/* instance ids */
#define STORE_ERROR_LEN		256	/* last_error, messages */
#define STORE_DETAIL_MAX	4096	/* an audit event's JSON detail */
#define STORE_BUSY_TIMEOUT_MS	5000

struct store;

enum session_desired {
	SESSION_DESIRED_RUNNING,
	SESSION_DESIRED_STOPPED,
};

/* What the supervisor last reported for a session (issue: the daemon). */
enum session_status {
	SESSION_STATUS_NEW,		/* never started */
	SESSION_STATUS_STARTING,
	SESSION_STATUS_READY,
	SESSION_STATUS_BACKOFF,
	SESSION_STATUS_STOPPING,
	SESSION_STATUS_STOPPED,
	SESSION_STATUS_FAILED,
	SESSION_STATUS_NEEDS_AUTH,	/* logged out: the customer must scan a QR */
	SESSION_STATUS_DORMANT,		/* idle beyond the recovery window */
};

struct session_new {
	char		 user_id[USER_ID_LEN];
	char		 phone[PHONE_LEN];
	char		 country[COUNTRY_CODE_LEN];
	int64_t		 priority;
	enum proxy_type	 proxy_type;
	enum session_desired desired;
};

struct session {
	int64_t			 id;
	char			 user_id[USER_ID_LEN];
	char			 phone[PHONE_LEN];
	char			 country[COUNTRY_CODE_LEN];
	int64_t			 priority;
	enum proxy_type		 proxy_type;
	enum session_desired	 desired;
	enum session_status	 status;
	char			 owner[STORE_ID_LEN];	/* "" when unowned */
	int64_t			 epoch;
	int64_t			 last_activity_at;	/* 0: never */
	bool			 graceful_shutdown;
	int64_t			 shutdown_at;		/* 0: none */
	int64_t			 attempts;
	char			 last_error[STORE_ERROR_LEN];
	int64_t			 created_at;
	int64_t			 updated_at;
	char			 proxy_ip[64];		/* current proxy, "" if none */
};

typedef int (*store_session_cb)(const struct session *s, void *arg);

/*
 * Open (creating and migrating when needed) the store named by url.
 * On failure err describes the problem.
 */
int	store_open(const char *url, struct store **ret,
	    char err[STORE_ERROR_LEN]);
void	store_close(struct store *st);
/* The backend's last error message, for logs. */
const char *store_errmsg(const struct store *st);
int	store_schema_version(struct store *st, int *ret);

/* actor names who acted, for the audit log ("cli", an instance id...). */
int	store_session_add(struct store *st, const struct session_new *n,
	    const char *actor, int64_t now, int64_t *ret_id);
int	store_session_get(struct store *st, int64_t id, struct session *ret);
int	store_session_get_by_phone(struct store *st, const char *phone,
	    struct session *ret);
/* Calls cb for each session in id order; a non-zero return stops. */
int	store_session_list(struct store *st, store_session_cb cb, void *arg);
int	store_session_set_desired(struct store *st, int64_t id,
	    enum session_desired desired, const char *actor, int64_t now);
int	store_session_remove(struct store *st, int64_t id, const char *actor,
	    int64_t now);

/* Append an audit event; detail is a JSON object (or NULL). */
int	store_event_add(struct store *st, int64_t now, const char *actor,
	    int64_t session_id, const char *kind, const char *detail);

const char *store_session_status_name(enum session_status s);
int	store_session_status_parse(const char *s, enum session_status *ret);
const char *store_session_desired_name(enum session_desired d);

#endif
