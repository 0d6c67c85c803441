/*
 * Tests of what only the PostgreSQL store has: fleet mode.  Fair-share
 * claims by instances claiming at the same moment from their own
 * connections, leases judged by the database's clock, writes of a stale
 * epoch refused, the fair share as the daemon asks for it, giving one
 * session up, wake-ups from peers (LISTEN/NOTIFY) surviving a lost
 * connection, proxies never given to two instances' sessions, lock
 * timeouts, concurrent first starts migrating once, and surviving a lost
 * connection and a restarted server.
 *
 * The cases run when RESPAWN_TEST_PG_URL names a database (each in a
 * schema of its own); the restart case also needs RESPAWN_TEST_PG_CLUSTER
 * and RESPAWN_TEST_PG_DIR (scripts/pg-cluster and its directory).
 * tests/integration/test_store_pg.sh provides all three.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "base/util.h"
#include "store/store.h"

#define SCHEMAS_MAX	32

static const char *pg_base;	/* RESPAWN_TEST_PG_URL */
static char	dburl[1024];	/* the current case's schema */
static int	dbseq;
static char	schemas[SCHEMAS_MAX][64];
static int	nschemas;

static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Run SQL on a connection of its own; the integer it returns. */
static int64_t
pg_sql(const char *conninfo, const char *sql)
{
	PGconn		*c;
	PGresult	*res;
	int64_t		 v = -1;

	c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	(void)PQsetNoticeProcessor(c, quiet, NULL);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
	    !PQgetisnull(res, 0, 0))
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(c);
	return v;
}

static int64_t
query_int(const char *sql)
{
	return pg_sql(dburl, sql);
}

/*
 * A new schema, and dburl pointing at it (with extra URL parameters, as
 * "&application_name=x", when not NULL).
 */
static void
new_schema(const char *extra)
{
	char	sql[128];

	assert_true(nschemas < SCHEMAS_MAX);
	snprintf(schemas[nschemas], sizeof schemas[nschemas], "store_pg%d_%d",
	    (int)getpid(), ++dbseq);
	snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schemas[nschemas]);
	(void)pg_sql(pg_base, sql);
	snprintf(dburl, sizeof dburl, "%s%soptions=-csearch_path%%3D%s%s",
	    pg_base, strchr(pg_base, '?') != NULL ? "&" : "?",
	    schemas[nschemas], extra != NULL ? extra : "");
	nschemas++;
}

static struct store *
open_url(void)
{
	struct store	*st;
	char		 err[STORE_ERROR_LEN];

	if (store_open(dburl, &st, err) != 0)
		fail_msg("store_open: %s", err);
	return st;
}

static void
add_sessions(struct store *st, int n, const char *prefix)
{
	struct session_new	sn;
	int64_t			id;
	int			i;

	assert_int_equal(store_batch_begin(st), 0);
	for (i = 0; i < n; i++) {
		memset(&sn, 0, sizeof sn);
		(void)util_strlcpy(sn.user_id, "u", sizeof sn.user_id);
		snprintf(sn.phone, sizeof sn.phone, "%s%06d", prefix, i);
		(void)util_strlcpy(sn.country, "us", sizeof sn.country);
		assert_int_equal(store_session_add(st, &sn, "test", 1, &id), 0);
	}
	assert_int_equal(store_batch_end(st), 0);
}

static void
add_instance(struct store *st, const char *id, int64_t started_at)
{
	struct instance	in;

	memset(&in, 0, sizeof in);
	(void)util_strlcpy(in.id, id, sizeof in.id);
	(void)util_strlcpy(in.hostname, "host", sizeof in.hostname);
	in.pid = 1;
	in.started_at = started_at;
	in.status = INSTANCE_RUNNING;
	assert_int_equal(store_instance_register(st, &in), 0);
}

static void
sleep_ms(int64_t ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		continue;
}

#define FAIR_INSTANCES	3
#define FAIR_SESSIONS	300

struct claim_result {
	int	who;
	int	r;
	int	claimed;
};

/*
 * Three instances start at once on 300 sessions, each claiming from its
 * own connection at the same moment: each takes its share of 100, and no
 * session is taken twice.  When one of them goes silent, the two others
 * split its sessions.
 */
