/*
 * The PostgreSQL backend's connections (see store_pg.c for the backend):
 * opening the main one from the URL, with libpq's messages kept free of
 * the password; noticing that it was lost and resetting it with a
 * doubling backoff; and the wake-ups, NOTIFY sent inside a write's
 * transaction and LISTEN on a second connection of its own.
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
#include "store/store_pg_impl.h"

#define STORE_PG_BACKOFF_MIN_MS		100
#define STORE_PG_BACKOFF_MAX_MS		5000
#define STORE_PG_STATEMENT_TIMEOUT_MS	"10000"
#define STORE_PG_LOCK_TIMEOUT_MS	"5000"	/* as STORE_BUSY_TIMEOUT_MS */
#define STORE_PG_IDLE_TX_TIMEOUT_MS	"60000"
#define STORE_PG_WAKE_READS		4	/* reads per store_wake_drain */
#define STORE_PG_CLOSED_READS		4	/* reads per store_pg_closed */

/* The LISTEN/NOTIFY channel of wake-ups (store_pg_notify). */
#define STORE_PG_CHANNEL	"respawn_fleet"

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
void
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
void
store_pg_lost(struct store_pg *b)
{
	store_pg_retry_lost(&b->retry);
	if (b->depth > 0 && b->dirty)
		b->batch_lost = true;
	b->dirty = false;
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
int
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

/* --- opening ------------------------------------------------------------ */

void
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

int
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

const char *
store_pg_errmsg(const void *p)
{
	return ((const struct store_pg *)p)->err;
}

int
store_pg_set_lease(void *p, int64_t lease_ms)
{
	struct store_pg	*b = p;

	if (lease_ms <= 0)
		return -EINVAL;
	b->lease_ms = lease_ms;
	return 0;
}

/* --- wake-ups: NOTIFY, and LISTEN on a connection of their own ---------- */

/*
 * Wake the fleet's daemons (store_pg_wake_fd): a peer joined, stopped,
 * died or gave sessions up, so shares changed.  Sent inside the call's
 * transaction, the notification is delivered when it commits, and not
 * at all when it rolls back.  what is for people reading the traffic:
 * "released", "joined"... and the instance it is about.
 */
int
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

int
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
int
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
