/*
 * Tests of the daemon's helper for asynchronous steps (src/daemon/jobs.c):
 * what an answer is worth when it comes.
 *
 *   - the staleness rules, as a table: an answer is CURRENT only while its
 *     session waits for exactly that step (same kind, same generation) and
 *     is neither removed nor lost; during the teardown every answer is
 *     TEARDOWN; a step of the daemon as a whole is CURRENT;
 *   - end to end on a worker thread: a step asked again makes the first
 *     answer MOVED_ON; a cancelled one is MOVED_ON; kinds do not disturb
 *     each other; answered, the session waits for nothing of that kind;
 *     jobs left when the queue is freed during the teardown are TEARDOWN;
 *     every done is called exactly once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/util.h"
#include "daemon/ctx.h"
#include "daemon/jobs.h"
#include "daemon/sessions.h"
#include "store/storeq.h"

static struct dsession *
add(struct sessions *r, int64_t id)
{
	struct session	s;

	memset(&s, 0, sizeof s);
	s.id = id;
	return sessions_add(r, &s);
}

static void
test_fate_table(void **state)
{
	enum change { NONE, AGAIN, CANCEL, OTHER_KIND, REMOVED, LOST, DROPPED,
	    TEARDOWN };
	static const struct {
		const char	*what;
		bool		 daemon;	/* no session */
		enum change	 change;
		enum job_fate	 want;
	} cases[] = {
		{ "unchanged", false, NONE, JOB_CURRENT },
		{ "asked again", false, AGAIN, JOB_MOVED_ON },
		{ "cancelled", false, CANCEL, JOB_MOVED_ON },
		{ "another kind asked", false, OTHER_KIND, JOB_CURRENT },
		{ "removed", false, REMOVED, JOB_MOVED_ON },
		{ "lost to a peer", false, LOST, JOB_MOVED_ON },
		{ "dropped", false, DROPPED, JOB_MOVED_ON },
		{ "teardown", false, TEARDOWN, JOB_TEARDOWN },
		{ "daemon's own", true, NONE, JOB_CURRENT },
		{ "daemon's own, teardown", true, TEARDOWN, JOB_TEARDOWN },
	};
	struct dctx	 c;
	struct sessions	*reg;
	struct jobs	*j;
	struct dsession	*ds, *got;
	int64_t		 gen;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		memset(&c, 0, sizeof c);
		reg = sessions_new(NULL, NULL, NULL);
		j = jobs_new(&c, reg);
		ds = add(reg, 7);
		gen = ds->gen[JOB_ACQUIRE] = 41;
		switch (cases[i].change) {
		case AGAIN:
			ds->gen[JOB_ACQUIRE] = 42;
			break;
		case CANCEL:
			jobs_cancel(ds, JOB_ACQUIRE);
			break;
		case OTHER_KIND:
			ds->gen[JOB_SPAWN] = 43;
			break;
		case REMOVED:
			ds->sv.life = SV_LIFE_REMOVED;
			break;
		case LOST:
			ds->sv.life = SV_LIFE_LOST;
			break;
		case DROPPED:
			sessions_drop(reg, ds);
			break;
		case TEARDOWN:
			c.tearing_down = true;
			break;
		default:
			break;
		}
		if (cases[i].daemon)
			assert_int_equal(jobs_fate(j, 0, 0, 0, &got),
			    cases[i].want);
		else if (jobs_fate(j, 7, JOB_ACQUIRE, gen, &got) !=
		    cases[i].want)
			fail_msg("%s: fate %d, want %d", cases[i].what,
			    jobs_fate(j, 7, JOB_ACQUIRE, gen, &got),
			    cases[i].want);
		/* The session comes with CURRENT only. */
		if (cases[i].want == JOB_CURRENT && !cases[i].daemon)
			assert_ptr_equal(got, ds);
		else
			assert_null(got);
		jobs_free(j);
		sessions_free(reg);
	}
}

/* End to end: answers from a worker thread, delivered on a loop. */
struct answer {
	int		 id;
	enum job_fate	 fate;
	int		 result;
	int		 calls;
};

static struct answer	answers[8];
static int		ndone;

static int
run_ok(struct store *st, void *arg)
{
	(void)st;
	return ((struct answer *)arg)->id;
}

static void
done(struct dsession *ds, enum job_fate fate, int result, void *arg)
{
	struct answer	*a = arg;

	(void)ds;
	a->fate = fate;
	a->result = result;
	a->calls++;
	ndone++;
}

static void
loop_until(struct event_base *base, int want)
{
	struct timeval	tv = { 0, 10 * 1000 };
	int		i;

	for (i = 0; i < 300 && ndone < want; i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_int_equal(ndone, want);
}

static void
test_answers(void **state)
{
	struct dctx	 c;
	struct sessions	*reg;
	struct jobs	*j;
	struct storeq	*q;
	struct dsession	*ds;
	char		 err[STORE_ERROR_LEN];
	int		 i;

	(void)state;
	memset(&c, 0, sizeof c);
	memset(answers, 0, sizeof answers);
	ndone = 0;
	for (i = 0; i < (int)nitems(answers); i++)
		answers[i].id = i;
	c.base = event_base_new();
	assert_non_null(c.base);
	assert_int_equal(storeq_new_thread(c.base, &q, err), 0);
	reg = sessions_new(NULL, NULL, NULL);
	j = jobs_new(&c, reg);
	ds = add(reg, 9);

	/* Asked twice: the first answer is moved on, the second current. */
	assert_int_equal(jobs_submit(j, q, ds, JOB_ACQUIRE, run_ok, done,
	    &answers[1], "a"), 0);
	assert_true(jobs_pending(ds, JOB_ACQUIRE));
	assert_int_equal(jobs_submit(j, q, ds, JOB_ACQUIRE, run_ok, done,
	    &answers[2], "a"), 0);
	/* Another kind alongside, then cancelled. */
	assert_int_equal(jobs_submit(j, q, ds, JOB_OWNER, run_ok, done,
	    &answers[3], "o"), 0);
	jobs_cancel(ds, JOB_OWNER);
	/* The daemon's own. */
	assert_int_equal(jobs_submit(j, q, NULL, 0, run_ok, done,
	    &answers[4], "d"), 0);
	assert_int_equal(ndone, 0);	/* never from inside a submission */
	loop_until(c.base, 4);
	assert_int_equal(answers[1].fate, JOB_MOVED_ON);
	assert_int_equal(answers[2].fate, JOB_CURRENT);
	assert_int_equal(answers[2].result, 2);
	assert_int_equal(answers[3].fate, JOB_MOVED_ON);
	assert_int_equal(answers[4].fate, JOB_CURRENT);
	assert_false(jobs_pending(ds, JOB_ACQUIRE));
	assert_false(jobs_pending(ds, JOB_OWNER));

	/* Left in the queue at the teardown: TEARDOWN, once each. */
	assert_int_equal(jobs_submit(j, q, ds, JOB_SPAWN, run_ok, done,
	    &answers[5], "s"), 0);
	assert_int_equal(jobs_submit(j, q, NULL, 0, run_ok, done,
	    &answers[6], "d"), 0);
	c.tearing_down = true;
	storeq_free(q);
	assert_int_equal(ndone, 6);
	assert_int_equal(answers[5].fate, JOB_TEARDOWN);
	assert_int_equal(answers[6].fate, JOB_TEARDOWN);
	for (i = 1; i <= 6; i++)
		assert_int_equal(answers[i].calls, 1);
	jobs_free(j);
	sessions_free(reg);
	event_base_free(c.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fate_table),
		cmocka_unit_test(test_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
