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
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "store/store_impl.h"

#define STORE_PG_PARAMS_MAX		16
#define STORE_PG_BACKOFF_MIN_MS		100
#define STORE_PG_BACKOFF_MAX_MS		5000
#define STORE_PG_STATEMENT_TIMEOUT_MS	"10000"
#define STORE_PG_LOCK_TIMEOUT_MS	"5000"	/* as STORE_BUSY_TIMEOUT_MS */
#define STORE_PG_IDLE_TX_TIMEOUT_MS	"60000"
#define STORE_PG_WAKE_READS		4	/* reads per store_wake_drain */
#define STORE_PG_CLOSED_READS		4	/* reads per store_pg_closed */
/* Serialises migrations of concurrent first starts: "rspw". */
#define STORE_PG_MIGRATE_LOCK		"1920102519"

/* The database's clock in ms since the epoch, read once per statement. */
#define STORE_PG_NOW_MS							\
	"(SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
#define STORE_PG_LIVE	"('starting', 'running', 'stopping')"
/* The LISTEN/NOTIFY channel of wake-ups (store_pg_notify). */
#define STORE_PG_CHANNEL	"respawn_fleet"

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

static void
store_pg_arg(struct store_pg_args *a, const char *s)
{
	if (a->n >= STORE_PG_PARAMS_MAX)
		abort();	/* too many parameters: a bug */
	a->v[a->n++] = s;
}

static void
store_pg_arg_i64(struct store_pg_args *a, int64_t v)
{
	if (a->n >= STORE_PG_PARAMS_MAX)
		abort();
	snprintf(a->num[a->n], sizeof a->num[a->n], "%lld", (long long)v);
	a->v[a->n] = a->num[a->n];
	a->n++;
}

static void
store_pg_arg_bool(struct store_pg_args *a, bool v)
{
	store_pg_arg(a, v ? "true" : "false");
}

static const char *
store_pg_text(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return "";
	return PQgetvalue(res, row, col);
}

static int64_t
store_pg_i64(const PGresult *res, int row, int col)
{
	int64_t	v;

	if (PQgetisnull(res, row, col) ||
	    util_parse_i64(PQgetvalue(res, row, col), INT64_MIN, INT64_MAX,
	    &v) < 0)
		return 0;
	return v;
}

static bool
store_pg_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) &&
	    PQgetvalue(res, row, col)[0] == 't';
}

/* Rows an INSERT, UPDATE or DELETE changed. */
static int
store_pg_changes(const PGresult *res)
{
	int64_t	n;

	if (util_parse_i64(PQcmdTuples((PGresult *)res), 0, INT32_MAX,
	    &n) < 0)
		return 0;
	return (int)n;
}

/* --- errors and the connection ----------------------------------------- */

