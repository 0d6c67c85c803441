/*
 * Tests of the Bright Data client's pure parts: the strict answer parsers
 * of bdjson.c (good answers, malformed JSON, wrong types, missing and extra
 * fields, bad addresses and countries, arrays and bodies past their
 * limits), the request-body builders, the rules of bdclient_decide (above
 * all: a purchase or release whose outcome is unknown is never repeated),
 * and the proxy usernames and residential session ids.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "provider/bdclient.h"
#include "provider/bdjson.h"

#define ERR_LEN	256

/* --- GET /zone/ips ------------------------------------------------------ */

struct list_case {
	const char	*body;
	int		 want_r;
	size_t		 want_n;
	const char	*want_ip;	/* of the last entry */
	const char	*want_cc;
	const char	*want_err;	/* a part of the message */
};

static const struct list_case list_cases[] = {
	{ "{\"ips\":[]}", 0, 0, NULL, NULL, NULL },
	{ "{\"ips\":[{\"ip\":\"1.1.1.1\",\"maxmind\":\"au\","
	    "\"ext\":{\"dbip\":\"au\",\"google\":\"us\"}}]}", 0, 1, "1.1.1.1",
	    "au", NULL },
	{ "{\"ips\":[{\"ip\":\"1.1.1.1\",\"maxmind\":\"au\",\"ext\":{}},"
	    "{\"ip\":\"127.3.0.66\",\"maxmind\":\"DE\"}]}", 0, 2, "127.3.0.66",
	    "de", NULL },
	/* Extra fields, at the top and in entries, are ignored. */
	{ "{\"ips\":[{\"ip\":\"2001:db8::1\",\"maxmind\":\"\",\"x\":[1]}],"
	    "\"more\":true}", 0, 1, "2001:db8::1", "", NULL },
	{ "  {\"ips\" : [ ]}  \n", 0, 0, NULL, NULL, NULL },
	/* Malformed JSON. */
	{ "", -EBADMSG, 0, NULL, NULL, "malformed JSON" },
	{ "{", -EBADMSG, 0, NULL, NULL, "malformed JSON" },
	{ "{\"ips\":[{\"ip\":\"1.1.1.1\",\"maxm", -EBADMSG, 0, NULL, NULL,
	    "malformed JSON" },
	{ "{\"ips\":[]}\x01<", -EBADMSG, 0, NULL, NULL, "malformed JSON" },
	{ "{\"ips\":[]} {}", -EBADMSG, 0, NULL, NULL, "malformed JSON" },
	{ "Invalid credentials", -EBADMSG, 0, NULL, NULL, "malformed JSON" },
	{ "{\"ips\":[],\"ips\":[]}", -EBADMSG, 0, NULL, NULL,
	    "malformed JSON" },
	{ "{\"ips\":[{\"ip\":\"1.1.1.1\\u0000\",\"maxmind\":\"au\"}]}",
	    -EBADMSG, 0, NULL, NULL, "malformed JSON" },
	/* Wrong shapes and types. */
	{ "[]", -EBADMSG, 0, NULL, NULL, "not a JSON object" },
	{ "{}", -EBADMSG, 0, NULL, NULL, "\"ips\" is missing" },
	{ "{\"ips\":{}}", -EBADMSG, 0, NULL, NULL, "not an array" },
	{ "{\"ips\":null}", -EBADMSG, 0, NULL, NULL, "not an array" },
	{ "{\"ips\":[\"1.1.1.1\"]}", -EBADMSG, 0, NULL, NULL,
	    "ips[0] is not an object" },
	{ "{\"ips\":[{\"maxmind\":\"au\"}]}", -EBADMSG, 0, NULL, NULL,
	    "ips[0] is not a string" },
	{ "{\"ips\":[{\"ip\":16843009,\"maxmind\":\"au\"}]}", -EBADMSG, 0,
	    NULL, NULL, "ips[0] is not a string" },
	{ "{\"ips\":[{\"ip\":\"1.1.1\",\"maxmind\":\"au\"}]}", -EBADMSG, 0,
	    NULL, NULL, "not an IP address" },
	{ "{\"ips\":[{\"ip\":\"1.1.1.1 \",\"maxmind\":\"au\"}]}", -EBADMSG,
	    0, NULL, NULL, "not an IP address" },
	{ "{\"ips\":[{\"ip\":\"\",\"maxmind\":\"au\"}]}", -EBADMSG, 0, NULL,
	    NULL, "not an IP address" },
	{ "{\"ips\":[{\"ip\":\"1.1.1.1\"}]}", -EBADMSG, 0, NULL, NULL,
	    "maxmind is missing" },
	{ "{\"ips\":[{\"ip\":\"1.1.1.1\",\"maxmind\":null}]}", -EBADMSG, 0,
	    NULL, NULL, "maxmind is missing" },
	{ "{\"ips\":[{\"ip\":\"1.1.1.1\",\"maxmind\":\"usa\"}]}", -EBADMSG,
	    0, NULL, NULL, "not a country code" },
	{ "{\"ips\":[{\"ip\":\"1.1.1.1\",\"maxmind\":\"u1\"}]}", -EBADMSG,
	    0, NULL, NULL, "not a country code" },
	{ "{\"ips\":[{\"ip\":\"1.1.1.1\",\"maxmind\":\"au\"},7]}", -EBADMSG,
	    0, NULL, NULL, "ips[1] is not an object" },
};

