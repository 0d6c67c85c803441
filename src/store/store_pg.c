/*
 * The PostgreSQL backend of the state store: fleet mode, where several
 * daemons, on several hosts, share one database.  Selected by a
 * postgresql:// (or postgres://) RESPAWN_DB.  See store.h for the
 * interface and docs/DATA_MODEL.md for the tables, which are those of
 * store_sqlite.c in PostgreSQL types.
 *
 * The backend is synchronous: each call sends its statements with libpq
 * and waits for the answers, so a slow database stalls the caller's event
 * loop.  Every wait is bounded instead:
 *   statement_timeout, lock_timeout   no statement runs or waits for a
 *                                     lock for ever (lock waits give
 *                                     -EBUSY, as SQLite's busy timeout);
 *   idle_in_transaction_session_timeout
 *                                     a process stopped inside a batch
 *                                     does not hold its locks for ever;
 *   connect_timeout, keepalives, tcp_user_timeout
 *                                     a dead server or network is noticed
 *                                     in seconds, not after Linux's two
 *                                     hours of keepalive defaults.
 * A lost connection never aborts: the call fails with -EIO, and the next
 * call resets the connection (PQreset), retrying with a doubling backoff
 * while the server stays away; calls in between fail at once with -EIO.
 * libpq opens its socket close-on-exec.
 *
 * Every value travels as a parameter (PQexecParams); the only SQL sent as
 * plain text is constant (transaction control, the migrations).
 *
 * Transactions: a write of several statements is one transaction, and a
 * batch (store_batch_begin) is one transaction in which every call runs
 * inside a SAVEPOINT, because in PostgreSQL one failed statement aborts
 * the whole transaction: a failing write, or a read cancelled by the
 * statement timeout, is undone alone and the batch's other writes still
 * commit.  When the connection is lost inside a batch, the server has
 * rolled the batch back: the calls after the reset run in a new
 * transaction, and store_batch_end reports the loss (-EIO).
 *
 * Time: liveness is judged by the database's clock, never by the caller's
 * `now`.  Heartbeats, registrations and status changes stamp an instance
 * with clock_timestamp(), and store_instance_reap and store_session_claim
 * compare those stamps with clock_timestamp() again.  The daemons of a
 * fleet run on different hosts whose clocks disagree (by seconds after a
 * bad NTP day, by minutes after a suspended VM wakes up); judged by its
 * own clock, a host running ahead would declare its healthy peers dead
 * and take their sessions.  One clock for every lease makes expiry a
 * single-host question.  Other times (created_at, activity, audit events)
 * are the caller's, as on SQLite: they are for people, not for fencing.
 *
 * Wake-ups: the writes that change the fleet's shares (sessions given up
 * one by one or all at a stop, an instance registered, stopped or
 * declared dead) send NOTIFY respawn_fleet inside their transaction, so
 * peers hear of them at commit, and never of a rollback.  Each store
 * LISTENs on a second connection of its own, opened on the first
 * store_wake_fd with the main one's options (and reopened, with the same
 * backoff, after a loss), because the main connection is busy with the
 * caller's statements; its socket goes into the caller's event loop.
 *
 * Claims (store_session_claim) take sessions that are unowned or whose
 * owner's lease has expired, at most this instance's fair share, with a
 * conditional UPDATE over rows locked FOR UPDATE SKIP LOCKED, so instances
 * claiming at the same moment never wait for, nor take, each other's rows.
 * Each claim bumps the session's epoch, and every write acting for a
 * session is conditioned on owner and epoch (-ESTALE otherwise).  A proxy
 * is assigned only when idle or already the session's own (or shared by
 * the same instance), so instances choosing from stale copies of the pool
 * never give one IP to sessions of two instances (store_pg_proxy_assign).
 *
 * The backend is five files: this one (statements, calls and batches,
 * the schema and its migrations, the operations table),
 * store_pg_conn.c (opening the connection, its loss and reset,
 * wake-ups), store_pg_sessions.c (sessions, claims and releases),
 * store_pg_instances.c (instances, recovery runs, the audit log) and
 * store_pg_proxies.c (proxies, assignments, purchase intents); what
 * they share is in store_pg_impl.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/util.h"
#include "store/store_pg_impl.h"

/* Serialises migrations of concurrent first starts: "rspw". */
#define STORE_PG_MIGRATE_LOCK		"1920102519"