/* n bytes of a URL, percent-decoded as libpq decodes them. */
static char *
store_pg_decode(const char *s, size_t n)
{
	char		*out = xmalloc(n + 1), hex[3] = { 0 };
	size_t		 i, o = 0;
	unsigned long	 v;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			memcpy(hex, s + i + 1, 2);
			v = strtoul(hex, NULL, 16);
			out[o++] = (char)v;
			i += 2;
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/*
 * A libpq message as respawn shows it.  libpq quotes the URL, or pieces of
 * it, when it cannot parse it (the whole URI, a percent-encoded password,
 * a query parameter), and a server's message may name anything: every
 * secret of the URL as libpq was given it (util_url_secrets), as written
 * and decoded, and the password the connection holds are replaced, then
 * any URL or password=... left (util_redact_text).  On one line.
 */
static void
store_pg_redact(const char *url, PGconn *conn, const char *msg, char *out,
    size_t size)
{
	struct util_span	 spans[UTIL_URL_SECRETS_MAX];
	char			*secrets[2 * UTIL_URL_SECRETS_MAX + 1];
	const char		*pass = conn != NULL ? PQpass(conn) : NULL;
	char			*text, *c;
	size_t			 n = 0, ns = 0, i, len;

	if (url != NULL)
		n = util_url_secrets(url, spans, nitems(spans));
	for (i = 0; i < n; i++) {
		secrets[ns++] = xstrndup(url + spans[i].off, spans[i].len);
		secrets[ns++] = store_pg_decode(url + spans[i].off,
		    spans[i].len);
	}
	secrets[ns++] = xstrdup(pass != NULL ? pass : "");
	/* Room for every byte to become "<redacted>": nothing is cut. */
	len = strlen(msg) * (strlen(UTIL_REDACTED) + 1) + 1;
	text = xmalloc(len);
	util_redact_strings(msg, (const char *const *)secrets, ns, text, len);
	util_redact_text(text, out, size);
	util_wipe(text, len);
	free(text);
	for (i = 0; i < ns; i++) {
		util_wipe(secrets[i], strlen(secrets[i]));
		free(secrets[i]);
	}
	for (c = out; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	while (c > out && c[-1] == ' ')
		*--c = '\0';
}

/* Keep a message for store_errmsg(), on one line, without a password. */
static void
store_pg_setmsg(struct store_pg *b, const char *prefix, const char *msg)
{
	char	*full = xasprintf("%s%s", prefix, msg);

	store_pg_redact(NULL, b->conn, full, b->err, sizeof b->err);
	free(full);
}

/* Discard server notices ("relation exists, skipping" and such). */
static void
store_pg_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A connection was found lost: the first attempt to restore it is due. */
static void
store_pg_retry_lost(struct store_pg_retry *rt)
{
	if (rt->broken)
		return;
	rt->broken = true;
	rt->at = util_mono_ms();
	rt->backoff_ms = STORE_PG_BACKOFF_MIN_MS;
}

/*
 * Whether an attempt to reconnect is due; if not, err says when it is.
 */
static bool
store_pg_retry_due(const struct store_pg_retry *rt, char *err, size_t len)
{
	int64_t	now = util_mono_ms();

	if (now >= rt->at)
		return true;
	snprintf(err, len, "database connection lost; reconnecting in %lld ms",
	    (long long)(rt->at - now));
	return false;
}

/* An attempt failed: the next one waits, twice as long as the last. */
static void
store_pg_retry_failed(struct store_pg_retry *rt)
{
	rt->broken = true;
	rt->at = util_mono_ms() + rt->backoff_ms;
	if ((rt->backoff_ms *= 2) > STORE_PG_BACKOFF_MAX_MS)
		rt->backoff_ms = STORE_PG_BACKOFF_MAX_MS;
}

static void
store_pg_retry_ok(struct store_pg_retry *rt)
{
	rt->broken = false;
	rt->backoff_ms = STORE_PG_BACKOFF_MIN_MS;
}

/*
 * The connection is gone: the next call resets it.  Writes of an open
 * batch were rolled back by the server with it.
 */
static void
store_pg_lost(struct store_pg *b)
{
	store_pg_retry_lost(&b->retry);
	if (b->depth > 0 && b->dirty)
		b->batch_lost = true;
	b->dirty = false;
}

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
static int
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

/* Per-session settings, again after every reset. */
static int
store_pg_setup(struct store_pg *b)
{
	struct store_pg_args	a = { .n = 0 };

	store_pg_arg(&a, STORE_PG_STATEMENT_TIMEOUT_MS);
	store_pg_arg(&a, STORE_PG_LOCK_TIMEOUT_MS);
	store_pg_arg(&a, STORE_PG_IDLE_TX_TIMEOUT_MS);
	return store_pg_run(b, "SELECT set_config('statement_timeout', $1, "
	    "false), set_config('lock_timeout', $2, false), "
	    "set_config('idle_in_transaction_session_timeout', $3, false)",
	    &a, NULL);
}

/*
 * Whether the server closed an idle connection (a restart, an
 * administrator's terminate): it then says so (57P01) and closes the
 * socket, which libpq notices only when a statement fails on it.  Looked
 * at before each call, so the call that follows a restart runs on a new
 * connection instead of failing.  Outside a transaction only: inside one,
 * a reset would lose its statements, and the failure must show.
 */
static bool
store_pg_closed(PGconn *conn)
{
	struct pollfd	pfd = { .fd = PQsocket(conn), .events = POLLIN };
	int		i;

	if (pfd.fd < 0 || PQtransactionStatus(conn) != PQTRANS_IDLE)
		return false;
	/*
	 * Readable while idle: a notice, or the server's goodbye (read as a
	 * notice) and then EOF, which libpq sees only on a read of its own.
	 */
	for (i = 0; i < STORE_PG_CLOSED_READS; i++) {
		if (poll(&pfd, 1, 0) <= 0)
			return false;
		if (PQconsumeInput(conn) == 0 ||
		    PQstatus(conn) != CONNECTION_OK)
			return true;
	}
	return false;
}

/*
 * A usable connection: after a loss, reset it, but no oftener than the
 * backoff allows; until then the call fails at once.
 */
static int
store_pg_ready(struct store_pg *b)
{
	char	msg[STORE_ERROR_LEN];

	if (!b->retry.broken && PQstatus(b->conn) == CONNECTION_OK &&
	    !store_pg_closed(b->conn))
		return 0;
	if (!b->retry.broken)
		store_pg_lost(b);
	if (!store_pg_retry_due(&b->retry, b->err, sizeof b->err))
		return -EIO;
	PQreset(b->conn);
	if (PQstatus(b->conn) == CONNECTION_OK && store_pg_setup(b) == 0) {
		store_pg_retry_ok(&b->retry);
		return 0;
	}
	snprintf(msg, sizeof msg, "%s", PQerrorMessage(b->conn));
	store_pg_setmsg(b, "database connection lost; reconnecting failed: ",
	    msg);
	store_pg_retry_failed(&b->retry);
	return -EIO;
}

/*
 * Open a call.  Outside a batch, a TX call gets its own transaction and
 * the others run on their own (autocommit).  Inside a batch every call
 * runs in a savepoint of the batch's transaction, which is (re)opened
 * here when the batch has none: after a reset, or after an intent
 * committed the batch so far.
 */
static int
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
static int
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
static int
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
static int
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

/* --- opening ------------------------------------------------------------ */

static void
store_pg_close(void *p)
{
	struct store_pg	*b = p;

	if (b == NULL)
		return;
	PQfinish(b->wake);
	PQfinish(b->conn);
	free(b);
}

/* Which database, for messages: never the password. */
static void
store_pg_describe(PGconn *c, char *buf, size_t len)
{
	const char	*host = PQhost(c), *port = PQport(c), *db = PQdb(c);
	const char	*user = PQuser(c);

	snprintf(buf, len, "postgresql://%s%s%s:%s/%s",
	    user != NULL ? user : "", user != NULL && *user != '\0' ? "@" : "",
	    host != NULL ? host : "", port != NULL ? port : "",
	    db != NULL ? db : "");
}

/*
 * The URL as libpq is given it: the scheme in lower case (libpq knows no
 * other), and every '@' of the user information but the last
 * percent-encoded.  libpq ends the user information at the first '@',
 * where URL parsers, util_url_split and so every redaction end it at the
 * last: a password holding '@' would be cut, and its tail taken for the
 * host and quoted in libpq's messages.  A password holding a raw '/',
 * '?' or '#' is refused: libpq would read a piece of it as the port.
 */
static int
store_pg_conninfo(const char *url, char **ret, char *err)
{
	struct util_url	 u;
	size_t		 len = strlen(url), i, o = 0;
	char		*s;

	if (util_url_split(url, &u) < 0) {
		snprintf(err, STORE_ERROR_LEN, "database URL: not a URL");
		return -EINVAL;
	}
	if (u.raw_delim) {
		snprintf(err, STORE_ERROR_LEN, "database URL: a password "
		    "holding '/', '?' or '#' must be percent-encoded (%%2F, "
		    "%%3F, %%23)");
		return -EINVAL;
	}
	s = xmalloc(3 * len + 1);
	for (i = 0; i < len; i++) {
		if (i < u.user && url[i] >= 'A' && url[i] <= 'Z')
			s[o++] = (char)(url[i] - 'A' + 'a');
		else if (u.at != 0 && i >= u.user && i < u.at &&
		    url[i] == '@') {
			memcpy(s + o, "%40", 3);
			o += 3;
		} else
			s[o++] = url[i];
	}
	s[o] = '\0';
	*ret = s;
	return 0;
}

/* Whether libpq can read conninfo at all (its message is not needed). */
static bool
store_pg_parses(const char *conninfo)
{
	PQconninfoOption	*o;
	char			*perr = NULL;

	if ((o = PQconninfoParse(conninfo, &perr)) == NULL) {
		if (perr != NULL) {
			util_wipe(perr, strlen(perr));
			PQfreemem(perr);
		}
		return false;
	}
	PQconninfoFree(o);
	return true;
}

static int
store_pg_open(const char *url, void **ret, char *err)
{
	/*
	 * The defaults come before the URL, so that the URL's own
	 * parameters (?connect_timeout=2...) win.  read-write: with several
	 * hosts in the URL (host1,host2), libpq skips standbys, so a
	 * failover is a reconnection away.
	 */
	static const char *const keys[] = {
		"connect_timeout", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "tcp_user_timeout",
		"target_session_attrs", "fallback_application_name", "dbname",
		NULL,
	};
	const char	*vals[nitems(keys)] = {
		"5", "1", "10", "5", "3", "15000", "read-write", "respawn",
		NULL, NULL,
	};
	struct store_pg	*b;
	char		 desc[200], *conninfo;
	int		 r;

	if ((r = store_pg_conninfo(url, &conninfo, err)) < 0)
		return r;
	vals[nitems(keys) - 2] = conninfo;
	b = xcalloc(1, sizeof *b);
	b->lease_ms = STORE_LEASE_MS;
	b->retry.backoff_ms = STORE_PG_BACKOFF_MIN_MS;
	b->wake_retry.backoff_ms = STORE_PG_BACKOFF_MIN_MS;
	b->conn = PQconnectdbParams(keys, vals, 1);
	if (b->conn == NULL) {
		snprintf(err, STORE_ERROR_LEN, "database: out of memory");
		r = -ENOMEM;
		goto fail;
	}
	(void)PQsetNoticeProcessor(b->conn, store_pg_notice, NULL);
	store_pg_describe(b->conn, desc, sizeof desc);
	if (PQstatus(b->conn) != CONNECTION_OK) {
		/* The URL is still at hand: libpq may have quoted it. */
		store_pg_redact(conninfo, b->conn, PQerrorMessage(b->conn),
		    b->err, sizeof b->err);
		snprintf(err, STORE_ERROR_LEN, "database '%s': %s", desc,
		    b->err);
		/*
		 * A URL libpq cannot read will not read better later: not a
		 * database restarting (-EIO, which a starting daemon retries).
		 */
		r = store_pg_parses(conninfo) ? -EIO : -EINVAL;
		goto fail;
	}
	util_wipe(conninfo, strlen(conninfo));
	free(conninfo);
	if ((r = store_pg_setup(b)) < 0 || (r = store_pg_migrate(b)) < 0) {
		snprintf(err, STORE_ERROR_LEN, "database '%s': %s", desc,
		    b->err);
		store_pg_close(b);
		return r;
	}
	*ret = b;
	return 0;
fail:
	util_wipe(conninfo, strlen(conninfo));
	free(conninfo);
	if (b->conn != NULL)
		store_pg_close(b);
	else
		free(b);
	return r;
}

static const char *
store_pg_errmsg(const void *p)
{
	return ((const struct store_pg *)p)->err;
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

static int
store_pg_set_lease(void *p, int64_t lease_ms)
{
	struct store_pg	*b = p;

	if (lease_ms <= 0)
		return -EINVAL;
	b->lease_ms = lease_ms;
	return 0;
}

/* --- sessions ----------------------------------------------------------- */

static int
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

/*
 * Operator changes to sessions bump a counter, so daemons notice them
 * with one cheap query (store_session_fingerprint).
 */
static int
store_pg_bump_generation(struct store_pg *b)
{
	return store_pg_run(b, "UPDATE meta SET value = value + 1 WHERE key "
	    "= 'sessions_generation'", NULL, NULL);
}

static int
store_pg_bump(void *p)
{
	return store_pg_bump_generation(p);
}

/*
 * Wake the fleet's daemons (store_pg_wake_fd): a peer joined, stopped,
 * died or gave sessions up, so shares changed.  Sent inside the call's
 * transaction, the notification is delivered when it commits, and not
 * at all when it rolls back.  what is for people reading the traffic:
 * "released", "joined"... and the instance it is about.
 */
static int
store_pg_notify(struct store_pg *b, const char *what, const char *instance)
{
	struct store_pg_args	a = { .n = 0 };
	char			payload[32 + STORE_ID_LEN];

	snprintf(payload, sizeof payload, "%s%s%s", what,
	    *instance != '\0' ? " " : "", instance);
	store_pg_arg(&a, payload);
	return store_pg_run(b, "SELECT pg_notify('" STORE_PG_CHANNEL "', $1)",
	    &a, NULL);
}

static int
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

/*
 * Many sessions in one transaction (store_session_add_many).  A phone that
 * already has a session is skipped by the insert itself (ON CONFLICT DO
 * NOTHING): a failed statement would abort the whole transaction.
 */
static int
store_pg_session_add_many(void *p, const struct session_new *v, size_t n,
    const char *actor, int64_t now, int64_t *ids)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a;
	PGresult		*res = NULL;
	char			 detail[512];
	size_t			 i;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	for (i = 0; i < n; i++) {
		a.n = 0;
		store_pg_arg(&a, v[i].user_id);
		store_pg_arg(&a, v[i].phone);
		store_pg_arg(&a, v[i].country);
		store_pg_arg_i64(&a, v[i].priority);
		store_pg_arg(&a, config_proxy_type_name(v[i].proxy_type));
		store_pg_arg(&a, store_session_desired_name(v[i].desired));
		store_pg_arg_i64(&a, now);
		store_pg_arg_i64(&a, v[i].last_activity_at);
		store_pg_arg_bool(&a, v[i].graceful_shutdown);
		store_pg_arg_i64(&a, v[i].shutdown_at);
		if ((r = store_pg_run(b, "INSERT INTO sessions (user_id, phone, "
		    "country, priority, proxy_type, desired, created_at, "
		    "updated_at, last_activity_at, graceful_shutdown, "
		    "shutdown_at) VALUES ($1, $2, $3, $4::bigint, $5, $6, "
		    "$7::bigint, $7::bigint, NULLIF($8::bigint, 0), $9::boolean, "
		    "NULLIF($10::bigint, 0)) ON CONFLICT (phone) DO NOTHING "
		    "RETURNING id", &a, &res)) < 0)
			goto out;
		if (PQntuples(res) == 0) {
			PQclear(res);
			ids[i] = 0;
			continue;
		}
		ids[i] = store_pg_i64(res, 0, 0);
		PQclear(res);
		/* The values were validated by the caller; none needs escaping. */
		snprintf(detail, sizeof detail, "{\"phoneNumber\":\"%s\","
		    "\"country\":\"%s\"}", v[i].phone, v[i].country);
		if ((r = store_pg_event(b, now, actor, ids[i], "session.added",
		    detail)) < 0)
			goto out;
	}
	r = store_pg_bump_generation(b);
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

#define STORE_PG_SESSION_COLUMNS					\
	"s.id, s.user_id, s.phone, s.country, s.priority, "		\
	"s.proxy_type, "						\
	"s.desired, s.status, s.owner_instance, s.epoch, "		\
	"s.last_activity_at, s.graceful_shutdown, s.shutdown_at, "	\
	"s.attempts, s.last_error, s.created_at, s.updated_at, "	\
	"(SELECT p.ip FROM proxies p WHERE p.session_id = s.id AND "	\
	"  p.state = 'active' ORDER BY p.assigned_at DESC LIMIT 1), "	\
	"s.connector_pid, s.connector_started_at, "			\
	"(SELECT a.requested_country || ',' || a.country || ',' || "	\
	"  CASE WHEN a.fallback_used THEN '1' ELSE '0' END "		\
	"  FROM assignments a WHERE a.phone = s.phone "			\
	"  ORDER BY a.assigned_at DESC, a.id DESC LIMIT 1) "

static void
store_pg_row_session(const PGresult *res, int i, struct session *s)
{
	memset(s, 0, sizeof *s);
	s->id = store_pg_i64(res, i, 0);
	(void)util_strlcpy(s->user_id, store_pg_text(res, i, 1),
	    sizeof s->user_id);
	(void)util_strlcpy(s->phone, store_pg_text(res, i, 2), sizeof s->phone);
	(void)util_strlcpy(s->country, store_pg_text(res, i, 3),
	    sizeof s->country);
	s->priority = store_pg_i64(res, i, 4);
	s->proxy_type = strcmp(store_pg_text(res, i, 5), "residential") == 0 ?
	    PROXY_TYPE_RESIDENTIAL : PROXY_TYPE_ISP;
	s->desired = strcmp(store_pg_text(res, i, 6), "stopped") == 0 ?
	    SESSION_DESIRED_STOPPED : SESSION_DESIRED_RUNNING;
	if (store_session_status_parse(store_pg_text(res, i, 7),
	    &s->status) < 0)
		s->status = SESSION_STATUS_NEW;
	(void)util_strlcpy(s->owner, store_pg_text(res, i, 8), sizeof s->owner);
	s->epoch = store_pg_i64(res, i, 9);
	s->last_activity_at = store_pg_i64(res, i, 10);
	s->graceful_shutdown = store_pg_bool(res, i, 11);
	s->shutdown_at = store_pg_i64(res, i, 12);
	s->attempts = store_pg_i64(res, i, 13);
	(void)util_strlcpy(s->last_error, store_pg_text(res, i, 14),
	    sizeof s->last_error);
	s->created_at = store_pg_i64(res, i, 15);
	s->updated_at = store_pg_i64(res, i, 16);
	(void)util_strlcpy(s->proxy_ip, store_pg_text(res, i, 17),
	    sizeof s->proxy_ip);
	s->connector_pid = store_pg_i64(res, i, 18);
	s->connector_started_at = store_pg_i64(res, i, 19);
	store_session_assignment(s, store_pg_text(res, i, 20));
}

/*
 * Run one read and hand back its whole result.  The call is closed before
 * the caller walks the rows, so a callback may call the store again.
 */
static int
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
typedef int	(*store_pg_row_fn)(const PGresult *res, int i, void *arg);

static int
store_pg_each(PGresult *res, store_pg_row_fn fn, void *arg)
{
	int	i, n = PQntuples(res), r = 0;

	for (i = 0; i < n && r == 0; i++)
		r = fn(res, i, arg);
	PQclear(res);
	return r;
}

static int
store_pg_session_get(void *p, int64_t id, const char *phone,
    struct session *ret)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	int			 r;

	if (phone != NULL)
		store_pg_arg(&a, phone);
	else
		store_pg_arg_i64(&a, id);
	if ((r = store_pg_read(b, phone != NULL ?
	    "SELECT " STORE_PG_SESSION_COLUMNS "FROM sessions s "
	    "WHERE s.phone = $1" :
	    "SELECT " STORE_PG_SESSION_COLUMNS "FROM sessions s "
	    "WHERE s.id = $1::bigint", &a, &res)) < 0)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	store_pg_row_session(res, 0, ret);
	PQclear(res);
	return 0;
}

static int
store_pg_session_each(const PGresult *res, int i, void *arg)
{
	struct store_to	*to = arg;
	struct session	 s;

	store_pg_row_session(res, i, &s);
	return to->cb.session(&s, to->arg);
}

static int
store_pg_session_list(void *p, store_session_cb cb, void *arg)
{
	struct store_pg	*b = p;
	struct store_to	 to = { .cb.session = cb, .arg = arg };
	PGresult	*res;
	int		 r;

	if ((r = store_pg_read(b, "SELECT " STORE_PG_SESSION_COLUMNS
	    "FROM sessions s ORDER BY s.id", NULL, &res)) < 0)
		return r;
	return store_pg_each(res, store_pg_session_each, &to);
}

static int
store_pg_session_set_desired(void *p, int64_t id,
    enum session_desired desired, const char *actor, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	/*
	 * Starting a failed, logged-out or dormant session is the operator's
	 * word that it may try again (after a QR scan): its status and
	 * attempts reset.
	 */
	store_pg_arg(&a, store_session_desired_name(desired));
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, id);
	if ((r = store_pg_run(b, "UPDATE sessions SET desired = $1::text, "
	    "updated_at = $2::bigint, status = CASE WHEN $1::text = 'running' "
	    "AND status IN ('failed', 'needs_auth', 'dormant') THEN 'new' ELSE "
	    "status END, attempts = CASE WHEN $1::text = 'running' AND status "
	    "IN ('failed', 'needs_auth', 'dormant') THEN 0 ELSE attempts END "
	    "WHERE id = $3::bigint", &a, &res)) < 0)
		goto out;
	r = store_pg_changes(res);
	PQclear(res);
	if (r == 0) {
		r = -ENOENT;
		goto out;
	}
	if ((r = store_pg_bump_generation(b)) < 0 ||
	    (r = store_pg_event(b, now, actor, id,
	    desired == SESSION_DESIRED_RUNNING ? "session.start_requested" :
	    "session.stop_requested", NULL)) < 0)
		goto out;
out:
	return store_pg_end(b, STORE_PG_TX, r < 0 ? r : 0);
}

static int
store_pg_session_remove(void *p, int64_t id, const char *actor, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg_i64(&a, id);
	if ((r = store_pg_run(b, "DELETE FROM sessions WHERE id = $1::bigint",
	    &a, &res)) < 0)
		goto out;
	r = store_pg_changes(res);
	PQclear(res);
	if (r == 0) {
		r = -ENOENT;
		goto out;
	}
	if ((r = store_pg_bump_generation(b)) < 0 ||
	    (r = store_pg_event(b, now, actor, id, "session.removed",
	    NULL)) < 0)
		goto out;
out:
	return store_pg_end(b, STORE_PG_TX, r < 0 ? r : 0);
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

static int
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
static int
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

static int
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

static int
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

static int
store_pg_instance_reap(void *p, const char *self, int64_t now,
    int64_t stale_ms, int64_t delete_ms, int *ret_dead, int *ret_deleted)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r, dead, deleted;

	(void)now;	/* the database's clock decides; see the top */
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

static int
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

/*
 * The fleet as self sees it, by the database's clock, read in one
 * statement: that clock (for the claim that follows), the live instances
 * (self always counts), the sessions, and those self owns.  Live
 * instances are those starting, running or stopping whose heartbeat is
 * younger than the lease.  store_pg_session_claim and store_pg_fleet_share
 * both judge by it, so they can never disagree on a share.
 */
struct store_pg_fleet {
	int64_t	clock_ms;
	int64_t	live;
	int64_t	total;
	int64_t	owned;
};

static int
store_pg_fleet(struct store_pg *b, const char *self,
    struct store_pg_fleet *ret)
{
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, b->lease_ms);
	if ((r = store_pg_run(b, "WITH c AS MATERIALIZED (SELECT "
	    STORE_PG_NOW_MS " AS t) SELECT c.t, (SELECT count(*) FROM "
	    "instances i WHERE i.id <> $1 AND i.status IN " STORE_PG_LIVE
	    " AND i.heartbeat_at >= c.t - $2::bigint), (SELECT count(*) FROM "
	    "sessions), (SELECT count(*) FROM sessions WHERE owner_instance = "
	    "$1) FROM c", &a, &res)) < 0)
		return r;
	ret->clock_ms = store_pg_i64(res, 0, 0);
	ret->live = store_pg_i64(res, 0, 1) + 1;
	ret->total = store_pg_i64(res, 0, 2);
	ret->owned = store_pg_i64(res, 0, 3);
	PQclear(res);
	return 0;
}

/* ceil(sessions / live instances). */
static int64_t
store_pg_fleet_quota(const struct store_pg_fleet *f)
{
	return (f->total + f->live - 1) / f->live;
}

static int
store_pg_fleet_share(void *p, const char *self, int64_t *ret_share,
    int64_t *ret_owned)
{
	struct store_pg		*b = p;
	struct store_pg_fleet	 f;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_READ)) < 0)
		return r;
	if ((r = store_pg_end(b, STORE_PG_READ, store_pg_fleet(b, self,
	    &f))) < 0)
		return r;
	*ret_share = store_pg_fleet_quota(&f);
	*ret_owned = f.owned;
	return 0;
}