static void
test_parse_list(void **state)
{
	struct bdjson_ip	*ips, *sentinel = (struct bdjson_ip *)&ips;
	char			 err[ERR_LEN];
	size_t			 i, n;
	int			 r;

	(void)state;
	for (i = 0; i < nitems(list_cases); i++) {
		const struct list_case *c = &list_cases[i];

		print_message("case %zu: %s\n", i, c->body);
		ips = sentinel;
		n = 777;
		err[0] = '\0';
		r = bdjson_parse_list(c->body, strlen(c->body), &ips, &n, err,
		    sizeof(err));
		assert_int_equal(r, c->want_r);
		if (r != 0) {
			/* Outputs stay put on failure. */
			assert_ptr_equal(ips, sentinel);
			assert_int_equal(n, 777);
			assert_non_null(strstr(err, c->want_err));
			continue;
		}
		assert_int_equal(n, c->want_n);
		if (n > 0) {
			assert_string_equal(ips[n - 1].ip, c->want_ip);
			assert_string_equal(ips[n - 1].country, c->want_cc);
		} else
			assert_null(ips);
		free(ips);
	}
}

/* --- POST and DELETE /zone/ips ------------------------------------------ */

struct strings_case {
	const char	*body;
	const char	*field;
	int		 want_r;
	size_t		 want_n;
	const char	*want_ip;	/* the first */
	const char	*want_err;
};

static const struct strings_case strings_cases[] = {
	{ "{\"ips\":[\"1.1.1.1\",\"1.1.1.2\",\"1.1.1.3\"],"
	    "\"new_ips\":[\"1.1.1.1\",\"1.1.1.3\"]}", "new_ips", 0, 2,
	    "1.1.1.1", NULL },
	{ "{\"new_ips\":[\"::1\"]}", "new_ips", 0, 1, "::1", NULL },
	{ "{\"ips\":[],\"new_ips\":[]}", "new_ips", 0, 0, NULL, NULL },
	{ "{\"ips\":[\"127.3.0.66\"]}", "ips", 0, 1, "127.3.0.66", NULL },
	{ "{\"ips\":[\"1.1.1.1\"]}", "new_ips", -EBADMSG, 0, NULL,
	    "\"new_ips\" is missing" },
	{ "{\"new_ips\":\"1.1.1.1\"}", "new_ips", -EBADMSG, 0, NULL,
	    "not an array" },
	{ "{\"new_ips\":[{\"ip\":\"1.1.1.1\"}]}", "new_ips", -EBADMSG, 0,
	    NULL, "new_ips[0] is not a string" },
	{ "{\"new_ips\":[\"1.1.1.1\",null]}", "new_ips", -EBADMSG, 0, NULL,
	    "new_ips[1] is not a string" },
	{ "{\"new_ips\":[\"300.1.1.1\"]}", "new_ips", -EBADMSG, 0, NULL,
	    "not an IP address" },
	{ "{\"new_ips\":[\"1.1.1.1\"]", "new_ips", -EBADMSG, 0, NULL,
	    "malformed JSON" },
	{ "\"new_ips\"", "new_ips", -EBADMSG, 0, NULL, "malformed JSON" },
	{ "{\"ips\":[\"ip1\",\"ip2\"]}", "ips", -EBADMSG, 0, NULL,
	    "not an IP address" },
};