static void
test_fair_share(void **state)
{
	static const char *const ids[FAIR_INSTANCES] = { "fa", "fb", "fc" };
	struct claim_result	 res[FAIR_INSTANCES], cr;
	struct store		*st;
	pid_t			 pids[FAIR_INSTANCES];
	int			 ready[2], go[2], out[2];
	int			 i, status, claimed;
	char			 c;

	(void)state;
	new_schema(NULL);
	st = open_url();
	add_sessions(st, FAIR_SESSIONS, "+1555");
	for (i = 0; i < FAIR_INSTANCES; i++)
		add_instance(st, ids[i], 1000);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(out), 0);
	for (i = 0; i < FAIR_INSTANCES; i++) {
		if ((pids[i] = fork()) == 0) {
			struct store	*mine;
			char		 err[STORE_ERROR_LEN];

			memset(&cr, 0, sizeof cr);
			cr.who = i;
			if (store_open(dburl, &mine, err) != 0)
				_exit(2);
			if (write(ready[1], "r", 1) != 1 ||
			    read(go[0], &c, 1) != 1)
				_exit(3);
			cr.r = store_session_claim(mine, ids[i], 0,
			    &cr.claimed);
			if (write(out[1], &cr, sizeof cr) != sizeof cr)
				_exit(4);
			store_close(mine);
			_exit(0);
		}
		assert_true(pids[i] > 0);
	}
	for (i = 0; i < FAIR_INSTANCES; i++)
		assert_int_equal(read(ready[0], &c, 1), 1);
	for (i = 0; i < FAIR_INSTANCES; i++)
		assert_int_equal(write(go[1], "g", 1), 1);
	for (i = 0; i < FAIR_INSTANCES; i++) {
		assert_int_equal(read(out[0], &cr, sizeof cr), sizeof cr);
		assert_true(cr.who >= 0 && cr.who < FAIR_INSTANCES);
		res[cr.who] = cr;
	}
	for (i = 0; i < FAIR_INSTANCES; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	close(out[0]);
	close(out[1]);
	for (i = 0; i < FAIR_INSTANCES; i++) {
		assert_int_equal(res[i].r, 0);
		assert_int_equal(res[i].claimed,
		    FAIR_SESSIONS / FAIR_INSTANCES);
	}
	/* Every session once: one owner, first epoch. */
	assert_int_equal(query_int("SELECT count(*) FROM sessions WHERE "
	    "epoch = 1 AND owner_instance IN ('fa', 'fb', 'fc')"),
	    FAIR_SESSIONS);
	assert_int_equal(query_int("SELECT count(DISTINCT owner_instance) "
	    "FROM sessions"), FAIR_INSTANCES);
	/* Nothing more to take while everyone is alive. */
	for (i = 0; i < FAIR_INSTANCES; i++) {
		assert_int_equal(store_session_claim(st, ids[i], 0, &claimed),
		    0);
		assert_int_equal(claimed, 0);
	}

	/* fc goes silent: the two others split its 100. */
	assert_int_equal(store_set_lease(st, 1000), 0);
	sleep_ms(1300);
	assert_int_equal(store_instance_heartbeat(st, "fa", 0, false, 0, 0), 0);
	assert_int_equal(store_instance_heartbeat(st, "fb", 0, false, 0, 0), 0);
	assert_int_equal(store_session_claim(st, "fa", 0, &claimed), 0);
	assert_int_equal(claimed, 50);
	assert_int_equal(store_session_claim(st, "fb", 0, &claimed), 0);
	assert_int_equal(claimed, 50);
	assert_int_equal(query_int("SELECT count(*) FROM sessions WHERE "
	    "owner_instance = 'fc'"), 0);
	assert_int_equal(query_int("SELECT count(*) FROM sessions WHERE "
	    "epoch = 2"), 100);
	store_close(st);
}

static int
find_instance_cb(const struct instance *i, void *arg)
{
	struct instance	*want = arg;

	if (strcmp(i->id, want->id) == 0)
		*want = *i;
	return 0;
}

/*
 * Liveness by the database's clock: whatever time the callers claim (an
 * ancient one, a future one), an instance is live while its heartbeat,
 * stamped by the database, is younger than the lease.
 */
static void
test_lease_db_clock(void **state)
{
	struct store	*st;
	struct instance	 seen;
	struct session	 s;
	int		 claimed, dead, deleted;
	const int64_t	 future = INT64_MAX / 4;

	(void)state;
	new_schema(NULL);
	st = open_url();
	assert_int_equal(store_set_lease(st, 0), -EINVAL);
	assert_int_equal(store_set_lease(st, 1000), 0);
	add_sessions(st, 10, "+1666");
	add_instance(st, "la", 1);
	assert_int_equal(store_session_claim(st, "la", 1, &claimed), 0);
	assert_int_equal(claimed, 10);

	/* A newcomer with a clock far ahead cannot take la's sessions. */
	add_instance(st, "lb", future);
	assert_int_equal(store_session_claim(st, "lb", future, &claimed), 0);
	assert_int_equal(claimed, 0);
	assert_int_equal(store_instance_reap(st, "lb", future, 1000, 1000,
	    &dead, &deleted), 0);
	assert_int_equal(dead, 0);
	assert_int_equal(store_instance_heartbeat(st, "la", 1, false, 0, 0), 0);
	memset(&seen, 0, sizeof seen);
	(void)util_strlcpy(seen.id, "la", sizeof seen.id);
	assert_int_equal(store_instance_list(st, find_instance_cb, &seen), 0);
	assert_true(seen.heartbeat_at > util_now_ms() - 600000);
	assert_true(seen.heartbeat_at < util_now_ms() + 600000);
	assert_int_equal(seen.started_at, 1);

	/* la falls silent past its lease; lb sees it, whatever its clock. */
	sleep_ms(1300);
	assert_int_equal(store_instance_heartbeat(st, "lb", 1, false, 0, 0), 0);
	assert_int_equal(store_session_claim(st, "lb", 1, &claimed), 0);
	assert_int_equal(claimed, 10);
	assert_int_equal(query_int("SELECT count(*) FROM sessions WHERE "
	    "owner_instance = 'lb' AND epoch = 2"), 10);
	assert_int_equal(store_instance_reap(st, "lb", 1, 1000, 3600000, &dead,
	    &deleted), 0);
	assert_int_equal(dead, 1);
	assert_int_equal(deleted, 0);
	(void)util_strlcpy(seen.id, "la", sizeof seen.id);
	assert_int_equal(store_instance_list(st, find_instance_cb, &seen), 0);
	assert_int_equal(seen.status, INSTANCE_DEAD);

	/* Declared dead, la hears so, and cannot talk itself alive again. */
	assert_int_equal(store_instance_heartbeat(st, "la", 1, false, 0, 0),
	    -ESTALE);
	assert_non_null(strstr(store_errmsg(st), "dead"));
	assert_int_equal(store_instance_set_status(st, "la", INSTANCE_RUNNING,
	    1), -ESTALE);
	assert_int_equal(store_session_get_by_phone(st, "+1666000000", &s), 0);
	assert_string_equal(s.owner, "lb");

	/* Long dead ones go, by the database's clock too. */
	sleep_ms(50);
	assert_int_equal(store_instance_reap(st, "lb", future, 1000, 10, &dead,
	    &deleted), 0);
	assert_int_equal(dead, 0);
	assert_int_equal(deleted, 1);
	store_close(st);
}