/*
 * Take this instance's fair share of the sessions nobody live owns.
 *
 * The share is ceil(sessions / live instances) (store_pg_fleet); this
 * instance claims at most its share minus what it owns already, choosing
 * unowned sessions and those of instances whose lease expired, highest
 * priority first.  The candidate rows are locked FOR UPDATE SKIP LOCKED,
 * so instances claiming at the same moment each take different rows
 * without waiting, and a row that changed hands since the statement
 * began is checked again (READ COMMITTED re-evaluates the condition on
 * the new version).  Each claimed session's epoch goes up, which fences
 * out the previous owner's writes.  Sessions of an owner whose heartbeat
 * is younger than the lease are never taken, whatever its status says:
 * an instance marked dead or stopped a moment ago may still have
 * connectors running, which stop by themselves within the lease
 * (docs/CONNECTORS.md, fencing), and rebalancing a running fleet is its
 * owners' decision (store_pg_session_release).
 */
static int
store_pg_session_claim(void *p, const char *self, int64_t now,
    int *ret_claimed)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	struct store_pg_fleet	 f;
	PGresult		*res = NULL;
	int64_t			 want;
	int			 r, claimed = 0;

	(void)now;	/* the database's clock decides; see the top */
	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	if ((r = store_pg_fleet(b, self, &f)) < 0)
		goto out;
	want = store_pg_fleet_quota(&f) - f.owned;
	if (want > 0) {
		store_pg_arg(&a, self);
		store_pg_arg_i64(&a, b->lease_ms);
		store_pg_arg_i64(&a, f.clock_ms);
		store_pg_arg_i64(&a, want);
		if ((r = store_pg_run(b, "WITH cand AS (SELECT s.id FROM "
		    "sessions s WHERE s.owner_instance IS NULL OR "
		    "(s.owner_instance <> $1 AND NOT EXISTS (SELECT 1 FROM "
		    "instances i WHERE i.id = s.owner_instance AND "
		    "i.heartbeat_at >= $3::bigint - $2::bigint)) "
		    "ORDER BY s.priority DESC, s.id LIMIT "
		    "$4::bigint FOR UPDATE OF s SKIP LOCKED) "
		    "UPDATE sessions s SET owner_instance = $1, epoch = "
		    "s.epoch + 1 FROM cand WHERE s.id = cand.id", &a,
		    &res)) < 0)
			goto out;
		claimed = store_pg_changes(res);
		PQclear(res);
	}
	if ((r = store_pg_end(b, STORE_PG_TX, 0)) < 0)
		return r;
	*ret_claimed = claimed;
	return 0;
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