static void
test_parse_ip_strings(void **state)
{
	struct bdjson_ip	*ips;
	char			 err[ERR_LEN];
	size_t			 i, n;
	int			 r;

	(void)state;
	for (i = 0; i < nitems(strings_cases); i++) {
		const struct strings_case *c = &strings_cases[i];

		print_message("case %zu: %s\n", i, c->body);
		ips = NULL;
		n = 0;
		r = bdjson_parse_ip_strings(c->body, strlen(c->body),
		    c->field, &ips, &n, err, sizeof(err));
		assert_int_equal(r, c->want_r);
		if (r != 0) {
			assert_non_null(strstr(err, c->want_err));
			continue;
		}
		assert_int_equal(n, c->want_n);
		if (n > 0) {
			assert_string_equal(ips[0].ip, c->want_ip);
			assert_string_equal(ips[0].country, "");
		}
		free(ips);
	}
}

/* --- count_available_ips ------------------------------------------------ */

struct count_case {
	const char	*body;
	int		 want_r;
	int64_t		 want;
	const char	*want_err;
};

static const struct count_case count_cases[] = {
	{ "{\"count\":1234}", 0, 1234, NULL },
	{ "{\"count\":0,\"extra\":\"x\"}", 0, 0, NULL },
	{ "{\"count\":1000000000}", 0, BDJSON_COUNT_MAX, NULL },
	{ "{\"count\":1000000001}", -EBADMSG, 0, "out of range" },
	{ "{\"count\":-1}", -EBADMSG, 0, "out of range" },
	{ "{\"count\":1.5}", -EBADMSG, 0, "not an integer" },
	{ "{\"count\":\"12\"}", -EBADMSG, 0, "not an integer" },
	{ "{\"count\":99999999999999999999999}", -EBADMSG, 0, "" },
	{ "{}", -EBADMSG, 0, "\"count\" is missing" },
	{ "[{\"count\":1}]", -EBADMSG, 0, "not a JSON object" },
	{ "{\"count\":1", -EBADMSG, 0, "malformed JSON" },
};

static void
test_parse_count(void **state)
{
	char	err[ERR_LEN];
	int64_t	got;
	size_t	i;
	int	r;

	(void)state;
	for (i = 0; i < nitems(count_cases); i++) {
		const struct count_case *c = &count_cases[i];

		print_message("case %zu: %s\n", i, c->body);
		got = -777;
		r = bdjson_parse_count(c->body, strlen(c->body), &got, err,
		    sizeof(err));
		assert_int_equal(r, c->want_r);
		if (r == 0)
			assert_int_equal(got, c->want);
		else {
			assert_int_equal(got, -777);
			assert_non_null(strstr(err, c->want_err));
		}
	}
}

/* --- Limits ------------------------------------------------------------ */

/* {"ips":[...n entries...]} for the listing or the string forms. */
static char *
big_body(size_t n, bool objects, size_t *len)
{
	struct buf	b;
	size_t		i;

	buf_init(&b, (size_t)64 * 1024 * 1024);
	assert_int_equal(buf_puts(&b, "{\"ips\":["), 0);
	for (i = 0; i < n; i++) {
		if (objects)
			assert_int_equal(buf_printf(&b, "%s{\"ip\":\"10.%zu.%zu.%zu\","
			    "\"maxmind\":\"us\"}", i > 0 ? "," : "",
			    (i >> 16) & 255, (i >> 8) & 255, i & 255), 0);
		else
			assert_int_equal(buf_printf(&b, "%s\"10.%zu.%zu.%zu\"",
			    i > 0 ? "," : "", (i >> 16) & 255, (i >> 8) & 255,
			    i & 255), 0);
	}
	assert_int_equal(buf_puts(&b, "]}"), 0);
	*len = b.len;
	return buf_take(&b);
}

