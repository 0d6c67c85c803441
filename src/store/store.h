/*
 * The state store: the one interface through which respawn reads and
 * writes durable state.  State lives in the database, not in memory: after
 * a crash the database plus the provider's own listing are enough to
 * rebuild everything.
 *
 * The interface is backend-neutral.  store.c picks the backend from the
 * RESPAWN_DB value (a file path: SQLite; postgresql://: PostgreSQL, for
 * fleet mode) and forwards each call through an operations table, so a
 * backend is its own files (store_sqlite*.c, store_pg*.c).  Records are
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
#include <stddef.h>
#include <stdint.h>

#include "base/validate.h"
#include "config/config.h"

#define STORE_SCHEMA_VERSION	3
#define STORE_ID_LEN		96	/* instance ids */
#define STORE_ERROR_LEN		256	/* last_error, messages */
#define STORE_DETAIL_MAX	4096	/* an audit event's JSON detail */
#define STORE_BUSY_TIMEOUT_MS	5000	/* a lock waited for, by default */
/*
 * ... by the daemon's loop once started (SQLite runs its calls inline):
 * a file another process holds locked stalls the loop, the API's answers
 * and the watchdog by at most this per call; what it could not write is
 * kept and written again (the record module).
 */
#define STORE_LOOP_WAIT_MS	1000
#define STORE_IP_LEN		64	/* a proxy's ip/key */
#define STORE_REFUSED_MAX	64	/* refused IPs kept per phone */

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
	/*
	 * What an imported session brings from the system it leaves
	 * (`respawn import`); 0 and false for a new one.
	 */
	int64_t		 last_activity_at;	/* 0: never */
	bool		 graceful_shutdown;
	int64_t		 shutdown_at;		/* 0: none */
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
	/*
	 * The newest assignment of its phone (the API's Session shows it):
	 * the country asked for, the proxy's country, and whether that was
	 * a fallback; "" and false when it never had one.
	 */
	char			 requested_country[COUNTRY_CODE_LEN];
	char			 proxy_country[COUNTRY_CODE_LEN];
	bool			 fallback_used;
	int64_t			 connector_pid;		/* 0: none recorded */
	int64_t			 connector_started_at;	/* its start, clock ticks */
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
/*
 * The sysexits(3) status for a store that could not be opened (r from
 * store_open): 78 a URL of no known backend, 70 a database of a newer
 * schema, 69 locked, 77 not permitted (a writable file in a read-only
 * directory), 74 anything else.
 */
int	store_exit_status(int r);
int	store_schema_version(struct store *st, int *ret);

/* actor names who acted, for the audit log ("cli", an instance id...). */
int	store_session_add(struct store *st, const struct session_new *n,
	    const char *actor, int64_t now, int64_t *ret_id);
/*
 * Add n sessions in one write: all of them or, when the store fails, none.
 * A phone that already has a session, in the store or earlier in v, is
 * not added: its ret_ids[i] is 0; every other gets its new id.  At most
 * STORE_ADD_MANY_MAX at once (-E2BIG beyond).  ret_ids is written only on
 * success.
 */
#define STORE_ADD_MANY_MAX	10000
int	store_session_add_many(struct store *st, const struct session_new *v,
	    size_t n, const char *actor, int64_t now, int64_t *ret_ids);
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

/*
 * Group the writes between begin and end into one transaction (one fsync).
 * Batches nest; each write inside still succeeds or fails on its own.
 */
int	store_batch_begin(struct store *st);
int	store_batch_end(struct store *st);
/*
 * Undo every write of the open batch and close it, however deeply nested:
 * for a group of writes that must all be made or none (an import).  What
 * committed on its own meanwhile (store_intent_add's intent, on
 * PostgreSQL) stays.  -EINVAL when no batch is open.
 */
int	store_batch_abort(struct store *st);
/*
 * The open batch's id (0 when none is open): what a write made in it can
 * be asked about later.  Ids grow by one per outermost batch.
 */
uint64_t store_batch_id(const struct store *st);
/* Batches whose commit failed (every write in them lost). */
uint64_t store_batch_failures(const struct store *st);
/*
 * Did the batch of that id fail to commit (everything written in it
 * lost)?  The last STORE_LOST_BATCHES failures are remembered: enough for
 * the answers of their calls, delivered within a pass or two of the loop.
 */
#define STORE_LOST_BATCHES	64
bool	store_batch_lost(const struct store *st, uint64_t batch_id);

/* --- the daemon's side ------------------------------------------------ */

