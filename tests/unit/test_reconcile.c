/*
 * Reconciliation (src/provider/reconcile.c), rule by rule, against a real
 * store: each case sets rows, intents and peers up, applies one listing
 * with a scope, and checks what became of every row and intent.
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
#include <unistd.h>

#include "base/util.h"
#include "provider/reconcile.h"
#include "store/store.h"

#define T_ROWS		8
#define T_INTENTS	4
#define T_PEERS		2
#define T_LISTED	8

#define ASKED		1000000		/* when the listing was asked for */
#define SETTLE		35000

/* A row before the listing; state "" is idle. */
struct t_row {
	const char	*ip;
	const char	*country;
	const char	*state;		/* idle, active, lost, releasing, released */
	int64_t		 purchased_at;
	int64_t		 released_at;
	int		 intent;	/* 1-based index into intents, or 0 */
};

struct t_intent {
	const char	*country;
	int		 count;
	const char	*instance;
	int64_t		 created_at;
	bool		 unknown;
};

struct t_peer {
	const char	*id;
	const char	*status;	/* running, stopped, dead */
	int64_t		 heartbeat_at;
};

struct t_listed {
	const char	*ip;
	const char	*country;
};

/* What a row or an intent must be after the run. */
struct t_want_row {
	const char	*ip;
	const char	*state;		/* as store_proxy_state_name */
	const char	*country;
	int		 intent;	/* 1-based, 0: none, -1: do not check */
};

struct t_want_intent {
	const char	*action;	/* reconcile_action_name; NULL: no step */
	bool		 blocking;
	int64_t		 found;
};

struct t_case {
	const char		*name;
	struct t_row		 rows[T_ROWS];
	struct t_intent		 intents[T_INTENTS];
	struct t_peer		 peers[T_PEERS];
	struct t_listed		 listed[T_LISTED];
	int			 busy;		/* 1-based intent, or 0 */
	int			 busy_since;	/* 1-based: that intent's time */
	bool			 solo;
	struct t_want_row	 want[T_ROWS + T_LISTED];
	struct t_want_intent	 want_intents[T_INTENTS];
};

