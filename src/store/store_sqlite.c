/*
 * The SQLite backend of the state store: the embedded default, one file,
 * no server.  See store.h for the interface and docs/DATA_MODEL.md for the
 * tables.
 *
 * Durability and concurrency settings, and why:
 *   journal_mode=WAL    readers never block the writer, and a crash leaves
 *                       a consistent database;
 *   synchronous=FULL    a committed transaction survives power loss, which
 *                       matters because a purchase intent must be on disk
 *                       before the provider is asked for an IP;
 *   busy_timeout        a second process (the CLI next to the daemon) waits
 *                       for the lock instead of failing at once;
 *   BEGIN IMMEDIATE     every write transaction takes the write lock at its
 *                       start, so two writers never deadlock upgrading a
 *                       read lock (SQLITE_BUSY that no timeout can fix).
 *
 * The backend is four files: this one (statements, transactions and
 * batches, the schema and its migrations, the operations table),
 * store_sqlite_sessions.c (sessions, claims and reports),
 * store_sqlite_instances.c (instances, recovery runs, the audit log) and
 * store_sqlite_proxies.c (proxies, assignments, purchase intents); what
 * they share is in store_sqlite_impl.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/failpoint.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "store/store_sqlite_impl.h"

/*
 * Forward migrations.  Entry i moves the schema from version i to i + 1
 * and runs inside one transaction with the version bump.  Never edit a
 * released entry: add a new one.
 */
static const char *const store_sqlite_migrations[] = {
	/* 0 -> 1: the initial data model (docs/DATA_MODEL.md). */
	"CREATE TABLE sessions ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id TEXT NOT NULL,"
	"  phone TEXT NOT NULL UNIQUE,"
	"  country TEXT NOT NULL CHECK (length(country) = 2),"
	"  priority INTEGER NOT NULL DEFAULT 0,"
	"  proxy_type TEXT NOT NULL CHECK (proxy_type IN ('isp','residential')),"
	"  desired TEXT NOT NULL DEFAULT 'running'"
	"    CHECK (desired IN ('running','stopped')),"
	"  status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new','starting',"
	"    'ready','backoff','stopping','stopped','failed','needs_auth',"
	"    'dormant')),"
	"  owner_instance TEXT,"
	"  epoch INTEGER NOT NULL DEFAULT 0,"
	"  last_activity_at INTEGER,"
	"  graceful_shutdown INTEGER NOT NULL DEFAULT 0"
	"    CHECK (graceful_shutdown IN (0,1)),"
	"  shutdown_at INTEGER,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  connector_pid INTEGER,"
	"  connector_started_at INTEGER,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX sessions_owner ON sessions(owner_instance);"
	"CREATE TABLE purchase_intents ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  provider TEXT NOT NULL,"
	"  zone TEXT NOT NULL DEFAULT '',"
	"  country TEXT NOT NULL,"
	"  count INTEGER NOT NULL CHECK (count > 0),"
	"  state TEXT NOT NULL"
	"    CHECK (state IN ('pending','owned','failed','unknown')),"
	"  instance_id TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  settled_at INTEGER,"
	"  error TEXT);"
	"CREATE INDEX purchase_intents_open ON purchase_intents(state)"
	"  WHERE state IN ('pending','unknown');"
	"CREATE TABLE proxies ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  provider TEXT NOT NULL,"
	"  zone TEXT NOT NULL DEFAULT '',"
	"  ip TEXT NOT NULL,"
	"  country TEXT NOT NULL,"
	"  type TEXT NOT NULL CHECK (type IN ('isp','residential')),"
	"  state TEXT NOT NULL CHECK (state IN ('purchasing','active','idle',"
	"    'releasing','released','lost')),"
	"  session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,"
	"  intent_id INTEGER REFERENCES purchase_intents(id),"
	"  purchased_at INTEGER,"
	"  assigned_at INTEGER,"
	"  idle_since INTEGER,"
	"  released_at INTEGER,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX proxies_live_ip ON proxies(provider, zone, ip)"
	"  WHERE state <> 'released';"
	"CREATE INDEX proxies_session ON proxies(session_id);"
	"CREATE TABLE assignments ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,"
	"  phone TEXT NOT NULL,"
	"  proxy_id INTEGER REFERENCES proxies(id),"
	"  ip TEXT NOT NULL,"
	"  country TEXT NOT NULL,"
	"  requested_country TEXT NOT NULL,"
	"  fallback_used INTEGER NOT NULL DEFAULT 0"
	"    CHECK (fallback_used IN (0,1)),"
	"  reason TEXT NOT NULL CHECK (reason IN ('reactivated','reused',"
	"    'purchased','replaced')),"
	"  instance_id TEXT,"
	"  assigned_at INTEGER NOT NULL,"
	"  ended_at INTEGER);"
	"CREATE INDEX assignments_phone ON assignments(phone, assigned_at);"
	"CREATE TABLE instances ("
	"  id TEXT PRIMARY KEY,"
	"  hostname TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  started_at INTEGER NOT NULL,"
	"  heartbeat_at INTEGER NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN ('starting','running',"
	"    'stopping','stopped','dead')),"
	"  recovery_in_progress INTEGER NOT NULL DEFAULT 0,"
	"  recovery_total INTEGER NOT NULL DEFAULT 0,"
	"  recovery_done INTEGER NOT NULL DEFAULT 0,"
	"  recovery_completed_at INTEGER,"
	"  stopped_at INTEGER);"
	"CREATE TABLE recovery_runs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  instance_id TEXT NOT NULL,"
	"  cause TEXT NOT NULL CHECK (cause IN ('first_start','graceful',"
	"    'crash','takeover')),"
	"  started_at INTEGER NOT NULL,"
	"  finished_at INTEGER,"
	"  sessions_total INTEGER NOT NULL DEFAULT 0,"
	"  recovered INTEGER NOT NULL DEFAULT 0,"
	"  failed INTEGER NOT NULL DEFAULT 0,"
	"  reactivated INTEGER NOT NULL DEFAULT 0,"
	"  reused INTEGER NOT NULL DEFAULT 0,"
	"  purchased INTEGER NOT NULL DEFAULT 0,"
	"  fallbacks INTEGER NOT NULL DEFAULT 0,"
	"  total_recovery_ms INTEGER NOT NULL DEFAULT 0,"
	"  cost_micros INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  session_id INTEGER,"
	"  kind TEXT NOT NULL,"
	"  detail TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX events_at ON events(at);"
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL);"
	"INSERT INTO meta (key, value) VALUES ('sessions_generation', 0);",
	/* 1 -> 2: IPs a phone's connector refused, kept across restarts. */
	"CREATE TABLE refused_ips ("
	"  phone TEXT NOT NULL,"
	"  ip TEXT NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  PRIMARY KEY (phone, ip));",
	/*
	 * 2 -> 3: an idle IP held for the session that last used it, and
	 * until when, kept across restarts.
	 */
	"ALTER TABLE proxies ADD COLUMN held_for INTEGER;"
	"ALTER TABLE proxies ADD COLUMN held_until INTEGER;",
};