enum instance_status {
	INSTANCE_STARTING,
	INSTANCE_RUNNING,
	INSTANCE_STOPPING,
	INSTANCE_STOPPED,
	INSTANCE_DEAD,
};

struct instance {
	char			id[STORE_ID_LEN];
	char			hostname[256];
	int64_t			pid;
	int64_t			started_at;
	int64_t			heartbeat_at;
	enum instance_status	status;
	bool			recovery_in_progress;
	int64_t			recovery_total;
	int64_t			recovery_done;
	int64_t			recovery_completed_at;
	int64_t			stopped_at;
};

typedef int (*store_instance_cb)(const struct instance *i, void *arg);

int	store_instance_register(struct store *st, const struct instance *i);
/*
 * A restarted daemon's registration: i is registered and the instances
 * old[] (its predecessors in the same state directory, whose connectors
 * it is about to adopt) are marked dead; on PostgreSQL in one transaction
 * that also makes their sessions i's (epoch + 1, *ret_taken of them) and
 * leaves their heartbeat as it was, so no peer can claim those sessions
 * in between.  At most STORE_SUCCEED_MAX predecessors.
 */
#define STORE_SUCCEED_MAX	8
int	store_instance_succeed(struct store *st, const struct instance *i,
	    const char (*old)[STORE_ID_LEN], size_t n, int *ret_taken);
int	store_instance_heartbeat(struct store *st, const char *id,
	    int64_t now, bool in_progress, int64_t total, int64_t done);
int	store_instance_set_status(struct store *st, const char *id,
	    enum instance_status status, int64_t now);
/*
 * Instances other than self whose heartbeat is older than stale_ms are
 * marked dead (*ret_dead: how many; those that had not stopped were
 * crashes), and dead ones older than delete_ms are deleted.
 */
int	store_instance_reap(struct store *st, const char *self, int64_t now,
	    int64_t stale_ms, int64_t delete_ms, int *ret_dead,
	    int *ret_deleted);
int	store_instance_list(struct store *st, store_instance_cb cb, void *arg);
const char *store_instance_status_name(enum instance_status s);

/*
 * Fleet mode: how long an instance's lease lasts without a heartbeat
 * before store_session_claim may take its sessions (default
 * STORE_LEASE_MS).  Only PostgreSQL has leases; on SQLite, one host, an
 * owner is live by its status, and this is a no-op.
 */
#define STORE_LEASE_MS		30000
int	store_set_lease(struct store *st, int64_t lease_ms);
/*
 * How long a call waits for a lock another process holds before it fails
 * with -EBUSY (SQLite's busy timeout).  A no-op where nothing waits on
 * the caller's thread (PostgreSQL runs on the store's worker).
 */
int	store_set_wait(struct store *st, int ms);
/* The lease set with store_set_lease, or 0 (the default). */
int64_t	store_lease(const struct store *st);

/*
 * Take every session not owned by a live instance: owner becomes self and
 * the epoch goes up.  Returns the number taken.  On PostgreSQL (fleet
 * mode) an owner is live while its heartbeat is younger than the lease by
 * the database's clock, and self takes at most its fair share:
 * ceil(sessions / live instances) minus what it owns already.
 */
int	store_session_claim(struct store *st, const char *self, int64_t now,
	    int *ret_claimed);

/*
 * Fleet mode (PostgreSQL; -ENOTSUP elsewhere).
 *
 * store_fleet_share: this instance's fair share, ceil(sessions / live
 * instances) with self counted live, and how many sessions it owns, both
 * judged by the database's clock exactly as store_session_claim does.
 *
 * store_session_release: give one session up (rebalancing): its owner
 * becomes NULL, if self still owns it with this epoch (-ESTALE if not), so
 * another instance claims it; the proxy assignment is left as it is, for
 * the next owner to reactivate.  Peers are woken (below).
 *
 * store_wake_fd: a descriptor that becomes readable when a peer released
 * sessions (graceful stop, store_session_release) or joined the fleet;
 * store_wake_drain consumes what arrived and returns how many wake-ups
 * (0: none), re-establishing the channel after a lost connection.  The
 * descriptor may change after a reconnection: call store_wake_fd again
 * after every drain.
 */
int	store_fleet_share(struct store *st, const char *self,
	    int64_t *ret_share, int64_t *ret_owned);
int	store_session_release(struct store *st, int64_t id, const char *self,
	    int64_t epoch, int64_t now);
