/*
 * Tests of `respawn import`'s two halves: import_parse (each form a table
 * of texts and the rows they give) and import_plan + import_apply on a
 * SQLite store (what is added, what is the same, what is refused and why;
 * the proxy recorded as the phone's previous one, so that the pool would
 * reactivate it; a second plan all the same).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/util.h"
#include "store/import.h"

/* One row the text must give: "" fields are not checked. */
struct want_row {
	const char	*where;
	const char	*error;		/* a part of it; NULL: a good row */
	const char	*phone, *user, *country, *proxy;
	enum session_desired desired;
};

struct parse_case {
	const char		*name;
	const char		*text;
	enum import_format	 format;
	int			 rc;
	enum import_format	 found;
	size_t			 n;
	struct want_row		 rows[4];
	size_t			 ignored, superseded, running;
};

static const struct parse_case parse_cases[] = {
	{ "csv without header", "u1,+14155550001,us,10.0.0.1\n"
	  "u2, \"+14155550002\" ,GB\n\n# note\nu3,+1415,us\n",
	  IMPORT_FORMAT_AUTO, 0, IMPORT_FORMAT_CSV, 3, {
	    { "line 1", NULL, "+14155550001", "u1", "us", "10.0.0.1", 0 },
	    { "line 2", NULL, "+14155550002", "u2", "gb", "", 0 },
	    { "line 5", "bad phone number '+1415'", "", "", "", "", 0 } },
	  0, 0, 0 },
	{ "csv header in any order", "proxyIp,country,phoneNumber,userId,"
	  "note\n1.2.3.4,de,+4915112345678,u1,x\n",
	  IMPORT_FORMAT_CSV, 0, IMPORT_FORMAT_CSV, 1, {
	    { "line 2", NULL, "+4915112345678", "u1", "de", "1.2.3.4", 0 } },
	  1, 0, 0 },
	{ "csv errors by line", "u1,+14155550001,zz\nu2,+14155550002\n"
	  "u1,+14155550001,us\nu4,+14155550004,us,1.2.3.4 x\n",
	  IMPORT_FORMAT_AUTO, 0, IMPORT_FORMAT_CSV, 4, {
	    { "line 1", "unknown country 'zz'", "", "", "", "", 0 },
	    { "line 2", "want USER,PHONE,COUNTRY", "", "", "", "", 0 },
	    { "line 3", "repeats line 1", "", "", "", "", 0 },
	    { "line 4", "bad proxyIp '1.2.3.4 x'", "", "", "", "", 0 } },
	  0, 0, 0 },
	{ "jsonl", "{\"userId\":\"u1\",\"phoneNumber\":\"+32470123456\","
	  "\"country\":\"nl\",\"requestedCountry\":\"be\",\"fallbackUsed\":"
	  "true,\"proxyIp\":\"1.2.3.4\",\"status\":\"disconnected\",\"x\":1}\n"
	  "nope\n{\"userId\":\"u2\",\"phoneNumber\":\"+14155550002\"}\n",
	  IMPORT_FORMAT_AUTO, 0, IMPORT_FORMAT_JSONL, 3, {
	    { "line 1", NULL, "+32470123456", "u1", "be", "1.2.3.4",
	      SESSION_DESIRED_STOPPED },
	    { "line 2", "not a JSON object", "", "", "", "", 0 },
	    { "line 3", "no country", "", "", "", "", 0 } },
	  1, 0, 0 },
	{ "firestore: collections merged by phone, newest assignment",
	  "{\"whatsapp_phone_numbers\":{\"p1\":{\"userId\":\"u1\","
	  "\"phoneNumber\":\"+14155550001\",\"country\":\"us\",\"extra\":1}},"
	  "\"proxy_assignments\":{\"a\":{\"userId\":\"u1\",\"phoneNumber\":"
	  "\"+14155550001\",\"proxyIp\":\"9.9.9.9\",\"assignedAt\":1700000000},"
	  "\"b\":{\"userId\":\"u1\",\"phoneNumber\":\"+14155550001\","
	  "\"proxyIp\":\"1.1.1.1\",\"country\":\"us\",\"assignedAt\":"
	  "{\"_seconds\":1700000100,\"_nanoseconds\":0}}},"
	  "\"session_recovery\":[{\"userId\":\"u1\",\"phoneNumber\":"
	  "\"+14155550001\",\"status\":\"stopped\"}],"
	  "\"server_instances\":{\"i\":{\"instanceId\":\"old-1\",\"status\":"
	  "\"running\"}},\"users\":{}}",
	  IMPORT_FORMAT_AUTO, 0, IMPORT_FORMAT_FIRESTORE, 1, {
	    { "proxy_assignments/b", NULL, "+14155550001", "u1", "us",
	      "1.1.1.1", SESSION_DESIRED_STOPPED } },
	  2, 1, 1 },
	{ "firestore: the document of the problem is named",
	  "{\"__collections__\":{\"proxy_assignments\":{\"a\":{\"userId\":"
	  "\"u1\",\"phoneNumber\":\"+14155550001\",\"proxyIp\":\"1.1.1.1\","
	  "\"assignedAt\":\"timestamp\"},\"b\":{\"phoneNumber\":\"12\"},"
	  "\"c\":{\"userId\":\"u2\",\"phoneNumber\":\"+14155550003\","
	  "\"requestedCountry\":\"us\"}},\"session_recovery\":{\"r\":{"
	  "\"userId\":\"u3\",\"phoneNumber\":\"+14155550003\"}}}}",
	  IMPORT_FORMAT_AUTO, 0, IMPORT_FORMAT_FIRESTORE, 3, {
	    { "proxy_assignments/c", "differs from", "", "", "", "", 0 },
	    { "proxy_assignments/a", "assignedAt: not a time", "", "", "",
	      "", 0 },
	    { "proxy_assignments/b", "bad phone number '12'", "", "", "", "",
	      0 } },
	  0, 0, 0 },
	{ "firestore REST documents", "{\"proxy_assignments\":[{\"name\":"
	  "\"projects/p/databases/(default)/documents/proxy_assignments/d1\","
	  "\"fields\":{\"userId\":{\"stringValue\":\"u1\"},\"phoneNumber\":"
	  "{\"stringValue\":\"+14155550001\"},\"proxyIp\":{\"stringValue\":"
	  "\"1.1.1.1\"},\"country\":{\"stringValue\":\"us\"},\"assignedAt\":"
	  "{\"timestampValue\":\"2026-12-01T10:00:00.123456Z\"}}}]}",
	  IMPORT_FORMAT_AUTO, 0, IMPORT_FORMAT_FIRESTORE, 1, {
	    { "proxy_assignments/d1", NULL, "+14155550001", "u1", "us",
	      "1.1.1.1", 0 } },
	  0, 0, 0 },
	{ "broken export", "{\"proxy_assignments\": [", IMPORT_FORMAT_AUTO,
	  -EINVAL, 0, 0, { { 0 } }, 0, 0, 0 },
	{ "a collection that is neither", "{\"session_recovery\": 3}",
	  IMPORT_FORMAT_AUTO, -EINVAL, 0, 0, { { 0 } }, 0, 0, 0 },
};