/*
 * Fencing: once another instance took a session over, the old owner's
 * writes for it are refused, whatever they carry.
 */
static void
test_stale_epoch(void **state)
{
	struct store		*a, *b;
	struct session		 s;
	struct session_report	 rep;
	int			 claimed;

	(void)state;
	new_schema(NULL);
	a = open_url();
	b = open_url();
	assert_int_equal(store_set_lease(a, 500), 0);
	assert_int_equal(store_set_lease(b, 500), 0);
	add_sessions(a, 1, "+1777");
	add_instance(a, "ea", 1);
	assert_int_equal(store_session_claim(a, "ea", 0, &claimed), 0);
	assert_int_equal(claimed, 1);
	assert_int_equal(store_session_get_by_phone(a, "+1777000000", &s), 0);
	assert_int_equal(s.epoch, 1);
	memset(&rep, 0, sizeof rep);
	rep.status = SESSION_STATUS_READY;
	assert_int_equal(store_session_report(a, s.id, "ea", 1, &rep, 10), 0);

	/* ea pauses past its lease; eb takes over. */
	sleep_ms(800);
	add_instance(b, "eb", 1);
	assert_int_equal(store_session_claim(b, "eb", 0, &claimed), 0);
	assert_int_equal(claimed, 1);

	/* ea wakes up and writes as if nothing happened: refused. */
	rep.status = SESSION_STATUS_BACKOFF;
	rep.last_error = "zombie";
	assert_int_equal(store_session_report(a, s.id, "ea", 1, &rep, 20),
	    -ESTALE);
	assert_non_null(strstr(store_errmsg(a), "not owned"));
	assert_int_equal(store_session_report(b, s.id, "eb", 1, &rep, 20),
	    -ESTALE);
	rep.last_error = NULL;
	assert_int_equal(store_session_report(b, s.id, "eb", 2, &rep, 30), 0);
	assert_int_equal(store_session_release_all(a, "ea", true, 40), 0);
	assert_int_equal(store_session_get(a, s.id, &s), 0);
	assert_string_equal(s.owner, "eb");
	assert_int_equal(s.epoch, 2);
	assert_int_equal(s.status, SESSION_STATUS_BACKOFF);
	assert_string_equal(s.last_error, "");
	assert_false(s.graceful_shutdown);
	store_close(a);
	store_close(b);
}

/*
 * The fair share the daemon sheds down to: ceil(sessions / live
 * instances), self counted, liveness by the lease as for claims.
 */
static void
test_fleet_share(void **state)
{
	struct store	*st;
	int64_t		 share, owned;
	int		 claimed;

	(void)state;
	new_schema(NULL);
	st = open_url();
	add_sessions(st, FAIR_SESSIONS, "+1333");
	add_instance(st, "sa", 1);
	assert_int_equal(store_fleet_share(st, "sa", &share, &owned), 0);
	assert_int_equal(share, FAIR_SESSIONS);
	assert_int_equal(owned, 0);
	assert_int_equal(store_session_claim(st, "sa", 0, &claimed), 0);
	assert_int_equal(claimed, FAIR_SESSIONS);
	assert_int_equal(store_fleet_share(st, "sa", &share, &owned), 0);
	assert_int_equal(share, FAIR_SESSIONS);
	assert_int_equal(owned, FAIR_SESSIONS);

	/* Two more join: sa's share is a third, and it owns too many. */
	add_instance(st, "sb", 2);
	add_instance(st, "sc", 3);
	assert_int_equal(store_fleet_share(st, "sa", &share, &owned), 0);
	assert_int_equal(share, FAIR_SESSIONS / 3);
	assert_int_equal(owned, FAIR_SESSIONS);
	assert_int_equal(store_fleet_share(st, "sb", &share, &owned), 0);
	assert_int_equal(share, FAIR_SESSIONS / 3);
	assert_int_equal(owned, 0);
	/* Self counts even before it registered. */
	assert_int_equal(store_fleet_share(st, "sd", &share, &owned), 0);
	assert_int_equal(share, FAIR_SESSIONS / 4);
	/* A stopped peer does not count. */
	assert_int_equal(store_instance_set_status(st, "sc", INSTANCE_STOPPED,
	    0), 0);
	assert_int_equal(store_fleet_share(st, "sa", &share, &owned), 0);
	assert_int_equal(share, FAIR_SESSIONS / 2);

	/* Nor does a silent one, past its lease by the database's clock. */
	assert_int_equal(store_set_lease(st, 1000), 0);
	sleep_ms(1300);
	assert_int_equal(store_instance_heartbeat(st, "sa", 0, false, 0, 0), 0);
	assert_int_equal(store_fleet_share(st, "sa", &share, &owned), 0);
	assert_int_equal(share, FAIR_SESSIONS);
	assert_int_equal(owned, FAIR_SESSIONS);
	store_close(st);
}

static void
add_proxy(struct store *st, const char *ip, int64_t *ret_id)
{
	struct proxy_row	px;

	memset(&px, 0, sizeof px);
	(void)util_strlcpy(px.provider, "static", sizeof px.provider);
	(void)util_strlcpy(px.ip, ip, sizeof px.ip);
	(void)util_strlcpy(px.country, "us", sizeof px.country);
	px.type = PROXY_TYPE_ISP;
	assert_int_equal(store_proxy_add(st, &px, 1, ret_id), 0);
}

