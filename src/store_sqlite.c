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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_impl.h"
#include "util.h"
#include "xmalloc.h"

struct store_sqlite {
	sqlite3	*db;
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
	"CREATE INDEX events_at ON events(at);",
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

static int
store_sqlite_begin(struct store_sqlite *b)
{
	return store_sqlite_exec(b, "BEGIN IMMEDIATE");
}

static int
store_sqlite_commit(struct store_sqlite *b)
{
	return store_sqlite_exec(b, "COMMIT");
}

/* Roll back after a failure, keeping the failure's message. */
static void
store_sqlite_rollback(struct store_sqlite *b)
{
	char	saved[STORE_ERROR_LEN];

	memcpy(saved, b->err, sizeof saved);
	(void)sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
	memcpy(b->err, saved, sizeof saved);
}

static int
store_sqlite_prepare(struct store_sqlite *b, const char *sql, sqlite3_stmt **ret)
{
	int	rc;

	if ((rc = sqlite3_prepare_v2(b->db, sql, -1, ret, NULL)) != SQLITE_OK)
		return store_sqlite_fail(b, rc);
	return 0;
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
	if (v > STORE_SCHEMA_VERSION)
		goto newer;
	if (v == STORE_SCHEMA_VERSION)
		return 0;
	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_user_version(b, &v)) < 0)
		goto fail;
	if (v > STORE_SCHEMA_VERSION) {
		store_sqlite_rollback(b);
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

static int
store_sqlite_session_add(void *p, const struct session_new *n, const char *actor,
    int64_t now, int64_t *ret_id)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt	*st;
	char		 detail[512];
	int64_t		 id;
	int		 r, rc;

	if ((r = store_sqlite_begin(b)) < 0)
		return r;
	if ((r = store_sqlite_prepare(b, "INSERT INTO sessions (user_id, phone, country, "
	    "priority, proxy_type, desired, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &st)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, n->user_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, n->phone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, n->country, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, n->priority);
	sqlite3_bind_text(st, 5, config_proxy_type_name(n->proxy_type), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 6, store_session_desired_name(n->desired), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = store_sqlite_fail(b, rc);
		goto fail;
	}
	id = sqlite3_last_insert_rowid(b->db);
	/* The values were validated by the caller; none needs escaping. */
	snprintf(detail, sizeof detail, "{\"phoneNumber\":\"%s\","
	    "\"country\":\"%s\"}", n->phone, n->country);
	if ((r = store_sqlite_event(b, now, actor, id, "session.added", detail)) < 0 ||
	    (r = store_sqlite_commit(b)) < 0)
		goto fail;
	*ret_id = id;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

#define SQ_SESSION_COLUMNS						\
	"s.id, s.user_id, s.phone, s.country, s.priority, s.proxy_type, "	\
	"s.desired, s.status, s.owner_instance, s.epoch, "		\
	"s.last_activity_at, s.graceful_shutdown, s.shutdown_at, "	\
	"s.attempts, s.last_error, s.created_at, s.updated_at, "	\
	"(SELECT p.ip FROM proxies p WHERE p.session_id = s.id AND "	\
	"  p.state = 'active' ORDER BY p.assigned_at DESC LIMIT 1) "

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
store_sqlite_session_list(void *p, store_session_cb cb, void *arg)
{
	struct store_sqlite	*b = p;
	sqlite3_stmt	*st;
	struct session	 s;
	int		 r, rc;

	if ((r = store_sqlite_prepare(b, "SELECT " SQ_SESSION_COLUMNS
	    "FROM sessions s ORDER BY s.id", &st)) < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_sqlite_row_session(st, &s);
		if ((r = cb(&s, arg)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_sqlite_fail(b, rc);
	sqlite3_finalize(st);
	return r;
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
	if ((r = store_sqlite_prepare(b, "UPDATE sessions SET desired = ?, updated_at = ? "
	    "WHERE id = ?", &st)) < 0)
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
	if ((r = store_sqlite_event(b, now, actor, id, desired == SESSION_DESIRED_RUNNING ?
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
	if ((r = store_sqlite_event(b, now, actor, id, "session.removed", NULL)) < 0 ||
	    (r = store_sqlite_commit(b)) < 0)
		goto fail;
	return 0;
fail:
	store_sqlite_rollback(b);
	return r;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = store_sqlite_open,
	.close = store_sqlite_close,
	.errmsg = store_sqlite_errmsg,
	.schema_version = store_sqlite_schema_version,
	.session_add = store_sqlite_session_add,
	.session_get = store_sqlite_session_get,
	.session_list = store_sqlite_session_list,
	.session_set_desired = store_sqlite_session_set_desired,
	.session_remove = store_sqlite_session_remove,
	.event_add = store_sqlite_event_add,
};
