/*
 * Unit tests: the provider's world (allocation, release, refresh,
 * residential sessions), the request-head parser and the WhatsApp lines.
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

#include "httpreq.h"
#include "waproto.h"
#include "world.h"

static void
test_allocation(void **state)
{
	struct ledger	*l = ledger_new(0, 30);
	struct rng	 rng;
	struct world	*w;
	uint32_t	 ips[4], out[2];
	char		 cc[3], s[WORLD_IPSTR_MAX];
	int		 z, r;

	rng_seed(&rng, 9);
	w = world_new(l, &rng);
	z = world_add_zone(w, "isp", ZONE_ISP, "pw", 1500000);
	r = world_add_zone(w, "res", ZONE_RESIDENTIAL, "pw", 1);
	assert_int_equal(z, 0);
	assert_int_equal(r, 1);
	assert_int_equal(world_add_zone(w, "isp", ZONE_ISP, "x", 0), -EEXIST);
	assert_int_equal(world_add_zone(w, "a-b", ZONE_ISP, "x", 0), -EINVAL);
	assert_int_equal(world_set_inventory(w, "de", 3), 0);
	assert_int_equal(world_set_inventory(w, "be", 0), 0);
	assert_int_equal(world_set_inventory(w, "DE", 1), -EINVAL);
	assert_int_equal(world_available(w, "de"), 3);

	assert_int_equal(world_allocate(w, z, "de", 2, 0, ips), 2);
	assert_int_not_equal(ips[0], ips[1]);
	assert_int_equal(ips[0] >> 24, 127);
	assert_int_equal(world_ip_country(w, ips[0], cc), 0);
	assert_string_equal(cc, "de");
	assert_int_equal(world_ip_zone(w, ips[1]), z);
	assert_int_equal(world_available(w, "de"), 1);
	assert_int_equal(world_allocate(w, z, "de", 2, 0, ips + 2), -ENOSPC);
	assert_int_equal(world_allocate(w, z, "be", 1, 0, ips + 2), -ENOSPC);
	assert_int_equal(world_allocate(w, r, "de", 1, 0, ips + 2), -EINVAL);
	assert_int_equal(world_zone_count(w, z), 2);

	/* Refresh takes the last free address and frees the old one. */
	assert_int_equal(world_refresh(w, z, ips, 1, NULL, 0, out), 0);
	assert_int_not_equal(out[0], ips[0]);
	assert_int_equal(world_ip_zone(w, ips[0]), -ENOENT);
	assert_int_equal(world_refresh(w, z, ips, 1, NULL, 0, out), -ENOENT);
	assert_int_equal(world_release(w, z, ips[1], 0), 0);
	assert_int_equal(world_release(w, z, ips[1], 0), -ENOENT);
	assert_int_equal(world_available(w, "de"), 2);

	world_ip_str(out[0], s);
	assert_int_equal(world_ip_parse(s, &ips[3]), 0);
	assert_int_equal(ips[3], out[0]);
	assert_int_equal(world_ip_parse("nope", &ips[3]), -EINVAL);
	world_free(w);
	ledger_free(l);
}

static void
test_reuse(void **state)
{
	struct ledger	*l = ledger_new(0, 30);
	struct rng	 rng;
	struct world	*w;
	uint32_t	 a, b, c, two[2];
	int64_t		 t;
	int		 z, i;

	rng_seed(&rng, 1);
	w = world_new(l, &rng);
	z = world_add_zone(w, "isp", ZONE_ISP, "pw", 1);
	assert_int_equal(world_set_inventory(w, "de", 3), 0);
	/* A released address rests a day while others are free. */
	for (i = 0; i < 50; i++) {
		t = i * 3 * WORLD_REUSE_AFTER_MS;
		assert_int_equal(world_allocate(w, z, "de", 1, t + 1, &a), 1);
		assert_int_equal(world_release(w, z, a, t + 2), 0);
		assert_int_equal(world_allocate(w, z, "de", 1, t + 3, &b), 1);
		assert_int_not_equal(a, b);
		assert_int_equal(world_release(w, z, b, t + 4), 0);
	}
	/* With everything else taken, a resting address is sold after all. */
	t = 200 * WORLD_REUSE_AFTER_MS;
	assert_int_equal(world_allocate(w, z, "de", 2, t, two), 2);
	assert_int_equal(world_allocate(w, z, "de", 1, t, &b), 1);
	assert_int_equal(world_release(w, z, two[0], t + 1), 0);
	assert_int_equal(world_allocate(w, z, "de", 1, t + 2, &c), 1);
	assert_int_equal(c, two[0]);
	assert_int_equal(world_release(w, z, c, t + 3), 0);
	assert_int_equal(world_release(w, z, two[1], t + 3), 0);
	assert_int_equal(world_release(w, z, b, t + 3), 0);
	/* A revoked address leaves the inventory for good. */
	t += 10 * WORLD_REUSE_AFTER_MS;
	assert_int_equal(world_allocate(w, z, "de", 1, t, &a), 1);
	assert_int_equal(world_revoke(w, z, a, t + 1), 0);
	assert_int_equal(world_available(w, "de"), 2);
	assert_int_equal(world_allocate(w, z, "de", 1, t + 2, &b), 1);
	assert_int_equal(world_allocate(w, z, "de", 1, t + 2, &c), 1);
	assert_int_not_equal(a, b);
	assert_int_not_equal(a, c);
	assert_int_equal(world_allocate(w, z, "de", 1, t + 3, &c), -ENOSPC);
	world_free(w);
	ledger_free(l);
}