static int
store_pg_session_report(void *p, int64_t id, const char *self,
    int64_t epoch, const struct session_report *rep, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_WRITE)) < 0)
		return r;
	store_pg_arg(&a, store_session_status_name(rep->status));
	store_pg_arg_i64(&a, rep->attempts);
	store_pg_arg(&a, rep->last_error);
	if (rep->connector_pid > 0) {
		store_pg_arg_i64(&a, rep->connector_pid);
		store_pg_arg_i64(&a, rep->connector_started_at);
	} else {
		store_pg_arg(&a, NULL);
		store_pg_arg(&a, NULL);
	}
	store_pg_arg_bool(&a, rep->touch_activity);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, id);
	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, epoch);
	if ((r = store_pg_run(b, "UPDATE sessions SET status = $1::text, "
	    "attempts = $2::bigint, last_error = $3::text, connector_pid = "
	    "$4::bigint, connector_started_at = $5::bigint, last_activity_at = "
	    "CASE WHEN $6::boolean THEN $7::bigint ELSE last_activity_at END, "
	    "graceful_shutdown = CASE WHEN $1::text = 'ready' THEN false ELSE "
	    "graceful_shutdown END WHERE id = $8::bigint AND owner_instance = "
	    "$9 AND epoch = $10::bigint", &a, &res)) == 0) {
		if (store_pg_changes(res) == 0) {
			snprintf(b->err, sizeof b->err, "session %lld is not "
			    "owned by '%s' at epoch %lld", (long long)id, self,
			    (long long)epoch);
			r = -ESTALE;
		}
		PQclear(res);
	}
	return store_pg_end(b, STORE_PG_WRITE, r);
}

