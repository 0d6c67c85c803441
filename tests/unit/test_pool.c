/*
 * Tests of the pool's choices, from a table: each case is a request
 * against the same set of proxies, and the choice it must get.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "core/pool.h"

/* The world every case starts from. */
static const struct pool_proxy world[] = {
	/* id  ip            cc    state        sess reserved idle_since listed purchased_at */
	{ 1, "10.0.0.1", "us", POOL_IDLE, 0, 0, 500, true, 0, 0, 0 },
	{ 2, "10.0.0.2", "us", POOL_IDLE, 0, 0, 100, true, 0, 0, 0 },
	{ 3, "10.0.1.1", "de", POOL_ACTIVE, 0, 7, 0, true, 0, 0, 0 },	/* kept for 7 */
	{ 4, "10.0.2.1", "nl", POOL_IDLE, 0, 0, 0, true, 0, 0, 0 },
	{ 5, "10.0.3.1", "fr", POOL_IDLE, 0, 0, 0, false, 0, 0, 0 },	/* not listed */
	{ 6, "10.0.4.1", "gb", POOL_ACTIVE, 1, 9, 0, true, 0, 0, 0 },	/* in use */
	{ 7, "10.0.2.2", "nl", POOL_ACTIVE, 0, 40, 0, true, 0, 0, 0 },	/* kept for 40 */
	{ 8, "10.0.9.1", "", POOL_IDLE, 0, 0, 0, true, 0, 0, 0 },	/* no country */
};

struct pool_case {
	const char		*name;
	int64_t			 session;
	const char		*phone;
	const char		*country;
	const char		*chain[4];
	int64_t			 history[3];
	bool			 can_purchase;
	const char		*bad_ip;	/* marked bad for this phone first */
	const char		*empty;		/* country found empty first */
	enum pool_choice_kind	 want;
	int64_t			 want_id;
	const char		*want_country;
	bool			 want_fallback;
	const char		*refused_ip;	/* named by the request */
};

static const struct pool_case cases[] = {
	{ "previous IP still listed: reactivated", 7, "+491", "de", { NULL },
	  { 3 }, false, NULL, NULL, POOL_REACTIVATE, 3, "de", false, NULL },
	{ "a proxy kept for another session is not offered", 8, "+492", "de",
	  { NULL }, { 0 }, false, NULL, NULL, POOL_WAIT, 0, "", false, NULL },
	{ "same country empty, no purchase: fallback to an idle one", 8,
	  "+492", "de", { "nl", "fr" }, { 0 }, false, NULL, NULL, POOL_REUSE,
	  4, "nl", true, NULL },
	{ "same country can be bought: no fallback", 8, "+492", "de",
	  { "nl" }, { 0 }, true, NULL, NULL, POOL_PURCHASE, 0, "de", false, NULL },
	{ "country found empty: fallback reuse comes first", 8, "+492", "de",
	  { "nl" }, { 0 }, true, NULL, "de", POOL_REUSE, 4, "nl", true, NULL },
	{ "country found empty, chain idle none: buy in the chain", 8, "+492",
	  "de", { "fr", "jp" }, { 0 }, true, NULL, "de", POOL_PURCHASE, 0,
	  "fr", true, NULL },
	{ "an unlisted proxy is never offered", 8, "+492", "fr", { NULL },
	  { 5 }, false, NULL, NULL, POOL_WAIT, 0, "", false, NULL },
	{ "idle longest is reused first", 10, "+11", "us", { NULL }, { 0 },
	  false, NULL, NULL, POOL_REUSE, 2, "us", false, NULL },
	{ "an IP this phone used before is preferred", 10, "+11", "us",
	  { NULL }, { 99, 1 }, false, NULL, NULL, POOL_REUSE, 1, "us", false, NULL },
	{ "the previous IP, idle: reactivated", 10, "+11", "us", { NULL },
	  { 1 }, false, NULL, NULL, POOL_REACTIVATE, 1, "us", false, NULL },
	{ "an IP the phone refused is skipped", 10, "+11", "us", { NULL },
	  { 2 }, false, "10.0.0.2", NULL, POOL_REUSE, 1, "us", false, NULL },
	{ "a full proxy is skipped", 11, "+44", "gb", { "us" }, { 6 }, false,
	  NULL, NULL, POOL_REUSE, 2, "us", true, NULL },
	{ "a kept fallback proxy is reactivated, still a fallback", 40, "+32",
	  "be", { "nl" }, { 7 }, false, NULL, NULL, POOL_REACTIVATE, 7, "nl",
	  true, NULL },
	{ "a previous proxy of another country, not kept: not reactivated",
	  41, "+33", "be", { "nl" }, { 4 }, false, NULL, NULL, POOL_REUSE, 4,
	  "nl", true, NULL },
	{ "nothing anywhere: wait", 12, "+81", "jp", { "kr" }, { 0 }, false,
	  NULL, NULL, POOL_WAIT, 0, "", false, NULL },
	{ "an IP the store says the phone refused: not even reactivated", 10,
	  "+11", "us", { NULL }, { 1 }, false, NULL, NULL, POOL_REUSE, 2, "us",
	  false, "10.0.0.1" },
	{ "an IP the store says the phone refused: not preferred either", 10,
	  "+11", "us", { NULL }, { 99, 1 }, false, NULL, NULL, POOL_REUSE, 2,
	  "us", false, "10.0.0.1" },
	{ "a proxy of no known country is offered to nobody", 13, "+41", "ch",
	  { NULL }, { 8 }, false, NULL, NULL, POOL_WAIT, 0, "", false, NULL },
};