/*
 * Giving one session up: only its owner at its epoch may; the session
 * keeps its state and its proxy, and the next claim takes it at a new
 * epoch.
 */
static void
test_session_release(void **state)
{
	struct store		*a, *b;
	struct session		 s, t;
	struct session_report	 rep;
	int64_t			 pid, count, gen, gen2;
	int			 claimed;

	(void)state;
	new_schema(NULL);
	a = open_url();
	b = open_url();
	add_sessions(a, 2, "+1222");
	add_instance(a, "ra", 1);
	assert_int_equal(store_session_claim(a, "ra", 0, &claimed), 0);
	assert_int_equal(claimed, 2);
	assert_int_equal(store_session_get_by_phone(a, "+1222000000", &s), 0);
	assert_int_equal(s.epoch, 1);
	add_proxy(a, "10.1.0.1", &pid);
	assert_int_equal(store_proxy_assign(a, pid, s.id, s.phone, "us", false,
	    "purchased", "ra", 5), 0);
	memset(&rep, 0, sizeof rep);
	rep.status = SESSION_STATUS_READY;
	rep.attempts = 3;
	assert_int_equal(store_session_report(a, s.id, "ra", 1, &rep, 6), 0);
	assert_int_equal(store_session_fingerprint(a, &count, &gen), 0);

	/* A wrong epoch, a wrong owner, no such session: refused. */
	assert_int_equal(store_session_release(a, s.id, "ra", 0, 10), -ESTALE);
	assert_non_null(strstr(store_errmsg(a), "not owned"));
	assert_int_equal(store_session_release(b, s.id, "rb", 1, 10), -ESTALE);
	assert_int_equal(store_session_release(a, 999999, "ra", 1, 10),
	    -ENOENT);
	assert_non_null(strstr(store_errmsg(a), "999999"));
	assert_int_equal(query_int("SELECT count(*) FROM events WHERE kind = "
	    "'session.released'"), 0);

	assert_int_equal(store_session_release(a, s.id, "ra", 1, 20), 0);
	assert_int_equal(store_session_get(a, s.id, &t), 0);
	assert_string_equal(t.owner, "");
	assert_int_equal(t.epoch, 1);
	assert_int_equal(t.status, SESSION_STATUS_READY);
	assert_int_equal(t.attempts, 3);
	assert_false(t.graceful_shutdown);
	assert_string_equal(t.proxy_ip, "10.1.0.1");
	assert_int_equal(store_session_fingerprint(a, &count, &gen2), 0);
	assert_true(gen2 > gen);
	assert_int_equal(query_int("SELECT count(*) FROM events WHERE kind = "
	    "'session.released' AND actor = 'ra' AND at = 20"), 1);
	/* Once given up, it is no longer ra's to report on or give up. */
	assert_int_equal(store_session_report(a, s.id, "ra", 1, &rep, 21),
	    -ESTALE);
	assert_int_equal(store_session_release(a, s.id, "ra", 1, 22), -ESTALE);

	/* Another instance's claim takes it, at a new epoch, proxy and all. */
	add_instance(b, "rb", 2);
	assert_int_equal(store_session_claim(b, "rb", 0, &claimed), 0);
	assert_int_equal(claimed, 1);
	assert_int_equal(store_session_get(b, s.id, &t), 0);
	assert_string_equal(t.owner, "rb");
	assert_int_equal(t.epoch, 2);
	assert_int_equal(store_proxy_assign(b, pid, s.id, s.phone, "us", false,
	    "reactivated", "rb", 30), 0);
	assert_int_equal(store_session_get_by_phone(a, "+1222000001", &t), 0);
	assert_string_equal(t.owner, "ra");
	store_close(a);
	store_close(b);
}

#define WAKE_WAIT_MS	5000	/* a wake-up arrives within this */
#define QUIET_WAIT_MS	300	/* ...and none comes within this */

static bool
readable(int fd, int ms)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	int		r;

	while ((r = poll(&pfd, 1, ms)) < 0 && errno == EINTR)
		continue;
	return r > 0;
}

/*
 * st's wake-up descriptor becomes readable, the drain counts at least
 * one wake-up, and then none.
 */
static void
expect_woken(struct store *st, const char *after)
{
	int64_t	t0 = util_mono_ms();
	int	fd, n = 0, r;

	while (n == 0) {
		if (util_mono_ms() - t0 > WAKE_WAIT_MS)
			fail_msg("no wake-up within %d ms after %s",
			    WAKE_WAIT_MS, after);
		fd = store_wake_fd(st);
		assert_true(fd >= 0);
		if (!readable(fd, 100))
			continue;
		r = store_wake_drain(st);
		assert_true(r >= 0);
		n += r;
	}
	assert_int_equal(store_wake_drain(st), 0);
}

/* No wake-up comes (the descriptor may stir, the drain counts none). */
static void
expect_quiet(struct store *st)
{
	int	fd = store_wake_fd(st);

	assert_true(fd >= 0);
	if (readable(fd, QUIET_WAIT_MS))
		assert_int_equal(store_wake_drain(st), 0);
}

/*
 * Peers are woken, by NOTIFY on commit, when an instance gives sessions
 * up (one, or all of them at a stop), joins, stops or is declared dead;
 * not by a write that failed, nor by their own writes.  A lost listening
 * connection is reopened by the drain.
 */