/*
 * Give one session up, to rebalance a fleet: its owner becomes NULL, if
 * self still owns it at this epoch, and the next claim (self's or a
 * peer's, woken by the notification) takes it at a new epoch.  Its
 * status, graceful_shutdown and proxy are left as they are: the proxy
 * stays active for the session, reserved for whoever reactivates it.
 * The generation goes up, as for operator changes, so that a peer that
 * only watches the fingerprint notices too.
 */
static int
store_pg_session_release(void *p, int64_t id, const char *self,
    int64_t epoch, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	char			 detail[64];
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg_i64(&a, id);
	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, epoch);
	store_pg_arg_i64(&a, now);
	if ((r = store_pg_run(b, "WITH u AS (UPDATE sessions SET "
	    "owner_instance = NULL, updated_at = $4::bigint WHERE id = "
	    "$1::bigint AND owner_instance = $2 AND epoch = $3::bigint "
	    "RETURNING 1) SELECT (SELECT count(*) FROM u), (SELECT count(*) "
	    "FROM sessions WHERE id = $1::bigint)", &a, &res)) < 0)
		goto out;
	if (store_pg_i64(res, 0, 0) == 0) {
		if (store_pg_i64(res, 0, 1) == 0) {
			snprintf(b->err, sizeof b->err, "session %lld does not "
			    "exist", (long long)id);
			r = -ENOENT;
		} else {
			snprintf(b->err, sizeof b->err, "session %lld is not "
			    "owned by '%s' at epoch %lld", (long long)id, self,
			    (long long)epoch);
			r = -ESTALE;
		}
		PQclear(res);
		goto out;
	}
	PQclear(res);
	snprintf(detail, sizeof detail, "{\"epoch\":%lld}", (long long)epoch);
	if ((r = store_pg_bump_generation(b)) < 0 ||
	    (r = store_pg_event(b, now, self, id, "session.released",
	    detail)) < 0 ||
	    (r = store_pg_notify(b, "released", self)) < 0)
		goto out;
	return store_pg_end(b, STORE_PG_TX, 0);
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

/* A graceful stop or a handover: the peers are woken to claim them. */
static int
store_pg_session_release_all(void *p, const char *self, bool graceful,
    int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg_bool(&a, graceful);
	store_pg_arg_i64(&a, now);
	store_pg_arg(&a, self);
	if ((r = store_pg_run(b, "UPDATE sessions SET owner_instance = NULL, "
	    "graceful_shutdown = $1::boolean, shutdown_at = CASE WHEN "
	    "$1::boolean THEN $2::bigint ELSE shutdown_at END WHERE "
	    "owner_instance = $3", &a, &res)) < 0)
		goto out;
	if (store_pg_changes(res) > 0)
		r = store_pg_notify(b, "released", self);
	PQclear(res);
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

static int
store_pg_session_fingerprint(void *p, int64_t *ret_count, int64_t *ret_gen)
{
	struct store_pg	*b = p;
	PGresult	*res;
	int		 r;

	if ((r = store_pg_read(b, "SELECT (SELECT count(*) FROM sessions), "
	    "(SELECT value FROM meta WHERE key = 'sessions_generation')",
	    NULL, &res)) < 0)
		return r;
	*ret_count = store_pg_i64(res, 0, 0);
	*ret_gen = store_pg_i64(res, 0, 1);
	PQclear(res);
	return 0;
}

/*
 * One UPDATE of one row, as a write of its own (a savepoint in a batch):
 * -ENOENT when it changed no row.
 */
static int
store_pg_update_row(struct store_pg *b, const char *sql,
    const struct store_pg_args *a)
{
	PGresult	*res = NULL;
	int		 r;

	if ((r = store_pg_begin(b, STORE_PG_WRITE)) < 0)
		return r;
	if ((r = store_pg_run(b, sql, a, &res)) == 0) {
		if (store_pg_changes(res) == 0)
			r = -ENOENT;
		PQclear(res);
	}
	return store_pg_end(b, STORE_PG_WRITE, r);
}

/* --- proxies ------------------------------------------------------------ */

#define STORE_PG_PROXY_COLUMNS						\
	"id, provider, zone, ip, country, type, state, session_id, "	\
	"purchased_at, assigned_at, idle_since, intent_id, "		\
	"released_at, held_for, held_until "

static void
store_pg_row_proxy(const PGresult *res, int i, struct proxy_row *p)
{
	size_t	k;

	memset(p, 0, sizeof *p);
	p->id = store_pg_i64(res, i, 0);
	(void)util_strlcpy(p->provider, store_pg_text(res, i, 1),
	    sizeof p->provider);
	(void)util_strlcpy(p->zone, store_pg_text(res, i, 2), sizeof p->zone);
	(void)util_strlcpy(p->ip, store_pg_text(res, i, 3), sizeof p->ip);
	(void)util_strlcpy(p->country, store_pg_text(res, i, 4),
	    sizeof p->country);
	p->type = strcmp(store_pg_text(res, i, 5), "residential") == 0 ?
	    PROXY_TYPE_RESIDENTIAL : PROXY_TYPE_ISP;
	for (k = 0; k <= PROXY_LOST; k++)
		if (strcmp(store_pg_text(res, i, 6),
		    store_proxy_state_name((enum proxy_state)k)) == 0)
			p->state = (enum proxy_state)k;
	p->session_id = store_pg_i64(res, i, 7);
	p->purchased_at = store_pg_i64(res, i, 8);
	p->assigned_at = store_pg_i64(res, i, 9);
	p->idle_since = store_pg_i64(res, i, 10);
	p->intent_id = store_pg_i64(res, i, 11);
	p->released_at = store_pg_i64(res, i, 12);
	p->held_for = store_pg_i64(res, i, 13);
	p->held_until = store_pg_i64(res, i, 14);
}

/*
 * Two daemons may add the same IP at once: the insert yields to the
 * live-IP unique index, and the loser is told it exists.
 */
static int
store_pg_proxy_add(void *p, const struct proxy_row *px, int64_t now,
    int64_t *ret_id)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int64_t			 id = 0;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_WRITE)) < 0)
		return r;
	store_pg_arg(&a, px->provider);
	store_pg_arg(&a, px->zone);
	store_pg_arg(&a, px->ip);
	store_pg_arg(&a, px->country);
	store_pg_arg(&a, config_proxy_type_name(px->type));
	store_pg_arg_i64(&a, px->purchased_at ? px->purchased_at : now);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, px->intent_id);
	if ((r = store_pg_run(b, "INSERT INTO proxies (provider, zone, ip, "
	    "country, type, state, intent_id, purchased_at, idle_since, "
	    "updated_at) VALUES ($1, $2, $3, $4, $5, 'idle', NULLIF($8::bigint, "
	    "0), $6::bigint, $7::bigint, $7::bigint) ON CONFLICT (provider, "
	    "zone, ip) WHERE state <> 'released' DO NOTHING RETURNING id", &a,
	    &res)) == 0) {
		if (PQntuples(res) > 0)
			id = store_pg_i64(res, 0, 0);
		PQclear(res);
		if (id == 0) {
			snprintf(b->err, sizeof b->err, "proxy %s is in the "
			    "store already", px->ip);
			r = -EEXIST;
		}
	}
	if ((r = store_pg_end(b, STORE_PG_WRITE, r)) < 0)
		return r;
	*ret_id = id;
	return 0;
}