int	store_wake_fd(struct store *st);
int	store_wake_drain(struct store *st);
/* The backend's name: "sqlite" or "postgresql". */
const char *store_backend(const struct store *st);

/* What the supervisor reports for a session it owns. */
struct session_report {
	enum session_status	status;
	int64_t			attempts;
	const char		*last_error;	/* NULL: clear */
	int64_t			connector_pid;	/* 0: none */
	int64_t			connector_started_at;	/* start, clock ticks */
	bool			touch_activity;	/* set last_activity_at = now */
};

/* Conditioned on owner and epoch: -ESTALE when the session is not ours. */
int	store_session_report(struct store *st, int64_t id, const char *self,
	    int64_t epoch, const struct session_report *r, int64_t now);
/* Mark every session of self as gracefully stopped, and give them up. */
int	store_session_release_all(struct store *st, const char *self,
	    bool graceful, int64_t now);
/* A cheap fingerprint of the sessions table, to notice changes. */
int	store_session_fingerprint(struct store *st, int64_t *ret_count,
	    int64_t *ret_max_updated);

/* --- proxies ------------------------------------------------------------ */

enum proxy_state {
	PROXY_PURCHASING,
	PROXY_ACTIVE,
	PROXY_IDLE,
	PROXY_RELEASING,
	PROXY_RELEASED,
	PROXY_LOST,
};

struct proxy_row {
	int64_t			id;
	char			provider[32];
	char			zone[64];
	char			ip[64];
	char			country[COUNTRY_CODE_LEN];
	enum proxy_type		type;
	enum proxy_state	state;
	int64_t			session_id;	/* 0: none */
	int64_t			intent_id;	/* the purchase that brought it */
	int64_t			purchased_at;
	int64_t			assigned_at;
	int64_t			idle_since;
	int64_t			released_at;	/* 0: not released */
	/*
	 * An idle IP is held for the session that last used it while that
	 * session's phone is expected back: the session (0: for nobody)
	 * and until when (0: not held).
	 */
	int64_t			held_for;
	int64_t			held_until;
};

typedef int (*store_proxy_cb)(const struct proxy_row *p, void *arg);

/*
 * Add a proxy, idle, with its country, type, intent and purchased_at (0:
 * now).  -EEXIST when a live proxy (any state but released) with the same
 * provider, zone and ip is in the store already: a proxy is never added
 * twice, whoever says it is new.
 */
int	store_proxy_add(struct store *st, const struct proxy_row *p,
	    int64_t now, int64_t *ret_id);
/* The live proxies (every state but released), by id. */
int	store_proxy_list(struct store *st, store_proxy_cb cb, void *arg);
/* The same, and the ones released at or after released_since. */
int	store_proxy_list_since(struct store *st, int64_t released_since,
	    store_proxy_cb cb, void *arg);
/*
 * The provider lists this proxy, in country ("": it does not say): a
 * lost one is idle again (for nobody), and the country is the provider's.
 */
int	store_proxy_relist(struct store *st, int64_t proxy_id,
	    const char *country, int64_t now);
/* The proxy was bought by this purchase (a reconciliation found it). */
int	store_proxy_set_intent(struct store *st, int64_t proxy_id,
	    int64_t intent_id, int64_t now);
/*
 * Give a proxy to a session: the proxy becomes active for it, and an
 * assignment row records how (reason), the requested country and whether
 * a fallback country was used.
 */
int	store_proxy_assign(struct store *st, int64_t proxy_id,
	    int64_t session_id, const char *phone, const char *requested,
	    bool fallback_used, const char *reason, const char *self,
	    int64_t now);
/*
 * The session stops using it.  keep: it stays active and reserved for the
 * session, and nothing is written.  Otherwise it becomes idle, held for
 * the session held_for until held_until (0: none, written as NULL), in
 * the same write, so a restarted daemon finds the hold it left.  Giving
 * the proxy to a session (store_proxy_assign) or releasing it
 * (store_proxy_set_state) ends the hold.
 */
int	store_proxy_unassign(struct store *st, int64_t proxy_id, bool keep,
	    int64_t now, int64_t held_for, int64_t held_until);
int	store_proxy_set_state(struct store *st, int64_t proxy_id,
	    enum proxy_state state, int64_t now);
/*
 * The operator asks for an idle proxy (by its ip/key) to be given back: it
 * becomes releasing, and the daemon asks the provider.  -ENOENT: no live
 * proxy with this ip; -EBUSY: a session uses or keeps it.  *ret is the row.
 */
int	store_proxy_request_release(struct store *st, const char *ip,
	    const char *actor, int64_t now, struct proxy_row *ret);