static void
test_wake(void **state)
{
	struct store	*a, *b;
	struct session	 s;
	char		 app[64], extra[96], sql[256];
	int		 claimed, dead, deleted, fd, i;
	int64_t		 pid;

	(void)state;
	snprintf(app, sizeof app, "respawn_wake_%d", (int)getpid());
	snprintf(extra, sizeof extra, "&application_name=%s", app);
	new_schema(extra);
	a = open_url();
	b = open_url();
	add_sessions(b, 4, "+1211");
	add_instance(b, "wb", 1);
	assert_int_equal(store_session_claim(b, "wb", 0, &claimed), 0);
	assert_int_equal(claimed, 4);
	fd = store_wake_fd(a);
	assert_true(fd >= 0);
	assert_int_equal(store_wake_fd(a), fd);
	assert_int_equal(store_wake_drain(a), 0);

	assert_int_equal(store_session_get_by_phone(b, "+1211000000", &s), 0);
	assert_int_equal(store_session_release(b, s.id, "wb", 1, 1), 0);
	expect_woken(a, "store_session_release");
	assert_int_equal(store_session_release(b, s.id, "wb", 1, 1), -ESTALE);
	expect_quiet(a);
	assert_int_equal(store_session_release_all(b, "wb", true, 2), 0);
	expect_woken(a, "store_session_release_all");
	add_instance(b, "wc", 2);
	expect_woken(a, "store_instance_register");
	assert_int_equal(store_instance_set_status(b, "wc", INSTANCE_RUNNING,
	    3), 0);
	expect_quiet(a);
	assert_int_equal(store_instance_set_status(b, "wc", INSTANCE_STOPPED,
	    3), 0);
	expect_woken(a, "store_instance_set_status(stopped)");
	add_instance(b, "wd", 4);
	expect_woken(a, "store_instance_register");
	sleep_ms(50);
	assert_int_equal(store_instance_reap(b, "wb", 0, 10, 3600000, &dead,
	    &deleted), 0);
	assert_int_equal(dead, 1);
	expect_woken(a, "store_instance_reap");

	/* a's own writes do not wake a. */
	add_instance(a, "wa", 5);
	assert_int_equal(store_session_claim(a, "wa", 0, &claimed), 0);
	assert_int_equal(claimed, 2);
	assert_int_equal(store_session_release_all(a, "wa", true, 6), 0);
	expect_quiet(a);

	/* The listening connection is killed: the drain reopens it. */
	snprintf(sql, sizeof sql, "SELECT pid FROM pg_stat_activity WHERE "
	    "application_name = '%s' AND query LIKE 'LISTEN%%'", app);
	pid = pg_sql(pg_base, sql);
	assert_true(pid > 0);
	snprintf(sql, sizeof sql, "SELECT count(pg_terminate_backend(%lld, "
	    "5000))", (long long)pid);
	assert_int_equal(pg_sql(pg_base, sql), 1);
	assert_true(readable(fd, WAKE_WAIT_MS));
	for (i = 0; i < 50; i++) {
		snprintf(sql, sizeof sql, "SELECT count(*) FROM "
		    "pg_stat_activity WHERE application_name = '%s' AND query "
		    "LIKE 'LISTEN%%' AND pid <> %lld", app, (long long)pid);
		if (pg_sql(pg_base, sql) == 1)
			break;
		assert_int_equal(store_wake_drain(a), 0);
		if ((fd = store_wake_fd(a)) >= 0)
			(void)readable(fd, 100);
	}
	assert_true(i < 50);
	assert_true(store_wake_fd(a) >= 0);
	assert_int_equal(store_session_claim(b, "wb", 0, &claimed), 0);
	assert_int_equal(claimed, 2);
	assert_int_equal(store_session_release_all(b, "wb", false, 7), 0);
	expect_woken(a, "store_session_release_all after a reconnection");
	store_close(a);
	store_close(b);
}

/*
 * A proxy goes to a session only when idle, or active for that very
 * session (reactivation), or shared by its own instance
 * (RESPAWN_SESSIONS_PER_IP): never to a peer's session, nor away from a
 * session that gave it up and keeps it for its next owner.
 */
