/*
 * Tests of the HTTP front's pure parts and of the Prometheus writer:
 * route matching ({id} segments, 404 against 405), the API key (constant
 * time comparison of bytes and length, x-api-key before Bearer), which
 * Content-Types are JSON, error bodies (valid JSON whatever bytes a client
 * sent: httpd_echo), and metric samples, label escaping and histograms in
 * the text format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/metrics.h"
#include "http/api.h"
#include "http/httpd.h"
#include "store/store.h"

static void
handler(void *arg, const struct httpd_request *rq, struct httpd_response *rs)
{
}

static const struct httpd_route routes[] = {
	{ HTTPD_GET, "/healthz", false, handler, false, NULL, 0, false, NULL },
	{ HTTPD_GET, "/api/sessions", true, handler, false, NULL, 0, false, NULL },
	{ HTTPD_POST, "/api/sessions", true, handler, false, NULL, 0, false, NULL },
	{ HTTPD_GET, "/api/sessions/{id}", true, handler, false, NULL, 0,
	    false, NULL },
	{ HTTPD_POST, "/api/sessions/{id}/start", true, handler, false, NULL,
	    0, false, NULL },
	{ HTTPD_OTHER, NULL, false, NULL, false, NULL, 0, false, NULL },
};

static void
test_match(void **state)
{
	static const struct {
		enum httpd_method	 m;
		const char		*path;
		int			 r;
		size_t			 index;
		int64_t			 id;
	} cases[] = {
		{ HTTPD_GET, "/healthz", 0, 0, 0 },
		{ HTTPD_GET, "/api/sessions", 0, 1, 0 },
		{ HTTPD_POST, "/api/sessions", 0, 2, 0 },
		{ HTTPD_GET, "/api/sessions/42", 0, 3, 42 },
		{ HTTPD_POST, "/api/sessions/7/start", 0, 4, 7 },
		{ HTTPD_DELETE, "/api/sessions", -EPERM, 0, 0 },
		{ HTTPD_GET, "/api/sessions/7/start", -EPERM, 0, 0 },
		{ HTTPD_OTHER, "/healthz", -EPERM, 0, 0 },
		{ HTTPD_GET, "/api/sessions/", -ENOENT, 0, 0 },
		{ HTTPD_GET, "/api/sessions/0", -ENOENT, 0, 0 },
		{ HTTPD_GET, "/api/sessions/007", -ENOENT, 0, 0 },
		{ HTTPD_GET, "/api/sessions/-1", -ENOENT, 0, 0 },
		{ HTTPD_GET, "/api/sessions/1x", -ENOENT, 0, 0 },
		{ HTTPD_GET, "/api/sessions/99999999999999999999", -ENOENT, 0, 0 },
		{ HTTPD_GET, "/api/sessions/1/", -ENOENT, 0, 0 },
		{ HTTPD_POST, "/api/sessions/1/start/", -ENOENT, 0, 0 },
		{ HTTPD_GET, "/healthz/", -ENOENT, 0, 0 },
		{ HTTPD_GET, "/healthzz", -ENOENT, 0, 0 },
		{ HTTPD_GET, "/", -ENOENT, 0, 0 },
		{ HTTPD_GET, "", -ENOENT, 0, 0 },
	};
	size_t	i, index;
	int64_t	id;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		index = 99;
		id = -5;
		assert_int_equal(httpd_match(routes, cases[i].m, cases[i].path,
		    &index, &id), cases[i].r);
		if (cases[i].r == 0) {
			assert_int_equal(index, cases[i].index);
			assert_int_equal(id, cases[i].id);
		} else {
			/* Outputs are written only on success. */
			assert_int_equal(index, 99);
			assert_int_equal(id, -5);
		}
	}
}

/* The API's own table: every pattern is reachable and unique. */
static void
test_api_routes(void **state)
{
	size_t	i, index;
	int64_t	id;
	char	path[128];
	char	*p;

	for (i = 0; api_routes[i].pattern != NULL; i++) {
		snprintf(path, sizeof path, "%s", api_routes[i].pattern);
		if ((p = strstr(path, "{id}")) != NULL) {
			memmove(p + 2, p + 4, strlen(p + 4) + 1);
			memcpy(p, "12", 2);
		}
		assert_int_equal(httpd_match(api_routes, api_routes[i].method,
		    path, &index, &id), 0);
		assert_int_equal(index, i);
		/* Only the unauthenticated three. */
		assert_true(api_routes[i].auth == (strncmp(path, "/api/", 5)
		    == 0));
	}
}