static struct pool *
make_world(int per_ip)
{
	struct pool_config	 pc = { .sessions_per_ip = per_ip };
	struct pool		*p = pool_new(&pc);
	size_t		 i;

	for (i = 0; i < nitems(world); i++)
		pool_put(p, &world[i]);
	return p;
}

static void
test_choices(void **state)
{
	size_t	i, k;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		const struct pool_case	*tc = &cases[i];
		struct pool		*p = make_world(1);
		struct pool_request	 r = { 0 };
		struct pool_choice	 c;

		r.session_id = tc->session;
		r.phone = tc->phone;
		r.country = tc->country;
		for (k = 0; k < 4 && tc->chain[k] != NULL; k++)
			r.chain[r.nchain++] = tc->chain[k];
		for (k = 0; k < 3 && tc->history[k] != 0; k++)
			r.history[r.nhistory++] = tc->history[k];
		r.can_purchase = tc->can_purchase;
		char			 refused[1][POOL_IP_LEN];

		if (tc->refused_ip != NULL) {
			(void)util_strlcpy(refused[0], tc->refused_ip,
			    sizeof refused[0]);
			r.refused = (const char (*)[POOL_IP_LEN])refused;
			r.nrefused = 1;
		}
		if (tc->bad_ip != NULL)
			pool_mark_bad(p, tc->phone, tc->bad_ip);
		if (tc->empty != NULL)
			pool_mark_empty(p, tc->empty, 1000, 60000);
		pool_choose(p, &r, 2000, &c);
		if (c.kind != tc->want || c.proxy_id != tc->want_id ||
		    strcmp(c.country, tc->want_country) != 0 ||
		    c.fallback_used != tc->want_fallback)
			fail_msg("%s: got %s #%lld %s fallback=%d, want %s #%lld "
			    "%s fallback=%d", tc->name, pool_choice_name(c.kind),
			    (long long)c.proxy_id, c.country, c.fallback_used,
			    pool_choice_name(tc->want), (long long)tc->want_id,
			    tc->want_country, tc->want_fallback);
		pool_free(p);
	}
}

/* An empty country may be tried again once its pause is over. */
static void
test_empty_expires(void **state)
{
	struct pool		*p = make_world(1);
	struct pool_request	 r = { .session_id = 1, .phone = "+1",
				    .country = "jp", .can_purchase = true };
	struct pool_choice	 c;

	(void)state;
	pool_mark_empty(p, "jp", 0, 1000);
	pool_choose(p, &r, 999, &c);
	assert_int_equal(c.kind, POOL_WAIT);
	pool_choose(p, &r, 1000, &c);
	assert_int_equal(c.kind, POOL_PURCHASE);
	pool_free(p);
}

