/*
 * Tests of the state store: migrations (and refusing a newer schema),
 * session records and their constraints, the audit log written in the
 * same transaction, batches, ownership and fencing, proxies and intents,
 * the hold on an idle IP, a phone's reconnect gaps, the paged reads of
 * events and recovery runs, the fleet operations (PostgreSQL only), and
 * two processes writing at once.
 *
 * One table of cases runs on every backend: on SQLite (a new file per
 * case), then on PostgreSQL when RESPAWN_TEST_PG_URL names a database
 * (a new schema per case, through libpq's options=-csearch_path).
 * tests/integration/test_store_pg.sh starts a throwaway cluster for that;
 * without the variable the PostgreSQL run is skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "base/util.h"
#include "store/store.h"

#define SCHEMAS_MAX	64

static char tmpdir[] = "/tmp/respawn-test-store-XXXXXX";
static const char *pg_base;	/* RESPAWN_TEST_PG_URL */
static bool	on_pg;		/* the group running now */
static char	dburl[1024];	/* the current case's database */
static int	dbseq;
static char	schemas[SCHEMAS_MAX][64];
static int	nschemas;

/* The SQL of the backend under test, where the two differ. */
#define BOTH(sqlite, pg)	(on_pg ? (pg) : (sqlite))

static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Run SQL on a PostgreSQL connection of its own; the integer it returns. */
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

/* Each case gets a new database: a file, or a schema. */
static struct store *
open_new(void)
{
	struct store	*st;
	char		 err[STORE_ERROR_LEN], sql[128];

	if (on_pg) {
		assert_true(nschemas < SCHEMAS_MAX);
		snprintf(schemas[nschemas], sizeof schemas[nschemas],
		    "store_t%d_%d", (int)getpid(), ++dbseq);
		snprintf(sql, sizeof sql, "CREATE SCHEMA %s",
		    schemas[nschemas]);
		(void)pg_sql(pg_base, sql);
		snprintf(dburl, sizeof dburl, "%s%soptions=-csearch_path%%3D%s",
		    pg_base, strchr(pg_base, '?') != NULL ? "&" : "?",
		    schemas[nschemas]);
		nschemas++;
	} else {
		snprintf(dburl, sizeof dburl, "%s/t%d.db", tmpdir, ++dbseq);
	}
	if (store_open(dburl, &st, err) != 0)
		fail_msg("store_open: %s", err);
	return st;
}

static void
fill(struct session_new *n, const char *user, const char *phone,
    const char *cc)
{
	memset(n, 0, sizeof *n);
	(void)util_strlcpy(n->user_id, user, sizeof n->user_id);
	(void)util_strlcpy(n->phone, phone, sizeof n->phone);
	(void)util_strlcpy(n->country, cc, sizeof n->country);
}