/*
 * Forward migrations.  Entry i moves the schema from version i to i + 1
 * and runs inside one transaction with the version bump (the meta row
 * 'schema_version').  Never edit a released entry: add a new one.
 */
static const char *const store_pg_migrations[] = {
	/* 0 -> 1: the initial data model (docs/DATA_MODEL.md). */
	"CREATE TABLE sessions ("
	"  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  user_id text NOT NULL,"
	"  phone text NOT NULL UNIQUE,"
	"  country text NOT NULL CHECK (length(country) = 2),"
	"  priority bigint NOT NULL DEFAULT 0,"
	"  proxy_type text NOT NULL"
	"    CHECK (proxy_type IN ('isp','residential')),"
	"  desired text NOT NULL DEFAULT 'running'"
	"    CHECK (desired IN ('running','stopped')),"
	"  status text NOT NULL DEFAULT 'new' CHECK (status IN ('new',"
	"    'starting','ready','backoff','stopping','stopped','failed',"
	"    'needs_auth','dormant')),"
	"  owner_instance text,"
	"  epoch bigint NOT NULL DEFAULT 0,"
	"  last_activity_at bigint,"
	"  graceful_shutdown boolean NOT NULL DEFAULT false,"
	"  shutdown_at bigint,"
	"  attempts bigint NOT NULL DEFAULT 0,"
	"  last_error text,"
	"  connector_pid bigint,"
	"  connector_started_at bigint,"
	"  created_at bigint NOT NULL,"
	"  updated_at bigint NOT NULL);"
	"CREATE INDEX sessions_owner ON sessions(owner_instance);"
	"CREATE TABLE purchase_intents ("
	"  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  provider text NOT NULL,"
	"  zone text NOT NULL DEFAULT '',"
	"  country text NOT NULL,"
	"  count bigint NOT NULL CHECK (count > 0),"
	"  state text NOT NULL"
	"    CHECK (state IN ('pending','owned','failed','unknown')),"
	"  instance_id text,"
	"  created_at bigint NOT NULL,"
	"  settled_at bigint,"
	"  error text);"
	"CREATE INDEX purchase_intents_open ON purchase_intents(state)"
	"  WHERE state IN ('pending','unknown');"
	"CREATE TABLE proxies ("
	"  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  provider text NOT NULL,"
	"  zone text NOT NULL DEFAULT '',"
	"  ip text NOT NULL,"
	"  country text NOT NULL,"
	"  type text NOT NULL CHECK (type IN ('isp','residential')),"
	"  state text NOT NULL CHECK (state IN ('purchasing','active','idle',"
	"    'releasing','released','lost')),"
	"  session_id bigint REFERENCES sessions(id) ON DELETE SET NULL,"
	"  intent_id bigint REFERENCES purchase_intents(id),"
	"  purchased_at bigint,"
	"  assigned_at bigint,"
	"  idle_since bigint,"
	"  released_at bigint,"
	"  updated_at bigint NOT NULL);"
	"CREATE UNIQUE INDEX proxies_live_ip ON proxies(provider, zone, ip)"
	"  WHERE state <> 'released';"
	"CREATE INDEX proxies_session ON proxies(session_id);"
	"CREATE TABLE assignments ("
	"  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  session_id bigint REFERENCES sessions(id) ON DELETE SET NULL,"
	"  phone text NOT NULL,"
	"  proxy_id bigint REFERENCES proxies(id),"
	"  ip text NOT NULL,"
	"  country text NOT NULL,"
	"  requested_country text NOT NULL,"
	"  fallback_used boolean NOT NULL DEFAULT false,"
	"  reason text NOT NULL CHECK (reason IN ('reactivated','reused',"
	"    'purchased','replaced')),"
	"  instance_id text,"
	"  assigned_at bigint NOT NULL,"
	"  ended_at bigint);"
	"CREATE INDEX assignments_phone ON assignments(phone, assigned_at);"
	"CREATE INDEX assignments_session ON assignments(session_id)"
	"  WHERE ended_at IS NULL;"
	"CREATE TABLE instances ("
	"  id text PRIMARY KEY,"
	"  hostname text NOT NULL,"
	"  pid bigint NOT NULL,"
	"  started_at bigint NOT NULL,"
	"  heartbeat_at bigint NOT NULL,"
	"  status text NOT NULL CHECK (status IN ('starting','running',"
	"    'stopping','stopped','dead')),"
	"  recovery_in_progress boolean NOT NULL DEFAULT false,"
	"  recovery_total bigint NOT NULL DEFAULT 0,"
	"  recovery_done bigint NOT NULL DEFAULT 0,"
	"  recovery_completed_at bigint,"
	"  stopped_at bigint);"
	"CREATE TABLE recovery_runs ("
	"  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  instance_id text NOT NULL,"
	"  cause text NOT NULL CHECK (cause IN ('first_start','graceful',"
	"    'crash','takeover')),"
	"  started_at bigint NOT NULL,"
	"  finished_at bigint,"
	"  sessions_total bigint NOT NULL DEFAULT 0,"
	"  recovered bigint NOT NULL DEFAULT 0,"
	"  failed bigint NOT NULL DEFAULT 0,"
	"  reactivated bigint NOT NULL DEFAULT 0,"
	"  reused bigint NOT NULL DEFAULT 0,"
	"  purchased bigint NOT NULL DEFAULT 0,"
	"  fallbacks bigint NOT NULL DEFAULT 0,"
	"  total_recovery_ms bigint NOT NULL DEFAULT 0,"
	"  cost_micros bigint NOT NULL DEFAULT 0);"
	"CREATE TABLE events ("
	"  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  at bigint NOT NULL,"
	"  actor text NOT NULL,"
	"  session_id bigint,"
	"  kind text NOT NULL,"
	"  detail text NOT NULL DEFAULT '{}');"
	"CREATE INDEX events_at ON events(at);"
	"CREATE TABLE meta ("
	"  key text PRIMARY KEY,"
	"  value bigint NOT NULL);"
	"INSERT INTO meta (key, value) VALUES ('sessions_generation', 0);",
	/* 1 -> 2: IPs a phone's connector refused, kept across restarts. */
	"CREATE TABLE refused_ips ("
	"  phone text NOT NULL,"
	"  ip text NOT NULL,"
	"  at bigint NOT NULL,"
	"  PRIMARY KEY (phone, ip));",
	/*
	 * 2 -> 3: an idle IP held for the session that last used it, and
	 * until when, kept across restarts.
	 */
	"ALTER TABLE proxies ADD COLUMN held_for bigint,"
	"  ADD COLUMN held_until bigint;",
};

