/*
 * Tests of the SQLite state store: migrations (and refusing a newer
 * schema), session records and their constraints, the audit log written in
 * the same transaction, and two processes writing at once.
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

#include <sqlite3.h>

#include "store.h"
#include "util.h"

static char tmpdir[] = "/tmp/respawn-test-store-XXXXXX";
static char dbpath[600];
static int  dbseq;

/* Each test gets a new database file. */
static struct store *
open_new(void)
{
	struct store	*st;
	char		 err[STORE_ERROR_LEN];

	snprintf(dbpath, sizeof dbpath, "%s/t%d.db", tmpdir, ++dbseq);
	if (store_open(dbpath, &st, err) != 0)
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

/* Run one SQL query on the file directly and return its integer. */
static int64_t
query_int(const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
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

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
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
	assert_int_equal(query_int("SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name IN ('sessions', 'proxies', 'assignments', "
	    "'instances', 'purchase_intents', 'recovery_runs', 'events')"), 7);
	assert_int_equal(query_int("PRAGMA journal_mode = WAL") >= 0, 1);

	/* Opening again is a no-op. */
	assert_int_equal(store_open(dbpath, &st, err), 0);
	store_close(st);

	/* A schema from a newer respawn is refused, not touched. */
	exec_sql("PRAGMA user_version = 99");
	assert_int_equal(store_open(dbpath, &st, err), -EPROTO);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(query_int("PRAGMA user_version"), 99);
}

static void
test_not_a_database(void **state)
{
	struct store	*st;
	char		 err[STORE_ERROR_LEN];
	FILE		*f;

	(void)state;
	snprintf(dbpath, sizeof dbpath, "%s/garbage.db", tmpdir);
	f = fopen(dbpath, "w");
	fputs("this is not a database, just text that is long enough to be "
	    "read as a header by SQLite and rejected by it\n", f);
	fclose(f);
	assert_int_not_equal(store_open(dbpath, &st, err), 0);
	assert_non_null(strstr(err, "garbage.db"));
	assert_int_equal(store_open("postgresql://x/y", &st, err),
	    -EPROTONOSUPPORT);
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
	assert_non_null(strstr(store_errmsg(st), "CHECK"));
	store_close(st);
	assert_int_equal(query_int("SELECT count(*) FROM sessions"), 0);
	assert_int_equal(query_int("SELECT count(*) FROM events"), 0);
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
 * Two processes add sessions to one file at the same time: with BEGIN
 * IMMEDIATE and the busy timeout, every insert lands and none fails.
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

			if (store_open(dbpath, &st, err) != 0)
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
	assert_int_equal(store_open(dbpath, &st, err), 0);
	assert_int_equal(store_session_list(st, count_cb, &count), 0);
	assert_int_equal(count, WRITERS * PER_WRITER);
	store_close(st);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[600];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrations),
		cmocka_unit_test(test_not_a_database),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_two_writers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