static const struct t_case cases[] = {
	{ "an unknown IP is adopted, with the listing's country",
	  .listed = { { "10.0.0.1", "us" } },
	  .want = { { "10.0.0.1", "idle", "us", 0 } } },
	{ "an IP of no country is adopted, with none",
	  .listed = { { "10.0.0.1", "" } },
	  .want = { { "10.0.0.1", "idle", "", 0 } } },
	{ "a lost IP listed again is idle",
	  .rows = { { "10.0.0.1", "us", "lost", 1, 0, 0 } },
	  .listed = { { "10.0.0.1", "us" } },
	  .want = { { "10.0.0.1", "idle", "us", 0 } } },
	{ "a lost IP that kept its session is active again",
	  .rows = { { "10.0.0.1", "us", "active-lost", 1, 0, 0 } },
	  .listed = { { "10.0.0.1", "" } },
	  .want = { { "10.0.0.1", "active", "us", 0 } } },
	{ "the listing's country replaces the store's",
	  .rows = { { "10.0.0.1", "de", "idle", 1, 0, 0 } },
	  .listed = { { "10.0.0.1", "us" } },
	  .want = { { "10.0.0.1", "idle", "us", 0 } } },
	{ "no country in the listing keeps the store's",
	  .rows = { { "10.0.0.1", "de", "idle", 1, 0, 0 } },
	  .listed = { { "10.0.0.1", "" } },
	  .want = { { "10.0.0.1", "idle", "de", 0 } } },
	{ "an IP no longer listed is lost",
	  .rows = { { "10.0.0.1", "us", "active", 1, 0, 0 } },
	  .want = { { "10.0.0.1", "lost", "us", 0 } } },
	{ "an IP bought after the listing was asked for is not lost",
	  .rows = { { "10.0.0.1", "us", "active", ASKED + 5, 0, 0 },
		    { "10.0.0.2", "us", "idle", ASKED - 1000, 0, 0 },
		    { "10.0.0.3", "us", "idle", ASKED - RECONCILE_SKEW_MS - 1,
		      0, 0 } },
	  .want = { { "10.0.0.1", "active", "us", 0 },
		    { "10.0.0.2", "idle", "us", 0 },
		    { "10.0.0.3", "lost", "us", 0 } } },
	{ "a releasing IP no longer listed is released",
	  .rows = { { "10.0.0.1", "us", "releasing", 1, 0, 0 } },
	  .want = { { "10.0.0.1", "released", "us", 0 } } },
	{ "an IP released after the listing was asked for is not adopted",
	  .rows = { { "10.0.0.1", "us", "released", 1, ASKED + 10, 0 } },
	  .listed = { { "10.0.0.1", "us" } },
	  .want = { { "10.0.0.1", "released", "us", 0 } } },
	{ "an IP released long ago and listed is billed again: adopted",
	  .rows = { { "10.0.0.1", "us", "released", 1, 10, 0 } },
	  .listed = { { "10.0.0.1", "us" } },
	  .want = { { "10.0.0.1", "idle", "us", 0 } } },
	{ "an intent in flight here is neither settled nor reported",
	  .intents = { { "us", 1, "self", ASKED - 100000, false } },
	  .busy = 1,
	  .listed = { { "10.0.0.1", "us" } },
	  .want = { { "10.0.0.1", "idle", "us", 0 } },
	  .want_intents = { { NULL, false, 0 } } },
	{ "an intent being written here is neither settled nor reported",
	  .intents = { { "us", 1, "self", ASKED - 100, false } },
	  .busy_since = 1,
	  .want_intents = { { NULL, false, 0 } } },
	{ "our settled intent owns IPs of its country adopted since, to its "
	  "count",
	  .intents = { { "us", 2, "self", ASKED - 100000, true } },
	  .rows = { { "10.0.0.9", "us", "idle", ASKED - 200000, 0, 0 } },
	  .listed = { { "10.0.0.1", "us" }, { "10.0.0.2", "us" },
		      { "10.0.0.3", "us" }, { "10.0.0.4", "de" },
		      { "10.0.0.9", "us" } },
	  .want = { { "10.0.0.1", "idle", "us", 1 },
		    { "10.0.0.2", "idle", "us", 1 },
		    { "10.0.0.3", "idle", "us", 0 },
		    { "10.0.0.4", "idle", "de", 0 },
		    { "10.0.0.9", "idle", "us", 0 } },
	  .want_intents = { { "intent_owned", false, 2 } } },
	{ "IPs its answer named count for the intent",
	  .intents = { { "us", 2, "self", ASKED - 100000, true } },
	  .rows = { { "10.0.0.1", "us", "idle", ASKED - 90000, 0, 1 } },
	  .listed = { { "10.0.0.1", "us" }, { "10.0.0.2", "us" } },
	  .want = { { "10.0.0.1", "idle", "us", 1 },
		    { "10.0.0.2", "idle", "us", 1 } },
	  .want_intents = { { "intent_owned", false, 2 } } },
	{ "our intent with nothing of its country turned up failed",
	  .intents = { { "us", 1, "self", ASKED - 100000, true } },
	  .listed = { { "10.0.0.4", "de" } },
	  .want_intents = { { "intent_failed", false, 0 } } },
	{ "the oldest intent owns the one IP; the next failed",
	  .intents = { { "us", 1, "self", ASKED - 100000, true },
		       { "us", 1, "self", ASKED - 90000, true } },
	  .listed = { { "10.0.0.1", "us" } },
	  .want = { { "10.0.0.1", "idle", "us", 1 } },
	  .want_intents = { { "intent_owned", false, 1 },
			    { "intent_failed", false, 0 } } },
	{ "a live peer's intent is its own: open, blocking nothing here",
	  .intents = { { "us", 1, "peer", ASKED - 100000, false } },
	  .peers = { { "peer", "running", ASKED - 1000 } },
	  .listed = { { "10.0.0.1", "us" } },
	  .want = { { "10.0.0.1", "idle", "us", 0 } },
	  .want_intents = { { "intent_open", false, 0 } } },
	{ "a dead peer's fresh intent may still be carried out: open, "
	  "blocking",
	  .intents = { { "us", 1, "peer", ASKED - 100000, false } },
	  .peers = { { "peer", "dead", ASKED - SETTLE + 10 } },
	  .want_intents = { { "intent_open", true, 0 } } },
	{ "in a solo store, any other instance is gone",
	  .intents = { { "us", 1, "peer", ASKED - 100000, false } },
	  .peers = { { "peer", "running", ASKED - SETTLE - 10 } },
	  .solo = true,
	  .listed = { { "10.0.0.1", "us" } },
	  .want = { { "10.0.0.1", "idle", "us", 1 } },
	  .want_intents = { { "intent_owned", false, 1 } } },
	{ "a peer that died long enough ago: its intent is settled",
	  .intents = { { "us", 1, "peer", ASKED - 100000, false } },
	  .peers = { { "peer", "stopped", ASKED - SETTLE - 10 } },
	  .want_intents = { { "intent_failed", false, 0 } } },
	{ "an intent of an instance the store does not know is settled "
	  "after the settle time",
	  .intents = { { "us", 1, "ghost", ASKED - SETTLE - 10, false },
		       { "us", 1, "ghost", ASKED - SETTLE + 10, false } },
	  .want_intents = { { "intent_failed", false, 0 },
			    { "intent_open", true, 0 } } },
};