static void
test_proxy_assign_fleet(void **state)
{
	struct store	*a, *b;
	struct session	 x, y, z;
	int64_t		 p1, p2;
	int		 claimed;

	(void)state;
	new_schema(NULL);
	a = open_url();
	b = open_url();
	add_sessions(a, 4, "+1232");
	add_instance(a, "pa", 1);
	add_instance(b, "pb", 2);
	assert_int_equal(store_session_claim(a, "pa", 0, &claimed), 0);
	assert_int_equal(claimed, 2);
	assert_int_equal(store_session_claim(b, "pb", 0, &claimed), 0);
	assert_int_equal(claimed, 2);
	assert_int_equal(store_session_get_by_phone(a, "+1232000000", &x), 0);
	assert_int_equal(store_session_get_by_phone(a, "+1232000001", &z), 0);
	assert_int_equal(store_session_get_by_phone(a, "+1232000002", &y), 0);
	assert_string_equal(x.owner, "pa");
	assert_string_equal(z.owner, "pa");
	assert_string_equal(y.owner, "pb");
	add_proxy(a, "10.2.0.1", &p1);
	add_proxy(a, "10.2.0.2", &p2);

	assert_int_equal(store_proxy_assign(a, p1, x.id, x.phone, "us", false,
	    "purchased", "pa", 10), 0);
	/* pb's pool thought it idle: refused, saying why. */
	assert_int_equal(store_proxy_assign(b, p1, y.id, y.phone, "us", false,
	    "reused", "pb", 11), -EBUSY);
	assert_non_null(strstr(store_errmsg(b), "in use"));
	assert_non_null(strstr(store_errmsg(b), "10.2.0.1"));
	assert_int_equal(store_session_get(b, y.id, &y), 0);
	assert_string_equal(y.proxy_ip, "");
	assert_int_equal(query_int("SELECT count(*) FROM assignments"), 1);
	/* Reactivation for the same session, and sharing within pa. */
	assert_int_equal(store_proxy_assign(a, p1, x.id, x.phone, "us", false,
	    "reactivated", "pa", 12), 0);
	assert_int_equal(store_proxy_assign(a, p1, z.id, z.phone, "us", false,
	    "reused", "pa", 13), 0);
	/* Gone or released: -ENOENT as before. */
	assert_int_equal(store_proxy_assign(a, 999999, x.id, x.phone, "us",
	    false, "reused", "pa", 14), -ENOENT);

	/* x gives p2 up with itself: p2 stays x's, for x's next owner. */
	assert_int_equal(store_proxy_assign(a, p2, x.id, x.phone, "us", false,
	    "purchased", "pa", 20), 0);
	assert_int_equal(store_proxy_unassign(a, p2, true, 21, 0, 0), 0);
	assert_int_equal(store_session_release(a, x.id, "pa", 1, 22), 0);
	assert_int_equal(store_proxy_assign(a, p2, z.id, z.phone, "us", false,
	    "reused", "pa", 23), -EBUSY);
	assert_int_equal(store_proxy_assign(b, p2, y.id, y.phone, "us", false,
	    "reused", "pb", 23), -EBUSY);
	assert_int_equal(store_session_claim(b, "pb", 0, &claimed), 0);
	assert_int_equal(claimed, 0);	/* pb has its share */
	assert_int_equal(store_instance_set_status(a, "pa", INSTANCE_STOPPED,
	    24), 0);
	/*
	 * x, released, goes; z stays pa's: its heartbeat is younger than the
	 * lease, and a status is no proof that its connector stopped.
	 */
	assert_int_equal(store_session_claim(b, "pb", 0, &claimed), 0);
	assert_int_equal(claimed, 1);
	assert_int_equal(store_session_get(b, z.id, &z), 0);
	assert_string_equal(z.owner, "pa");
	assert_int_equal(store_proxy_assign(b, p2, x.id, x.phone, "us", false,
	    "reactivated", "pb", 25), 0);
	/* Idle again, anyone may have it. */
	assert_int_equal(store_proxy_unassign(b, p2, false, 26, 0, 0), 0);
	assert_int_equal(store_proxy_assign(b, p2, y.id, y.phone, "us", false,
	    "reused", "pb", 27), 0);
	store_close(a);
	store_close(b);
}

/*
 * A daemon restarted in place takes its predecessor's sessions in the
 * transaction that registers it; a peer never finds them free: not while
 * the predecessor is marked dead with a fresh heartbeat, not after.
 */
static void
test_succession(void **state)
{
	struct store	*st, *peer;
	struct instance	 in, seen;
	struct session	 s;
	const char	 old[2][STORE_ID_LEN] = { "sa", "nobody" };
	int		 claimed, taken = -1;
	int64_t		 hb;

	(void)state;
	new_schema(NULL);
	st = open_url();
	peer = open_url();
	assert_int_equal(store_set_lease(st, 60000), 0);
	assert_int_equal(store_set_lease(peer, 60000), 0);
	add_sessions(st, 10, "+1777");
	add_instance(st, "sa", 1);
	assert_int_equal(store_session_claim(st, "sa", 1, &claimed), 0);
	assert_int_equal(claimed, 5 + 5);	/* alone: everything */
	add_instance(peer, "sp", 2);

	/* Marked dead, with its heartbeat fresh: its sessions stay put. */
	memset(&seen, 0, sizeof seen);
	(void)util_strlcpy(seen.id, "sa", sizeof seen.id);
	assert_int_equal(store_instance_list(st, find_instance_cb, &seen), 0);
	hb = seen.heartbeat_at;
	sleep_ms(20);
	assert_int_equal(store_instance_set_status(st, "sa", INSTANCE_DEAD, 3),
	    0);
	assert_int_equal(store_instance_list(st, find_instance_cb, &seen), 0);
	assert_int_equal(seen.status, INSTANCE_DEAD);
	assert_int_equal(seen.heartbeat_at, hb);
	assert_int_equal(store_session_claim(peer, "sp", 4, &claimed), 0);
	assert_int_equal(claimed, 0);

	/* The successor: registered, sa's sessions its own, epoch + 1. */
	memset(&in, 0, sizeof in);
	(void)util_strlcpy(in.id, "sb", sizeof in.id);
	(void)util_strlcpy(in.hostname, "host", sizeof in.hostname);
	in.pid = 2;
	in.started_at = 5;
	in.status = INSTANCE_STARTING;
	assert_int_equal(store_instance_succeed(st, &in, old, 2, &taken), 0);
	assert_int_equal(taken, 10);
	assert_int_equal(query_int("SELECT count(*) FROM sessions WHERE "
	    "owner_instance = 'sb' AND epoch = 2"), 10);
	assert_int_equal(store_session_get_by_phone(st, "+1777000003", &s), 0);
	assert_string_equal(s.owner, "sb");
	/* The peer's share is half; it owns none, and none is free. */
	assert_int_equal(store_session_claim(peer, "sp", 6, &claimed), 0);
	assert_int_equal(claimed, 0);
	/* Registered once: the same again is a duplicate. */
	assert_int_equal(store_instance_succeed(st, &in, old, 0, &taken),
	    -EEXIST);
	assert_int_equal(store_instance_succeed(st, &in, old,
	    STORE_SUCCEED_MAX + 1, &taken), -E2BIG);
	store_close(peer);
	store_close(st);
}

/*
 * A lock held elsewhere past lock_timeout: -EBUSY, and inside a batch
 * only that call is undone.
 */