_Static_assert(nitems(store_pg_migrations) == STORE_SCHEMA_VERSION,
    "one migration per schema version");

/* --- parameters and results -------------------------------------------- */

void
store_pg_arg(struct store_pg_args *a, const char *s)
{
	if (a->n >= STORE_PG_PARAMS_MAX)
		abort();	/* too many parameters: a bug */
	a->v[a->n++] = s;
}

void
store_pg_arg_i64(struct store_pg_args *a, int64_t v)
{
	if (a->n >= STORE_PG_PARAMS_MAX)
		abort();
	snprintf(a->num[a->n], sizeof a->num[a->n], "%lld", (long long)v);
	a->v[a->n] = a->num[a->n];
	a->n++;
}

void
store_pg_arg_bool(struct store_pg_args *a, bool v)
{
	store_pg_arg(a, v ? "true" : "false");
}

const char *
store_pg_text(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return "";
	return PQgetvalue(res, row, col);
}

int64_t
store_pg_i64(const PGresult *res, int row, int col)
{
	int64_t	v;

	if (PQgetisnull(res, row, col) ||
	    util_parse_i64(PQgetvalue(res, row, col), INT64_MIN, INT64_MAX,
	    &v) < 0)
		return 0;
	return v;
}

bool
store_pg_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) &&
	    PQgetvalue(res, row, col)[0] == 't';
}