static int
store_pg_proxy_each(const PGresult *res, int i, void *arg)
{
	struct store_to		*to = arg;
	struct proxy_row	 px;

	store_pg_row_proxy(res, i, &px);
	return to->cb.proxy(&px, to->arg);
}

static int
store_pg_proxy_list(void *p, int64_t released_since, store_proxy_cb cb,
    void *arg)
{
	struct store_pg		*b = p;
	struct store_to		 to = { .cb.proxy = cb, .arg = arg };
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	int			 r;

	store_pg_arg_i64(&a, released_since);
	if ((r = store_pg_read(b, "SELECT " STORE_PG_PROXY_COLUMNS
	    "FROM proxies WHERE state <> 'released' OR released_at >= "
	    "$1::bigint ORDER BY id", &a, &res)) < 0)
		return r;
	return store_pg_each(res, store_pg_proxy_each, &to);
}

static int
store_pg_proxy_relist(void *p, int64_t proxy_id, const char *country,
    int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };

	store_pg_arg(&a, country);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	return store_pg_update_row(b, "UPDATE proxies SET country = CASE WHEN "
	    "$1 <> '' THEN $1 ELSE country END, state = CASE WHEN state = "
	    "'lost' AND session_id IS NULL THEN 'idle' WHEN state = 'lost' "
	    "THEN 'active' ELSE state END, idle_since = CASE WHEN state = "
	    "'lost' AND session_id IS NULL THEN $2::bigint ELSE idle_since "
	    "END, updated_at = $2::bigint WHERE id = $3::bigint AND state <> "
	    "'released'", &a);
}

static int
store_pg_proxy_set_intent(void *p, int64_t proxy_id, int64_t intent_id,
    int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };

	store_pg_arg_i64(&a, intent_id);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	return store_pg_update_row(b, "UPDATE proxies SET intent_id = $1::bigint, "
	    "updated_at = $2::bigint WHERE id = $3::bigint", &a);
}

static int
store_pg_refused_add(void *p, const char *phone, const char *ip, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg(&a, phone);
	store_pg_arg(&a, ip);
	store_pg_arg_i64(&a, now);
	if ((r = store_pg_run(b, "INSERT INTO refused_ips (phone, ip, at) "
	    "VALUES ($1, $2, $3::bigint) ON CONFLICT (phone, ip) DO UPDATE SET "
	    "at = excluded.at", &a, &res)) < 0)
		goto out;
	PQclear(res);
	/* The newest STORE_REFUSED_MAX of the phone are enough. */
	a.n = 1;
	store_pg_arg_i64(&a, STORE_REFUSED_MAX);
	if ((r = store_pg_run(b, "DELETE FROM refused_ips WHERE phone = $1 AND "
	    "ip NOT IN (SELECT ip FROM refused_ips WHERE phone = $1 ORDER BY "
	    "at DESC, ip LIMIT $2::bigint)", &a, &res)) < 0)
		goto out;
	PQclear(res);
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

static int
store_pg_refused_list(void *p, const char *phone, char (*ips)[STORE_IP_LEN],
    size_t max, size_t *ret_n)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	size_t			 n = 0;
	int			 i, rows, r;

	store_pg_arg(&a, phone);
	store_pg_arg_i64(&a, (int64_t)max);
	if ((r = store_pg_read(b, "SELECT ip FROM refused_ips WHERE phone = $1 "
	    "ORDER BY at DESC, ip LIMIT $2::bigint", &a, &res)) < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && n < max; i++)
		if (util_strlcpy(ips[n], store_pg_text(res, i, 0),
		    STORE_IP_LEN) == 0)
			n++;
	PQclear(res);
	*ret_n = n;
	return 0;
}

/*
 * Why a proxy could not be assigned: gone or not usable (-ENOENT), or in
 * use by another session (-EBUSY).
 */
static int
store_pg_proxy_refused(struct store_pg *b, int64_t proxy_id,
    int64_t session_id)
{
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	int			 r;

	store_pg_arg_i64(&a, proxy_id);
	if ((r = store_pg_run(b, "SELECT p.state, p.ip, coalesce(p.session_id, "
	    "0), coalesce(s.owner_instance, '') FROM proxies p LEFT JOIN "
	    "sessions s ON s.id = p.session_id WHERE p.id = $1::bigint", &a,
	    &res)) < 0)
		return r;
	if (PQntuples(res) == 0 ||
	    (strcmp(store_pg_text(res, 0, 0), "active") != 0 &&
	    strcmp(store_pg_text(res, 0, 0), "idle") != 0)) {
		snprintf(b->err, sizeof b->err, "proxy %lld is not active or "
		    "idle", (long long)proxy_id);
		r = -ENOENT;
	} else if (store_pg_i64(res, 0, 2) == 0) {
		/* Freed since the UPDATE looked: a race, not a refusal. */
		snprintf(b->err, sizeof b->err, "proxy %lld changed while "
		    "being assigned; try again", (long long)proxy_id);
		r = -EBUSY;
	} else {
		snprintf(b->err, sizeof b->err, "proxy %lld (%s) is in use by "
		    "session %lld (owner '%s'): not given to session %lld",
		    (long long)proxy_id, store_pg_text(res, 0, 1),
		    (long long)store_pg_i64(res, 0, 2),
		    store_pg_text(res, 0, 3), (long long)session_id);
		r = -EBUSY;
	}
	PQclear(res);
	return r;
}

/*
 * A proxy goes to a session only when it is idle, or already active for
 * that very session (a reactivation).  Instances of a fleet each choose
 * from their own copy of the pool, which may be stale: the condition,
 * checked on the locked row, is what keeps two of them from giving one IP
 * to two sessions.  One exception: a proxy active for another session of
 * self's own, which self shares on purpose (RESPAWN_SESSIONS_PER_IP > 1,
 * counted by its pool); a session of a peer, or one unowned and keeping
 * its proxy for its next owner, is never shared.
 */