static void
test_lock_timeout(void **state)
{
	struct store		*st;
	struct session_new	 sn;
	struct session		 s;
	PGconn			*c;
	PGresult		*res;
	int64_t			 id;

	(void)state;
	new_schema(NULL);
	st = open_url();
	add_instance(st, "lk", 1);
	c = PQconnectdb(dburl);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, "BEGIN; SELECT 1 FROM instances WHERE id = 'lk' FOR "
	    "UPDATE");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);

	assert_int_equal(store_batch_begin(st), 0);
	memset(&sn, 0, sizeof sn);
	(void)util_strlcpy(sn.user_id, "u", sizeof sn.user_id);
	(void)util_strlcpy(sn.country, "us", sizeof sn.country);
	(void)util_strlcpy(sn.phone, "+1888000001", sizeof sn.phone);
	assert_int_equal(store_session_add(st, &sn, "test", 1, &id), 0);
	assert_int_equal(store_instance_heartbeat(st, "lk", 1, false, 0, 0),
	    -EBUSY);
	assert_non_null(strstr(store_errmsg(st), "lock"));
	(void)util_strlcpy(sn.phone, "+1888000002", sizeof sn.phone);
	assert_int_equal(store_session_add(st, &sn, "test", 1, &id), 0);
	assert_int_equal(store_batch_end(st), 0);

	res = PQexec(c, "COMMIT");
	PQclear(res);
	PQfinish(c);
	assert_int_equal(store_instance_heartbeat(st, "lk", 1, false, 0, 0), 0);
	assert_int_equal(store_session_get_by_phone(st, "+1888000001", &s), 0);
	assert_int_equal(store_session_get_by_phone(st, "+1888000002", &s), 0);
	store_close(st);
}

#define OPENERS	4