/* Rows an INSERT, UPDATE or DELETE changed. */
int
store_pg_changes(const PGresult *res)
{
	int64_t	n;

	if (util_parse_i64(PQcmdTuples((PGresult *)res), 0, INT32_MAX,
	    &n) < 0)
		return 0;
	return (int)n;
}

/* --- statements --------------------------------------------------------- */

/* Record a failed statement's message and map its SQLSTATE to an errno. */
static int
store_pg_fail(struct store_pg *b, const PGresult *res)
{
	const char	*state = NULL, *msg = NULL;

	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	}
	if (msg == NULL || *msg == '\0')
		msg = PQerrorMessage(b->conn);
	if (PQstatus(b->conn) != CONNECTION_OK || (state != NULL &&
	    (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0))) {
		store_pg_setmsg(b, "database connection lost: ", msg);
		store_pg_lost(b);
		return -EIO;
	}
	store_pg_setmsg(b, "", msg);
	if (state == NULL)
		return -EIO;
	if (strcmp(state, "23505") == 0)	/* unique_violation */
		return -EEXIST;
	if (strncmp(state, "23", 2) == 0)	/* check, not null, foreign */
		return -EINVAL;
	if (strcmp(state, "40001") == 0 ||	/* serialization_failure */
	    strcmp(state, "40P01") == 0 ||	/* deadlock_detected */
	    strcmp(state, "55P03") == 0 ||	/* lock_not_available */
	    strcmp(state, "57014") == 0)	/* query_canceled: timeout */
		return -EBUSY;
	if (strcmp(state, "53100") == 0)	/* disk_full */
		return -ENOSPC;
	if (strncmp(state, "42501", 5) == 0)	/* insufficient_privilege */
		return -EACCES;
	return -EIO;
}

/* Run one statement with parameters; *ret (if asked) holds the result. */
int
store_pg_run(struct store_pg *b, const char *sql,
    const struct store_pg_args *a, PGresult **ret)
{
	PGresult	*res;
	ExecStatusType	 est;
	int		 r;

	res = PQexecParams(b->conn, sql, a != NULL ? a->n : 0, NULL,
	    a != NULL ? a->v : NULL, NULL, NULL, 0);
	est = PQresultStatus(res);
	if (est == PGRES_COMMAND_OK || est == PGRES_TUPLES_OK) {
		if (ret != NULL)
			*ret = res;
		else
			PQclear(res);
		return 0;
	}
	r = store_pg_fail(b, res);
	PQclear(res);
	return r;
}

/* Run constant SQL (no values): transaction control, migrations. */
static int
store_pg_script(struct store_pg *b, const char *sql)
{
	PGresult	*res;
	ExecStatusType	 est;
	int		 r;

	res = PQexec(b->conn, sql);
	est = PQresultStatus(res);
	if (est == PGRES_COMMAND_OK || est == PGRES_TUPLES_OK) {
		PQclear(res);
		return 0;
	}
	r = store_pg_fail(b, res);
	PQclear(res);
	return r;
}

/*
 * COMMIT, checking that it did: PostgreSQL answers COMMIT of an aborted
 * transaction with a successful ROLLBACK.
 */
static int
store_pg_commit_tx(struct store_pg *b)
{
	PGresult	*res;
	int		 r;

	if (PQtransactionStatus(b->conn) == PQTRANS_INERROR) {
		(void)store_pg_script(b, "ROLLBACK");
		snprintf(b->err, sizeof b->err, "transaction aborted by an "
		    "earlier error; rolled back");
		return -EIO;
	}
	res = PQexec(b->conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = store_pg_fail(b, res);
		PQclear(res);
		return r;
	}
	r = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? 0 : -EIO;
	if (r < 0)
		snprintf(b->err, sizeof b->err, "transaction rolled back");
	PQclear(res);
	return r;
}