/* The proxies a phone had, newest first (for reactivation and reuse). */
int	store_proxy_history(struct store *st, const char *phone,
	    int64_t *ids, size_t max, size_t *ret_n);
/*
 * The phone's recent reconnect gaps, newest first, at most max (and at
 * most STORE_GAPS_MAX), from its newest assignments: for each one that
 * ended, the time from its end to the start of the phone's next one (0
 * when that started first; one that never ended gives none).  When the
 * newest has ended too, and not after now, the phone is taken to be
 * starting again now: now minus its end is the newest gap, so ask at a
 * start.  A phone without assignments has none.  The pool judges from
 * these how long to hold an idle IP for the phone.
 */
#define STORE_GAPS_MAX		32
int	store_phone_gaps(struct store *st, const char *phone, int64_t now,
	    int64_t *gaps, size_t max, size_t *ret_n);
const char *store_proxy_state_name(enum proxy_state s);

/*
 * IPs a phone's connector refused (it exited 75: the IP is blocked for
 * that phone), so the phone is never given them again, across restarts.
 * The newest STORE_REFUSED_MAX per phone are kept.
 */
int	store_refused_add(struct store *st, const char *phone, const char *ip,
	    int64_t now);
/* The phone's refused IPs, newest first: at most max of them. */
int	store_refused_list(struct store *st, const char *phone,
	    char (*ips)[STORE_IP_LEN], size_t max, size_t *ret_n);

/* --- purchase intents --------------------------------------------------- */

enum intent_state {
	INTENT_PENDING,		/* written before the provider was asked */
	INTENT_OWNED,		/* the IPs are ours and in proxies */
	INTENT_FAILED,		/* certainly nothing bought */
	INTENT_UNKNOWN,		/* the answer was lost: settle by listing */
};

struct intent {
	int64_t			id;
	char			provider[32];
	char			zone[64];
	char			country[COUNTRY_CODE_LEN];
	int64_t			count;
	enum intent_state	state;
	int64_t			created_at;
	char			instance_id[STORE_ID_LEN];	/* who asked */
};

typedef int (*store_intent_cb)(const struct intent *i, void *arg);

/* A purchase about to be asked for: durable before the request leaves. */
int	store_intent_add(struct store *st, const struct intent *i,
	    const char *self, int64_t now, int64_t *ret_id);
int	store_intent_settle(struct store *st, int64_t id,
	    enum intent_state state, const char *error, int64_t now);
/* Intents still pending or unknown, oldest first. */
int	store_intent_list_open(struct store *st, store_intent_cb cb,
	    void *arg);
const char *store_intent_state_name(enum intent_state s);

/* --- recovery runs ------------------------------------------------------ */

struct recovery_run {
	char	instance_id[STORE_ID_LEN];
	char	cause[16];	/* first_start, graceful, crash, takeover */
	int64_t	started_at;
	int64_t	finished_at;
	int64_t	sessions_total;
	int64_t	recovered;
	int64_t	failed;
	int64_t	reactivated;
	int64_t	reused;
	int64_t	purchased;
	int64_t	fallbacks;
	int64_t	total_recovery_ms;
	int64_t	cost_micros;
	int64_t	id;		/* set when read back */
};

typedef int (*store_recovery_cb)(const struct recovery_run *r, void *arg);

int	store_recovery_run_add(struct store *st, const struct recovery_run *r,
	    int64_t *ret_id);
/* The most recent run; -ENOENT when there is none. */
int	store_recovery_run_last(struct store *st, struct recovery_run *ret);
/* Runs newest first, with id below before_id (0: from the newest). */
int	store_recovery_run_list(struct store *st, int64_t before_id,
	    size_t limit, store_recovery_cb cb, void *arg);

/* --- audit events ------------------------------------------------------- */

#define STORE_KIND_LEN	64

struct audit_event {
	int64_t	id;
	int64_t	at;
	char	actor[STORE_ID_LEN];
	int64_t	session_id;		/* 0: none */
	char	kind[STORE_KIND_LEN];
	char	detail[STORE_DETAIL_MAX];	/* JSON */
};

typedef int (*store_event_cb)(const struct audit_event *e, void *arg);

/*
 * Audit events newest first, with id below before_id (0: from the
 * newest), of one session (0: all), at most limit of them.
 */
int	store_event_list(struct store *st, int64_t before_id,
	    int64_t session_id, size_t limit, store_event_cb cb, void *arg);

#endif