static int
store_pg_proxy_assign(void *p, int64_t proxy_id, int64_t session_id,
    const char *phone, const char *requested, bool fallback_used,
    const char *reason, const char *self, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	char			 detail[256];
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg_i64(&a, session_id);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	store_pg_arg(&a, self);
	/* Whatever hold it had ends: it is in use again. */
	if ((r = store_pg_run(b, "UPDATE proxies p SET state = 'active', "
	    "session_id = $1::bigint, assigned_at = $2::bigint, idle_since = "
	    "NULL, held_for = NULL, held_until = NULL, updated_at = "
	    "$2::bigint WHERE p.id = $3::bigint AND "
	    "(p.state = 'idle' OR (p.state = 'active' AND (p.session_id = "
	    "$1::bigint OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = "
	    "p.session_id AND s.owner_instance = $4))))", &a, &res)) < 0)
		goto out;
	r = store_pg_changes(res);
	PQclear(res);
	if (r == 0) {
		r = store_pg_proxy_refused(b, proxy_id, session_id);
		goto out;
	}
	a.n = 2;
	if ((r = store_pg_run(b, "UPDATE assignments SET ended_at = "
	    "$2::bigint WHERE session_id = $1::bigint AND ended_at IS NULL",
	    &a, NULL)) < 0)
		goto out;
	a.n = 0;
	store_pg_arg_i64(&a, session_id);
	store_pg_arg(&a, phone);
	store_pg_arg(&a, requested);
	store_pg_arg_bool(&a, fallback_used);
	store_pg_arg(&a, reason);
	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	if ((r = store_pg_run(b, "INSERT INTO assignments (session_id, phone, "
	    "proxy_id, ip, country, requested_country, fallback_used, reason, "
	    "instance_id, assigned_at) SELECT $1::bigint, $2::text, id, ip, "
	    "country, $3::text, $4::boolean, $5::text, $6::text, $7::bigint "
	    "FROM proxies WHERE id = $8::bigint", &a, NULL)) < 0)
		goto out;
	snprintf(detail, sizeof detail, "{\"proxyId\":%lld,\"reason\":\"%s\","
	    "\"requestedCountry\":\"%s\",\"fallbackUsed\":%s}",
	    (long long)proxy_id, reason, requested,
	    fallback_used ? "true" : "false");
	r = store_pg_event(b, now, self, session_id, "proxy.assigned", detail);
out:
	return store_pg_end(b, STORE_PG_TX, r < 0 ? r : 0);
}

static int
store_pg_proxy_unassign(void *p, int64_t proxy_id, bool keep, int64_t now,
    int64_t held_for, int64_t held_until)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	int			 r;

	/* Kept for its session: the row already says so. */
	if (keep)
		return 0;
	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	if ((r = store_pg_run(b, "UPDATE assignments SET ended_at = $1::bigint "
	    "WHERE proxy_id = $2::bigint AND ended_at IS NULL", &a,
	    NULL)) < 0)
		goto out;
	/* Idle and held in one write: a restart never sees one alone. */
	store_pg_arg_i64(&a, held_for);
	store_pg_arg_i64(&a, held_until);
	r = store_pg_run(b, "UPDATE proxies SET state = 'idle', session_id = "
	    "NULL, idle_since = $1::bigint, updated_at = $1::bigint, "
	    "held_for = NULLIF($3::bigint, 0), held_until = "
	    "NULLIF($4::bigint, 0) WHERE id = $2::bigint AND state = 'active'",
	    &a, NULL);
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

static int
store_pg_proxy_set_state(void *p, int64_t proxy_id, enum proxy_state state,
    int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };

	store_pg_arg(&a, store_proxy_state_name(state));
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, proxy_id);
	/* A released IP is nobody's: no session, no hold. */
	return store_pg_update_row(b, "UPDATE proxies SET state = $1::text, "
	    "updated_at = $2::bigint, released_at = CASE WHEN $1::text = "
	    "'released' THEN $2::bigint ELSE released_at END, session_id = "
	    "CASE WHEN $1::text = 'released' THEN NULL ELSE session_id END, "
	    "held_for = CASE WHEN $1::text = 'released' THEN NULL ELSE "
	    "held_for END, held_until = CASE WHEN $1::text = 'released' THEN "
	    "NULL ELSE held_until END WHERE id = $3::bigint", &a);
}

static int
store_pg_proxy_request_release(void *p, const char *ip, const char *actor,
    int64_t now, struct proxy_row *ret)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	struct proxy_row	 row;
	char			 detail[160];
	int			 r;

	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		return r;
	store_pg_arg(&a, ip);
	if ((r = store_pg_run(b, "SELECT " STORE_PG_PROXY_COLUMNS "FROM "
	    "proxies WHERE ip = $1 AND state NOT IN ('released', 'lost') "
	    "ORDER BY id DESC LIMIT 1 FOR UPDATE", &a, &res)) < 0)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		r = -ENOENT;
		goto out;
	}
	store_pg_row_proxy(res, 0, &row);
	PQclear(res);
	if (row.session_id != 0 || row.state == PROXY_ACTIVE) {
		*ret = row;
		r = -EBUSY;
		goto out;
	}
	a.n = 0;
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, row.id);
	if ((r = store_pg_run(b, "UPDATE proxies SET state = 'releasing', "
	    "updated_at = $1::bigint WHERE id = $2::bigint", &a, NULL)) < 0)
		goto out;
	snprintf(detail, sizeof detail, "{\"proxyId\":%lld}",
	    (long long)row.id);
	if ((r = store_pg_bump_generation(b)) < 0 ||
	    (r = store_pg_event(b, now, actor, 0, "proxy.release_requested",
	    detail)) < 0)
		goto out;
	if ((r = store_pg_end(b, STORE_PG_TX, 0)) < 0)
		return r;
	row.state = PROXY_RELEASING;
	*ret = row;
	return 0;
out:
	return store_pg_end(b, STORE_PG_TX, r);
}

static int
store_pg_proxy_history(void *p, const char *phone, int64_t *ids, size_t max,
    size_t *ret_n)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	size_t			 n = 0;
	int			 i, rows, r;

	store_pg_arg(&a, phone);
	store_pg_arg_i64(&a, (int64_t)max);
	if ((r = store_pg_read(b, "SELECT proxy_id FROM assignments WHERE "
	    "phone = $1 GROUP BY proxy_id ORDER BY max(assigned_at) DESC, "
	    "max(id) DESC LIMIT $2::bigint", &a, &res)) < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && n < max; i++)
		ids[n++] = store_pg_i64(res, i, 0);
	PQclear(res);
	*ret_n = n;
	return 0;
}

static int
store_pg_phone_spans(void *p, const char *phone, struct store_span *spans,
    size_t max, size_t *ret_n)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res;
	size_t			 n = 0;
	int			 i, rows, r;

	store_pg_arg(&a, phone);
	store_pg_arg_i64(&a, (int64_t)max);
	if ((r = store_pg_read(b, "SELECT assigned_at, ended_at FROM "
	    "assignments WHERE phone = $1 ORDER BY assigned_at DESC, id DESC "
	    "LIMIT $2::bigint", &a, &res)) < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && n < max; i++) {
		spans[n].assigned_at = store_pg_i64(res, i, 0);
		spans[n].ended_at = store_pg_i64(res, i, 1);
		n++;
	}
	PQclear(res);
	*ret_n = n;
	return 0;
}

/* --- recovery runs and purchase intents -------------------------------- */

static int
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

/*
 * The intent row is committed on its own, outside any batch, because the
 * provider must not be asked before it is durable: a crash between the two
 * would otherwise leave a paid IP nobody knows about.  The batch's writes
 * so far commit with it; the batch goes on in a new transaction.
 */
static int
store_pg_intent_add(void *p, const struct intent *in, const char *self,
    int64_t now, int64_t *ret_id)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };
	PGresult		*res = NULL;
	char			 detail[128];
	int64_t			 id = 0;
	int			 r, depth = b->depth;

	if (depth > 0 && (r = store_pg_flush_batch(b)) < 0)
		return r;
	b->depth = 0;
	if ((r = store_pg_begin(b, STORE_PG_TX)) < 0)
		goto out;
	store_pg_arg(&a, in->provider);
	store_pg_arg(&a, in->zone);
	store_pg_arg(&a, in->country);
	store_pg_arg_i64(&a, in->count);
	store_pg_arg(&a, self);
	store_pg_arg_i64(&a, now);
	if ((r = store_pg_run(b, "INSERT INTO purchase_intents (provider, "
	    "zone, country, count, state, instance_id, created_at) VALUES "
	    "($1, $2, $3, $4::bigint, 'pending', $5, $6::bigint) RETURNING id",
	    &a, &res)) == 0) {
		id = store_pg_i64(res, 0, 0);
		PQclear(res);
		snprintf(detail, sizeof detail, "{\"intent\":%lld,"
		    "\"country\":\"%s\",\"count\":%lld}", (long long)id,
		    in->country, (long long)in->count);
		r = store_pg_event(b, now, self, 0, "purchase.intent", detail);
	}
	if ((r = store_pg_end(b, STORE_PG_TX, r)) == 0)
		*ret_id = id;