/* --- calls and batches -------------------------------------------------- */

/*
 * Open a call.  Outside a batch, a TX call gets its own transaction and
 * the others run on their own (autocommit).  Inside a batch every call
 * runs in a savepoint of the batch's transaction, which is (re)opened
 * here when the batch has none: after a reset, or after an intent
 * committed the batch so far.
 */
int
store_pg_begin(struct store_pg *b, enum store_pg_mode mode)
{
	PGTransactionStatusType	ts;
	int			r;

	if ((r = store_pg_ready(b)) < 0)
		return r;
	if (b->depth == 0)
		return mode == STORE_PG_TX ? store_pg_script(b, "BEGIN") : 0;
	ts = PQtransactionStatus(b->conn);
	if (ts == PQTRANS_INERROR) {
		if (b->dirty)
			b->batch_lost = true;
		b->dirty = false;
		if ((r = store_pg_script(b, "ROLLBACK")) < 0)
			return r;
		ts = PQTRANS_IDLE;
	}
	if (ts == PQTRANS_IDLE && (r = store_pg_script(b, "BEGIN")) < 0)
		return r;
	return store_pg_script(b, "SAVEPOINT w");
}

/* Undo a failed call, keeping the failure's message. */
static void
store_pg_rollback(struct store_pg *b, enum store_pg_mode mode)
{
	char	saved[STORE_ERROR_LEN];

	if (b->retry.broken || PQstatus(b->conn) != CONNECTION_OK)
		return;
	memcpy(saved, b->err, sizeof saved);
	if (b->depth > 0) {
		if (PQtransactionStatus(b->conn) != PQTRANS_IDLE)
			(void)store_pg_script(b,
			    "ROLLBACK TO SAVEPOINT w; RELEASE SAVEPOINT w");
	} else if (mode == STORE_PG_TX) {
		(void)store_pg_script(b, "ROLLBACK");
	}
	memcpy(b->err, saved, sizeof saved);
}

/* Close a call: commit when r says it succeeded, else roll back. */
int
store_pg_end(struct store_pg *b, enum store_pg_mode mode, int r)
{
	int	rc;

	if (r < 0) {
		store_pg_rollback(b, mode);
		return r;
	}
	if (b->depth > 0) {
		if ((rc = store_pg_script(b, "RELEASE SAVEPOINT w")) < 0) {
			store_pg_rollback(b, mode);
			return rc;
		}
		if (mode != STORE_PG_READ)
			b->dirty = true;
		return r;
	}
	if (mode == STORE_PG_TX && (rc = store_pg_commit_tx(b)) < 0)
		return rc;
	return r;
}

static int
store_pg_batch_begin(void *p)
{
	struct store_pg	*b = p;
	int		 r;

	if (b->depth++ > 0)
		return 0;
	b->dirty = false;
	b->batch_lost = false;
	if ((r = store_pg_ready(b)) < 0 ||
	    (r = store_pg_script(b, "BEGIN")) < 0)
		b->depth = 0;
	return r;
}

static int
store_pg_batch_end(void *p)
{
	struct store_pg	*b = p;
	bool		 lost;
	int		 r = 0;

	if (b->depth == 0)
		return -EINVAL;
	if (--b->depth > 0)
		return 0;
	if (!b->retry.broken && PQstatus(b->conn) == CONNECTION_OK &&
	    PQtransactionStatus(b->conn) != PQTRANS_IDLE)
		r = store_pg_commit_tx(b);
	lost = b->batch_lost;
	b->batch_lost = false;
	b->dirty = false;
	if (r == 0 && lost) {
		snprintf(b->err, sizeof b->err, "database connection lost "
		    "during a batch: its writes before the loss were rolled "
		    "back");
		r = -EIO;
	}
	return r;
}

static int
store_pg_batch_abort(void *p)
{
	struct store_pg	*b = p;

	if (b->depth == 0)
		return -EINVAL;
	b->depth = 0;
	b->dirty = false;
	b->batch_lost = false;
	store_pg_rollback(b, STORE_PG_TX);
	return 0;
}