static void
check_row(const struct parse_case *c, size_t i, const struct import_row *r)
{
	const struct want_row	*w = &c->rows[i];

	if (strcmp(r->where, w->where) != 0)
		fail_msg("%s: row %zu from '%s', want '%s'", c->name, i,
		    r->where, w->where);
	if (w->error != NULL) {
		if (strstr(r->error, w->error) == NULL)
			fail_msg("%s: row %zu error '%s', want '%s'", c->name,
			    i, r->error, w->error);
		return;
	}
	if (r->error[0] != '\0')
		fail_msg("%s: row %zu refused: %s", c->name, i, r->error);
	assert_string_equal(r->s.phone, w->phone);
	assert_string_equal(r->s.user_id, w->user);
	assert_string_equal(r->s.country, w->country);
	assert_string_equal(r->proxy_ip, w->proxy);
	assert_int_equal(r->s.desired, w->desired);
}

static void
test_parse(void **state)
{
	struct import_set	*set;
	char			 err[IMPORT_ERR_LEN];
	size_t			 k, i;
	int			 r;

	(void)state;
	for (k = 0; k < sizeof parse_cases / sizeof parse_cases[0]; k++) {
		const struct parse_case	*c = &parse_cases[k];

		set = NULL;
		err[0] = '\0';
		r = import_parse(c->text, strlen(c->text), c->format,
		    PROXY_TYPE_ISP, &set, err);
		if (r != c->rc)
			fail_msg("%s: %d (%s), want %d", c->name, r, err,
			    c->rc);
		if (r < 0) {
			assert_null(set);
			assert_true(err[0] != '\0');
			continue;
		}
		assert_int_equal(set->format, c->found);
		if (set->n != c->n)
			fail_msg("%s: %zu rows, want %zu", c->name, set->n,
			    c->n);
		for (i = 0; i < c->n; i++)
			check_row(c, i, &set->rows[i]);
		assert_int_equal(set->fields_ignored, c->ignored);
		assert_int_equal(set->superseded, c->superseded);
		assert_int_equal(set->instances_running, c->running);
		import_set_free(set);
	}
}