static void
test_limits(void **state)
{
	struct bdjson_ip	*ips = NULL;
	char			 err[ERR_LEN], *body;
	size_t			 len, n = 0;

	(void)state;
	/* Exactly at the limit: accepted. */
	body = big_body(BDJSON_IPS_MAX, false, &len);
	assert_int_equal(bdjson_parse_ip_strings(body, len, "ips", &ips, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, BDJSON_IPS_MAX);
	free(ips);
	free(body);
	/* One past it: refused, whatever the form. */
	body = big_body(BDJSON_IPS_MAX + 1, false, &len);
	assert_int_equal(bdjson_parse_ip_strings(body, len, "ips", &ips, &n,
	    err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "over the limit"));
	free(body);
	body = big_body(BDJSON_IPS_MAX + 1, true, &len);
	assert_true(len < BDJSON_BODY_MAX);
	assert_int_equal(bdjson_parse_list(body, len, &ips, &n, err,
	    sizeof(err)), -E2BIG);
	free(body);
	/* A body over the byte limit is refused before parsing. */
	len = (size_t)BDJSON_BODY_MAX + 1;
	body = malloc(len);
	assert_non_null(body);
	memset(body, ' ', len);
	memcpy(body, "{\"count\":1}", 11);
	assert_int_equal(bdjson_parse_count(body, len, &(int64_t){ 0 }, err,
	    sizeof(err)), -EMSGSIZE);
	assert_non_null(strstr(err, "limit"));
	/* The same body one byte shorter parses (trailing blanks are fine). */
	assert_int_equal(bdjson_parse_count(body, len - 1, &(int64_t){ 0 },
	    err, sizeof(err)), 0);
	free(body);
	/* Deep nesting is an error, not a stack overflow. */
	len = 100000;
	body = malloc(len);
	assert_non_null(body);
	memset(body, '[', len);
	assert_int_equal(bdjson_parse_list(body, len, &ips, &n, err,
	    sizeof(err)), -EBADMSG);
	free(body);
	assert_int_equal(bdjson_parse_list(NULL, 0, &ips, &n, err,
	    sizeof(err)), -EBADMSG);
}

/* --- Snippets of error bodies -------------------------------------------- */

struct snippet_case {
	const char	*body;
	size_t		 size;
	const char	*want;
};

static const struct snippet_case snippet_cases[] = {
	{ "Invalid credentials", 64, "Invalid credentials" },
	{ "  Not enough\r\n\tavailable IPs\n", 64,
	    "Not enough available IPs" },
	{ "caf\xc3\xa9\x01\x7f!", 64, "caf?? !" },
	{ "abcdef", 4, "abc" },
	{ "", 8, "" },
	{ "\n\n", 8, "" },
};

static void
test_snippet(void **state)
{
	char	out[BDJSON_SNIPPET_MAX + 1], big[1000];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(snippet_cases); i++) {
		const struct snippet_case *c = &snippet_cases[i];

		print_message("case %zu\n", i);
		bdjson_snippet(c->body, strlen(c->body), out, c->size);
		assert_string_equal(out, c->want);
	}
	memset(big, 'x', sizeof(big));
	bdjson_snippet(big, sizeof(big), out, sizeof(out));
	assert_int_equal(strlen(out), BDJSON_SNIPPET_MAX);
	bdjson_snippet(NULL, 5, out, sizeof(out));
	assert_string_equal(out, "");
}

/* --- Request bodies ------------------------------------------------------ */