static char	tmpdir[] = "/tmp/respawn-reconcile-XXXXXX";
static int	dbseq;

struct t_seen {
	struct reconcile_step	steps[T_INTENTS];
	int64_t			ids[T_INTENTS];
	int			n;
};

static void
t_step(const struct reconcile_step *s, void *arg)
{
	struct t_seen	*seen = arg;

	if (s->action != RECONCILE_INTENT_OWNED &&
	    s->action != RECONCILE_INTENT_FAILED &&
	    s->action != RECONCILE_INTENT_OPEN)
		return;
	assert_true(seen->n < T_INTENTS);
	seen->steps[seen->n++] = *s;
}

struct t_rows {
	struct proxy_row	v[T_ROWS + T_LISTED + 4];
	size_t			n;
};

static int
t_rows_cb(const struct proxy_row *p, void *arg)
{
	struct t_rows	*rs = arg;

	assert_true(rs->n < nitems(rs->v));
	rs->v[rs->n++] = *p;
	return 0;
}

/* The newest row of ip (a later live row after a released one). */
static const struct proxy_row *
t_row_of(const struct t_rows *rs, const char *ip)
{
	const struct proxy_row	*r = NULL;
	size_t			 i;

	for (i = 0; i < rs->n; i++)
		if (strcmp(rs->v[i].ip, ip) == 0)
			r = &rs->v[i];
	return r;
}

static void
t_setup_row(struct store *st, const struct t_row *tr, int64_t session,
    const int64_t *intent_ids)
{
	struct proxy_row	px;
	int64_t			id;

	memset(&px, 0, sizeof px);
	(void)util_strlcpy(px.provider, "brightdata", sizeof px.provider);
	(void)util_strlcpy(px.zone, "z", sizeof px.zone);
	(void)util_strlcpy(px.ip, tr->ip, sizeof px.ip);
	(void)util_strlcpy(px.country, tr->country, sizeof px.country);
	px.type = PROXY_TYPE_ISP;
	px.purchased_at = tr->purchased_at;
	px.intent_id = tr->intent > 0 ? intent_ids[tr->intent - 1] : 0;
	assert_int_equal(store_proxy_add(st, &px, tr->purchased_at, &id), 0);
	if (strcmp(tr->state, "active") == 0 ||
	    strcmp(tr->state, "active-lost") == 0)
		assert_int_equal(store_proxy_assign(st, id, session,
		    "+14155550100", "us", false, "purchased", "self", 2), 0);
	if (strcmp(tr->state, "lost") == 0 ||
	    strcmp(tr->state, "active-lost") == 0)
		assert_int_equal(store_proxy_set_state(st, id, PROXY_LOST, 3),
		    0);
	else if (strcmp(tr->state, "releasing") == 0)
		assert_int_equal(store_proxy_set_state(st, id, PROXY_RELEASING,
		    3), 0);
	else if (strcmp(tr->state, "released") == 0)
		assert_int_equal(store_proxy_set_state(st, id, PROXY_RELEASED,
		    tr->released_at), 0);
}