/* A test's SQLite database (t.db in dir) and dir, removed. */
static void
db_remove(const char *dir)
{
	static const char *const files[] = { "t.db", "t.db-wal", "t.db-shm" };
	char	path[128];
	size_t	i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

/* What a text becomes in the store, judged against a listing. */
static struct import_step *
plan(struct store *st, const char *text, const struct import_target *tg,
    struct import_set **ret)
{
	struct import_step	*steps;
	char			 err[IMPORT_ERR_LEN];

	assert_int_equal(import_parse(text, strlen(text), IMPORT_FORMAT_AUTO,
	    PROXY_TYPE_ISP, ret, err), 0);
	steps = calloc((*ret)->n + 1, sizeof *steps);
	assert_non_null(steps);
	assert_int_equal(import_plan(st, *ret, tg, steps), 0);
	return steps;
}

static void
test_plan_apply(void **state)
{
	static const struct import_listed listed[] = {
		{ "10.0.0.1", "us" }, { "10.0.0.2", "nl" }, { "10.0.0.3", "" },
		{ "10.0.0.9", "us" },
	};
	static const char fleet[] =
	    "user,phone,country,proxy\n"
	    "u1,+14155550001,us,10.0.0.1\n"		/* added, its IP */
	    "u2,+32470000002,be,10.0.0.2\n"		/* fallback: nl */
	    "u3,+14155550003,us,10.0.0.3\n"		/* listed, no country */
	    "u4,+14155550004,us,10.0.0.4\n"		/* not listed */
	    "u5,+14155550005,us,10.0.0.1\n"		/* IP of line 2 */
	    "u6,+14155550006,us\n"			/* no proxy */
	    "other,+14155550007,us\n"			/* in the store */
	    "u8,+14155550008,us,10.0.0.9\n";		/* used in the store */
	struct import_target	 tg = { "brightdata", "isp_z", true, listed,
				    4 };
	struct import_set	*set;
	struct import_step	*steps;
	struct session_new	 n;
	struct session		 s;
	struct proxy_row	 p;
	char			 dir[] = "/tmp/respawn-import.XXXXXX", url[128];
	char			 err[STORE_ERROR_LEN];
	struct store		*st;
	int64_t			 ids[8], pid, sid;
	size_t			 nh, i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof url, "%s/t.db", dir);
	assert_int_equal(store_open(url, &st, err), 0);
	/* The store has +14155550007 (another user) and 10.0.0.9 in use. */
	memset(&n, 0, sizeof n);
	(void)util_strlcpy(n.user_id, "u7", sizeof n.user_id);
	(void)util_strlcpy(n.phone, "+14155550007", sizeof n.phone);
	(void)util_strlcpy(n.country, "us", sizeof n.country);
	assert_int_equal(store_session_add(st, &n, "t", 1000, &sid), 0);
	memset(&p, 0, sizeof p);
	(void)util_strlcpy(p.provider, "brightdata", sizeof p.provider);
	(void)util_strlcpy(p.zone, "isp_z", sizeof p.zone);
	(void)util_strlcpy(p.ip, "10.0.0.9", sizeof p.ip);
	(void)util_strlcpy(p.country, "us", sizeof p.country);
	assert_int_equal(store_proxy_add(st, &p, 1000, &pid), 0);
	assert_int_equal(store_proxy_assign(st, pid, sid, n.phone, "us", false,
	    "purchased", "t", 1000), 0);

	steps = plan(st, fleet, &tg, &set);
	assert_int_equal(set->n, 8);
	assert_int_equal(steps[0].action, IMPORT_ADD);
	assert_true(steps[0].listed);
	assert_int_equal(steps[1].action, IMPORT_ADD);
	assert_string_equal(steps[1].country, "nl");
	assert_int_equal(steps[2].action, IMPORT_ADD);
	assert_string_equal(steps[2].country, "us");
	assert_int_equal(steps[3].action, IMPORT_REFUSED);
	assert_non_null(strstr(steps[3].why, "10.0.0.4 is not listed by "
	    "brightdata zone isp_z"));
	assert_int_equal(steps[4].action, IMPORT_REFUSED);
	assert_non_null(strstr(steps[4].why,
	    "is also +14155550001's (line 2)"));
	assert_int_equal(steps[5].action, IMPORT_ADD);
	assert_int_equal(steps[6].action, IMPORT_REFUSED);
	assert_non_null(strstr(steps[6].why, "of user u7"));
	assert_int_equal(steps[7].action, IMPORT_REFUSED);
	assert_non_null(strstr(steps[7].why, "10.0.0.9 is used by session"));

	assert_int_equal(import_apply(st, set, &tg, steps, "import", "f.csv",
	    5000), 0);
	assert_true(steps[0].session_id > 0 && steps[0].proxy_id > 0);
	/* The IP is the phone's previous one, active and kept for it. */
	assert_int_equal(store_session_get_by_phone(st, "+14155550001", &s),
	    0);
	assert_string_equal(s.proxy_ip, "10.0.0.1");
	assert_int_equal(store_proxy_history(st, "+14155550001", ids, 8, &nh),
	    0);
	assert_int_equal(nh, 1);
	assert_int_equal(ids[0], steps[0].proxy_id);
	assert_int_equal(store_session_get_by_phone(st, "+32470000002", &s),
	    0);
	assert_string_equal(s.country, "be");
	assert_int_equal(store_session_get_by_phone(st, "+14155550006", &s),
	    0);
	assert_string_equal(s.proxy_ip, "");
	assert_int_equal(store_session_get_by_phone(st, "+14155550004", &s),
	    -ENOENT);
	free(steps);
	import_set_free(set);

	/* Again: every row added before is the same, the rest refused. */
	steps = plan(st, fleet, &tg, &set);
	for (i = 0; i < set->n; i++) {
		if (i == 0 || i == 1 || i == 2 || i == 5)
			assert_int_equal(steps[i].action, IMPORT_SAME);
		else
			assert_int_equal(steps[i].action, IMPORT_REFUSED);
	}
	free(steps);
	import_set_free(set);

	/* The same phone with another IP than the one it has: refused. */
	steps = plan(st, "u1,+14155550001,us,10.0.0.9\n", &tg, &set);
	assert_int_equal(steps[0].action, IMPORT_REFUSED);
	assert_non_null(strstr(steps[0].why,
	    "10.0.0.9 is not among its recent proxies"));
	free(steps);
	import_set_free(set);

	/* Unchecked (--offline): an IP nobody lists is taken as it is. */
	tg.checked = false;
	steps = plan(st, "u9,+14155550009,us,10.0.0.8\n", &tg, &set);
	assert_int_equal(steps[0].action, IMPORT_ADD);
	assert_false(steps[0].listed);
	free(steps);
	import_set_free(set);
	store_close(st);
	db_remove(dir);
}