static void
test_build(void **state)
{
	const char	*ips[] = { "127.3.0.66", "2001:db8::1" };
	const char	*bad[] = { "127.3.0.66", "not-an-ip" };
	char		*s;

	(void)state;
	assert_int_equal(bdjson_build_add("c_lab", "isp_lab", 2, "de", &s), 0);
	assert_string_equal(s, "{\"customer\":\"c_lab\",\"zone\":\"isp_lab\","
	    "\"count\":2,\"country\":\"de\"}");
	free(s);
	assert_int_equal(bdjson_build_add("c_lab", "isp_lab", 1, NULL, &s), 0);
	assert_string_equal(s, "{\"customer\":\"c_lab\",\"zone\":\"isp_lab\","
	    "\"count\":1}");
	free(s);
	s = NULL;
	assert_int_equal(bdjson_build_add("c_lab", "isp_lab", 0, "de", &s),
	    -EINVAL);
	assert_int_equal(bdjson_build_add("", "isp_lab", 1, "de", &s),
	    -EINVAL);
	assert_int_equal(bdjson_build_add("c", "z", 1, "deu", &s), -EINVAL);
	assert_null(s);

	assert_int_equal(bdjson_build_remove("isp_lab", ips, 2, &s), 0);
	assert_string_equal(s, "{\"zone\":\"isp_lab\",\"ips\":[\"127.3.0.66\","
	    "\"2001:db8::1\"]}");
	free(s);
	s = NULL;
	assert_int_equal(bdjson_build_remove("isp_lab", bad, 2, &s), -EINVAL);
	assert_int_equal(bdjson_build_remove("isp_lab", ips, 0, &s), -EINVAL);
	assert_int_equal(bdjson_build_remove(NULL, ips, 1, &s), -EINVAL);
	assert_null(s);

	assert_int_equal(bdjson_build_plan("de", NULL, &s), 0);
	assert_string_equal(s, "{\"country\":\"de\"}");
	free(s);
	assert_int_equal(bdjson_build_plan("de",
	    "{\"ips_type\":\"dedicated\",\"country\":\"xx\"}", &s), 0);
	assert_string_equal(s, "{\"ips_type\":\"dedicated\",\"country\":\"de\"}");
	free(s);
	s = NULL;
	assert_int_equal(bdjson_build_plan("de", "[1]", &s), -EINVAL);
	assert_int_equal(bdjson_build_plan("de", "{", &s), -EINVAL);
	assert_int_equal(bdjson_build_plan("d", NULL, &s), -EINVAL);
	assert_null(s);
}

/* --- The rules of retrying ------------------------------------------------ */

enum { V_OK = BDCLIENT_V_OK, V_RETRY = BDCLIENT_V_RETRY,
    V_RELOAD = BDCLIENT_V_RELOAD_KEY, V_FAILED = BDCLIENT_V_FAILED,
    V_UNKNOWN = BDCLIENT_V_UNKNOWN };

struct decide_case {
	struct bdclient_attempt	a;	/* mutating, transport, sent, http,
					   body_ok, reloaded */
	int			want;
	bool			provider_failure;
};

static const struct decide_case decide_cases[] = {
	/* Reads. */
	{ { false, false, true, 200, true, false }, V_OK, false },
	{ { false, false, true, 200, false, false }, V_RETRY, true },
	{ { false, true, true, 0, false, false }, V_RETRY, true },
	{ { false, true, false, 0, false, false }, V_RETRY, true },
	{ { false, false, true, 500, false, false }, V_RETRY, true },
	{ { false, false, true, 503, false, false }, V_RETRY, true },
	{ { false, false, true, 408, false, false }, V_RETRY, true },
	{ { false, false, true, 429, false, false }, V_RETRY, true },
	{ { false, false, true, 400, false, false }, V_FAILED, false },
	{ { false, false, true, 422, false, false }, V_FAILED, false },
	{ { false, false, true, 403, false, false }, V_FAILED, false },
	{ { false, false, true, 404, false, false }, V_FAILED, false },
	{ { false, false, true, 401, false, false }, V_RELOAD, false },
	{ { false, false, true, 401, false, true }, V_FAILED, false },
	{ { false, false, true, 302, false, false }, V_FAILED, true },
	/* Purchases and releases: never repeated once they may have left. */
	{ { true, false, true, 200, true, false }, V_OK, false },
	{ { true, false, true, 200, false, false }, V_UNKNOWN, true },
	{ { true, true, true, 0, false, false }, V_UNKNOWN, true },
	{ { true, false, true, 500, false, false }, V_UNKNOWN, true },
	{ { true, false, true, 502, false, false }, V_UNKNOWN, true },
	{ { true, false, true, 504, false, false }, V_UNKNOWN, true },
	{ { true, false, true, 408, false, false }, V_UNKNOWN, true },
	{ { true, false, true, 302, false, false }, V_UNKNOWN, true },
	/* ... unless the answer proves nothing happened. */
	{ { true, true, false, 0, false, false }, V_RETRY, true },
	{ { true, false, true, 429, false, false }, V_RETRY, true },
	{ { true, false, true, 401, false, false }, V_RELOAD, false },
	{ { true, false, true, 401, false, true }, V_FAILED, false },
	{ { true, false, true, 400, false, false }, V_FAILED, false },
	{ { true, false, true, 422, false, false }, V_FAILED, false },
};