out:
	b->depth = depth;
	return r;
}

static int
store_pg_intent_settle(void *p, int64_t id, enum intent_state state,
    const char *error, int64_t now)
{
	struct store_pg		*b = p;
	struct store_pg_args	 a = { .n = 0 };

	store_pg_arg(&a, store_intent_state_name(state));
	store_pg_arg(&a, error);
	store_pg_arg_i64(&a, now);
	store_pg_arg_i64(&a, id);
	return store_pg_update_row(b, "UPDATE purchase_intents SET state = "
	    "$1::text, error = $2::text, settled_at = CASE WHEN $1::text IN "
	    "('owned', 'failed') THEN $3::bigint ELSE settled_at END WHERE id "
	    "= $4::bigint", &a);
}

static int
store_pg_intent_each(const PGresult *res, int i, void *arg)
{
	struct store_to	*to = arg;
	struct intent	 in;

	memset(&in, 0, sizeof in);
	in.id = store_pg_i64(res, i, 0);
	(void)util_strlcpy(in.provider, store_pg_text(res, i, 1),
	    sizeof in.provider);
	(void)util_strlcpy(in.zone, store_pg_text(res, i, 2),
	    sizeof in.zone);
	(void)util_strlcpy(in.country, store_pg_text(res, i, 3),
	    sizeof in.country);
	in.count = store_pg_i64(res, i, 4);
	in.state = strcmp(store_pg_text(res, i, 5), "unknown") == 0 ?
	    INTENT_UNKNOWN : INTENT_PENDING;
	in.created_at = store_pg_i64(res, i, 6);
	(void)util_strlcpy(in.instance_id, store_pg_text(res, i, 7),
	    sizeof in.instance_id);
	return to->cb.intent(&in, to->arg);
}

static int
store_pg_intent_list_open(void *p, store_intent_cb cb, void *arg)
{
	struct store_pg	*b = p;
	struct store_to	 to = { .cb.intent = cb, .arg = arg };
	PGresult	*res;
	int		 r;

	if ((r = store_pg_read(b, "SELECT id, provider, zone, country, count, "
	    "state, created_at, instance_id FROM purchase_intents WHERE "
	    "state IN "
	    "('pending', 'unknown') ORDER BY id", NULL, &res)) < 0)
		return r;
	return store_pg_each(res, store_pg_intent_each, &to);
}

/* --- paged reads, for the HTTP API -------------------------------------- */

/* Those of store_sqlite.c, in the same order. */
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

static int
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

static int
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

static int
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

/* --- wake-ups: LISTEN on a connection of their own ---------------------- */

/*
 * Open the wake-up connection, with the options of the main one (libpq
 * keeps them, so the URL itself is not kept), and LISTEN on it.  A
 * connection of its own, because the main one is busy with the caller's
 * statements and transactions, and a notification waits for none of
 * them.  Bounded like every connection: connect_timeout, keepalives and
 * tcp_user_timeout come with the options, so a dead server or network
 * makes the socket readable (an error) in seconds.
 */
static int
store_pg_wake_open(struct store_pg *b)
{
	PQconninfoOption	*opts, *o;
	const char		**keys, **vals;
	PGresult		*res;
	char			 msg[STORE_ERROR_LEN];
	size_t			 n = 0;

	if ((opts = PQconninfo(b->conn)) == NULL) {
		snprintf(b->err, sizeof b->err, "wake-ups: out of memory");
		return -ENOMEM;
	}
	for (o = opts; o->keyword != NULL; o++)
		n++;
	keys = xcalloc(n + 1, sizeof *keys);
	vals = xcalloc(n + 1, sizeof *vals);
	n = 0;
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		keys[n] = o->keyword;
		vals[n++] = o->val;
	}
	b->wake = PQconnectdbParams(keys, vals, 0);
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && strcmp(o->keyword, "password") == 0)
			util_wipe(o->val, strlen(o->val));
	PQconninfoFree(opts);
	free(keys);
	free(vals);
	if (b->wake == NULL) {
		snprintf(b->err, sizeof b->err, "wake-ups: out of memory");
		return -ENOMEM;
	}
	(void)PQsetNoticeProcessor(b->wake, store_pg_notice, NULL);
	if (PQstatus(b->wake) == CONNECTION_OK) {
		res = PQexec(b->wake, "LISTEN " STORE_PG_CHANNEL);
		if (PQresultStatus(res) == PGRES_COMMAND_OK) {
			PQclear(res);
			return 0;
		}
		PQclear(res);
	}
	snprintf(msg, sizeof msg, "%s", PQerrorMessage(b->wake));
	store_pg_setmsg(b, "wake-ups: ", msg);
	PQfinish(b->wake);
	b->wake = NULL;
	return -EIO;
}

/* Lost: its socket, readable for ever, must go at once. */
static void
store_pg_wake_lost(struct store_pg *b)
{
	PQfinish(b->wake);
	b->wake = NULL;
	store_pg_retry_lost(&b->wake_retry);
}

/*
 * A listening connection, (re)opened when needed but no oftener than
 * the backoff allows (the main connection's pacing); until then -EIO.
 */
static int
store_pg_wake_ready(struct store_pg *b)
{
	int	r;

	if (b->wake != NULL && PQstatus(b->wake) == CONNECTION_OK)
		return 0;
	if (b->wake != NULL)
		store_pg_wake_lost(b);
	if (b->wake_retry.broken && !store_pg_retry_due(&b->wake_retry, b->err,
	    sizeof b->err))
		return -EIO;
	if ((r = store_pg_wake_open(b)) < 0) {
		store_pg_retry_failed(&b->wake_retry);
		return r;
	}
	store_pg_retry_ok(&b->wake_retry);
	return 0;
}

static int
store_pg_wake_fd(void *p)
{
	struct store_pg	*b = p;
	int		 r, fd;

	if ((r = store_pg_wake_ready(b)) < 0)
		return r;
	if ((fd = PQsocket(b->wake)) < 0) {
		snprintf(b->err, sizeof b->err, "wake-ups: no socket");
		return -EIO;
	}
	return fd;
}

/* Whether fd has more to read now (data, or the peer's close). */
static bool
store_pg_pending(int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/*
 * Count the notifications that arrived, but not those this store sent
 * itself (same backend as the main connection): a daemon is not woken by
 * its own writes.  The socket is read until it has nothing more, a few
 * times at most: a server going away sends an error and then closes, and
 * only the read after the error sees the close.  A lost connection is
 * closed at once (its socket would stay readable) and reopened when the
 * backoff allows: 0 when that worked, -EIO when not yet.  Either way the
 * caller asks store_pg_wake_fd for the new socket.  Notifications sent
 * while it was down are lost; the caller's periodic claims make up for
 * them.
 */
static int
store_pg_wake_drain(void *p)
{
	struct store_pg	*b = p;
	PGnotify	*nf;
	bool		 ok = true;
	int		 i, r, n = 0, self_pid;

	if (b->wake == NULL || PQstatus(b->wake) != CONNECTION_OK)
		return store_pg_wake_ready(b);
	for (i = 0; i < STORE_PG_WAKE_READS; i++) {
		if (!PQconsumeInput(b->wake)) {
			ok = false;
			break;
		}
		if (!store_pg_pending(PQsocket(b->wake)))
			break;
	}
	self_pid = PQbackendPID(b->conn);
	while ((nf = PQnotifies(b->wake)) != NULL) {
		if (nf->be_pid != self_pid || self_pid == 0)
			n++;
		PQfreemem(nf);
	}
	if (ok && PQstatus(b->wake) == CONNECTION_OK)
		return n;
	store_pg_wake_lost(b);
	r = store_pg_wake_ready(b);
	return r < 0 && n == 0 ? r : n;
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