/* Commit what the open batch holds, so a write can commit on its own. */
int
store_pg_flush_batch(struct store_pg *b)
{
	int	r;

	if ((r = store_pg_ready(b)) < 0)
		return r;
	switch (PQtransactionStatus(b->conn)) {
	case PQTRANS_IDLE:
		return 0;
	case PQTRANS_INERROR:
		/* Cannot happen with savepoints; were it to, go on alone. */
		if (b->dirty)
			b->batch_lost = true;
		b->dirty = false;
		return store_pg_script(b, "ROLLBACK");
	default:
		r = store_pg_commit_tx(b);
		b->dirty = false;
		return r;
	}
}

/*
 * Run one read and hand back its whole result.  The call is closed before
 * the caller walks the rows, so a callback may call the store again.
 */
int
store_pg_read(struct store_pg *b, const char *sql,
    const struct store_pg_args *a, PGresult **ret)
{
	PGresult	*res = NULL;
	int		 r;

	if ((r = store_pg_begin(b, STORE_PG_READ)) < 0)
		return r;
	r = store_pg_run(b, sql, a, &res);
	if ((r = store_pg_end(b, STORE_PG_READ, r)) < 0) {
		PQclear(res);
		return r;
	}
	*ret = res;
	return 0;
}

/*
 * The one loop over a result's rows, for every list of the store: row i
 * goes to fn (which reads it into a record and hands that to the caller's
 * callback); a non-zero answer stops the loop and is returned.  The result
 * is cleared.
 */
int
store_pg_each(PGresult *res, store_pg_row_fn fn, void *arg)
{
	int	i, n = PQntuples(res), r = 0;

	for (i = 0; i < n && r == 0; i++)
		r = fn(res, i, arg);
	PQclear(res);
	return r;
}

/* --- schema ------------------------------------------------------------- */

static int
store_pg_version(struct store_pg *b, int *ret)
{
	PGresult	*res = NULL;
	int64_t		 v = 0;
	int		 r;

	/*
	 * Not to_regclass(): it trusts the session's catalog cache, which
	 * may still say "no such table" after another daemon's migration
	 * committed while this one waited for the migration lock.
	 */
	if ((r = store_pg_run(b, "SELECT EXISTS (SELECT 1 FROM "
	    "pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
	    "c.relnamespace WHERE c.relname = 'meta' AND n.nspname = "
	    "current_schema())", NULL, &res)) < 0)
		return r;
	if (!store_pg_bool(res, 0, 0)) {
		PQclear(res);
		*ret = 0;
		return 0;
	}
	PQclear(res);
	if ((r = store_pg_run(b, "SELECT value FROM meta WHERE key = "
	    "'schema_version'", NULL, &res)) < 0)
		return r;
	if (PQntuples(res) > 0)
		v = store_pg_i64(res, 0, 0);
	PQclear(res);
	*ret = v > INT32_MAX ? INT32_MAX : (int)v;
	return 0;
}

/*
 * Bring the schema up to date.  An advisory lock held to the end of the
 * transaction serialises daemons that start on a new database at once;
 * the version is read again under it, so the schema is migrated once.
 */