/*
 * Paths no route takes are guarded (401 before 404 or 405) exactly when
 * their first segment is an authenticated route's.
 */
static void
test_guarded(void **state)
{
	static const struct {
		const char	*path;
		bool		 guarded;
	} cases[] = {
		{ "/api/nothing", true },
		{ "/api/sessions/x/y", true },
		{ "/api", true },
		{ "/api/", true },
		{ "/apix", false },
		{ "/ap", false },
		{ "/healthz/x", false },
		{ "/nothing", false },
		{ "/", false },
		{ "//api", false },
		{ "", false },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_true(httpd_guarded(routes, cases[i].path) ==
		    cases[i].guarded);
}

static void
test_key(void **state)
{
	static const struct {
		const char	*given;
		const char	*key;
		bool		 ok;
	} cases[] = {
		{ "secret", "secret", true },
		{ "secreT", "secret", false },
		{ "secre", "secret", false },
		{ "secrets", "secret", false },
		{ "", "secret", false },
		{ "", "", false },		/* no key: nothing matches */
		{ "x", "", false },
	};
	size_t	i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_int_equal(httpd_key_equal(cases[i].given,
		    strlen(cases[i].given), cases[i].key, strlen(cases[i].key)),
		    cases[i].ok);
	/* The lengths are compared too, not only the bytes up to a NUL. */
	assert_false(httpd_key_equal("secret\0junk", 11, "secret", 6));
	assert_false(httpd_key_equal("secret", 6, "secret\0junk", 11));
	assert_true(httpd_key_equal("secret\0junk", 11, "secret\0junk", 11));
}

static void
test_json_type(void **state)
{
	static const struct {
		const char	*ct;
		bool		 ok;
	} cases[] = {
		{ "application/json", true },
		{ "Application/JSON", true },
		{ "application/json; charset=utf-8", true },
		{ "application/json;charset=UTF-8", true },
		{ "application/json ; charset=\"utf-8\"", true },
		{ "application/json; foo=bar; charset=utf-8", true },
		{ "application/json ", true },
		{ NULL, false },
		{ "", false },
		{ "text/plain", false },
		{ "application/jsonx", false },
		{ "application/json-seq", false },
		{ "application/x-www-form-urlencoded", false },
		{ "application/json; charset=latin1", false },
		{ "application/json; charset=utf-16", false },
		{ "application/json; charset=\"utf-8", false },
		{ "application/json;", false },
		{ "application/json; charset", false },
		{ "application/json; charset=", false },
		{ "application/json, text/plain", false },
	};
	size_t	i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (httpd_json_type(cases[i].ct) != cases[i].ok)
			fail_msg("'%s': want %d", cases[i].ct ? cases[i].ct :
			    "(null)", cases[i].ok);
}

static void
test_presented_key(void **state)
{
	assert_string_equal(httpd_presented_key("a", "Bearer b"), "a");
	assert_string_equal(httpd_presented_key(NULL, "Bearer b"), "b");
	assert_string_equal(httpd_presented_key(NULL, "bearer   c"), "c");
	assert_null(httpd_presented_key(NULL, "Basic dXNlcjpwYXNz"));
	assert_null(httpd_presented_key(NULL, "Bearer"));
	assert_null(httpd_presented_key(NULL, NULL));
}

static void
test_error_body(void **state)
{
	struct httpd_response	rs = { 0 };
	char			*s;

	httpd_error(&rs, 400, "phoneNumber", "phoneNumber: '%s' bad", "12");
	assert_int_equal(rs.status, 400);
	s = json_dumps(rs.json, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"error\":\"invalid_request\",\"field\":"
	    "\"phoneNumber\",\"message\":\"phoneNumber: '12' bad\"}");
	free(s);
	/* A second error replaces the first. */
	httpd_error(&rs, 413, NULL, "too big");
	s = json_dumps(rs.json, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"error\":\"payload_too_large\",\"message\":"
	    "\"too big\"}");
	free(s);
	json_decref(rs.json);
}

/* httpd_echo: cut at a character boundary, invalid bytes replaced. */
static void
test_echo(void **state)
{
#define FFFD "\xef\xbf\xbd"
	static const struct {
		const char	*in;
		size_t		 max;
		const char	*out;
	} cases[] = {
		{ "plain", 64, "plain" },
		{ "", 64, "" },
		{ "abcdef", 4, "abcd..." },
		{ "abcd", 4, "abcd" },
		{ "\xc3\xa9", 1, "..." },		/* never half an e-acute */
		{ "a\xc3\xa9", 2, "a..." },
		{ "a\xc3\xa9", 3, "a\xc3\xa9" },
		{ "\xf0\x9f\x98\x80!", 64, "\xf0\x9f\x98\x80!" },
		{ "\xef\xbf\xbf", 64, "\xef\xbf\xbf" },	/* U+FFFF is valid */
		{ "\xff", 64, FFFD },
		{ "\x80x", 64, FFFD "x" },		/* a stray continuation */
		{ "\xc0\xaf", 64, FFFD FFFD },		/* overlong '/' */
		{ "\xe0\x80\x80", 64, FFFD FFFD FFFD },	/* overlong NUL */
		{ "\xed\xa0\x80", 64, FFFD FFFD FFFD },	/* a surrogate */
		{ "\xf4\x90\x80\x80", 64, FFFD FFFD FFFD FFFD }, /* > U+10FFFF */
		{ "\xf5\x80", 64, FFFD FFFD },
		{ "ab\xe2\x82", 64, "ab" FFFD FFFD },	/* cut short */
		{ "\xff\xff", 4, FFFD "..." },
		{ "abcdefghijkl", 1000, "abcd..." },	/* out has 8 bytes */
	};
	char	out[8 + 3 * 4];
	size_t	i, outlen;
	json_t	*j;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		outlen = cases[i].max == 1000 ? 8 : sizeof out;
		assert_ptr_equal(httpd_echo(out, outlen, cases[i].in,
		    cases[i].max), out);
		assert_string_equal(out, cases[i].out);
		assert_true(strlen(out) < outlen);
		assert_non_null(j = json_string(out));
		json_decref(j);
	}
#undef FFFD
}

