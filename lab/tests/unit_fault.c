/*
 * Unit tests: fault rules, endpoint matching and decisions given chosen
 * random numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fault.h"

static struct fault_rule
parse(const char *text)
{
	struct fault_rule	 r;
	char			 err[128];
	json_t			*j = json_loads(text, 0, NULL);

	assert_non_null(j);
	assert_int_equal(fault_rule_parse(j, &r, err, sizeof(err)), 0);
	json_decref(j);
	return r;
}

static void
test_match(void **state)
{
	assert_true(fault_endpoint_match("*", "GET", "/x"));
	assert_true(fault_endpoint_match("GET /zone/ips", "GET", "/zone/ips"));
	assert_false(fault_endpoint_match("GET /zone/ips", "POST",
	    "/zone/ips"));
	assert_true(fault_endpoint_match("* /zone/ips", "DELETE",
	    "/zone/ips"));
	assert_false(fault_endpoint_match("* /zone/ips", "GET",
	    "/zone/ips/refresh"));
	assert_true(fault_endpoint_match("GET /v1/*", "GET",
	    "/v1/projects/p/secrets/s/versions/1:access"));
	assert_true(fault_endpoint_match("/status", "GET", "/status"));
}

static void
test_decisions(void **state)
{
	struct fault_decision	d;
	struct fault_rule	r;

	r = parse("{\"kind\":\"error\",\"statuses\":[500,502,503],"
	    "\"rate\":0.5,\"count\":2}");
	memset(&d, 0, sizeof(d));
	assert_false(fault_rule_apply(&r, 0.5, 0.0, &d));	/* u >= rate */
	assert_true(fault_rule_apply(&r, 0.49, 0.0, &d));
	assert_int_equal(d.status, 500);
	memset(&d, 0, sizeof(d));
	assert_true(fault_rule_apply(&r, 0.1, 0.99, &d));
	assert_int_equal(d.status, 503);
	memset(&d, 0, sizeof(d));
	assert_false(fault_rule_apply(&r, 0.0, 0.5, &d));	/* used up */
	assert_int_equal(r.fired, 2);

	r = parse("{\"kind\":\"latency\",\"dist\":\"uniform\",\"ms\":100,"
	    "\"max_ms\":300}");
	memset(&d, 0, sizeof(d));
	assert_true(fault_rule_apply(&r, 0.0, 0.5, &d));
	assert_int_equal(d.delay_ms, 200);
	r = parse("{\"kind\":\"latency\",\"dist\":\"exponential\",\"ms\":100,"
	    "\"max_ms\":250}");
	memset(&d, 0, sizeof(d));
	assert_true(fault_rule_apply(&r, 0.0, 0.999999, &d));
	assert_int_equal(d.delay_ms, 250);			/* capped */

	r = parse("{\"kind\":\"rate_limit\",\"retry_after\":30,"
	    "\"retry_as_date\":true}");
	memset(&d, 0, sizeof(d));
	assert_true(fault_rule_apply(&r, 0.0, 0.0, &d));
	assert_int_equal(d.status, 429);
	assert_int_equal(d.retry_after_s, 30);
	assert_true(d.retry_as_date);

	r = parse("{\"kind\":\"hang\"}");
	memset(&d, 0, sizeof(d));
	assert_true(fault_rule_apply(&r, 0.0, 0.0, &d));
	assert_true(d.hang);
	assert_int_equal(d.hang_ms, 300000);
}