/* Attach and detach move proxies between active, idle and reserved. */
static void
test_attach_detach(void **state)
{
	struct pool		*p = make_world(1);
	const struct pool_proxy	*px;

	(void)state;
	assert_int_equal(pool_attach(p, 1, 20), 0);
	px = pool_get(p, 1);
	assert_int_equal(px->state, POOL_ACTIVE);
	assert_int_equal(px->reserved_for, 20);
	assert_int_equal(pool_attach(p, 1, 21), -EBUSY);
	/* A restart keeps it for the same session... */
	assert_int_equal(pool_detach(p, 1, 3000, true, 0), 0);
	assert_int_equal(px->state, POOL_ACTIVE);
	assert_int_equal(px->reserved_for, 20);
	/* ... a real stop gives it back to everyone. */
	assert_int_equal(pool_detach(p, 1, 4000, false, 9000), 0);
	assert_int_equal(px->state, POOL_IDLE);
	assert_int_equal(px->reserved_for, 0);
	assert_int_equal(px->idle_since, 4000);
	/* ... held for its phone until it is expected back. */
	assert_int_equal(px->owner, 20);
	assert_int_equal(px->owner_back_by, 9000);
	assert_true(pool_held(px, 21, 9000));
	assert_false(pool_held(px, 20, 9000));
	assert_false(pool_held(px, 21, 9001));
	/* Attached again, it is nobody's to hold. */
	assert_int_equal(pool_attach(p, 1, 21), 0);
	assert_int_equal(px->owner, 21);
	assert_int_equal(px->owner_back_by, 0);
	assert_false(pool_held(px, 22, 0));
	assert_int_equal(pool_attach(p, 99, 1), -ENOENT);
	assert_int_equal(pool_detach(p, 99, 1, false, 0), -ENOENT);
	pool_free(p);
}

/* With two sessions per IP, a used proxy is filled before a new one. */
static void
test_sessions_per_ip(void **state)
{
	struct pool		*p = make_world(2);
	struct pool_request	 r = { .session_id = 30, .phone = "+1",
				    .country = "us" };
	struct pool_choice	 c;

	(void)state;
	pool_choose(p, &r, 0, &c);
	assert_int_equal(c.proxy_id, 2);
	assert_int_equal(pool_attach(p, 2, 30), 0);
	r.session_id = 31;
	pool_choose(p, &r, 0, &c);
	assert_int_equal(c.proxy_id, 2);
	assert_int_equal(pool_attach(p, 2, 31), 0);
	r.session_id = 32;
	pool_choose(p, &r, 0, &c);
	assert_int_equal(c.proxy_id, 1);
	pool_free(p);
}

/* Many proxies: ids stay found after the tables grow. */
static void
test_many(void **state)
{
	struct pool_config	 pc = { .sessions_per_ip = 1 };
	struct pool		*p = pool_new(&pc);
	struct pool_proxy	 px = { .state = POOL_IDLE, .listed = true };
	int			 i;

	(void)state;
	for (i = 1; i <= 5000; i++) {
		px.id = i;
		(void)util_strlcpy(px.country, i % 2 ? "us" : "de",
		    sizeof px.country);
		px.idle_since = 10000 - i;
		pool_put(p, &px);
	}
	assert_int_equal(pool_count(p), 5000);
	for (i = 1; i <= 5000; i += 499)
		assert_int_equal(pool_get(p, i)->id, i);
	/* Moving a proxy to another country re-files it. */
	px.id = 2;
	(void)util_strlcpy(px.country, "fr", sizeof px.country);
	pool_put(p, &px);
	{
		struct pool_request	r = { .session_id = 1, .phone = "+3",
					    .country = "fr" };
		struct pool_choice	c;

		pool_choose(p, &r, 0, &c);
		assert_int_equal(c.kind, POOL_REUSE);
		assert_int_equal(c.proxy_id, 2);
	}
	pool_free(p);
}

/*
 * Holds: us IPs 21 (held for session 50 until 5000), 22 (held for 51 until
 * 1500), 23 (free: its owner 52 was due back at 500); all idle since 100
 * but 23 (since 200).  The request comes at 1000 from session 60 unless
 * the case says otherwise.
 */
struct hold_case {
	const char		*name;
	bool			 hold;		/* the stable policy */
	int64_t			 purchase, change;
	bool			 can_purchase;
	bool			 free_ip;	/* IP 23 in the pool */
	int64_t			 session;
	int64_t			 history;
	int64_t			 now;
	enum pool_choice_kind	 want;
	int64_t			 want_id;
	int64_t			 want_displaced;
};