/*
 * Whatever bytes a client sends, an error answer is a JSON Error: a value
 * cut at a length never splits a character, and invalid UTF-8 is replaced.
 */
static void
test_error_untrusted_bytes(void **state)
{
	static const char *const allowed[] = { "limit", NULL };
	struct httpd_request	 rq = { 0 };
	struct httpd_response	 rs = { 0 };
	struct session_new	 n;
	char			 body[256], key[128];
	const char		*msg;

	/* Invalid UTF-8 in the message and in the field. */
	httpd_error(&rs, 400, "st\xff" "atus", "status: '%s' is not a session "
	    "status", "\xff\xfe");
	assert_non_null(rs.json);
	msg = json_string_value(json_object_get(rs.json, "message"));
	assert_string_equal(msg, "status: '\xef\xbf\xbd\xef\xbf\xbd' is not "
	    "a session status");
	assert_string_equal(json_string_value(json_object_get(rs.json,
	    "field")), "st\xef\xbf\xbd" "atus");

	/* A raw query key with invalid bytes names itself, replaced. */
	rq.query = "\xc3=1";
	assert_int_equal(httpd_query_check(&rq, allowed, &rs), -EINVAL);
	assert_non_null(rs.json);
	assert_string_equal(json_string_value(json_object_get(rs.json,
	    "field")), "\xef\xbf\xbd");

	/* An unknown field whose 64th byte starts a two-byte character. */
	memset(key, 'a', 63);
	memcpy(key + 63, "\xc3\xa9", 3);
	snprintf(body, sizeof body, "{\"%s\":1}", key);
	assert_int_equal(api_sessions_parse(body, strlen(body), &n, &rs),
	    -EINVAL);
	assert_non_null(rs.json);
	msg = json_string_value(json_object_get(rs.json, "message"));
	assert_non_null(msg);
	assert_null(strstr(msg, "\xef\xbf\xbd"));	/* cut before it */
	assert_string_equal(json_string_value(json_object_get(rs.json,
	    "field")), key);

	/* A message past HTTPD_ERR_LEN is cut at a character boundary. */
	memset(body, 0, sizeof body);
	for (size_t i = 0; i + 2 < sizeof body; i += 2)
		memcpy(body + i, "\xc3\xa9", 2);
	httpd_error(&rs, 404, NULL, "no such path: x%s", body);
	assert_non_null(rs.json);
	json_decref(rs.json);
}