static int
count_cb(const struct session *s, void *arg)
{
	(void)s;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
sessions_in(struct store *st)
{
	size_t	n = 0;

	assert_int_equal(store_session_list(st, count_cb, &n), 0);
	return n;
}

/*
 * import_run decides as the command and the API say: a dry run writes
 * nothing; a refused row stops the whole file unless partial; nothing to
 * add writes nothing.  The figures are the plan's either way.
 */
static void
test_run(void **state)
{
	static const char good[] = "u1,+14155550001,us\nu2,+14155550002,us\n";
	static const char mixed[] = "u3,+14155550003,us\nu4,+1415,us\n";
	static const struct {
		const char	*text;
		bool		 dry_run, partial;
		bool		 written;
		size_t		 add, same, refused;
		size_t		 sessions;	/* in the store after */
	} cases[] = {
		{ good, true, false, false, 2, 0, 0, 0 },
		{ mixed, false, false, false, 1, 0, 1, 0 },
		{ mixed, true, true, false, 1, 0, 1, 0 },
		{ good, false, false, true, 2, 0, 0, 2 },
		{ good, false, false, false, 0, 2, 0, 2 },
		{ mixed, false, true, true, 1, 0, 1, 3 },
		{ mixed, false, true, false, 0, 1, 1, 3 },
	};
	struct import_target	 tg = { "static", "", false, NULL, 0 };
	struct import_outcome	 io;
	struct import_set	*set;
	struct import_step	*steps;
	struct session_new	 n;
	char			 dir[] = "/tmp/respawn-import.XXXXXX", url[128];
	char			 err[STORE_ERROR_LEN];
	struct store		*st;
	int64_t			 id;
	size_t			 i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof url, "%s/t.db", dir);
	assert_int_equal(store_open(url, &st, err), 0);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(import_parse(cases[i].text,
		    strlen(cases[i].text), IMPORT_FORMAT_CSV, PROXY_TYPE_ISP,
		    &set, err), 0);
		steps = calloc(set->n + 1, sizeof *steps);
		assert_non_null(steps);
		assert_int_equal(import_run(st, set, &tg, cases[i].dry_run,
		    cases[i].partial, "t", "f.csv", 1000, steps, &io), 0);
		if (io.written != cases[i].written ||
		    io.count[IMPORT_ADD] != cases[i].add ||
		    io.count[IMPORT_SAME] != cases[i].same ||
		    io.count[IMPORT_REFUSED] != cases[i].refused ||
		    sessions_in(st) != cases[i].sessions)
			fail_msg("case %zu: written %d add %zu same %zu "
			    "refused %zu sessions %zu", i, io.written,
			    io.count[IMPORT_ADD], io.count[IMPORT_SAME],
			    io.count[IMPORT_REFUSED], sessions_in(st));
		free(steps);
		import_set_free(set);
	}

	/*
	 * A phone added by someone else between the plan and the write:
	 * -EEXIST, and the rows written before it in the batch are undone.
	 */
	assert_int_equal(import_parse("u5,+14155550005,us\n"
	    "u6,+14155550006,us\n", 38, IMPORT_FORMAT_CSV, PROXY_TYPE_ISP,
	    &set, err), 0);
	steps = calloc(set->n + 1, sizeof *steps);
	assert_non_null(steps);
	assert_int_equal(import_plan(st, set, &tg, steps), 0);
	memset(&n, 0, sizeof n);
	(void)util_strlcpy(n.user_id, "u6", sizeof n.user_id);
	(void)util_strlcpy(n.phone, "+14155550006", sizeof n.phone);
	(void)util_strlcpy(n.country, "us", sizeof n.country);
	assert_int_equal(store_session_add(st, &n, "t", 2000, &id), 0);
	assert_int_equal(import_apply(st, set, &tg, steps, "t", "f.csv",
	    3000), -EEXIST);
	assert_int_equal(store_session_get_by_phone(st, "+14155550005", &(
	    struct session){ 0 }), -ENOENT);
	assert_int_equal(store_batch_id(st), 0);
	assert_int_equal(sessions_in(st), 4);
	free(steps);
	import_set_free(set);
	store_close(st);
	db_remove(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_plan_apply),
		cmocka_unit_test(test_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