/* Run one SQL query on the database directly and return its integer. */
static int64_t
query_int(const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if (on_pg)
		return pg_sql(dburl, sql);
	assert_int_equal(sqlite3_open(dburl, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
exec_sql(const char *sql)
{
	sqlite3	*db;

	if (on_pg) {
		(void)pg_sql(dburl, sql);
		return;
	}
	assert_int_equal(sqlite3_open(dburl, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_migrations(void **state)
{
	struct store	*st;
	char		 err[STORE_ERROR_LEN];
	int		 v;

	(void)state;
	st = open_new();
	assert_int_equal(store_schema_version(st, &v), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	store_close(st);
	/* Every table of the data model exists. */
	assert_int_equal(query_int(BOTH("SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name IN ('sessions', 'proxies', "
	    "'assignments', 'instances', 'purchase_intents', 'recovery_runs', "
	    "'events', 'refused_ips')", "SELECT count(*) FROM "
	    "information_schema.tables WHERE table_schema = current_schema() "
	    "AND table_name IN ('sessions', 'proxies', 'assignments', "
	    "'instances', 'purchase_intents', 'recovery_runs', 'events', "
	    "'refused_ips')")), 8);
	if (!on_pg)
		assert_true(query_int("PRAGMA journal_mode = WAL") >= 0);

	/* Opening again is a no-op. */
	assert_int_equal(store_open(dburl, &st, err), 0);
	store_close(st);

	/* A schema from a newer respawn is refused, not touched. */
	exec_sql(BOTH("PRAGMA user_version = 99", "UPDATE meta SET value = 99 "
	    "WHERE key = 'schema_version'"));
	assert_int_equal(store_open(dburl, &st, err), -EPROTO);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(query_int(BOTH("PRAGMA user_version", "SELECT value "
	    "FROM meta WHERE key = 'schema_version'")), 99);
}

/* What is not a usable database fails with a message, never a secret. */
static void
test_bad_targets(void **state)
{
	struct store	*st;
	char		 err[STORE_ERROR_LEN];
	FILE		*f;

	(void)state;
	snprintf(dburl, sizeof dburl, "%s/garbage.db", tmpdir);
	f = fopen(dburl, "w");
	fputs("this is not a database, just text that is long enough to be "
	    "read as a header by SQLite and rejected by it\n", f);
	fclose(f);
	assert_int_not_equal(store_open(dburl, &st, err), 0);
	assert_non_null(strstr(err, "garbage.db"));

	/* Nothing listens on port 1: refused at once, not a hang. */
	assert_int_equal(store_open("postgresql://respawn:s3cret-pw@127.0.0.1:"
	    "1/none?connect_timeout=2", &st, err), -EIO);
	assert_non_null(strstr(err, "127.0.0.1"));
	assert_null(strstr(err, "s3cret-pw"));
	assert_int_equal(store_open("POSTGRES://respawn:s3cret-pw@127.0.0.1:"
	    "1/none?connect_timeout=2", &st, err), -EIO);
	assert_null(strstr(err, "s3cret-pw"));
}

/*
 * A database URL the store refuses, or libpq cannot parse: the message
 * says why without the password, wherever libpq would have quoted it.
 */
static void
test_pg_url_errors(void **state)
{
	static const struct {
		const char	*url;
		const char	*secrets[2];	/* never in the message */
		const char	*says;		/* in the message */
	} cases[] = {
		{ "postgresql://u:pwA1@[bad/db", { "pwA1", NULL }, "URI" },
		/* The user information ends at the last '@', as for libpq. */
		{ "postgresql://u:pwA2@pwB2@127.0.0.1:1/db?connect_timeout=2",
		  { "pwA2", "pwB2" }, "127.0.0.1" },
		{ "postgresql://u:pwA3/pwB3@127.0.0.1:1/db",
		  { "pwA3", "pwB3" }, "percent-encoded" },
		{ "postgresql://u:pwA4%zzpwB4@127.0.0.1:1/db",
		  { "pwA4", "pwB4" }, "percent-encoded" },
		{ "postgresql://u@127.0.0.1:1/db?password=pwA5=pwB5",
		  { "pwA5", "pwB5" }, "password" },
		{ "postgresql://u@127.0.0.1:1/db?sslmode=bad&password=pwA6",
		  { "pwA6", NULL }, "sslmode" },
		{ "postgresql://u:pwA7@127.0.0.1:1/db?connect_timeout=2&"
		  "password=pwB7", { "pwA7", "pwB7" }, "127.0.0.1" },
	};
	struct store	*st;
	char		 err[STORE_ERROR_LEN];
	size_t		 i, j;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		print_message("case %zu: %s\n", i, cases[i].url);
		err[0] = '\0';
		assert_int_not_equal(store_open(cases[i].url, &st, err), 0);
		print_message("  %s\n", err);
		for (j = 0; j < nitems(cases[i].secrets); j++)
			if (cases[i].secrets[j] != NULL)
				assert_null(strstr(err, cases[i].secrets[j]));
		assert_non_null(strstr(err, cases[i].says));
	}
}

static void
test_sessions(void **state)
{
	struct store		*st;
	struct session_new	 n;
	struct session		 s;
	int64_t			 id1, id2, id;

	(void)state;
	st = open_new();
	fill(&n, "u1", "+14155551234", "us");
	n.priority = 5;
	assert_int_equal(store_session_add(st, &n, "test", 1000, &id1), 0);
	fill(&n, "u2", "+4915112345678", "de");
	n.proxy_type = PROXY_TYPE_RESIDENTIAL;
	n.desired = SESSION_DESIRED_STOPPED;
	assert_int_equal(store_session_add(st, &n, "test", 2000, &id2), 0);
	assert_true(id2 > id1);

	/* The same phone twice is a duplicate, whoever adds it. */
	fill(&n, "u3", "+14155551234", "us");
	assert_int_equal(store_session_add(st, &n, "test", 3000, &id), -EEXIST);

	assert_int_equal(store_session_get(st, id1, &s), 0);
	assert_string_equal(s.user_id, "u1");
	assert_string_equal(s.phone, "+14155551234");
	assert_string_equal(s.country, "us");
	assert_int_equal(s.priority, 5);
	assert_int_equal(s.proxy_type, PROXY_TYPE_ISP);
	assert_int_equal(s.desired, SESSION_DESIRED_RUNNING);
	assert_int_equal(s.status, SESSION_STATUS_NEW);
	assert_int_equal(s.created_at, 1000);
	assert_string_equal(s.owner, "");
	assert_string_equal(s.proxy_ip, "");

	assert_int_equal(store_session_get_by_phone(st, "+4915112345678", &s),
	    0);
	assert_int_equal(s.id, id2);
	assert_int_equal(s.proxy_type, PROXY_TYPE_RESIDENTIAL);
	assert_int_equal(s.desired, SESSION_DESIRED_STOPPED);

	assert_int_equal(store_session_set_desired(st, id2,
	    SESSION_DESIRED_RUNNING, "test", 4000), 0);
	assert_int_equal(store_session_get(st, id2, &s), 0);
	assert_int_equal(s.desired, SESSION_DESIRED_RUNNING);
	assert_int_equal(s.updated_at, 4000);

	assert_int_equal(store_session_remove(st, id1, "test", 5000), 0);
	assert_int_equal(store_session_get(st, id1, &s), -ENOENT);
	assert_int_equal(store_session_remove(st, id1, "test", 5000), -ENOENT);
	assert_int_equal(store_session_set_desired(st, id1,
	    SESSION_DESIRED_STOPPED, "test", 5000), -ENOENT);
	assert_int_equal(store_session_get_by_phone(st, "+10000000000", &s),
	    -ENOENT);
	store_close(st);

	/* Every change left one audit event, failed ones none. */
	assert_int_equal(query_int("SELECT count(*) FROM events"), 4);
	assert_int_equal(query_int("SELECT count(*) FROM events WHERE kind = "
	    "'session.removed'"), 1);
}

/*
 * Many sessions in one write: a phone already taken (in the store or
 * earlier in the list) is skipped with id 0, any other failure undoes all
 * of them, also inside an open batch, whose other writes stay.
 */
static void
test_add_many(void **state)
{
	struct store		*st;
	struct session_new	 v[4], n;
	struct session		 s;
	int64_t			 ids[4], id;

	(void)state;
	st = open_new();
	fill(&n, "u0", "+14155550000", "us");
	assert_int_equal(store_session_add(st, &n, "test", 1000, &id), 0);
	fill(&v[0], "u1", "+14155550001", "us");
	fill(&v[1], "u2", "+14155550000", "us");	/* in the store */
	fill(&v[2], "u3", "+4915100000003", "de");
	v[2].desired = SESSION_DESIRED_STOPPED;
	/* What an import brings from the system it leaves. */
	v[2].last_activity_at = 1500;
	v[2].graceful_shutdown = true;
	v[2].shutdown_at = 1600;
	fill(&v[3], "u4", "+14155550001", "us");	/* earlier in v */
	assert_int_equal(store_session_add_many(st, v, 4, "test", 2000, ids),
	    0);
	assert_true(ids[0] > id && ids[2] > ids[0]);
	assert_int_equal(ids[1], 0);
	assert_int_equal(ids[3], 0);
	assert_int_equal(store_session_get(st, ids[2], &s), 0);
	assert_string_equal(s.user_id, "u3");
	assert_int_equal(s.desired, SESSION_DESIRED_STOPPED);
	assert_int_equal(s.created_at, 2000);
	assert_int_equal(s.last_activity_at, 1500);
	assert_true(s.graceful_shutdown);
	assert_int_equal(s.shutdown_at, 1600);
	assert_int_equal(store_session_get(st, ids[0], &s), 0);
	assert_int_equal(s.last_activity_at, 0);
	assert_false(s.graceful_shutdown);
	assert_int_equal(s.shutdown_at, 0);

	/* The database refuses the last: none of them is kept. */
	fill(&v[0], "u5", "+14155550005", "us");
	fill(&v[1], "u6", "+14155550006", "us");
	fill(&v[2], "u7", "+14155550007", "usa");
	v[2].country[2] = 'a';
	ids[0] = -7;
	assert_int_equal(store_session_add_many(st, v, 3, "test", 3000, ids),
	    -EINVAL);
	assert_int_equal(ids[0], -7);
	assert_int_equal(store_session_get_by_phone(st, "+14155550005", &s),
	    -ENOENT);

	/* Inside a batch: undone alone, the batch's other write kept. */
	assert_int_equal(store_batch_begin(st), 0);
	fill(&n, "u8", "+14155550008", "us");
	assert_int_equal(store_session_add(st, &n, "test", 4000, &id), 0);
	assert_int_equal(store_session_add_many(st, v, 3, "test", 4000, ids),
	    -EINVAL);
	assert_int_equal(store_batch_end(st), 0);
	assert_int_equal(store_session_get_by_phone(st, "+14155550008", &s),
	    0);
	assert_int_equal(store_session_get_by_phone(st, "+14155550006", &s),
	    -ENOENT);

	assert_int_equal(store_session_add_many(st, v, 0, "test", 5000, ids),
	    0);
	assert_int_equal(store_session_add_many(st, v, STORE_ADD_MANY_MAX + 1,
	    "test", 5000, ids), -E2BIG);
	store_close(st);
	assert_int_equal(query_int("SELECT count(*) FROM sessions"), 4);
	assert_int_equal(query_int("SELECT count(*) FROM events WHERE kind = "
	    "'session.added'"), 4);
}

/* The database's own checks catch what a buggy caller might write. */
static void
test_constraints(void **state)
{
	struct store		*st;
	struct session_new	 n;
	int64_t			 id;

	(void)state;
	st = open_new();
	fill(&n, "u1", "+14155551234", "usa");
	n.country[2] = 'a';	/* three letters: not a country */
	assert_int_equal(store_session_add(st, &n, "test", 1, &id), -EINVAL);
	assert_non_null(strcasestr(store_errmsg(st), "check"));
	store_close(st);
	assert_int_equal(query_int("SELECT count(*) FROM sessions"), 0);
	assert_int_equal(query_int("SELECT count(*) FROM events"), 0);
}

/*
 * A batch is one transaction; a write failing inside it is undone alone,
 * a purchase intent commits on its own at once, with what the batch
 * wrote so far, and an aborted batch leaves nothing.
 */
static void
test_batches(void **state)
{
	struct store		*st;
	struct session_new	 n;
	struct intent		 in;
	int64_t			 id;

	(void)state;
	st = open_new();
	assert_int_equal(store_batch_begin(st), 0);
	assert_int_equal(store_batch_begin(st), 0);
	fill(&n, "u1", "+14155550001", "us");
	assert_int_equal(store_session_add(st, &n, "test", 1, &id), 0);
	assert_int_equal(store_session_add(st, &n, "test", 2, &id), -EEXIST);
	fill(&n, "u2", "+14155550002", "us");
	assert_int_equal(store_session_add(st, &n, "test", 3, &id), 0);
	assert_int_equal(store_batch_end(st), 0);
	assert_int_equal(store_batch_end(st), 0);
	assert_int_equal(store_batch_end(st), -EINVAL);
	assert_int_equal(query_int("SELECT count(*) FROM sessions"), 2);
	assert_int_equal(query_int("SELECT count(*) FROM events"), 2);

	assert_int_equal(store_batch_begin(st), 0);
	fill(&n, "u3", "+14155550003", "us");
	assert_int_equal(store_session_add(st, &n, "test", 4, &id), 0);
	memset(&in, 0, sizeof in);
	(void)util_strlcpy(in.provider, "static", sizeof in.provider);
	(void)util_strlcpy(in.country, "us", sizeof in.country);
	in.count = 2;
	assert_int_equal(store_intent_add(st, &in, "i1", 5, &id), 0);
	/* Durable before the provider is asked: visible to everyone now. */
	assert_int_equal(query_int("SELECT count(*) FROM purchase_intents"), 1);
	assert_int_equal(query_int("SELECT count(*) FROM sessions"), 3);
	fill(&n, "u4", "+14155550004", "us");
	assert_int_equal(store_session_add(st, &n, "test", 6, &id), 0);
	assert_int_equal(store_batch_end(st), 0);
	assert_int_equal(query_int("SELECT count(*) FROM sessions"), 4);

	/*
	 * An aborted batch leaves nothing of its writes, however deep it
	 * was nested, and the store goes on: the next write commits alone.
	 */
	assert_int_equal(store_batch_abort(st), -EINVAL);
	assert_int_equal(store_batch_begin(st), 0);
	assert_int_equal(store_batch_begin(st), 0);
	fill(&n, "u5", "+14155550005", "us");
	assert_int_equal(store_session_add(st, &n, "test", 7, &id), 0);
	assert_int_equal(store_batch_abort(st), 0);
	assert_int_equal(store_batch_id(st), 0);
	assert_int_equal(store_batch_end(st), -EINVAL);
	assert_int_equal(query_int("SELECT count(*) FROM sessions"), 4);
	fill(&n, "u6", "+14155550006", "us");
	assert_int_equal(store_session_add(st, &n, "test", 8, &id), 0);
	assert_int_equal(query_int("SELECT count(*) FROM sessions"), 5);
	store_close(st);
	assert_int_equal(query_int("SELECT count(*) FROM sessions"), 5);
}

static int
instance_cb(const struct instance *i, void *arg)
{
	*(struct instance *)arg = *i;
	return 0;
}

/* Claims bump the epoch, and only the owner at that epoch may report. */
static void
test_ownership(void **state)
{
	struct store		*st;
	struct session_new	 n;
	struct session		 s;
	struct session_report	 rep;
	struct instance		 inst, seen;
	int64_t			 id, count, gen, gen2;
	int			 claimed, i;
	char			 phone[PHONE_LEN];

	(void)state;
	st = open_new();
	for (i = 0; i < 3; i++) {
		snprintf(phone, sizeof phone, "+1415555010%d", i);
		fill(&n, "u", phone, "us");
		assert_int_equal(store_session_add(st, &n, "test", 10, &id), 0);
	}
	assert_int_equal(store_session_fingerprint(st, &count, &gen), 0);
	assert_int_equal(count, 3);
	memset(&inst, 0, sizeof inst);
	(void)util_strlcpy(inst.id, "i1", sizeof inst.id);
	(void)util_strlcpy(inst.hostname, "host-a", sizeof inst.hostname);
	inst.pid = 42;
	inst.started_at = 1000;
	inst.status = INSTANCE_STARTING;
	assert_int_equal(store_instance_register(st, &inst), 0);
	assert_int_equal(store_instance_register(st, &inst), -EEXIST);
	assert_int_equal(store_instance_set_status(st, "i1", INSTANCE_RUNNING,
	    1100), 0);

	assert_int_equal(store_session_claim(st, "i1", 1200, &claimed), 0);
	assert_int_equal(claimed, 3);
	assert_int_equal(store_session_claim(st, "i1", 1300, &claimed), 0);
	assert_int_equal(claimed, 0);
	assert_int_equal(store_session_get(st, id, &s), 0);
	assert_string_equal(s.owner, "i1");
	assert_int_equal(s.epoch, 1);
	/* Claims are not operator changes. */
	assert_int_equal(store_session_fingerprint(st, &count, &gen2), 0);
	assert_int_equal(gen2, gen);

	memset(&rep, 0, sizeof rep);
	rep.status = SESSION_STATUS_READY;
	rep.attempts = 2;
	rep.last_error = "flaky";
	rep.connector_pid = 4242;
	rep.connector_started_at = 777;
	rep.touch_activity = true;
	assert_int_equal(store_session_report(st, id, "i1", 1, &rep, 2000), 0);
	assert_int_equal(store_session_get(st, id, &s), 0);
	assert_int_equal(s.status, SESSION_STATUS_READY);
	assert_int_equal(s.attempts, 2);
	assert_string_equal(s.last_error, "flaky");
	assert_int_equal(s.connector_pid, 4242);
	assert_int_equal(s.connector_started_at, 777);
	assert_int_equal(s.last_activity_at, 2000);
	/* An old epoch, or another instance: fenced out. */
	assert_int_equal(store_session_report(st, id, "i1", 0, &rep, 2100),
	    -ESTALE);
	assert_int_equal(store_session_report(st, id, "i2", 1, &rep, 2100),
	    -ESTALE);
	rep.status = SESSION_STATUS_BACKOFF;
	rep.last_error = NULL;
	rep.connector_pid = 0;
	rep.touch_activity = false;
	assert_int_equal(store_session_report(st, id, "i1", 1, &rep, 2200), 0);
	assert_int_equal(store_session_get(st, id, &s), 0);
	assert_string_equal(s.last_error, "");
	assert_int_equal(s.connector_pid, 0);
	assert_int_equal(s.last_activity_at, 2000);

	assert_int_equal(store_instance_heartbeat(st, "i1", 3000, true, 3, 1),
	    0);
	assert_int_equal(store_instance_heartbeat(st, "nobody", 3000, false, 0,
	    0), -ENOENT);
	assert_int_equal(store_instance_list(st, instance_cb, &seen), 0);
	assert_string_equal(seen.id, "i1");
	assert_string_equal(seen.hostname, "host-a");
	assert_int_equal(seen.status, INSTANCE_RUNNING);
	assert_true(seen.recovery_in_progress);
	assert_int_equal(seen.recovery_total, 3);
	assert_int_equal(seen.recovery_done, 1);
	assert_int_equal(store_instance_heartbeat(st, "i1", 3100, false, 3, 3),
	    0);
	assert_int_equal(store_instance_list(st, instance_cb, &seen), 0);
	assert_false(seen.recovery_in_progress);
	assert_int_equal(seen.recovery_completed_at, 3100);

	/* A graceful stop gives every session up, marked as such. */
	assert_int_equal(store_session_release_all(st, "i1", true, 4000), 0);
	assert_int_equal(store_instance_set_status(st, "i1", INSTANCE_STOPPED,
	    4000), 0);
	assert_int_equal(store_session_get(st, id, &s), 0);
	assert_string_equal(s.owner, "");
	assert_true(s.graceful_shutdown);
	assert_int_equal(s.shutdown_at, 4000);
	assert_int_equal(store_session_report(st, id, "i1", 1, &rep, 4100),
	    -ESTALE);

	/* The next owner takes them all at a new epoch. */
	assert_int_equal(store_session_claim(st, "i2", 5000, &claimed), 0);
	assert_int_equal(claimed, 3);
	assert_int_equal(store_session_get(st, id, &s), 0);
	assert_string_equal(s.owner, "i2");
	assert_int_equal(s.epoch, 2);
	rep.status = SESSION_STATUS_READY;
	assert_int_equal(store_session_report(st, id, "i2", 2, &rep, 5100), 0);
	assert_int_equal(store_session_get(st, id, &s), 0);
	assert_false(s.graceful_shutdown);
	store_close(st);
}

static int
proxy_cb(const struct proxy_row *p, void *arg)
{
	struct proxy_row	*rows = arg;

	rows[0].id++;		/* rows[0]: the count; rows[1]: the last */
	rows[1] = *p;
	return 0;
}

static int
intent_cb(const struct intent *in, void *arg)
{
	(void)in;
	(*(int *)arg)++;
	return 0;
}

/* Rows by ip, for the checks below. */
struct rows_by_ip {
	struct proxy_row	v[16];
	size_t			n;
};

static int
rows_by_ip_cb(const struct proxy_row *p, void *arg)
{
	struct rows_by_ip	*rs = arg;

	if (rs->n < nitems(rs->v))
		rs->v[rs->n++] = *p;
	return 0;
}

static const struct proxy_row *
row_of(const struct rows_by_ip *rs, const char *ip)
{
	size_t	i;

	for (i = 0; i < rs->n; i++)
		if (strcmp(rs->v[i].ip, ip) == 0)
			return &rs->v[i];
	return NULL;
}

static int
intent_copy_cb(const struct intent *in, void *arg)
{
	*(struct intent *)arg = *in;
	return 0;
}

/*
 * Databases of earlier versions, made by undoing what the later
 * migrations added: version 2 has no holds on proxies, version 1 no
 * refused_ips either.
 */
static const struct older_case {
	int		 version;
	const char	*sqlite;
	const char	*pg;
} older_cases[] = {
	{ 2, "ALTER TABLE proxies DROP COLUMN held_for; ALTER TABLE proxies "
	    "DROP COLUMN held_until; PRAGMA user_version = 2",
	    "ALTER TABLE proxies DROP COLUMN held_for, DROP COLUMN "
	    "held_until; UPDATE meta SET value = 2 WHERE key = "
	    "'schema_version'" },
	{ 1, "ALTER TABLE proxies DROP COLUMN held_for; ALTER TABLE proxies "
	    "DROP COLUMN held_until; DROP TABLE refused_ips; PRAGMA "
	    "user_version = 1",
	    "ALTER TABLE proxies DROP COLUMN held_for, DROP COLUMN "
	    "held_until; DROP TABLE refused_ips; UPDATE meta SET value = 1 "
	    "WHERE key = 'schema_version'" },
};

/*
 * A database of an earlier version is migrated to this one, and the
 * proxies it holds survive, held for nobody.
 */
static void
test_migrate_older(void **state)
{
	const struct older_case	*c;
	struct store		*st;
	struct proxy_row	 px;
	struct rows_by_ip	 rs;
	const struct proxy_row	*r;
	char			 err[STORE_ERROR_LEN];
	int64_t			 pid;
	size_t			 i;
	int			 v;

	(void)state;
	for (i = 0; i < nitems(older_cases); i++) {
		c = &older_cases[i];
		st = open_new();
		memset(&px, 0, sizeof px);
		(void)util_strlcpy(px.provider, "static", sizeof px.provider);
		(void)util_strlcpy(px.ip, "10.0.0.1", sizeof px.ip);
		(void)util_strlcpy(px.country, "us", sizeof px.country);
		assert_int_equal(store_proxy_add(st, &px, 100, &pid), 0);
		store_close(st);
		exec_sql(BOTH(c->sqlite, c->pg));
		assert_int_equal(query_int(BOTH("PRAGMA user_version", "SELECT "
		    "value FROM meta WHERE key = 'schema_version'")),
		    c->version);

		if (store_open(dburl, &st, err) != 0)
			fail_msg("version %d: store_open: %s", c->version,
			    err);
		assert_int_equal(store_schema_version(st, &v), 0);
		assert_int_equal(v, STORE_SCHEMA_VERSION);
		memset(&rs, 0, sizeof rs);
		assert_int_equal(store_proxy_list(st, rows_by_ip_cb, &rs), 0);
		assert_int_equal(rs.n, 1);
		assert_non_null(r = row_of(&rs, "10.0.0.1"));
		assert_int_equal(r->id, pid);
		assert_int_equal(r->state, PROXY_IDLE);
		assert_int_equal(r->idle_since, 100);
		assert_int_equal(r->held_for, 0);
		assert_int_equal(r->held_until, 0);
		assert_int_equal(store_refused_add(st, "+14155550100",
		    "10.0.0.1", 1), 0);
		store_close(st);
		assert_int_equal(query_int("SELECT count(*) FROM proxies WHERE "
		    "held_for IS NULL AND held_until IS NULL"), 1);
	}
}

/*
 * What reconciling the provider's answers needs of the store: an added
 * proxy carries its intent; a lost one listed again is idle, or active
 * when it kept its session; the provider's country replaces ours; recently
 * released rows are listed on request; refused IPs are kept per phone,
 * the newest STORE_REFUSED_MAX; an intent names who asked.
 */
static void
test_proxy_answers(void **state)
{
	struct store		*st;
	struct session_new	 n;
	struct proxy_row	 px;
	struct rows_by_ip	 rs;
	const struct proxy_row	*r;
	struct intent		 in, got;
	char			 ips[STORE_REFUSED_MAX + 4][STORE_IP_LEN];
	char			 ip[STORE_IP_LEN];
	size_t			 nips;
	int64_t			 sid, a, b, c, iid;
	int			 i;

	(void)state;
	st = open_new();
	fill(&n, "u1", "+14155550300", "us");
	assert_int_equal(store_session_add(st, &n, "test", 1, &sid), 0);
	memset(&in, 0, sizeof in);
	(void)util_strlcpy(in.provider, "brightdata", sizeof in.provider);
	(void)util_strlcpy(in.country, "us", sizeof in.country);
	in.count = 2;
	assert_int_equal(store_intent_add(st, &in, "inst-1", 50, &iid), 0);
	memset(&got, 0, sizeof got);
	assert_int_equal(store_intent_list_open(st, intent_copy_cb, &got), 0);
	assert_string_equal(got.instance_id, "inst-1");
	assert_int_equal(got.created_at, 50);

	memset(&px, 0, sizeof px);
	(void)util_strlcpy(px.provider, "brightdata", sizeof px.provider);
	(void)util_strlcpy(px.ip, "10.1.0.1", sizeof px.ip);
	(void)util_strlcpy(px.country, "us", sizeof px.country);
	px.type = PROXY_TYPE_ISP;
	px.intent_id = iid;
	assert_int_equal(store_proxy_add(st, &px, 100, &a), 0);
	(void)util_strlcpy(px.ip, "10.1.0.2", sizeof px.ip);
	px.intent_id = 0;
	px.country[0] = '\0';		/* the provider names none */
	assert_int_equal(store_proxy_add(st, &px, 100, &b), 0);
	(void)util_strlcpy(px.ip, "10.1.0.3", sizeof px.ip);
	(void)util_strlcpy(px.country, "de", sizeof px.country);
	assert_int_equal(store_proxy_add(st, &px, 100, &c), 0);

	/* a: in use, then lost (keeping its session), then listed again. */
	assert_int_equal(store_proxy_assign(st, a, sid, n.phone, "us", false,
	    "purchased", "inst-1", 200), 0);
	assert_int_equal(store_proxy_set_state(st, a, PROXY_LOST, 300), 0);
	assert_int_equal(store_proxy_relist(st, a, "", 400), 0);
	/* b: lost without a session, listed again with a country. */
	assert_int_equal(store_proxy_set_state(st, b, PROXY_LOST, 300), 0);
	assert_int_equal(store_proxy_relist(st, b, "gb", 400), 0);
	/* c: the listing says it is in another country. */
	assert_int_equal(store_proxy_relist(st, c, "fr", 400), 0);
	assert_int_equal(store_proxy_set_intent(st, c, iid, 400), 0);
	assert_int_equal(store_proxy_relist(st, 99999, "fr", 400), -ENOENT);
	memset(&rs, 0, sizeof rs);
	assert_int_equal(store_proxy_list(st, rows_by_ip_cb, &rs), 0);
	assert_int_equal(rs.n, 3);
	assert_non_null(r = row_of(&rs, "10.1.0.1"));
	assert_int_equal(r->state, PROXY_ACTIVE);
	assert_int_equal(r->session_id, sid);
	assert_int_equal(r->intent_id, iid);
	assert_string_equal(r->country, "us");
	assert_non_null(r = row_of(&rs, "10.1.0.2"));
	assert_int_equal(r->state, PROXY_IDLE);
	assert_int_equal(r->idle_since, 400);
	assert_int_equal(r->intent_id, 0);
	assert_string_equal(r->country, "gb");
	assert_non_null(r = row_of(&rs, "10.1.0.3"));
	assert_int_equal(r->state, PROXY_IDLE);
	assert_int_equal(r->intent_id, iid);
	assert_string_equal(r->country, "fr");

	/* Released rows: listed on request, from a time on. */
	assert_int_equal(store_proxy_set_state(st, c, PROXY_RELEASED, 500), 0);
	memset(&rs, 0, sizeof rs);
	assert_int_equal(store_proxy_list(st, rows_by_ip_cb, &rs), 0);
	assert_int_equal(rs.n, 2);
	memset(&rs, 0, sizeof rs);
	assert_int_equal(store_proxy_list_since(st, 500, rows_by_ip_cb, &rs),
	    0);
	assert_int_equal(rs.n, 3);
	assert_non_null(r = row_of(&rs, "10.1.0.3"));
	assert_int_equal(r->state, PROXY_RELEASED);
	assert_int_equal(r->released_at, 500);
	memset(&rs, 0, sizeof rs);
	assert_int_equal(store_proxy_list_since(st, 501, rows_by_ip_cb, &rs),
	    0);
	assert_int_equal(rs.n, 2);
	/* A released row is not listed again by relist. */
	assert_int_equal(store_proxy_relist(st, c, "fr", 600), -ENOENT);

	/* Refused IPs: per phone, newest first, the newest kept. */
	assert_int_equal(store_refused_list(st, n.phone, ips, 4, &nips), 0);
	assert_int_equal(nips, 0);
	for (i = 0; i < STORE_REFUSED_MAX + 3; i++) {
		snprintf(ip, sizeof ip, "10.2.0.%d", i);
		assert_int_equal(store_refused_add(st, n.phone, ip, 1000 + i),
		    0);
	}
	/* Again: its time moves, no second row. */
	assert_int_equal(store_refused_add(st, n.phone, "10.2.0.5", 5000), 0);
	assert_int_equal(store_refused_add(st, "+4915100000001", "10.9.9.9",
	    5000), 0);
	assert_int_equal(store_refused_list(st, n.phone, ips,
	    STORE_REFUSED_MAX + 4, &nips), 0);
	assert_int_equal(nips, STORE_REFUSED_MAX);
	assert_string_equal(ips[0], "10.2.0.5");
	snprintf(ip, sizeof ip, "10.2.0.%d", STORE_REFUSED_MAX + 2);
	assert_string_equal(ips[1], ip);
	assert_int_equal(store_refused_list(st, n.phone, ips, 2, &nips), 0);
	assert_int_equal(nips, 2);
	assert_int_equal(store_refused_list(st, "+4915100000001", ips, 4,
	    &nips), 0);
	assert_int_equal(nips, 1);
	assert_string_equal(ips[0], "10.9.9.9");
	store_close(st);
}

/* Proxies, their assignments and history, intents and recovery runs. */
static void
test_proxies(void **state)
{
	struct store		*st;
	struct session_new	 n;
	struct session		 s;
	struct proxy_row	 px, rows[2], got;
	struct intent		 in;
	struct recovery_run	 run, last;
	int64_t			 sid, pid, pid2, iid, hist[4], rid;
	size_t			 nhist;
	int			 open;
	char			 big[STORE_DETAIL_MAX + 8];

	(void)state;
	st = open_new();
	fill(&n, "u1", "+14155550200", "us");
	assert_int_equal(store_session_add(st, &n, "test", 1, &sid), 0);
	memset(&px, 0, sizeof px);
	(void)util_strlcpy(px.provider, "static", sizeof px.provider);
	(void)util_strlcpy(px.ip, "10.0.0.1", sizeof px.ip);
	(void)util_strlcpy(px.country, "us", sizeof px.country);
	px.type = PROXY_TYPE_ISP;
	assert_int_equal(store_proxy_add(st, &px, 100, &pid), 0);
	/* Never added twice, whoever says it is new. */
	pid2 = 0;
	assert_int_equal(store_proxy_add(st, &px, 200, &pid2), -EEXIST);
	assert_int_equal(pid2, 0);
	memset(rows, 0, sizeof rows);
	assert_int_equal(store_proxy_list(st, proxy_cb, rows), 0);
	assert_int_equal(rows[0].id, 1);
	assert_int_equal(rows[1].state, PROXY_IDLE);
	assert_int_equal(rows[1].purchased_at, 100);
	assert_int_equal(rows[1].idle_since, 100);

	assert_int_equal(store_proxy_assign(st, pid, sid, n.phone, "us", false,
	    "purchased", "i1", 300), 0);
	assert_int_equal(store_proxy_assign(st, 99999, sid, n.phone, "us",
	    false, "purchased", "i1", 300), -ENOENT);
	assert_int_equal(store_session_get(st, sid, &s), 0);
	assert_string_equal(s.proxy_ip, "10.0.0.1");
	assert_int_equal(store_proxy_request_release(st, "10.0.0.1", "cli", 350,
	    &got), -EBUSY);
	assert_int_equal(got.session_id, sid);
	assert_int_equal(store_proxy_request_release(st, "10.9.9.9", "cli", 350,
	    &got), -ENOENT);
	assert_int_equal(store_proxy_history(st, n.phone, hist, 4, &nhist), 0);
	assert_int_equal(nhist, 1);
	assert_int_equal(hist[0], pid);
	assert_int_equal(query_int("SELECT count(*) FROM assignments WHERE "
	    "ended_at IS NULL"), 1);

	assert_int_equal(store_proxy_unassign(st, pid, true, 400, 0, 0), 0);
	assert_int_equal(store_proxy_unassign(st, pid, false, 400, 0, 0), 0);
	assert_int_equal(query_int("SELECT count(*) FROM assignments WHERE "
	    "ended_at IS NULL"), 0);
	memset(rows, 0, sizeof rows);
	assert_int_equal(store_proxy_list(st, proxy_cb, rows), 0);
	assert_int_equal(rows[1].state, PROXY_IDLE);
	assert_int_equal(rows[1].session_id, 0);
	assert_int_equal(rows[1].idle_since, 400);
	assert_int_equal(store_proxy_request_release(st, "10.0.0.1", "cli", 450,
	    &got), 0);
	assert_int_equal(got.id, pid);
	assert_int_equal(got.state, PROXY_RELEASING);
	assert_int_equal(store_proxy_set_state(st, pid, PROXY_RELEASED, 500),
	    0);
	assert_int_equal(store_proxy_set_state(st, 99999, PROXY_LOST, 500),
	    -ENOENT);
	memset(rows, 0, sizeof rows);
	assert_int_equal(store_proxy_list(st, proxy_cb, rows), 0);
	assert_int_equal(rows[0].id, 0);
	/* A released IP bought again is a new row. */
	assert_int_equal(store_proxy_add(st, &px, 600, &pid2), 0);
	assert_true(pid2 != pid);

	memset(&in, 0, sizeof in);
	(void)util_strlcpy(in.provider, "static", sizeof in.provider);
	(void)util_strlcpy(in.country, "de", sizeof in.country);
	in.count = 3;
	assert_int_equal(store_intent_add(st, &in, "i1", 700, &iid), 0);
	open = 0;
	assert_int_equal(store_intent_list_open(st, intent_cb, &open), 0);
	assert_int_equal(open, 1);
	assert_int_equal(store_intent_settle(st, iid, INTENT_UNKNOWN, "timeout",
	    800), 0);
	open = 0;
	assert_int_equal(store_intent_list_open(st, intent_cb, &open), 0);
	assert_int_equal(open, 1);
	assert_int_equal(store_intent_settle(st, iid, INTENT_OWNED, NULL, 900),
	    0);
	open = 0;
	assert_int_equal(store_intent_list_open(st, intent_cb, &open), 0);
	assert_int_equal(open, 0);
	assert_int_equal(store_intent_settle(st, 99999, INTENT_FAILED, "x",
	    900), -ENOENT);

	assert_int_equal(store_recovery_run_last(st, &last), -ENOENT);
	memset(&run, 0, sizeof run);
	(void)util_strlcpy(run.instance_id, "i1", sizeof run.instance_id);
	(void)util_strlcpy(run.cause, "crash", sizeof run.cause);
	run.started_at = 1000;
	run.finished_at = 2000;
	run.sessions_total = 10;
	run.recovered = 9;
	run.failed = 1;
	run.reused = 4;
	run.purchased = 5;
	run.cost_micros = 1234567;
	assert_int_equal(store_recovery_run_add(st, &run, &rid), 0);
	assert_true(rid > 0);
	assert_int_equal(store_recovery_run_last(st, &last), 0);
	assert_string_equal(last.instance_id, "i1");
	assert_string_equal(last.cause, "crash");
	assert_int_equal(last.finished_at, 2000);
	assert_int_equal(last.recovered, 9);
	assert_int_equal(last.purchased, 5);
	assert_int_equal(last.cost_micros, 1234567);

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(store_event_add(st, 1, "test", sid, "x.big", big),
	    -E2BIG);
	assert_int_equal(store_event_add(st, 1, "test", 0, "x.small", NULL), 0);
	store_close(st);
	assert_int_equal(query_int("SELECT count(*) FROM events WHERE kind = "
	    "'x.small' AND detail = '{}' AND session_id IS NULL"), 1);
}

enum hold_op {
	HOLD_ASSIGN,		/* store_proxy_assign to session */
	HOLD_UNASSIGN,		/* store_proxy_unassign, held for session */
	HOLD_KEEP,		/* the same with keep */
	HOLD_STATE,		/* store_proxy_set_state to state */
};

/*
 * One proxy's life, step by step, and its row after each: unassigning
 * writes the hold (0 as NULL), with keep nothing; assigning and releasing
 * end it.  Sessions are indexes in the case's sids (0: none).
 */
static const struct hold_step {
	const char		*what;
	enum hold_op		 op;
	int			 session;
	int64_t			 until;
	enum proxy_state	 state;
	enum proxy_state	 want_state;
	int			 want_session;
	int			 want_held_for;
	int64_t			 want_held_until;
} hold_steps[] = {
	{ "assigned to 1", HOLD_ASSIGN, 1, 0, 0, PROXY_ACTIVE, 1, 0, 0 },
	{ "idle, held for 1", HOLD_UNASSIGN, 1, 5000, 0, PROXY_IDLE, 0, 1,
	    5000 },
	{ "given to 2: the hold ends", HOLD_ASSIGN, 2, 0, 0, PROXY_ACTIVE, 2,
	    0, 0 },
	{ "kept for 2: nothing written", HOLD_KEEP, 2, 7000, 0, PROXY_ACTIVE,
	    2, 0, 0 },
	{ "idle, held for nobody", HOLD_UNASSIGN, 0, 0, 0, PROXY_IDLE, 0, 0,
	    0 },
	{ "reactivated for 2", HOLD_ASSIGN, 2, 0, 0, PROXY_ACTIVE, 2, 0, 0 },
	{ "idle, held for 2", HOLD_UNASSIGN, 2, 8000, 0, PROXY_IDLE, 0, 2,
	    8000 },
	{ "releasing: still held", HOLD_STATE, 0, 0, PROXY_RELEASING,
	    PROXY_RELEASING, 0, 2, 8000 },
	{ "released: the hold ends", HOLD_STATE, 0, 0, PROXY_RELEASED,
	    PROXY_RELEASED, 0, 0, 0 },
};

/* The hold on an idle IP: written, read back, kept, ended. */
static void
test_proxy_holds(void **state)
{
	const struct hold_step	*h;
	struct store		*st;
	struct session_new	 n;
	struct proxy_row	 px;
	struct rows_by_ip	 rs;
	const struct proxy_row	*r;
	static const char *const phones[3] = { "", "+14155550401",
	    "+14155550402" };
	int64_t			 sids[3] = { 0 }, pid, now, want_for, nulls;
	size_t			 i;

	(void)state;
	st = open_new();
	for (i = 1; i < nitems(sids); i++) {
		fill(&n, "u", phones[i], "us");
		assert_int_equal(store_session_add(st, &n, "test", 1,
		    &sids[i]), 0);
	}
	memset(&px, 0, sizeof px);
	(void)util_strlcpy(px.provider, "static", sizeof px.provider);
	(void)util_strlcpy(px.ip, "10.4.0.1", sizeof px.ip);
	(void)util_strlcpy(px.country, "us", sizeof px.country);
	assert_int_equal(store_proxy_add(st, &px, 10, &pid), 0);

	for (i = 0; i < nitems(hold_steps); i++) {
		h = &hold_steps[i];
		now = 100 * (int64_t)(i + 1);
		switch (h->op) {
		case HOLD_ASSIGN:
			assert_int_equal(store_proxy_assign(st, pid,
			    sids[h->session], phones[h->session], "us", false,
			    "reused", "i1", now), 0);
			break;
		case HOLD_UNASSIGN:
		case HOLD_KEEP:
			assert_int_equal(store_proxy_unassign(st, pid,
			    h->op == HOLD_KEEP, now, sids[h->session],
			    h->until), 0);
			break;
		case HOLD_STATE:
			assert_int_equal(store_proxy_set_state(st, pid,
			    h->state, now), 0);
			break;
		}
		memset(&rs, 0, sizeof rs);
		assert_int_equal(store_proxy_list_since(st, 0, rows_by_ip_cb,
		    &rs), 0);
		assert_non_null(r = row_of(&rs, "10.4.0.1"));
		want_for = sids[h->want_held_for];
		if (r->state != h->want_state ||
		    r->session_id != sids[h->want_session] ||
		    r->held_for != want_for ||
		    r->held_until != h->want_held_until)
			fail_msg("%s: state %s session %lld held for %lld "
			    "until %lld; want %s %lld %lld %lld", h->what,
			    store_proxy_state_name(r->state),
			    (long long)r->session_id, (long long)r->held_for,
			    (long long)r->held_until,
			    store_proxy_state_name(h->want_state),
			    (long long)sids[h->want_session],
			    (long long)want_for,
			    (long long)h->want_held_until);
		/* No hold is NULL in the row, not 0. */
		nulls = query_int("SELECT count(*) FROM proxies WHERE held_for "
		    "IS NULL AND held_until IS NULL");
		if (nulls != (want_for == 0 && h->want_held_until == 0))
			fail_msg("%s: %lld rows without a hold", h->what,
			    (long long)nulls);
	}
	store_close(st);
}

/* An assignment of a phone's history: OPEN for an ended_at still NULL. */
#define OPEN	(-1)

struct hist {
	int64_t	assigned_at;
	int64_t	ended_at;
};

static const struct hist hist_ten[] = {		/* gaps 100 ... 900 */
	{ 1000, 1100 }, { 1200, 1300 }, { 1500, 1600 }, { 1900, 2000 },
	{ 2400, 2500 }, { 3000, 3100 }, { 3700, 3800 }, { 4500, 4600 },
	{ 5400, 5500 }, { 6400, 6500 },
};
static const struct hist hist_ten_open[] = {	/* the newest still on */
	{ 1000, 1100 }, { 1200, 1300 }, { 1500, 1600 }, { 1900, 2000 },
	{ 2400, 2500 }, { 3000, 3100 }, { 3700, 3800 }, { 4500, 4600 },
	{ 5400, 5500 }, { 6400, OPEN },
};
static const struct hist hist_unended[] = {	/* a crash: 100 never ended */
	{ 100, OPEN }, { 300, 400 }, { 500, OPEN },
};
static const struct hist hist_overlap[] = {	/* 500 began before 600 */
	{ 100, 600 }, { 500, 700 },
};
static const struct hist hist_tie[] = {		/* same start: id decides */
	{ 100, 100 }, { 100, 200 },
};
static const struct hist hist_one[] = {
	{ 100, 500 },
};

#define GAPS_WANT_MAX	8

/*
 * Histories written straight into assignments, oldest first, and the
 * gaps store_phone_gaps gives for them, newest first.
 */
static const struct gaps_case {
	const char		*what;
	const struct hist	*hist;
	size_t			 nhist;
	int64_t			 now;
	size_t			 max;
	int64_t			 want[GAPS_WANT_MAX];
	size_t			 nwant;
} gaps_cases[] = {
	{ "more history than max: the newest 8", hist_ten, nitems(hist_ten),
	    7500, 8, { 1000, 900, 800, 700, 600, 500, 400, 300 }, 8 },
	{ "max 3", hist_ten, nitems(hist_ten), 7500, 3, { 1000, 900, 800 },
	    3 },
	{ "max 0: none", hist_ten, nitems(hist_ten), 7500, 0, { 0 }, 0 },
	{ "the newest still on: no gap ends now", hist_ten_open,
	    nitems(hist_ten_open), 7500, 8,
	    { 900, 800, 700, 600, 500, 400, 300, 200 }, 8 },
	{ "a pair whose older one never ended is skipped", hist_unended,
	    nitems(hist_unended), 1000, 8, { 100 }, 1 },
	{ "a negative gap counts as 0", hist_overlap, nitems(hist_overlap),
	    1000, 8, { 300, 0 }, 2 },
	{ "equal starts: the later id is newer", hist_tie, nitems(hist_tie),
	    250, 8, { 50, 0 }, 2 },
	{ "now before the newest end: no gap ends now", hist_one,
	    nitems(hist_one), 400, 8, { 0 }, 0 },
	{ "now at the newest end: a gap of 0", hist_one, nitems(hist_one),
	    500, 8, { 0 }, 1 },
};

/* Check what store_phone_gaps gives, and that it writes no more than n. */
static void
check_gaps(struct store *st, const char *what, const char *phone,
    int64_t now, size_t max, const int64_t *want, size_t nwant)
{
	int64_t	gaps[STORE_GAPS_MAX + 1];
	size_t	n = 999, i;

	for (i = 0; i < nitems(gaps); i++)
		gaps[i] = -7;
	if (store_phone_gaps(st, phone, now, gaps, max, &n) != 0)
		fail_msg("%s: %s", what, store_errmsg(st));
	if (n != nwant)
		fail_msg("%s: %zu gaps, want %zu", what, n, nwant);
	for (i = 0; i < nitems(gaps); i++)
		if (gaps[i] != (i < nwant ? want[i] : -7))
			fail_msg("%s: gaps[%zu] = %lld, want %lld", what, i,
			    (long long)gaps[i],
			    (long long)(i < nwant ? want[i] : -7));
}

/*
 * A phone's reconnect gaps: none without history; those of a real
 * sequence of assignments made through the store; then the edge cases of
 * gaps_cases, each on a phone of its own in one table.
 */
static void
test_phone_gaps(void **state)
{
	static const int64_t	 want_on[] = { 3000, 500 };
	static const int64_t	 want_ended[] = { 400, 3000, 500 };
	const struct gaps_case	*c;
	struct store		*st;
	struct session_new	 n;
	struct proxy_row	 px;
	int64_t			 sid, p1, p2;
	char			 phone[PHONE_LEN], sql[4096], ended[24];
	size_t			 i, j, len;

	(void)state;
	st = open_new();
	fill(&n, "u1", "+14155550500", "us");
	assert_int_equal(store_session_add(st, &n, "test", 1, &sid), 0);
	check_gaps(st, "no history", n.phone, 1000, 8, NULL, 0);
	memset(&px, 0, sizeof px);
	(void)util_strlcpy(px.provider, "static", sizeof px.provider);
	(void)util_strlcpy(px.country, "us", sizeof px.country);
	(void)util_strlcpy(px.ip, "10.5.0.1", sizeof px.ip);
	assert_int_equal(store_proxy_add(st, &px, 10, &p1), 0);
	(void)util_strlcpy(px.ip, "10.5.0.2", sizeof px.ip);
	assert_int_equal(store_proxy_add(st, &px, 10, &p2), 0);

	/* On at 1000-2000, 2500-4000 and from 7000: gaps 500 and 3000. */
	assert_int_equal(store_proxy_assign(st, p1, sid, n.phone, "us", false,
	    "purchased", "i1", 1000), 0);
	assert_int_equal(store_proxy_unassign(st, p1, false, 2000, sid, 2600),
	    0);
	assert_int_equal(store_proxy_assign(st, p2, sid, n.phone, "us", false,
	    "purchased", "i1", 2500), 0);
	assert_int_equal(store_proxy_unassign(st, p2, false, 4000, 0, 0), 0);
	assert_int_equal(store_proxy_assign(st, p1, sid, n.phone, "us", false,
	    "reactivated", "i1", 7000), 0);
	check_gaps(st, "on since 7000", n.phone, 8000, 8, want_on,
	    nitems(want_on));
	/* Off at 9000, starting again at 9400. */
	assert_int_equal(store_proxy_unassign(st, p1, false, 9000, sid,
	    12000), 0);
	check_gaps(st, "off since 9000", n.phone, 9400, 8, want_ended,
	    nitems(want_ended));
	check_gaps(st, "off since 9000, max 2", n.phone, 9400, 2, want_ended,
	    2);
	check_gaps(st, "another phone", "+14155550501", 9400, 8, NULL, 0);

	for (i = 0; i < nitems(gaps_cases); i++) {
		c = &gaps_cases[i];
		snprintf(phone, sizeof phone, "+1415555060%zu", i);
		len = 0;
		for (j = 0; j < c->nhist; j++) {
			if (c->hist[j].ended_at == OPEN)
				snprintf(ended, sizeof ended, "NULL");
			else
				snprintf(ended, sizeof ended, "%lld",
				    (long long)c->hist[j].ended_at);
			len += (size_t)snprintf(sql + len, sizeof sql - len,
			    "INSERT INTO assignments (phone, ip, country, "
			    "requested_country, reason, assigned_at, "
			    "ended_at) VALUES ('%s', '10.6.0.1', 'us', 'us', "
			    "'reused', %lld, %s);", phone,
			    (long long)c->hist[j].assigned_at, ended);
			assert_true(len < sizeof sql);
		}
		exec_sql(sql);
		check_gaps(st, c->what, phone, c->now, c->max, c->want,
		    c->nwant);
	}
	store_close(st);
}

#define PAGE_MAX	16

/* What one page of a paged read delivered. */
struct page {
	int			n;
	int			stop_after;	/* 0: take everything */
	int64_t			ids[PAGE_MAX];
	int64_t			sessions[PAGE_MAX];
	int64_t			started[PAGE_MAX];
	struct audit_event	first;
	struct recovery_run	first_run;
};

static int
event_page_cb(const struct audit_event *e, void *arg)
{
	struct page	*pg = arg;

	assert_true(pg->n < PAGE_MAX);
	if (pg->n == 0)
		pg->first = *e;
	pg->ids[pg->n] = e->id;
	pg->sessions[pg->n++] = e->session_id;
	return pg->n == pg->stop_after ? 7 : 0;
}

static int
run_page_cb(const struct recovery_run *run, void *arg)
{
	struct page	*pg = arg;

	assert_true(pg->n < PAGE_MAX);
	if (pg->n == 0)
		pg->first_run = *run;
	pg->ids[pg->n] = run->id;
	pg->started[pg->n++] = run->started_at;
	return pg->n == pg->stop_after ? 7 : 0;
}

/* Pages of one read, newest first; how many rows they held in all. */
static int
page_all(struct store *st, bool runs, int64_t session_id, size_t limit)
{
	struct page	pg;
	int64_t		before = 0;
	int		i, total = 0;

	for (;;) {
		memset(&pg, 0, sizeof pg);
		if (runs)
			assert_int_equal(store_recovery_run_list(st, before,
			    limit, run_page_cb, &pg), 0);
		else
			assert_int_equal(store_event_list(st, before,
			    session_id, limit, event_page_cb, &pg), 0);
		assert_true((size_t)pg.n <= limit);
		for (i = 0; i < pg.n; i++) {
			if (before > 0 || i > 0)
				assert_true(pg.ids[i] < (i > 0 ?
				    pg.ids[i - 1] : before));
			if (!runs && session_id != 0)
				assert_int_equal(pg.sessions[i], session_id);
		}
		total += pg.n;
		if ((size_t)pg.n < limit)
			return total;
		before = pg.ids[pg.n - 1];
	}
}

/*
 * The paged reads of the HTTP API: audit events and recovery runs newest
 * first, below an id, of one session or all, at most a limit of them; a
 * callback's non-zero return stops the walk and is returned.
 */
static void
test_paging(void **state)
{
	struct store		*st;
	struct session_new	 n;
	struct recovery_run	 run, last;
	struct page		 pg;
	int64_t			 s1, s2, rid;
	int			 i;

	(void)state;
	st = open_new();
	memset(&pg, 0, sizeof pg);
	assert_int_equal(store_event_list(st, 0, 0, 10, event_page_cb, &pg), 0);
	assert_int_equal(pg.n, 0);
	assert_int_equal(store_recovery_run_list(st, 0, 10, run_page_cb, &pg),
	    0);
	assert_int_equal(pg.n, 0);

	fill(&n, "u1", "+14155550301", "us");
	assert_int_equal(store_session_add(st, &n, "test", 10, &s1), 0);
	fill(&n, "u2", "+14155550302", "us");
	assert_int_equal(store_session_add(st, &n, "test", 11, &s2), 0);
	for (i = 0; i < 7; i++)
		assert_int_equal(store_event_add(st, 100 + i, "pager",
		    i % 2 == 0 ? s1 : 0, "x.paged", i == 6 ?
		    "{\"last\":true}" : NULL), 0);
	/* 2 session.added, 7 x.paged (4 of s1): 9 events, 5 of s1. */
	assert_int_equal(query_int("SELECT count(*) FROM events"), 9);

	memset(&pg, 0, sizeof pg);
	assert_int_equal(store_event_list(st, 0, 0, 3, event_page_cb, &pg), 0);
	assert_int_equal(pg.n, 3);
	assert_int_equal(pg.first.at, 106);
	assert_string_equal(pg.first.actor, "pager");
	assert_string_equal(pg.first.kind, "x.paged");
	assert_string_equal(pg.first.detail, "{\"last\":true}");
	assert_int_equal(pg.first.session_id, s1);
	assert_int_equal(pg.first.id, query_int("SELECT max(id) FROM events"));
	assert_int_equal(page_all(st, false, 0, 3), 9);
	assert_int_equal(page_all(st, false, 0, 4), 9);
	assert_int_equal(page_all(st, false, 0, 100), 9);
	assert_int_equal(page_all(st, false, s1, 2), 5);
	assert_int_equal(page_all(st, false, s2, 2), 1);
	assert_int_equal(page_all(st, false, 999999, 2), 0);
	/* Nothing below the oldest; nothing at all with a limit of 0. */
	memset(&pg, 0, sizeof pg);
	assert_int_equal(store_event_list(st, query_int("SELECT min(id) FROM "
	    "events"), 0, 10, event_page_cb, &pg), 0);
	assert_int_equal(pg.n, 0);
	assert_int_equal(store_event_list(st, 0, 0, 0, event_page_cb, &pg), 0);
	assert_int_equal(pg.n, 0);
	/* The callback stops the walk, and its value is returned. */
	pg.stop_after = 2;
	assert_int_equal(store_event_list(st, 0, 0, 10, event_page_cb, &pg), 7);
	assert_int_equal(pg.n, 2);

	memset(&run, 0, sizeof run);
	(void)util_strlcpy(run.instance_id, "i1", sizeof run.instance_id);
	(void)util_strlcpy(run.cause, "first_start", sizeof run.cause);
	for (i = 0; i < 5; i++) {
		run.started_at = 1000 + i;
		run.finished_at = i == 4 ? 0 : 2000 + i;
		run.recovered = i;
		run.cost_micros = 10 * i;
		assert_int_equal(store_recovery_run_add(st, &run, &rid), 0);
	}
	memset(&pg, 0, sizeof pg);
	assert_int_equal(store_recovery_run_list(st, 0, 2, run_page_cb, &pg),
	    0);
	assert_int_equal(pg.n, 2);
	assert_int_equal(pg.first_run.id, rid);
	assert_string_equal(pg.first_run.instance_id, "i1");
	assert_string_equal(pg.first_run.cause, "first_start");
	assert_int_equal(pg.first_run.started_at, 1004);
	assert_int_equal(pg.first_run.finished_at, 0);
	assert_int_equal(pg.first_run.recovered, 4);
	assert_int_equal(pg.first_run.cost_micros, 40);
	assert_int_equal(pg.started[1], 1003);
	assert_int_equal(store_recovery_run_last(st, &last), 0);
	assert_int_equal(last.id, rid);
	assert_int_equal(page_all(st, true, 0, 2), 5);
	assert_int_equal(page_all(st, true, 0, 5), 5);
	memset(&pg, 0, sizeof pg);
	assert_int_equal(store_recovery_run_list(st, rid, 10, run_page_cb,
	    &pg), 0);
	assert_int_equal(pg.n, 4);
	assert_int_equal(pg.started[0], 1003);
	assert_int_equal(pg.started[3], 1000);
	store_close(st);
}

/*
 * The fleet operations exist on PostgreSQL only: SQLite says so
 * (-ENOTSUP) rather than pretending.
 */
static void
test_fleet_ops(void **state)
{
	struct store	*st;
	int64_t		 share, owned;
	int		 fd;

	(void)state;
	st = open_new();
	if (!on_pg) {
		assert_string_equal(store_backend(st), "sqlite");
		assert_int_equal(store_fleet_share(st, "i1", &share, &owned),
		    -ENOTSUP);
		assert_int_equal(store_session_release(st, 1, "i1", 1, 1),
		    -ENOTSUP);
		assert_int_equal(store_wake_fd(st), -ENOTSUP);
		assert_int_equal(store_wake_drain(st), -ENOTSUP);
		store_close(st);
		return;
	}
	assert_string_equal(store_backend(st), "postgresql");
	assert_int_equal(store_fleet_share(st, "i1", &share, &owned), 0);
	assert_int_equal(share, 0);
	assert_int_equal(owned, 0);
	assert_int_equal(store_session_release(st, 1, "i1", 1, 1), -ENOENT);
	fd = store_wake_fd(st);
	assert_true(fd >= 0);
	assert_int_equal(store_wake_drain(st), 0);
	assert_int_equal(store_wake_fd(st), fd);
	store_close(st);
}

static int
count_cb(const struct session *s, void *arg)
{
	(void)s;
	(*(int *)arg)++;
	return 0;
}

#define WRITERS		2
#define PER_WRITER	150

/*
 * Two processes add sessions to one database at the same time: every
 * insert lands and none fails (BEGIN IMMEDIATE and the busy timeout on
 * SQLite; row locks on PostgreSQL).
 */
static void
test_two_writers(void **state)
{
	struct store	*st;
	pid_t		 pids[WRITERS];
	char		 err[STORE_ERROR_LEN];
	int		 w, status, count = 0;

	(void)state;
	st = open_new();
	store_close(st);
	for (w = 0; w < WRITERS; w++) {
		if ((pids[w] = fork()) == 0) {
			struct session_new	n;
			char			phone[PHONE_LEN];
			int64_t			id;
			int			i;

			if (store_open(dburl, &st, err) != 0)
				_exit(2);
			for (i = 0; i < PER_WRITER; i++) {
				snprintf(phone, sizeof phone, "+1%d%09d", w + 2,
				    i);
				fill(&n, "writer", phone, "us");
				if (store_session_add(st, &n, "test", i,
				    &id) != 0)
					_exit(1);
			}
			store_close(st);
			_exit(0);
		}
		assert_true(pids[w] > 0);
	}
	for (w = 0; w < WRITERS; w++) {
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(store_open(dburl, &st, err), 0);
	assert_int_equal(store_session_list(st, count_cb, &count), 0);
	assert_int_equal(count, WRITERS * PER_WRITER);
	store_close(st);
}

static int
setup_sqlite(void **state)
{
	(void)state;
	on_pg = false;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_sqlite(void **state)
{
	char	cmd[600];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
setup_pg(void **state)
{
	PGconn	*c;
	int	 ok;

	(void)state;
	c = PQconnectdb(pg_base);
	if (!(ok = PQstatus(c) == CONNECTION_OK))
		fprintf(stderr, "RESPAWN_TEST_PG_URL: %s", PQerrorMessage(c));
	PQfinish(c);
	if (!ok)
		return -1;
	on_pg = true;
	/* A new directory for the cases that need files. */
	(void)util_strlcpy(tmpdir, "/tmp/respawn-test-store-XXXXXX",
	    sizeof tmpdir);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

/* Every case's schema goes. */
static int
teardown_pg(void **state)
{
	char	sql[128];
	int	i;

	for (i = 0; i < nschemas; i++) {
		snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schemas[i]);
		(void)pg_sql(pg_base, sql);
	}
	nschemas = 0;
	return teardown_sqlite(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrations),
		cmocka_unit_test(test_migrate_older),
		cmocka_unit_test(test_bad_targets),
		cmocka_unit_test(test_pg_url_errors),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_add_many),
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_ownership),
		cmocka_unit_test(test_proxies),
		cmocka_unit_test(test_proxy_answers),
		cmocka_unit_test(test_proxy_holds),
		cmocka_unit_test(test_phone_gaps),
		cmocka_unit_test(test_paging),
		cmocka_unit_test(test_fleet_ops),
		cmocka_unit_test(test_two_writers),
	};
	int	failed;

	failed = cmocka_run_group_tests_name("store on SQLite", tests,
	    setup_sqlite, teardown_sqlite);
	pg_base = getenv("RESPAWN_TEST_PG_URL");
	if (pg_base == NULL || *pg_base == '\0') {
		printf("[  SKIPPED ] store on PostgreSQL: RESPAWN_TEST_PG_URL "
		    "is not set\n");
		return failed;
	}
	failed += cmocka_run_group_tests_name("store on PostgreSQL", tests,
	    setup_pg, teardown_pg);
	return failed;
}
