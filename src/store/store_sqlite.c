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
static int
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

static int
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

static int
store_sqlite_begin(struct store_sqlite *b)
{
	if (b->depth > 0)
		return store_sqlite_exec(b, "SAVEPOINT w");
	return store_sqlite_begin_write(b);
}

static int
store_sqlite_commit(struct store_sqlite *b)
{
	if (b->depth > 0)
		return store_sqlite_exec(b, "RELEASE w");
	return store_sqlite_exec(b, "COMMIT");
}

/* Roll back after a failure, keeping the failure's message. */
static void
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

static int
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
typedef int	(*store_sqlite_row_fn)(sqlite3_stmt *st, void *arg);

static int
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

static const char *
store_sqlite_text(sqlite3_stmt *st, int col)
{
	const unsigned char	*t = sqlite3_column_text(st, col);

	return t == NULL ? "" : (const char *)t;
}

static int
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

/*
 * Operator changes to sessions (add, remove, start, stop) bump a counter,
 * so the daemon notices them with one cheap query instead of re-reading
 * every session each second.
 */
static int
store_sqlite_bump_generation(struct store_sqlite *b)
{
	return store_sqlite_exec(b, "UPDATE meta SET value = value + 1 "
	    "WHERE key = 'sessions_generation'");
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

static int
store_sqlite_bump(void *p)
{
	return store_sqlite_bump_generation(p);
}

static int
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

/*
 * Many sessions in one write (store_session_add_many).  A phone that
 * already has a session is skipped by the insert itself (ON CONFLICT DO
 * NOTHING) rather than failing it, so the others still go in; any other
 * failure undoes them all.
 */
static int
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

static int
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

static int
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

static int
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

static int
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

/* Run one UPDATE/DELETE with bound parameters; returns the change count. */
static int
store_sqlite_step_done(struct store_sqlite *b, sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_sqlite_fail(b, rc);
	return sqlite3_changes(b->db);
}

static int
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

static int
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

static int
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

static int
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

static int
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

static int
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

static int
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

static int
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

static int
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

/* --- proxies ------------------------------------------------------------ */

#define STORE_SQLITE_PROXY_COLUMNS					\
	"id, provider, zone, ip, country, type, state, session_id, "	\
	"purchased_at, assigned_at, idle_since, intent_id, "		\
	"released_at, held_for, held_until "

static void
store_sqlite_row_proxy(sqlite3_stmt *st, struct proxy_row *p)
{
	size_t	k;

	memset(p, 0, sizeof *p);
	p->id = sqlite3_column_int64(st, 0);
	(void)util_strlcpy(p->provider, store_sqlite_text(st, 1),
	    sizeof p->provider);
	(void)util_strlcpy(p->zone, store_sqlite_text(st, 2), sizeof p->zone);
	(void)util_strlcpy(p->ip, store_sqlite_text(st, 3), sizeof p->ip);
	(void)util_strlcpy(p->country, store_sqlite_text(st, 4),
	    sizeof p->country);
	p->type = strcmp(store_sqlite_text(st, 5), "residential") == 0 ?
	    PROXY_TYPE_RESIDENTIAL : PROXY_TYPE_ISP;
	for (k = 0; k <= PROXY_LOST; k++)
		if (strcmp(store_sqlite_text(st, 6),
		    store_proxy_state_name((enum proxy_state)k)) == 0)
			p->state = (enum proxy_state)k;
	p->session_id = sqlite3_column_int64(st, 7);
	p->purchased_at = sqlite3_column_int64(st, 8);
	p->assigned_at = sqlite3_column_int64(st, 9);
	p->idle_since = sqlite3_column_int64(st, 10);
	p->intent_id = sqlite3_column_int64(st, 11);
	p->released_at = sqlite3_column_int64(st, 12);
	p->held_for = sqlite3_column_int64(st, 13);
	p->held_until = sqlite3_column_int64(st, 14);
}

static int
store_sqlite_proxy_add(void *p, const struct proxy_row *px, int64_t now,
    int64_t *ret_id)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r, rc;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "SELECT id FROM proxies WHERE provider "
	    "= ? AND zone = ? AND ip = ? AND state <> 'released'", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, px->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, px->zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, px->ip, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW) {
		snprintf(b->err, sizeof b->err, "proxy %s is in the store "
		    "already", px->ip);
		r = -EEXIST;
		goto fail;
	}
	if (rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		goto fail;
	}
	if ((r = store_sqlite_prepare(b, "INSERT INTO proxies (provider, zone, "
	    "ip, country, type, state, intent_id, purchased_at, idle_since, "
	    "updated_at) VALUES (?, ?, ?, ?, ?, 'idle', ?, ?, ?, ?)", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, px->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, px->zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, px->ip, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, px->country, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, config_proxy_type_name(px->type), -1,
	    SQLITE_STATIC);
	if (px->intent_id != 0)
		sqlite3_bind_int64(st, 6, px->intent_id);
	sqlite3_bind_int64(st, 7, px->purchased_at ? px->purchased_at : now);
	sqlite3_bind_int64(st, 8, now);
	sqlite3_bind_int64(st, 9, now);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	*ret_id = sqlite3_last_insert_rowid(b->db);
	if ((r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

static int
store_sqlite_proxy_each(sqlite3_stmt *st, void *arg)
{
	struct store_to	*to = arg;
	struct proxy_row	 px;

	store_sqlite_row_proxy(st, &px);
	return to->cb.proxy(&px, to->arg);
}

static int
store_sqlite_proxy_list(void *p, int64_t released_since, store_proxy_cb cb,
    void *arg)
{
	struct store_sqlite	*b = p;
	struct store_to	 to = { .cb.proxy = cb, .arg = arg };
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "SELECT " STORE_SQLITE_PROXY_COLUMNS
	    "FROM proxies WHERE state <> 'released' OR released_at >= ? "
	    "ORDER BY id", &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, released_since);
	return store_sqlite_each(b, st, store_sqlite_proxy_each, &to);
}

static int
store_sqlite_proxy_relist(void *p, int64_t proxy_id, const char *country,
    int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET country = CASE "
	    "WHEN ?1 <> '' THEN ?1 ELSE country END, state = CASE WHEN "
	    "state = 'lost' AND session_id IS NULL THEN 'idle' WHEN state = "
	    "'lost' THEN 'active' ELSE state END, idle_since = CASE WHEN state "
	    "= 'lost' AND session_id IS NULL THEN ?2 ELSE idle_since END, "
	    "updated_at = ?2 "
	    "WHERE id = ?3 AND state <> 'released'", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, country, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, proxy_id);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

static int
store_sqlite_proxy_set_intent(void *p, int64_t proxy_id, int64_t intent_id,
    int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET intent_id = ?, "
	    "updated_at = ? WHERE id = ?", &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, intent_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, proxy_id);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

static int
store_sqlite_refused_add(void *p, const char *phone, const char *ip,
    int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "INSERT INTO refused_ips (phone, ip, "
	    "at) VALUES (?, ?, ?) ON CONFLICT (phone, ip) DO UPDATE SET at = "
	    "excluded.at", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ip, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	/* The newest STORE_REFUSED_MAX of the phone are enough. */
	if ((r = store_sqlite_prepare(b, "DELETE FROM refused_ips WHERE phone "
	    "= ?1 AND ip NOT IN (SELECT ip FROM refused_ips WHERE phone = ?1 "
	    "ORDER BY at DESC, ip LIMIT ?2)", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, STORE_REFUSED_MAX);
	if ((r = store_sqlite_step_done(b, st)) < 0 ||
	    (r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

static int
store_sqlite_refused_list(void *p, const char *phone,
    char (*ips)[STORE_IP_LEN], size_t max, size_t *ret_n)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	size_t			 n = 0;
	int			 r, rc = SQLITE_DONE;

	if ((r = store_sqlite_prepare(b, "SELECT ip FROM refused_ips WHERE "
	    "phone = ? ORDER BY at DESC, ip LIMIT ?", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if (util_strlcpy(ips[n], store_sqlite_text(st, 0),
		    STORE_IP_LEN) == 0)
			n++;
	if (n < max && rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	*ret_n = n;
	return 0;
}

static int
store_sqlite_proxy_assign(void *p, int64_t proxy_id, int64_t session_id,
    const char *phone, const char *requested, bool fallback_used,
    const char *reason, const char *self, int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	char			 detail[256];
	int			 r;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	/* Whatever hold it had ends: it is in use again. */
	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET state = 'active', "
	    "session_id = ?, assigned_at = ?, idle_since = NULL, held_for = "
	    "NULL, held_until = NULL, updated_at = ? WHERE id = ? AND state IN "
	    "('active', 'idle')", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, session_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, proxy_id);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	if (r == 0) {
		r = -ENOENT;
		goto fail;
	}
	if ((r = store_sqlite_prepare(b, "UPDATE assignments SET ended_at = ? "
	    "WHERE session_id = ? AND ended_at IS NULL", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, session_id);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	if ((r = store_sqlite_prepare(b, "INSERT INTO assignments (session_id, "
	    "phone, proxy_id, ip, country, requested_country, fallback_used, "
	    "reason, instance_id, assigned_at) SELECT ?, ?, id, ip, country, ?, "
	    "?, ?, ?, ? FROM proxies WHERE id = ?", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, session_id);
	sqlite3_bind_text(st, 2, phone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, requested, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, fallback_used);
	sqlite3_bind_text(st, 5, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, self, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, proxy_id);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	snprintf(detail, sizeof detail, "{\"proxyId\":%lld,\"reason\":\"%s\","
	    "\"requestedCountry\":\"%s\",\"fallbackUsed\":%s}",
	    (long long)proxy_id, reason, requested,
	    fallback_used ? "true" : "false");
	if ((r = store_sqlite_event(b, now, self, session_id, "proxy.assigned",
	    detail)) < 0 || (r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

static int
store_sqlite_proxy_unassign(void *p, int64_t proxy_id, bool keep,
    int64_t now, int64_t held_for, int64_t held_until)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	/* Kept for its session: the row already says so. */
	if (keep)
		return 0;
	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "UPDATE assignments SET ended_at = ? "
	    "WHERE proxy_id = ? AND ended_at IS NULL", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, proxy_id);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	/* Idle and held in one write: a restart never sees one alone. */
	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET state = 'idle', "
	    "session_id = NULL, idle_since = ?1, updated_at = ?1, held_for = "
	    "NULLIF(?2, 0), held_until = NULLIF(?3, 0) WHERE id = ?4 AND "
	    "state = 'active'", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, held_for);
	sqlite3_bind_int64(st, 3, held_until);
	sqlite3_bind_int64(st, 4, proxy_id);
	if ((r = store_sqlite_step_done(b, st)) < 0 ||
	    (r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

static int
store_sqlite_proxy_set_state(void *p, int64_t proxy_id,
    enum proxy_state state, int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	/* A released IP is nobody's: no session, no hold. */
	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET state = ?1, "
	    "updated_at = ?2, released_at = CASE WHEN ?1 = 'released' THEN ?2 "
	    "ELSE released_at END, session_id = CASE WHEN ?1 = 'released' "
	    "THEN NULL ELSE session_id END, held_for = CASE WHEN ?1 = "
	    "'released' THEN NULL ELSE held_for END, held_until = CASE WHEN "
	    "?1 = 'released' THEN NULL ELSE held_until END WHERE id = ?3",
	    &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, store_proxy_state_name(state), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, proxy_id);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

static int
store_sqlite_proxy_request_release(void *p, const char *ip, const char *actor,
    int64_t now, struct proxy_row *ret)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	struct proxy_row	 row;
	char			 detail[160];
	int			 r, rc;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "SELECT " STORE_SQLITE_PROXY_COLUMNS
	    "FROM proxies WHERE ip = ? AND state NOT IN ('released', 'lost') "
	    "ORDER BY id DESC LIMIT 1", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store_sqlite_row_proxy(st, &row);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_sqlite_fail(b, rc);
		goto fail;
	}
	if (row.session_id != 0 || row.state == PROXY_ACTIVE) {
		r = -EBUSY;
		*ret = row;
		goto fail;
	}
	if ((r = store_sqlite_prepare(b, "UPDATE proxies SET state = "
	    "'releasing', updated_at = ? WHERE id = ?", &st)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, row.id);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	snprintf(detail, sizeof detail, "{\"proxyId\":%lld}", (long long)row.id);
	if ((r = store_sqlite_bump_generation(b)) < 0 ||
	    (r = store_sqlite_event(b, now, actor, 0, "proxy.release_requested",
	    detail)) < 0 || (r = store_sqlite_commit(b)) < 0)
		goto fail;
	row.state = PROXY_RELEASING;
	*ret = row;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

static int
store_sqlite_proxy_history(void *p, const char *phone, int64_t *ids,
    size_t max, size_t *ret_n)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	size_t			 n = 0;
	int			 r, rc;

	if ((r = store_sqlite_prepare(b, "SELECT proxy_id FROM assignments "
	    "WHERE phone = ? GROUP BY proxy_id ORDER BY max(assigned_at) DESC, "
	    "max(id) DESC LIMIT ?", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max)
		ids[n++] = sqlite3_column_int64(st, 0);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	*ret_n = n;
	return 0;
}

static int
store_sqlite_phone_spans(void *p, const char *phone, struct store_span *spans,
    size_t max, size_t *ret_n)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	size_t			 n = 0;
	int			 r, rc = SQLITE_DONE;

	if ((r = store_sqlite_prepare(b, "SELECT assigned_at, ended_at FROM "
	    "assignments WHERE phone = ? ORDER BY assigned_at DESC, id DESC "
	    "LIMIT ?", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, phone, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		spans[n].assigned_at = sqlite3_column_int64(st, 0);
		spans[n].ended_at = sqlite3_column_int64(st, 1);
		n++;
	}
	if (n < max && rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	*ret_n = n;
	return 0;
}

static int
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

/*
 * The intent row is committed on its own, outside any batch, because the
 * provider must not be asked before it is on disk: a crash between the two
 * would otherwise leave a paid IP nobody knows about.
 */
static int
store_sqlite_intent_add(void *p, const struct intent *in, const char *self,
    int64_t now, int64_t *ret_id)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	char			 detail[128];
	int64_t			 id;
	int			 r, depth = b->depth;

	if (depth > 0 && (r = store_sqlite_exec(b, "COMMIT")) < 0)
		return r;
	b->depth = 0;
	if ((r = store_sqlite_begin(b)) < 0)
		goto out;
	if ((r = store_sqlite_prepare(b, "INSERT INTO purchase_intents "
	    "(provider, zone, country, count, state, instance_id, created_at) "
	    "VALUES (?, ?, ?, ?, 'pending', ?, ?)", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, in->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, in->zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, in->country, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, in->count);
	sqlite3_bind_text(st, 5, self, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	if ((r = store_sqlite_step_done(b, st)) < 0)
		goto fail;
	id = sqlite3_last_insert_rowid(b->db);
	snprintf(detail, sizeof detail, "{\"intent\":%lld,\"country\":\"%s\","
	    "\"count\":%lld}", (long long)id, in->country, (long long)in->count);
	if ((r = store_sqlite_event(b, now, self, 0, "purchase.intent",
	    detail)) < 0 || (r = store_sqlite_commit(b)) < 0)
		goto fail;
	*ret_id = id;
	r = 0;
	goto out;
fail:
	store_sqlite_rollback(b);
out:
	if (depth > 0) {
		b->depth = depth;
		if (store_sqlite_exec(b, "BEGIN IMMEDIATE") < 0)
			b->depth = 0;
	}
	return r;
}

static int
store_sqlite_intent_settle(void *p, int64_t id, enum intent_state state,
    const char *error, int64_t now)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "UPDATE purchase_intents SET state = ?, "
	    "error = ?, settled_at = CASE WHEN ? IN ('owned', 'failed') THEN ? "
	    "ELSE settled_at END WHERE id = ?", &st)) < 0)
		return r;
	sqlite3_bind_text(st, 1, store_intent_state_name(state), -1,
	    SQLITE_STATIC);
	if (error != NULL)
		sqlite3_bind_text(st, 2, error, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, store_intent_state_name(state), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, id);
	r = store_sqlite_step_done(b, st);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

static int
store_sqlite_intent_each(sqlite3_stmt *st, void *arg)
{
	struct store_to	*to = arg;
	struct intent		 in;

	memset(&in, 0, sizeof in);
	in.id = sqlite3_column_int64(st, 0);
	(void)util_strlcpy(in.provider, store_sqlite_text(st, 1),
	    sizeof in.provider);
	(void)util_strlcpy(in.zone, store_sqlite_text(st, 2),
	    sizeof in.zone);
	(void)util_strlcpy(in.country, store_sqlite_text(st, 3),
	    sizeof in.country);
	in.count = sqlite3_column_int64(st, 4);
	in.state = strcmp(store_sqlite_text(st, 5), "unknown") == 0 ?
	    INTENT_UNKNOWN : INTENT_PENDING;
	in.created_at = sqlite3_column_int64(st, 6);
	(void)util_strlcpy(in.instance_id, store_sqlite_text(st, 7),
	    sizeof in.instance_id);
	return to->cb.intent(&in, to->arg);
}

static int
store_sqlite_intent_list_open(void *p, store_intent_cb cb, void *arg)
{
	struct store_sqlite	*b = p;
	struct store_to	 to = { .cb.intent = cb, .arg = arg };
	sqlite3_stmt		*st;
	int			 r;

	if ((r = store_sqlite_prepare(b, "SELECT id, provider, zone, country, "
	    "count, state, created_at, coalesce(instance_id, '') FROM "
	    "purchase_intents WHERE state IN "
	    "('pending', 'unknown') ORDER BY id", &st)) < 0)
		return r;
	return store_sqlite_each(b, st, store_sqlite_intent_each, &to);
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

static int
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

static int
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

static int
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