static void
test_query(void **state)
{
	static const char *const allowed[] = { "limit", "after", NULL };
	struct httpd_request	 rq = { 0 };
	struct httpd_response	 rs = { 0 };
	int64_t			 v = -1;

	rq.query = "limit=20&after=5";
	assert_int_equal(httpd_query_check(&rq, allowed, &rs), 0);
	assert_int_equal(httpd_query_i64(&rq, "limit", 100, 1, 1000, &v, &rs),
	    0);
	assert_int_equal(v, 20);
	assert_int_equal(httpd_query_i64(&rq, "missing", 7, 1, 1000, &v, &rs),
	    0);
	assert_int_equal(v, 7);
	assert_null(rs.json);

	rq.query = "limit=0";
	v = -1;
	assert_int_equal(httpd_query_i64(&rq, "limit", 100, 1, 1000, &v, &rs),
	    -EINVAL);
	assert_int_equal(v, -1);
	assert_int_equal(rs.status, 400);
	assert_string_equal(json_string_value(json_object_get(rs.json,
	    "field")), "limit");

	rq.query = "limit=1&sort=id";
	assert_int_equal(httpd_query_check(&rq, allowed, &rs), -EINVAL);
	assert_string_equal(json_string_value(json_object_get(rs.json,
	    "field")), "sort");
	json_decref(rs.json);
	rs.json = NULL;

	/* Given twice, even with one value: refused, never the first taken. */
	rq.query = "limit=1&after=2&limit=1";
	assert_int_equal(httpd_query_check(&rq, allowed, &rs), -EINVAL);
	assert_int_equal(rs.status, 400);
	assert_string_equal(json_string_value(json_object_get(rs.json,
	    "field")), "limit");
	json_decref(rs.json);
}

static void
test_metrics_text(void **state)
{
	static const double	 bounds[] = { 0.5, 1, 5 };
	struct metrics_hist	 h;
	struct buf		 b;

	buf_init(&b, 4096);
	assert_int_equal(metrics_family(&b, "x_total", METRICS_COUNTER,
	    "Line one\nwith a \\ backslash."), 0);
	assert_int_equal(metrics_sample(&b, "x_total", 3, NULL), 0);
	assert_int_equal(metrics_sample(&b, "x_total", 1.5, "a", "q\"u\\o\nte",
	    "b", "", NULL), 0);
	assert_string_equal(b.data,
	    "# HELP x_total Line one\\nwith a \\\\ backslash.\n"
	    "# TYPE x_total counter\n"
	    "x_total 3\n"
	    "x_total{a=\"q\\\"u\\\\o\\nte\",b=\"\"} 1.5\n");
	buf_reset(&b);

	metrics_hist_init(&h, bounds, 3);
	metrics_hist_observe(&h, 0.2);
	metrics_hist_observe(&h, 0.5);	/* le is inclusive */
	metrics_hist_observe(&h, 3);
	metrics_hist_observe(&h, 100);
	assert_int_equal(metrics_hist_write(&b, "d", &h, "op", "list", NULL),
	    0);
	assert_string_equal(b.data,
	    "d_bucket{op=\"list\",le=\"0.5\"} 2\n"
	    "d_bucket{op=\"list\",le=\"1\"} 2\n"
	    "d_bucket{op=\"list\",le=\"5\"} 3\n"
	    "d_bucket{op=\"list\",le=\"+Inf\"} 4\n"
	    "d_sum{op=\"list\"} 103.7\n"
	    "d_count{op=\"list\"} 4\n");
	buf_reset(&b);
	assert_int_equal(metrics_hist_write(&b, "e", &h, NULL), 0);
	assert_non_null(strstr(b.data, "e_bucket{le=\"+Inf\"} 4\ne_sum 103.7\n"
	    "e_count 4\n"));
	buf_free(&b);

	/* Past the buffer's limit: an error and no half line left behind. */
	buf_init(&b, 24);
	assert_int_equal(metrics_sample(&b, "short", 1, NULL), 0);
	assert_true(metrics_sample(&b, "a_much_longer_name", 1, "k", "v",
	    NULL) < 0);
	assert_string_equal(b.data, "short 1\n");
	buf_free(&b);
}