static void
t_setup_peer(struct store *st, const struct t_peer *tp)
{
	struct instance	in;

	memset(&in, 0, sizeof in);
	(void)util_strlcpy(in.id, tp->id, sizeof in.id);
	(void)util_strlcpy(in.hostname, "h", sizeof in.hostname);
	in.pid = 1;
	/* Registered now: its first heartbeat is its start. */
	in.started_at = tp->heartbeat_at;
	in.heartbeat_at = tp->heartbeat_at;
	in.status = INSTANCE_RUNNING;
	assert_int_equal(store_instance_register(st, &in), 0);
	if (strcmp(tp->status, "stopped") == 0)
		assert_int_equal(store_instance_set_status(st, tp->id,
		    INSTANCE_STOPPED, tp->heartbeat_at), 0);
	else if (strcmp(tp->status, "dead") == 0)
		assert_int_equal(store_instance_set_status(st, tp->id,
		    INSTANCE_DEAD, tp->heartbeat_at), 0);
}

static void
t_run(const struct t_case *tc)
{
	struct store		*st;
	struct session_new	 sn;
	struct intent		 in;
	struct provider_proxy	 listed[T_LISTED];
	struct reconcile_scope	 sc = { 0 };
	struct reconcile_report	 rep;
	struct t_seen		 seen = { 0 };
	struct t_rows		 rs = { 0 };
	const struct proxy_row	*r;
	int64_t			 intent_ids[T_INTENTS] = { 0 }, busy, sid;
	char			 url[256], err[STORE_ERROR_LEN];
	size_t			 nlisted = 0, i, k;

	print_message("case: %s\n", tc->name);
	snprintf(url, sizeof url, "%s/r%d.db", tmpdir, ++dbseq);
	if (store_open(url, &st, err) != 0)
		fail_msg("store_open: %s", err);
	memset(&sn, 0, sizeof sn);
	(void)util_strlcpy(sn.user_id, "u", sizeof sn.user_id);
	(void)util_strlcpy(sn.phone, "+14155550100", sizeof sn.phone);
	(void)util_strlcpy(sn.country, "us", sizeof sn.country);
	assert_int_equal(store_session_add(st, &sn, "t", 1, &sid), 0);
	for (i = 0; i < T_PEERS && tc->peers[i].id != NULL; i++)
		t_setup_peer(st, &tc->peers[i]);
	for (i = 0; i < T_INTENTS && tc->intents[i].country != NULL; i++) {
		memset(&in, 0, sizeof in);
		(void)util_strlcpy(in.provider, "brightdata",
		    sizeof in.provider);
		(void)util_strlcpy(in.zone, "z", sizeof in.zone);
		(void)util_strlcpy(in.country, tc->intents[i].country,
		    sizeof in.country);
		in.count = tc->intents[i].count;
		assert_int_equal(store_intent_add(st, &in,
		    tc->intents[i].instance, tc->intents[i].created_at,
		    &intent_ids[i]), 0);
		if (tc->intents[i].unknown)
			assert_int_equal(store_intent_settle(st, intent_ids[i],
			    INTENT_UNKNOWN, "lost", tc->intents[i].created_at),
			    0);
	}
	for (i = 0; i < T_ROWS && tc->rows[i].ip != NULL; i++)
		t_setup_row(st, &tc->rows[i], sid, intent_ids);
	for (i = 0; i < T_LISTED && tc->listed[i].ip != NULL; i++) {
		memset(&listed[i], 0, sizeof listed[i]);
		(void)util_strlcpy(listed[i].key, tc->listed[i].ip,
		    sizeof listed[i].key);
		(void)util_strlcpy(listed[i].country, tc->listed[i].country,
		    sizeof listed[i].country);
		nlisted++;
	}
	sc.self = "self";
	sc.asked_at = ASKED;
	sc.settle_ms = SETTLE;
	sc.peer_stale_ms = 30000;
	sc.solo = tc->solo;
	if (tc->busy > 0) {
		busy = intent_ids[tc->busy - 1];
		sc.busy = &busy;
		sc.nbusy = 1;
	}
	if (tc->busy_since > 0)
		sc.busy_since = tc->intents[tc->busy_since - 1].created_at;
	assert_int_equal(reconcile_run(st, "brightdata", "z", listed, nlisted,
	    &sc, false, ASKED + 500, t_step, &seen, &rep), 0);

	assert_int_equal(store_proxy_list_since(st, 0, t_rows_cb, &rs), 0);
	for (i = 0; i < nitems(tc->want) && tc->want[i].ip != NULL; i++) {
		const struct t_want_row	*w = &tc->want[i];

		r = t_row_of(&rs, w->ip);
		if (r == NULL)
			fail_msg("%s: no row of %s", tc->name, w->ip);
		if (strcmp(store_proxy_state_name(r->state), w->state) != 0)
			fail_msg("%s: %s is %s, not %s", tc->name, w->ip,
			    store_proxy_state_name(r->state), w->state);
		assert_string_equal(r->country, w->country);
		if (w->intent >= 0)
			assert_int_equal(r->intent_id, w->intent > 0 ?
			    intent_ids[w->intent - 1] : 0);
	}
	/* Every intent as wanted: its step, or none. */
	for (i = 0; i < T_INTENTS && tc->intents[i].country != NULL; i++) {
		const struct t_want_intent	*w = &tc->want_intents[i];
		const struct reconcile_step	*s = NULL;

		for (k = 0; k < (size_t)seen.n; k++)
			if (seen.steps[k].id == intent_ids[i])
				s = &seen.steps[k];
		if (w->action == NULL) {
			if (s != NULL)
				fail_msg("%s: intent %zu: %s, wanted none",
				    tc->name, i + 1,
				    reconcile_action_name(s->action));
			continue;
		}
		if (s == NULL)
			fail_msg("%s: intent %zu: no step, wanted %s",
			    tc->name, i + 1, w->action);
		assert_string_equal(reconcile_action_name(s->action),
		    w->action);
		assert_int_equal(s->blocking, w->blocking);
		if (s->action == RECONCILE_INTENT_OWNED)
			assert_int_equal(s->found, w->found);
		assert_int_equal(s->n, tc->intents[i].count);
	}
	store_close(st);
}