static const struct hold_case hold_cases[] = {
	{ "a free IP before held ones, holds or not", true, 100, 1000, true,
	  true, 60, 0, 1000, POOL_REUSE, 23, 0 },
	{ "without holds, a free IP comes first too", false, 100, 1000, true,
	  true, 60, 0, 1000, POOL_REUSE, 23, 0 },
	{ "held IPs only, buying is cheaper than a change: buy", true, 100,
	  1000, true, false, 60, 0, 1000, POOL_PURCHASE, 0, 0 },
	{ "buying costs more than a change: the least held is taken", true,
	  1000, 100, true, false, 60, 0, 1000, POOL_REUSE, 22, 51 },
	/* 22 has 500 of its 1,400 ms hold left: a chance of 0.357. */
	{ "a change worth 250, times 0.357, is less than 100: taken", true,
	  100, 250, true, false, 60, 0, 1000, POOL_REUSE, 22, 51 },
	{ "a change worth 300, times 0.357, is more than 100: buy", true, 100,
	  300, true, false, 60, 0, 1000, POOL_PURCHASE, 0, 0 },
	{ "nothing can be bought: a held IP rather than waiting", true, 100,
	  1000, false, false, 60, 0, 1000, POOL_REUSE, 22, 51 },
	{ "without holds, held IPs are offered (longest idle)", false, 100,
	  1000, true, false, 60, 0, 1000, POOL_REUSE, 21, 50 },
	{ "its owner gets its IP back", true, 100, 1000, true, false, 51, 22,
	  1000, POOL_REACTIVATE, 22, 0 },
	{ "another phone's IP in its history is not taken while held", true,
	  100, 1000, true, false, 60, 22, 1000, POOL_PURCHASE, 0, 0 },
	{ "once the owner is overdue, the IP is free", true, 100, 1000, true,
	  false, 60, 0, 1501, POOL_REUSE, 22, 0 },
};

static void
test_holds(void **state)
{
	static const struct pool_proxy ips[] = {
		{ .id = 21, .ip = "10.1.0.21", .country = "us",
		  .state = POOL_IDLE, .idle_since = 100, .listed = true,
		  .owner = 50, .owner_back_by = 5000 },
		{ .id = 22, .ip = "10.1.0.22", .country = "us",
		  .state = POOL_IDLE, .idle_since = 100, .listed = true,
		  .owner = 51, .owner_back_by = 1500 },
		{ .id = 23, .ip = "10.1.0.23", .country = "us",
		  .state = POOL_IDLE, .idle_since = 200, .listed = true,
		  .owner = 52, .owner_back_by = 500 },
	};
	size_t	i, k;

	(void)state;
	for (i = 0; i < nitems(hold_cases); i++) {
		const struct hold_case	*tc = &hold_cases[i];
		struct pool_config	 pc = { .sessions_per_ip = 1,
		    .hold = tc->hold, .purchase_micros = tc->purchase,
		    .change_micros = tc->change };
		struct pool		*p = pool_new(&pc);
		struct pool_request	 r = { .session_id = tc->session,
		    .phone = "+15550001", .country = "us",
		    .can_purchase = tc->can_purchase };
		struct pool_choice	 c;

		for (k = 0; k < nitems(ips); k++)
			if (ips[k].id != 23 || tc->free_ip)
				pool_put(p, &ips[k]);
		if (tc->history != 0)
			r.history[r.nhistory++] = tc->history;
		pool_choose(p, &r, tc->now, &c);
		if (c.kind != tc->want || c.proxy_id != tc->want_id ||
		    c.displaced != tc->want_displaced)
			fail_msg("%s: got %s #%lld displacing %lld, want %s "
			    "#%lld displacing %lld", tc->name,
			    pool_choice_name(c.kind), (long long)c.proxy_id,
			    (long long)c.displaced, pool_choice_name(tc->want),
			    (long long)tc->want_id,
			    (long long)tc->want_displaced);
		pool_free(p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choices),
		cmocka_unit_test(test_empty_expires),
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_sessions_per_ip),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_holds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