/* POST /api/sessions bodies: each refusal names its field. */
static void
test_session_body(void **state)
{
	static const struct {
		const char	*body;
		const char	*field;		/* NULL: accepted; "-": none */
	} cases[] = {
		{ "{\"userId\":\"u\",\"phoneNumber\":\"+4915112345678\","
		  "\"country\":\"DE\"}", NULL },
		{ "{\"userId\":\"u\",\"phoneNumber\":\"+4915112345678\","
		  "\"country\":\"de\",\"priority\":-3,\"proxyType\":"
		  "\"residential\",\"desiredState\":\"stopped\"}", NULL },
		{ "{\"userId\":\"u\",\"phoneNumber\":\"4915112345678\","
		  "\"country\":\"de\"}", "phoneNumber" },
		{ "{\"userId\":\"u\",\"phoneNumber\":\"+49151123456789012\","
		  "\"country\":\"de\"}", "phoneNumber" },
		{ "{\"userId\":\"u\",\"phoneNumber\":\"+4915112345678\","
		  "\"country\":\"xx\"}", "country" },
		{ "{\"userId\":\"u\",\"phoneNumber\":\"+4915112345678\","
		  "\"country\":\"de\",\"priority\":2000000}", "priority" },
		{ "{\"userId\":\"u\",\"phoneNumber\":\"+4915112345678\","
		  "\"country\":\"de\",\"priority\":true}", "priority" },
		{ "{\"userId\":[],\"phoneNumber\":\"+4915112345678\","
		  "\"country\":\"de\"}", "userId" },
		{ "{\"userId\":\"u\",\"phoneNumber\":\"+4915112345678\","
		  "\"country\":\"de\",\"extra\":1}", "extra" },
		{ "{\"userId\":\"u\",\"country\":\"de\"}", "phoneNumber" },
		{ "{\"phoneNumber\":\"+4915112345678\",\"country\":\"de\"}",
		  "userId" },
		{ "{\"userId\":\"u\",\"phoneNumber\":\"+4915112345678\"}",
		  "country" },
		{ "{\"userId\":\"u\",\"userId\":\"v\"}", "-" },
		{ "{", "-" },
		{ "\"text\"", "-" },
		{ "", "-" },
	};
	struct session_new	n;
	size_t			i;
	int			r;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct httpd_response	rs = { 0 };

		memset(&n, 0x5a, sizeof n);
		r = api_sessions_parse(cases[i].body, strlen(cases[i].body), &n,
		    &rs);
		if (cases[i].field == NULL) {
			assert_int_equal(r, 0);
			assert_null(rs.json);
			assert_string_equal(n.country, "de");
			continue;
		}
		assert_int_equal(r, -EINVAL);
		assert_int_equal(rs.status, 400);
		assert_int_equal((unsigned char)n.phone[0], 0x5a);
		if (strcmp(cases[i].field, "-") == 0)
			assert_null(json_object_get(rs.json, "field"));
		else
			assert_string_equal(json_string_value(json_object_get(
			    rs.json, "field")), cases[i].field);
		json_decref(rs.json);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_api_routes),
		cmocka_unit_test(test_guarded),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_json_type),
		cmocka_unit_test(test_presented_key),
		cmocka_unit_test(test_error_body),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_error_untrusted_bytes),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_metrics_text),
		cmocka_unit_test(test_session_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