int
store_pg_migrate(struct store_pg *b)
{
	struct store_pg_args	a;
	int			v, r;

	if ((r = store_pg_version(b, &v)) < 0)
		return r;
	/* Versions index the migrations: a negative one is not ours. */
	if (v < 0)
		goto foreign;
	if (v > STORE_SCHEMA_VERSION)
		goto newer;
	if (v == STORE_SCHEMA_VERSION)
		return 0;
	if ((r = store_pg_script(b, "BEGIN")) < 0)
		return r;
	a.n = 0;
	store_pg_arg(&a, STORE_PG_MIGRATE_LOCK);
	if ((r = store_pg_run(b, "SELECT pg_advisory_xact_lock($1::bigint)",
	    &a, NULL)) < 0 || (r = store_pg_version(b, &v)) < 0)
		goto fail;
	if (v < 0 || v > STORE_SCHEMA_VERSION) {
		store_pg_rollback(b, STORE_PG_TX);
		if (v < 0)
			goto foreign;
		goto newer;
	}
	for (; v < STORE_SCHEMA_VERSION; v++) {
		if ((r = store_pg_script(b, store_pg_migrations[v])) < 0)
			goto fail;
		a.n = 0;
		store_pg_arg_i64(&a, v + 1);
		if ((r = store_pg_run(b, "INSERT INTO meta (key, value) "
		    "VALUES ('schema_version', $1::bigint) ON CONFLICT (key) "
		    "DO UPDATE SET value = EXCLUDED.value", &a, NULL)) < 0)
			goto fail;
	}
	if ((r = store_pg_commit_tx(b)) < 0)
		return r;
	return 0;
fail:
	store_pg_rollback(b, STORE_PG_TX);
	return r;
newer:
	snprintf(b->err, sizeof b->err, "database schema version %d is newer "
	    "than this respawn (%d); upgrade respawn", v, STORE_SCHEMA_VERSION);
	return -EPROTO;
foreign:
	snprintf(b->err, sizeof b->err, "database schema version %d was not "
	    "written by respawn: not its database, or a damaged one", v);
	return -EBADMSG;
}

static int
store_pg_schema_version(void *p, int *ret)
{
	struct store_pg	*b = p;
	int		 r;

	if ((r = store_pg_begin(b, STORE_PG_READ)) < 0)
		return r;
	return store_pg_end(b, STORE_PG_READ, store_pg_version(b, ret));
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = store_pg_open,
	.close = store_pg_close,
	.errmsg = store_pg_errmsg,
	.schema_version = store_pg_schema_version,
	.session_add_many = store_pg_session_add_many,
	.session_get = store_pg_session_get,
	.session_list = store_pg_session_list,
	.session_set_desired = store_pg_session_set_desired,
	.session_remove = store_pg_session_remove,
	.event_add = store_pg_event_add,
	.instance_register = store_pg_instance_register,
	.instance_succeed = store_pg_instance_succeed,
	.instance_heartbeat = store_pg_instance_heartbeat,
	.instance_set_status = store_pg_instance_set_status,
	.instance_reap = store_pg_instance_reap,
	.instance_list = store_pg_instance_list,
	.session_claim = store_pg_session_claim,
	.session_report = store_pg_session_report,
	.session_release_all = store_pg_session_release_all,
	.session_fingerprint = store_pg_session_fingerprint,
	.bump_generation = store_pg_bump,
	.proxy_add = store_pg_proxy_add,
	.proxy_relist = store_pg_proxy_relist,
	.proxy_set_intent = store_pg_proxy_set_intent,
	.refused_add = store_pg_refused_add,
	.refused_list = store_pg_refused_list,
	.proxy_list = store_pg_proxy_list,
	.proxy_assign = store_pg_proxy_assign,
	.proxy_unassign = store_pg_proxy_unassign,
	.proxy_set_state = store_pg_proxy_set_state,
	.proxy_history = store_pg_proxy_history,
	.phone_spans = store_pg_phone_spans,
	.proxy_request_release = store_pg_proxy_request_release,
	.recovery_run_add = store_pg_recovery_run_add,
	.intent_add = store_pg_intent_add,
	.intent_settle = store_pg_intent_settle,
	.intent_list_open = store_pg_intent_list_open,
	.recovery_run_last = store_pg_recovery_run_last,
	.batch_begin = store_pg_batch_begin,
	.batch_end = store_pg_batch_end,
	.batch_abort = store_pg_batch_abort,
	.set_lease = store_pg_set_lease,
	.recovery_run_list = store_pg_recovery_run_list,
	.event_list = store_pg_event_list,
	.fleet_share = store_pg_fleet_share,
	.session_release = store_pg_session_release,
	.wake_fd = store_pg_wake_fd,
	.wake_drain = store_pg_wake_drain,
};