static void
test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"[]", "{}", "{\"kind\":\"x\"}",
		"{\"kind\":\"error\",\"rate\":2}",
		"{\"kind\":\"error\",\"statuses\":[200]}",
		"{\"kind\":\"latency\",\"ms\":-1}",
		"{\"kind\":\"latency\",\"ms\":10,\"max_ms\":5}",
		"{\"kind\":\"latency\",\"count\":0}",
		"{\"kind\":\"rate_limit\",\"retry_after\":\"soon\"}",
		"{\"kind\":\"latency\",\"dist\":\"gauss\"}",
		"{\"kind\":\"known_ips\",\"extra\":-1}",
		"{\"kind\":\"known_ips\",\"extra\":1001}",
		"{\"kind\":\"extra_ips\",\"extra\":\"2\"}",
		"{\"kind\":\"extra_ips\",\"extra\":1.5}",
		"{\"kind\":\"extra_ips\",\"extra\":null}",
		"{\"kind\":\"short_ips\",\"fewer\":-1}",
		"{\"kind\":\"short_ips\",\"fewer\":1001}",
		"{\"kind\":\"short_ips\",\"fewer\":true}",
		"{\"kind\":\"other_ips\",\"count\":0}",
		"{\"kind\":\"no_country\",\"rate\":-0.1}",
		"{\"kind\":\"Known_ips\"}",
	};
	struct fault_rule	 r;
	char			 err[128];
	json_t			*j;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		assert_int_not_equal(fault_rule_parse(j, &r, err,
		    sizeof(err)), 0);
		json_decref(j);
	}
}

static void
test_answer_parse(void **state)
{
	static const struct {
		const char	*text;
		enum fault_kind	 kind;
		int64_t		 extra;
		int64_t		 fewer;
	} good[] = {
		{ "{\"kind\":\"known_ips\"}", FAULT_KNOWN_IPS, 1, 0 },
		{ "{\"kind\":\"known_ips\",\"extra\":0}", FAULT_KNOWN_IPS,
		    0, 0 },
		{ "{\"kind\":\"extra_ips\"}", FAULT_EXTRA_IPS, 1, 0 },
		{ "{\"kind\":\"extra_ips\",\"extra\":1000}", FAULT_EXTRA_IPS,
		    1000, 0 },
		{ "{\"kind\":\"short_ips\"}", FAULT_SHORT_IPS, 0, 1 },
		{ "{\"kind\":\"short_ips\",\"fewer\":0}", FAULT_SHORT_IPS,
		    0, 0 },
		{ "{\"kind\":\"short_ips\",\"fewer\":1000}", FAULT_SHORT_IPS,
		    0, 1000 },
		{ "{\"kind\":\"other_ips\"}", FAULT_OTHER_IPS, 0, 0 },
		{ "{\"kind\":\"no_country\",\"rate\":0.5}", FAULT_NO_COUNTRY,
		    0, 0 },
		/* A field of another kind is ignored, like "retry_after". */
		{ "{\"kind\":\"other_ips\",\"extra\":-5,\"fewer\":\"x\"}",
		    FAULT_OTHER_IPS, 0, 0 },
		{ "{\"kind\":\"short_ips\",\"extra\":7}", FAULT_SHORT_IPS,
		    0, 1 },
	};
	struct fault_rule	r;
	size_t			i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		r = parse(good[i].text);
		assert_int_equal(r.kind, good[i].kind);
		assert_int_equal(r.extra, good[i].extra);
		assert_int_equal(r.fewer, good[i].fewer);
	}
	assert_string_equal(fault_kind_name(FAULT_KNOWN_IPS), "known_ips");
	assert_string_equal(fault_kind_name(FAULT_NO_COUNTRY), "no_country");
}