static void
test_decide(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(decide_cases); i++) {
		const struct decide_case *c = &decide_cases[i];

		print_message("case %zu\n", i);
		assert_int_equal(bdclient_decide(&c->a), c->want);
		assert_int_equal(bdclient_is_provider_failure(&c->a),
		    c->provider_failure);
	}
}

/* --- Usernames and session ids ------------------------------------------- */

struct user_case {
	const char	*customer, *zone, *ip;
	size_t		 size;
	int		 want_r;
	const char	*want;
};

static const struct user_case user_cases[] = {
	{ "c_lab", "isp_lab", "127.3.0.66", 256, 0,
	    "brd-customer-c_lab-zone-isp_lab-ip-127.3.0.66" },
	{ "hl_1234abcd", "isp1", "1.2.3.4", 256, 0,
	    "brd-customer-hl_1234abcd-zone-isp1-ip-1.2.3.4" },
	{ "hl_1234abcd", "isp1", "1.2.3.4", 46, 0,
	    "brd-customer-hl_1234abcd-zone-isp1-ip-1.2.3.4" },
	{ "hl_1234abcd", "isp1", "1.2.3.4", 45, -ENAMETOOLONG, NULL },
	{ "c-lab", "isp_lab", "1.2.3.4", 256, -EINVAL, NULL },
	{ "c_lab", "isp-lab", "1.2.3.4", 256, -EINVAL, NULL },
	{ "c_lab", "", "1.2.3.4", 256, -EINVAL, NULL },
	{ "c_lab", "isp lab", "1.2.3.4", 256, -EINVAL, NULL },
	{ "c_lab", "isp_lab", "::1", 256, -EINVAL, NULL },
	{ "c_lab", "isp_lab", "1.2.3", 256, -EINVAL, NULL },
	{ "c_lab", "isp_lab", NULL, 256, -EINVAL, NULL },
	{ NULL, "isp_lab", "1.2.3.4", 256, -EINVAL, NULL },
};

static void
test_username(void **state)
{
	char	out[BDCLIENT_USERNAME_MAX];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(user_cases); i++) {
		const struct user_case *c = &user_cases[i];

		print_message("case %zu\n", i);
		(void)util_strlcpy(out, "untouched", sizeof(out));
		assert_int_equal(bdclient_proxy_username(c->customer, c->zone,
		    c->ip, out, c->size), c->want_r);
		assert_string_equal(out, c->want_r == 0 ? c->want :
		    "untouched");
	}
}

struct res_case {
	const char	*customer, *zone, *country, *session;
	int		 want_r;
	const char	*want;
};

static const struct res_case res_cases[] = {
	{ "c_lab", "res_lab", "DE", "0123abcd", 0,
	    "brd-customer-c_lab-zone-res_lab-country-de-session-0123abcd" },
	{ "c_lab", "res_lab", "br", "S1", 0,
	    "brd-customer-c_lab-zone-res_lab-country-br-session-S1" },
	{ "c_lab", "res_lab", "xx", "s1", -EINVAL, NULL },
	{ "c_lab", "res_lab", "deu", "s1", -EINVAL, NULL },
	{ "c_lab", "res_lab", "de", "s-1", -EINVAL, NULL },
	{ "c_lab", "res_lab", "de", "s*1", -EINVAL, NULL },
	{ "c_lab", "res_lab", "de", "", -EINVAL, NULL },
	{ "c_lab", "res_lab", "de", NULL, -EINVAL, NULL },
	{ "c_lab", "res-lab", "de", "s1", -EINVAL, NULL },
};