/* Daemons starting at once on an empty database migrate it once. */
static void
test_concurrent_migrations(void **state)
{
	struct store	*st;
	pid_t		 pids[OPENERS];
	int		 go[2], i, status, v;
	char		 c;

	(void)state;
	new_schema(NULL);
	assert_int_equal(pipe(go), 0);
	for (i = 0; i < OPENERS; i++) {
		if ((pids[i] = fork()) == 0) {
			char	err[STORE_ERROR_LEN];

			close(go[1]);
			if (read(go[0], &c, 1) != 0)
				_exit(3);
			if (store_open(dburl, &st, err) != 0) {
				fprintf(stderr, "opener: %s\n", err);
				_exit(1);
			}
			store_close(st);
			_exit(0);
		}
		assert_true(pids[i] > 0);
	}
	close(go[0]);
	close(go[1]);		/* every opener goes now */
	for (i = 0; i < OPENERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	st = open_url();
	assert_int_equal(store_schema_version(st, &v), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	store_close(st);
	assert_int_equal(query_int("SELECT count(*) FROM meta"), 2);
}

/* Kill the store's server process, as an operator or a failover would. */
static void
terminate(const char *appname)
{
	char	sql[256];

	snprintf(sql, sizeof sql, "SELECT count(pg_terminate_backend(pid, "
	    "5000)) FROM pg_stat_activity WHERE application_name = '%s'",
	    appname);
	assert_int_equal(pg_sql(pg_base, sql), 1);
}

/*
 * The connection is killed.  Idle, the server's goodbye is noticed before
 * the next call, which runs on a new connection.  Inside a batch, the
 * call that finds out fails with -EIO, the writes before the loss are
 * gone and store_batch_end says so; those after it commit.
 */
static void
test_connection_terminated(void **state)
{
	struct store		*st;
	struct session_new	 sn;
	struct session		 s;
	char			 app[64], extra[96];
	int64_t			 id;

	(void)state;
	snprintf(app, sizeof app, "respawn_term_%d", (int)getpid());
	snprintf(extra, sizeof extra, "&application_name=%s", app);
	new_schema(extra);
	st = open_url();
	add_sessions(st, 1, "+1999");
	terminate(app);
	assert_int_equal(store_session_get_by_phone(st, "+1999000000", &s), 0);

	memset(&sn, 0, sizeof sn);
	(void)util_strlcpy(sn.user_id, "u", sizeof sn.user_id);
	(void)util_strlcpy(sn.country, "us", sizeof sn.country);
	assert_int_equal(store_batch_begin(st), 0);
	(void)util_strlcpy(sn.phone, "+1999000001", sizeof sn.phone);
	assert_int_equal(store_session_add(st, &sn, "test", 1, &id), 0);
	terminate(app);
	(void)util_strlcpy(sn.phone, "+1999000002", sizeof sn.phone);
	assert_int_equal(store_session_add(st, &sn, "test", 1, &id), -EIO);
	(void)util_strlcpy(sn.phone, "+1999000003", sizeof sn.phone);
	assert_int_equal(store_session_add(st, &sn, "test", 1, &id), 0);
	assert_int_equal(store_batch_end(st), -EIO);
	assert_non_null(strstr(store_errmsg(st), "batch"));
	assert_int_equal(store_session_get_by_phone(st, "+1999000001", &s),
	    -ENOENT);
	assert_int_equal(store_session_get_by_phone(st, "+1999000002", &s),
	    -ENOENT);
	assert_int_equal(store_session_get_by_phone(st, "+1999000003", &s), 0);
	store_close(st);
}

static int
run_cluster(const char *script, const char *verb, const char *dir)
{
	char	cmd[2048];

	snprintf(cmd, sizeof cmd, "'%s' %s '%s' >/dev/null", script, verb,
	    dir);
	return system(cmd);
}

#define RESTART_WAIT_MS	30000

/*
 * An aborted batch leaves nothing of its writes, however deep, and the
 * connection goes on: the next write commits on its own.
 */
static void
test_batch_abort(void **state)
{
	struct store	*st;
	struct session	 s;

	(void)state;
	new_schema(NULL);
	st = open_url();
	assert_int_equal(store_batch_abort(st), -EINVAL);
	assert_int_equal(store_batch_begin(st), 0);
	add_sessions(st, 3, "+1445");
	assert_int_equal(store_batch_abort(st), 0);
	assert_int_equal(store_batch_end(st), -EINVAL);
	assert_int_equal(store_session_get_by_phone(st, "+1445000000", &s),
	    -ENOENT);
	add_sessions(st, 1, "+1446");
	store_close(st);
	st = open_url();
	assert_int_equal(store_session_get_by_phone(st, "+1446000000", &s), 0);
	assert_int_equal(store_session_get_by_phone(st, "+1445000001", &s),
	    -ENOENT);
	store_close(st);
}

/*
 * The whole server goes away and comes back: calls fail with -EIO, at
 * once, meanwhile (never hang, never abort), and succeed again once it is
 * back.
 */
static void
test_cluster_restart(void **state)
{
	const char	*script = getenv("RESPAWN_TEST_PG_CLUSTER");
	const char	*dir = getenv("RESPAWN_TEST_PG_DIR");
	struct store	*st;
	struct session	 s;
	int64_t		 t0, took, count, gen;
	int		 i, r, fd, failures = 0;

	(void)state;
	if (script == NULL || dir == NULL)
		skip();
	new_schema(NULL);
	st = open_url();
	add_sessions(st, 1, "+1444");
	fd = store_wake_fd(st);
	assert_true(fd >= 0);
	assert_int_equal(run_cluster(script, "stop", dir), 0);
	/* The listening socket says so, and the drain fails, at once. */
	assert_true(readable(fd, WAKE_WAIT_MS));
	t0 = util_mono_ms();
	assert_int_equal(store_wake_drain(st), -EIO);
	assert_int_equal(store_wake_fd(st), -EIO);
	assert_true(util_mono_ms() - t0 < 2000);
	for (i = 0; i < 10; i++) {
		t0 = util_mono_ms();
		r = store_session_get_by_phone(st, "+1444000000", &s);
		took = util_mono_ms() - t0;
		assert_int_equal(r, -EIO);
		assert_true(took < 2000);
		assert_true(strlen(store_errmsg(st)) > 0);
		sleep_ms(50);
	}
	assert_int_equal(run_cluster(script, "start", dir), 0);
	t0 = util_mono_ms();
	while ((r = store_session_fingerprint(st, &count, &gen)) != 0) {
		assert_int_equal(r, -EIO);
		failures++;
		assert_true(util_mono_ms() - t0 < RESTART_WAIT_MS);
		sleep_ms(100);
	}
	print_message("back %lld ms after the restart, %d calls failed "
	    "meanwhile\n", (long long)(util_mono_ms() - t0), failures);
	/* The wake-ups come back too, within the backoff's bound. */
	while ((fd = store_wake_fd(st)) < 0) {
		assert_int_equal(fd, -EIO);
		assert_true(util_mono_ms() - t0 < RESTART_WAIT_MS);
		sleep_ms(100);
	}
	assert_int_equal(store_wake_drain(st), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_session_get_by_phone(st, "+1444000000", &s), 0);
	add_sessions(st, 1, "+1445");
	store_close(st);
}

/*
 * A server restarted while the connection was idle: the first call
 * afterwards runs on a new connection instead of failing on the old one
 * (the server said goodbye on it; the store notices before the call).
 */
static void
test_cluster_restart_idle(void **state)
{
	const char	*script = getenv("RESPAWN_TEST_PG_CLUSTER");
	const char	*dir = getenv("RESPAWN_TEST_PG_DIR");
	struct store	*st;
	struct session	 s;
	int64_t		 count, gen;

	(void)state;
	if (script == NULL || dir == NULL)
		skip();
	new_schema(NULL);
	st = open_url();
	add_sessions(st, 1, "+1446");
	assert_int_equal(run_cluster(script, "stop", dir), 0);
	assert_int_equal(run_cluster(script, "start", dir), 0);
	assert_int_equal(store_session_fingerprint(st, &count, &gen), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_session_get_by_phone(st, "+1446000000", &s), 0);
	store_close(st);
}

static int
teardown(void **state)
{
	char	sql[128];
	int	i;

	(void)state;
	for (i = 0; i < nschemas; i++) {
		snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE",
		    schemas[i]);
		(void)pg_sql(pg_base, sql);
	}
	nschemas = 0;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fair_share),
		cmocka_unit_test(test_lease_db_clock),
		cmocka_unit_test(test_succession),
		cmocka_unit_test(test_stale_epoch),
		cmocka_unit_test(test_fleet_share),
		cmocka_unit_test(test_session_release),
		cmocka_unit_test(test_wake),
		cmocka_unit_test(test_proxy_assign_fleet),
		cmocka_unit_test(test_lock_timeout),
		cmocka_unit_test(test_concurrent_migrations),
		cmocka_unit_test(test_connection_terminated),
		cmocka_unit_test(test_batch_abort),
		cmocka_unit_test(test_cluster_restart),
		cmocka_unit_test(test_cluster_restart_idle),
	};

	pg_base = getenv("RESPAWN_TEST_PG_URL");
	if (pg_base == NULL || *pg_base == '\0') {
		printf("[  SKIPPED ] store on PostgreSQL: RESPAWN_TEST_PG_URL "
		    "is not set\n");
		return 0;
	}
	return cmocka_run_group_tests_name("store, PostgreSQL only", tests,
	    NULL, teardown);
}