static void
test_answer_applies(void **state)
{
	static const struct {
		enum fault_kind	 kind;
		const char	*method;
		const char	*path;
		bool		 applies;
	} cases[] = {
		{ FAULT_KNOWN_IPS, "POST", "/zone/ips", true },
		{ FAULT_KNOWN_IPS, "GET", "/zone/ips", false },
		{ FAULT_EXTRA_IPS, "POST", "/zone/ips", true },
		{ FAULT_EXTRA_IPS, "POST", "/zone/ips/refresh", false },
		{ FAULT_SHORT_IPS, "POST", "/zone/ips", true },
		{ FAULT_SHORT_IPS, "DELETE", "/zone/ips", false },
		{ FAULT_OTHER_IPS, "DELETE", "/zone/ips", true },
		{ FAULT_OTHER_IPS, "POST", "/zone/ips", false },
		{ FAULT_NO_COUNTRY, "GET", "/zone/ips", true },
		{ FAULT_NO_COUNTRY, "GET", "/zone/route_ips", false },
		{ FAULT_NO_COUNTRY, "GET", "/status", false },
		{ FAULT_LATENCY, "GET", "/status", true },
		{ FAULT_ERROR, "DELETE", "/zone/ips", true },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(fault_kind_applies(cases[i].kind,
		    cases[i].method, cases[i].path), cases[i].applies);
}

static void
test_answer_decide(void **state)
{
	struct fault_set	*fs = fault_set_new();
	struct fault_decision	 d;
	struct fault_rule	 r;
	struct rng		 rng;
	json_t			*j;

	rng_seed(&rng, 1);
	/* The default endpoint "*": only a purchase uses the rule up. */
	r = parse("{\"kind\":\"known_ips\",\"extra\":3,\"count\":1}");
	assert_int_equal(fault_set_add(fs, &r), 0);
	r = parse("{\"kind\":\"short_ips\",\"fewer\":2}");
	assert_int_equal(fault_set_add(fs, &r), 1);
	fault_decide(fs, "GET", "/status", &rng, &d);
	assert_false(d.answer);
	fault_decide(fs, "GET", "/zone/ips", &rng, &d);
	assert_false(d.answer);
	/* Both fire on a purchase; the first one decides the answer. */
	fault_decide(fs, "POST", "/zone/ips", &rng, &d);
	assert_true(d.answer);
	assert_int_equal(d.answer_kind, FAULT_KNOWN_IPS);
	assert_int_equal(d.extra, 3);
	assert_false(d.commit_drop);
	assert_int_equal(d.status, 0);
	fault_decide(fs, "POST", "/zone/ips", &rng, &d);
	assert_true(d.answer);
	assert_int_equal(d.answer_kind, FAULT_SHORT_IPS);
	assert_int_equal(d.fewer, 2);

	j = fault_set_json(fs);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j,
	    0), "kind")), "known_ips");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j,
	    0), "extra")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j,
	    0), "fired")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j,
	    1), "fewer")), 2);
	assert_null(json_object_get(json_array_get(j, 1), "extra"));
	json_decref(j);

	fault_set_clear(fs);
	r = parse("{\"endpoint\":\"* /zone/ips\",\"kind\":\"no_country\"}");
	assert_int_equal(fault_set_add(fs, &r), 0);
	fault_decide(fs, "DELETE", "/zone/ips", &rng, &d);
	assert_false(d.answer);
	fault_decide(fs, "GET", "/zone/ips", &rng, &d);
	assert_true(d.answer);
	assert_int_equal(d.answer_kind, FAULT_NO_COUNTRY);
	fault_set_free(fs);
}

static void
test_set_decide(void **state)
{
	struct fault_set	*fs = fault_set_new();
	struct fault_decision	 d;
	struct fault_rule	 r;
	struct rng		 rng;
	int			 i;

	rng_seed(&rng, 1);
	r = parse("{\"endpoint\":\"GET /status\",\"kind\":\"latency\","
	    "\"ms\":50}");
	assert_int_equal(fault_set_add(fs, &r), 0);
	r = parse("{\"endpoint\":\"GET /status\",\"kind\":\"latency\","
	    "\"ms\":25}");
	assert_int_equal(fault_set_add(fs, &r), 1);
	fault_decide(fs, "GET", "/status", &rng, &d);
	assert_int_equal(d.delay_ms, 75);		/* rules add up */
	fault_decide(fs, "GET", "/zone/ips", &rng, &d);
	assert_int_equal(d.delay_ms, 0);
	for (i = 2; i < FAULT_MAX_RULES; i++)
		assert_int_equal(fault_set_add(fs, &r), i);
	assert_int_equal(fault_set_add(fs, &r), -ENOSPC);
	fault_set_clear(fs);
	fault_decide(fs, "GET", "/status", &rng, &d);
	assert_int_equal(d.delay_ms, 0);
	fault_set_free(fs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_set_decide),
		cmocka_unit_test(test_answer_parse),
		cmocka_unit_test(test_answer_applies),
		cmocka_unit_test(test_answer_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