static void
test_username_residential(void **state)
{
	char	out[BDCLIENT_USERNAME_MAX];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(res_cases); i++) {
		const struct res_case *c = &res_cases[i];

		print_message("case %zu\n", i);
		(void)util_strlcpy(out, "untouched", sizeof(out));
		assert_int_equal(bdclient_proxy_username_residential(
		    c->customer, c->zone, c->country, c->session, out,
		    sizeof(out)), c->want_r);
		assert_string_equal(out, c->want_r == 0 ? c->want :
		    "untouched");
	}
}

/* SipHash-2-4's reference vectors: key 00..0f, message 00..(n-1). */
struct sip_case {
	size_t		n;
	uint64_t	want;
};

static const struct sip_case sip_cases[] = {
	{ 0, UINT64_C(0x726fdb47dd0e0e31) },
	{ 1, UINT64_C(0x74f839c593dc67fd) },
	{ 7, UINT64_C(0xab0200f58b01d137) },
	{ 8, UINT64_C(0x93f5f5799a932462) },
	{ 15, UINT64_C(0xa129ca6149be45e5) },
	{ 63, UINT64_C(0x958a324ceb064572) },
};

static void
test_siphash(void **state)
{
	uint8_t	key[16], msg[64];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < nitems(sip_cases); i++) {
		print_message("case %zu\n", i);
		assert_int_equal(bdclient_siphash(key, msg, sip_cases[i].n),
		    sip_cases[i].want);
	}
}

static void
test_session_id(void **state)
{
	char	a[BDCLIENT_SESSION_ID_LEN], b[BDCLIENT_SESSION_ID_LEN];
	size_t	i;

	(void)state;
	assert_int_equal(bdclient_session_id("+4915123456789", 0, "salt", a),
	    0);
	assert_int_equal(strlen(a), 16);
	for (i = 0; i < 16; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	/* Stable: the same inputs give the same id, in any process. */
	assert_int_equal(bdclient_session_id("+4915123456789", 0, "salt", b),
	    0);
	assert_string_equal(a, b);
	/* Each input changes it. */
	assert_int_equal(bdclient_session_id("+4915123456789", 1, "salt", b),
	    0);
	assert_string_not_equal(a, b);
	assert_int_equal(bdclient_session_id("+4915123456780", 0, "salt", b),
	    0);
	assert_string_not_equal(a, b);
	assert_int_equal(bdclient_session_id("+4915123456789", 0, "salt2", b),
	    0);
	assert_string_not_equal(a, b);
	assert_int_equal(bdclient_session_id("+4915123456789", 0, "", b), 0);
	assert_string_not_equal(a, b);
	/* Bad phones and no salt are refused, and out stays put. */
	(void)util_strlcpy(b, "untouched", sizeof(b));
	assert_int_equal(bdclient_session_id("4915123456789", 0, "s", b),
	    -EINVAL);
	assert_int_equal(bdclient_session_id("+49 151", 0, "s", b), -EINVAL);
	assert_int_equal(bdclient_session_id(NULL, 0, "s", b), -EINVAL);
	assert_int_equal(bdclient_session_id("+4915123456789", 0, NULL, b),
	    -EINVAL);
	assert_string_equal(b, "untouched");
	/* The id is a valid residential session id. */
	{
		char u[BDCLIENT_USERNAME_MAX];

		assert_int_equal(bdclient_proxy_username_residential("c_lab",
		    "res_lab", "de", a, u, sizeof(u)), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_parse_ip_strings),
		cmocka_unit_test(test_parse_count),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_snippet),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_username),
		cmocka_unit_test(test_username_residential),
		cmocka_unit_test(test_siphash),
		cmocka_unit_test(test_session_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