static void
test_rules(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		t_run(&cases[i]);
}

/* A dry run reports the same steps and changes nothing. */
static void
test_dry_run(void **state)
{
	struct store		*st;
	struct provider_proxy	 listed[1];
	struct reconcile_scope	 sc = { .self = "self", .asked_at = ASKED,
				    .settle_ms = SETTLE };
	struct reconcile_report	 rep;
	struct t_rows		 rs = { 0 };
	char			 url[256], err[STORE_ERROR_LEN];

	(void)state;
	snprintf(url, sizeof url, "%s/dry.db", tmpdir);
	assert_int_equal(store_open(url, &st, err), 0);
	memset(listed, 0, sizeof listed);
	(void)util_strlcpy(listed[0].key, "10.0.0.1", sizeof listed[0].key);
	(void)util_strlcpy(listed[0].country, "us", sizeof listed[0].country);
	assert_int_equal(reconcile_run(st, "brightdata", "z", listed, 1, &sc,
	    true, ASKED, NULL, NULL, &rep), 0);
	assert_int_equal(rep.adopted, 1);
	assert_int_equal(store_proxy_list_since(st, 0, t_rows_cb, &rs), 0);
	assert_int_equal(rs.n, 0);
	store_close(st);
}

static int
t_cleanup(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_dry_run),
	};

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, t_cleanup);
}