_Static_assert(nitems(store_sqlite_migrations) == STORE_SCHEMA_VERSION,
    "one migration per schema version");

/* Record SQLite's message and map its result code to an errno. */
int
store_sqlite_fail(struct store_sqlite *b, int rc)
{
	snprintf(b->err, sizeof b->err, "%s", sqlite3_errmsg(b->db));
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE ||
		    rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return -EEXIST;
		return -EINVAL;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

int
store_sqlite_exec(struct store_sqlite *b, const char *sql)
{
	int	rc;

	if ((rc = sqlite3_exec(b->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		return store_sqlite_fail(b, rc);
	return 0;
}

/*
 * Inside a batch (store_batch_begin), a write's own transaction becomes
 * part of the batch's: many small writes of one event-loop callback then
 * cost one fsync instead of one each.  A failed write inside a batch is
 * undone with a savepoint, so the others still commit.
 */
/* A write transaction: where another process's lock is waited for. */
static int
store_sqlite_begin_write(struct store_sqlite *b)
{
	int	r;

	if (b->wait_ms > 0 && util_mono_ms() < b->locked_until) {
		(void)util_strlcpy(b->err, "database is locked (not waiting "
		    "again yet)", sizeof b->err);
		return -EBUSY;
	}
	if ((r = store_sqlite_exec(b, "BEGIN IMMEDIATE")) == -EBUSY &&
	    b->wait_ms > 0)
		b->locked_until = util_mono_ms() + b->wait_ms;
	return r;
}

int
store_sqlite_begin(struct store_sqlite *b)
{
	if (b->depth > 0)
		return store_sqlite_exec(b, "SAVEPOINT w");
	return store_sqlite_begin_write(b);
}

int
store_sqlite_commit(struct store_sqlite *b)
{
	if (b->depth > 0)
		return store_sqlite_exec(b, "RELEASE w");
	return store_sqlite_exec(b, "COMMIT");
}

/* Roll back after a failure, keeping the failure's message. */
void
store_sqlite_rollback(struct store_sqlite *b)
{
	char	saved[STORE_ERROR_LEN];

	memcpy(saved, b->err, sizeof saved);
	if (b->depth > 0) {
		(void)sqlite3_exec(b->db, "ROLLBACK TO w; RELEASE w", NULL,
		    NULL, NULL);
	} else {
		(void)sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
	}
	memcpy(b->err, saved, sizeof saved);
}

static int
store_sqlite_batch_begin(void *p)
{
	struct store_sqlite	*b = p;
	int			 r;

	if (b->depth++ > 0)
		return 0;
	if ((r = store_sqlite_begin_write(b)) < 0)
		b->depth = 0;
	return r;
}

static int
store_sqlite_batch_end(void *p)
{
	struct store_sqlite	*b = p;

	int			 r;

	if (b->depth == 0)
		return -EINVAL;
	if (--b->depth > 0)
		return 0;
	/* A test's disk full (failpoint.h). */
	if (failpoint("store.commit")) {
		store_sqlite_rollback(b);
		(void)util_strlcpy(b->err, "database or disk is full "
		    "(failpoint store.commit)", sizeof b->err);
		return -ENOSPC;
	}
	if ((r = store_sqlite_exec(b, "COMMIT")) < 0 &&
	    !sqlite3_get_autocommit(b->db))
		/* Not committed, and still open: the batch is lost, not kept. */
		store_sqlite_rollback(b);
	return r;
}

static int
store_sqlite_batch_abort(void *p)
{
	struct store_sqlite	*b = p;

	if (b->depth == 0)
		return -EINVAL;
	b->depth = 0;
	if (!sqlite3_get_autocommit(b->db))
		store_sqlite_rollback(b);
	return 0;
}

int
store_sqlite_prepare(struct store_sqlite *b, const char *sql, sqlite3_stmt **ret)
{
	int	rc;

	if ((rc = sqlite3_prepare_v2(b->db, sql, -1, ret, NULL)) != SQLITE_OK)
		return store_sqlite_fail(b, rc);
	return 0;
}

/*
 * The one loop over a query's rows, for every list of the store: each row
 * goes to fn (which reads it into a record and hands that to the caller's
 * callback); a non-zero answer stops the loop and is returned.  The
 * statement is finalized.
 */
int
store_sqlite_each(struct store_sqlite *b, sqlite3_stmt *st,
    store_sqlite_row_fn fn, void *arg)
{
	int	r = 0, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = fn(st, arg)) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_sqlite_fail(b, rc);
	sqlite3_finalize(st);
	return r;
}

/* Run one UPDATE/DELETE with bound parameters; returns the change count. */
int
store_sqlite_step_done(struct store_sqlite *b, sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_sqlite_fail(b, rc);
	return sqlite3_changes(b->db);
}

static int
store_sqlite_user_version(struct store_sqlite *b, int *ret)
{
	sqlite3_stmt	*st;
	int		 r, rc;

	if ((r = store_sqlite_prepare(b, "PRAGMA user_version", &st)) < 0)
		return r;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = store_sqlite_fail(b, rc);
		sqlite3_finalize(st);
		return r;
	}
	*ret = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/*
 * Bring the schema up to date.  The version is read again inside the write
 * transaction, so two processes opening a new file at once migrate it once.
 */
static int
store_sqlite_migrate(struct store_sqlite *b)
{
	char	sql[64];
	int	v, r;

	if ((r = store_sqlite_user_version(b, &v)) < 0)
		return r;
	/* Versions index the migrations: a negative one is not ours. */
	if (v < 0)
		goto foreign;
	if (v > STORE_SCHEMA_VERSION)
		goto newer;
	if (v == STORE_SCHEMA_VERSION)
		return 0;
	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_user_version(b, &v)) < 0)
		goto fail;
	if (v < 0 || v > STORE_SCHEMA_VERSION) {
		store_sqlite_rollback(b);
		if (v < 0)
			goto foreign;
		goto newer;
	}
	for (; v < STORE_SCHEMA_VERSION; v++) {
		if ((r = store_sqlite_exec(b, store_sqlite_migrations[v])) < 0)
			goto fail;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if ((r = store_sqlite_exec(b, sql)) < 0)
			goto fail;
	}
	if ((r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
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

static void
store_sqlite_close(void *p)
{
	struct store_sqlite	*b = p;

	if (b == NULL)
		return;
	sqlite3_close_v2(b->db);
	free(b);
}

#define STORE_SQLITE_PATH_MAX	4096	/* a database path and its suffix */

/*
 * The database holds phone numbers: a file of ours that others may read
 * (made under a loose umask by an older respawn) is made the owner's
 * alone, with its journal files.  Failing that is no reason not to run.
 */
static void
store_sqlite_tighten(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char		name[STORE_SQLITE_PATH_MAX];
	struct stat	sb;
	size_t		i;

	for (i = 0; i < nitems(suffix); i++) {
		if ((size_t)snprintf(name, sizeof name, "%s%s", path,
		    suffix[i]) >= sizeof name)
			return;
		if (stat(name, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    sb.st_uid == geteuid() && (sb.st_mode & 077) != 0)
			(void)chmod(name, sb.st_mode & 0600);
	}
}

static int
store_sqlite_open(const char *path, void **ret, char *err)
{
	struct store_sqlite	*b;
	int		 rc, r;

	b = xcalloc(1, sizeof *b);
	rc = sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, STORE_ERROR_LEN, "database '%.200s': %s", path,
		    b->db ? sqlite3_errmsg(b->db) : sqlite3_errstr(rc));
		r = store_sqlite_fail(b, rc);
		store_sqlite_close(b);
		return r;
	}
	sqlite3_extended_result_codes(b->db, 1);
	sqlite3_busy_timeout(b->db, STORE_BUSY_TIMEOUT_MS);
	store_sqlite_tighten(path);
	if ((r = store_sqlite_exec(b, "PRAGMA journal_mode = WAL")) < 0 ||
	    (r = store_sqlite_exec(b, "PRAGMA synchronous = FULL")) < 0 ||
	    (r = store_sqlite_exec(b, "PRAGMA foreign_keys = ON")) < 0 ||
	    (r = store_sqlite_migrate(b)) < 0) {
		snprintf(err, STORE_ERROR_LEN, "database '%.200s': %.200s",
		    path, b->err);
		store_sqlite_close(b);
		return r;
	}
	*ret = b;
	return 0;
}

static const char *
store_sqlite_errmsg(const void *p)
{
	return ((const struct store_sqlite *)p)->err;
}

static int
store_sqlite_schema_version(void *p, int *ret)
{
	return store_sqlite_user_version(p, ret);
}

const char *
store_sqlite_text(sqlite3_stmt *st, int col)
{
	const unsigned char	*t = sqlite3_column_text(st, col);

	return t == NULL ? "" : (const char *)t;
}

static int
store_sqlite_set_wait(void *p, int ms)
{
	struct store_sqlite	*b = p;

	if (sqlite3_busy_timeout(b->db, ms) != SQLITE_OK)
		return -EINVAL;
	b->wait_ms = ms;
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = store_sqlite_open,
	.close = store_sqlite_close,
	.errmsg = store_sqlite_errmsg,
	.schema_version = store_sqlite_schema_version,
	.session_add_many = store_sqlite_session_add_many,
	.session_get = store_sqlite_session_get,
	.session_list = store_sqlite_session_list,
	.session_set_desired = store_sqlite_session_set_desired,
	.session_remove = store_sqlite_session_remove,
	.event_add = store_sqlite_event_add,
	.instance_register = store_sqlite_instance_register,
	.instance_heartbeat = store_sqlite_instance_heartbeat,
	.instance_set_status = store_sqlite_instance_set_status,
	.instance_reap = store_sqlite_instance_reap,
	.instance_list = store_sqlite_instance_list,
	.session_claim = store_sqlite_session_claim,
	.session_report = store_sqlite_session_report,
	.session_release_all = store_sqlite_session_release_all,
	.session_fingerprint = store_sqlite_session_fingerprint,
	.bump_generation = store_sqlite_bump,
	.set_wait = store_sqlite_set_wait,
	.proxy_add = store_sqlite_proxy_add,
	.proxy_relist = store_sqlite_proxy_relist,
	.proxy_set_intent = store_sqlite_proxy_set_intent,
	.refused_add = store_sqlite_refused_add,
	.refused_list = store_sqlite_refused_list,
	.proxy_list = store_sqlite_proxy_list,
	.proxy_assign = store_sqlite_proxy_assign,
	.proxy_unassign = store_sqlite_proxy_unassign,
	.proxy_set_state = store_sqlite_proxy_set_state,
	.proxy_history = store_sqlite_proxy_history,
	.phone_spans = store_sqlite_phone_spans,
	.proxy_request_release = store_sqlite_proxy_request_release,
	.recovery_run_add = store_sqlite_recovery_run_add,
	.intent_add = store_sqlite_intent_add,
	.intent_settle = store_sqlite_intent_settle,
	.intent_list_open = store_sqlite_intent_list_open,
	.recovery_run_last = store_sqlite_recovery_run_last,
	.recovery_run_list = store_sqlite_recovery_run_list,
	.event_list = store_sqlite_event_list,
	.batch_begin = store_sqlite_batch_begin,
	.batch_end = store_sqlite_batch_end,
	.batch_abort = store_sqlite_batch_abort,
};