static void
test_sessions(void **state)
{
	struct ledger	*l = ledger_new(0, 30);
	struct rng	 rng;
	struct world	*w;
	uint32_t	 a, b, c;
	char		 cc[3];
	int		 z;

	rng_seed(&rng, 9);
	w = world_new(l, &rng);
	z = world_add_zone(w, "res", ZONE_RESIDENTIAL, "pw", 1);
	assert_int_equal(world_res_pick(w, z, "ng", "s1", 0, 60000, &a), 0);
	assert_int_equal(world_ip_country(w, a, cc), 0);
	assert_string_equal(cc, "ng");
	/* Kept while open, and for the idle time after the last close. */
	assert_int_equal(world_res_pick(w, z, "ng", "s1", 1000, 60000, &b), 0);
	assert_int_equal(a, b);
	world_res_done(w, z, "ng", "s1", 2000);
	world_res_done(w, z, "ng", "s1", 2000);
	assert_int_equal(world_res_pick(w, z, "ng", "s1", 61000, 60000, &b), 0);
	assert_int_equal(a, b);
	world_res_done(w, z, "ng", "s1", 61000);
	assert_int_equal(world_res_pick(w, z, "ng", "s1", 121001, 60000, &c),
	    0);
	assert_int_not_equal(a, c);
	world_free(w);
	ledger_free(l);
}

static void
test_httpreq(void **state)
{
	static const char	 req[] = "POST /zone/ips?zone=a%20b&x HTTP/1.1\r\n"
				    "Host: h\r\nContent-Length: 2\r\n"
				    "Authorization:  Bearer k \r\n\r\n{}";
	struct httpreq		*r = malloc(sizeof(*r));
	char			 v[32];

	assert_int_equal(httpreq_parse(r, req, sizeof(req) - 1),
	    (int)(sizeof(req) - 3));
	assert_string_equal(r->method, "POST");
	assert_string_equal(r->path, "/zone/ips");
	assert_string_equal(r->query, "zone=a%20b&x");
	assert_int_equal(r->content_length, 2);
	assert_true(r->keep_alive);
	assert_string_equal(httpreq_header(r, "authorization"), "Bearer k");
	assert_int_equal(httpreq_query_get(r->query, "zone", v, sizeof(v)), 0);
	assert_string_equal(v, "a b");
	assert_int_equal(httpreq_query_get(r->query, "x", v, sizeof(v)), 0);
	assert_string_equal(v, "");
	assert_int_equal(httpreq_query_get(r->query, "y", v, sizeof(v)),
	    -ENOENT);
	assert_int_equal(httpreq_query_get("a=%2", "a", v, sizeof(v)),
	    -EINVAL);
	assert_int_equal(httpreq_query_get("a=%00", "a", v, sizeof(v)),
	    -EINVAL);
	assert_int_equal(httpreq_parse(r, "GET / HTTP/1.1\r\n", 16), -EAGAIN);
	assert_int_equal(httpreq_parse(r, "GET / HTTP/1.0\n\n", 16), 16);
	assert_false(r->keep_alive);
	assert_int_equal(httpreq_parse(r, "get / HTTP/1.1\r\n\r\n", 18),
	    -EINVAL);
	assert_int_equal(httpreq_parse(r, "GET / HTTP/1.1\r\n x: y\r\n\r\n",
	    25), -EINVAL);
	assert_int_equal(httpreq_parse(r, "CONNECT 127.0.0.1:5 HTTP/1.1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 60), -ENOTSUP);
	free(r);
}

static void
test_waproto(void **state)
{
	struct waproto_msg	m;

	assert_int_equal(waproto_parse("HELLO +4915112345678 abc_-9", 27, &m),
	    0);
	assert_int_equal(m.kind, WAPROTO_HELLO);
	assert_string_equal(m.phone, "+4915112345678");
	assert_string_equal(m.token, "abc_-9");
	assert_int_equal(waproto_parse("PONG\r", 5, &m), 0);
	assert_int_equal(m.kind, WAPROTO_PONG);
	assert_int_equal(waproto_parse("HELLO 4915112345678 t", 21, &m),
	    -EINVAL);
	assert_int_equal(waproto_parse("HELLO +0915112345678 t", 22, &m),
	    -EINVAL);
	assert_int_equal(waproto_parse("HELLO +4915112345678 ", 21, &m),
	    -EINVAL);
	assert_int_equal(waproto_parse("HELLO +4915112345678 a b", 24, &m),
	    -EINVAL);
	assert_int_equal(waproto_parse("PING", 4, &m), -EINVAL);
	assert_int_equal(waproto_parse("", 0, &m), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocation),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_httpreq),
		cmocka_unit_test(test_waproto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
