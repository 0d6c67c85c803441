/*
 * Tests of the daemon's session registry (src/daemon/sessions.c), without
 * a loop or a process:
 *
 *   - records are found by id and by pid, counted, iterated in the order
 *     they were added, and each has a serial of its own, never reused;
 *   - counts by supervisor state follow sessions_moved;
 *   - the admission queue is first in, first out; a session is in it
 *     once; one dropped or taken out while queued is skipped; the ring
 *     keeps its order while it grows and wraps;
 *   - every supervisor state maps to a store status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "daemon/sessions.h"

static struct session
mk(int64_t id)
{
	struct session	s;

	memset(&s, 0, sizeof s);
	s.id = id;
	s.epoch = 1;
	snprintf(s.user_id, sizeof s.user_id, "u%lld", (long long)id);
	snprintf(s.phone, sizeof s.phone, "+1415555%04lld", (long long)id);
	memcpy(s.country, "us", 3);
	s.desired = SESSION_DESIRED_RUNNING;
	s.created_at = 1000 + id;
	return s;
}

static void
test_registry(void **state)
{
	struct sessions	*r = sessions_new(NULL, NULL, NULL);
	struct session	 s;
	struct dsession	*a, *b, *c, *ds;
	int64_t		 want[] = { 1, 2, 3 }, got[3];
	size_t		 i = 0;

	(void)state;
	s = mk(1);
	a = sessions_add(r, &s);
	s = mk(2);
	b = sessions_add(r, &s);
	s = mk(3);
	c = sessions_add(r, &s);
	assert_int_equal(sessions_count(r), 3);
	assert_ptr_equal(sessions_get(r, 2), b);
	assert_null(sessions_get(r, 4));
	assert_string_equal(a->phone, "+14155550001");
	assert_int_equal(a->last_activity, 1001);	/* created_at */
	assert_int_equal(a->pidfd, -1);
	assert_true(a->serial < b->serial && b->serial < c->serial);
	for (ds = sessions_first(r); ds != NULL; ds = sessions_next(ds))
		got[i++] = ds->id;
	assert_int_equal(i, 3);
	assert_memory_equal(got, want, sizeof want);

	/* By pid. */
	b->pid = 4242;
	sessions_pid_put(r, 4242, b);
	assert_ptr_equal(sessions_pid_get(r, 4242), b);
	assert_int_equal(sessions_pids(r), 1);
	assert_ptr_equal(sessions_pid_take(r, 4242), b);
	assert_null(sessions_pid_get(r, 4242));
	assert_int_equal(sessions_pids(r), 0);

	/* Dropping forgets the record and its pid; a new one has a new serial. */
	sessions_pid_put(r, 4242, b);
	sessions_drop(r, b);
	assert_null(sessions_get(r, 2));
	assert_null(sessions_pid_get(r, 4242));
	assert_int_equal(sessions_count(r), 2);
	s = mk(2);
	b = sessions_add(r, &s);
	assert_true(b->serial > c->serial);
	sessions_free(r);
	sessions_free(NULL);
}

static void
test_states(void **state)
{
	static const struct {
		enum supervise_state	from, to;
		int64_t			stopped, starting, ready;
	} steps[] = {
		{ SV_STOPPED, SV_STARTING, 1, 1, 0 },
		{ SV_STARTING, SV_READY, 1, 0, 1 },
		{ SV_STOPPED, SV_STARTING, 0, 1, 1 },
		{ SV_READY, SV_READY, 0, 1, 1 },	/* no move */
		{ SV_STARTING, SV_STOPPED, 1, 0, 1 },
	};
	struct sessions	*r = sessions_new(NULL, NULL, NULL);
	struct session	 s;
	size_t		 i;

	(void)state;
	s = mk(1);
	(void)sessions_add(r, &s);
	s = mk(2);
	(void)sessions_add(r, &s);
	assert_int_equal(sessions_in_state(r, SV_STOPPED), 2);
	for (i = 0; i < nitems(steps); i++) {
		sessions_moved(r, steps[i].from, steps[i].to);
		assert_int_equal(sessions_in_state(r, SV_STOPPED),
		    steps[i].stopped);
		assert_int_equal(sessions_in_state(r, SV_STARTING),
		    steps[i].starting);
		assert_int_equal(sessions_in_state(r, SV_READY), steps[i].ready);
	}
	assert_int_equal(sessions_in_state(r, SV_NSTATES), 0);
	sessions_free(r);
}

/* Dequeue everything: the ids in the order admitted, 0-terminated. */
static size_t
drain(struct sessions *r, int64_t *out, size_t max)
{
	struct dsession	*ds;
	size_t		 n = 0;

	while (n < max && (ds = sessions_dequeue(r)) != NULL) {
		assert_false(ds->queued);
		out[n++] = ds->id;
	}
	return n;
}

static void
test_queue(void **state)
{
	struct sessions	*r = sessions_new(NULL, NULL, NULL);
	struct dsession	*ds[6];
	struct session	 s;
	int64_t		 got[16];
	int64_t		 want1[] = { 1, 3, 5 }, want2[] = { 6, 2 };
	size_t		 i, n;

	(void)state;
	for (i = 0; i < 6; i++) {
		s = mk((int64_t)i + 1);
		ds[i] = sessions_add(r, &s);
	}
	/* Once each, in order; 2 is taken out, 4 dropped while queued. */
	for (i = 0; i < 5; i++)
		sessions_enqueue(r, ds[i]);
	sessions_enqueue(r, ds[0]);
	assert_true(ds[0]->queued);
	ds[1]->queued = false;
	sessions_drop(r, ds[3]);
	n = drain(r, got, nitems(got));
	assert_int_equal(n, nitems(want1));
	assert_memory_equal(got, want1, sizeof want1);
	assert_int_equal(sessions_waiting(r), 0);
	assert_null(sessions_dequeue(r));

	/* Queued again after it was skipped: it comes, once. */
	sessions_enqueue(r, ds[5]);
	sessions_enqueue(r, ds[1]);
	n = drain(r, got, nitems(got));
	assert_int_equal(n, nitems(want2));
	assert_memory_equal(got, want2, sizeof want2);
	sessions_free(r);
}

/* The ring keeps first-in first-out while it grows and wraps around. */
static void
test_queue_ring(void **state)
{
	struct sessions	*r = sessions_new(NULL, NULL, NULL);
	struct dsession	*ds;
	struct session	 s;
	int64_t		 next_in = 1, next_out = 1;
	int		 round, k;

	(void)state;
	for (k = 1; k <= 2000; k++) {
		s = mk(k);
		(void)sessions_add(r, &s);
	}
	/* Uneven rounds: 300 in, 250 out, ... until all passed once. */
	for (round = 0; next_out <= 2000; round++) {
		for (k = 0; k < 300 && next_in <= 2000; k++)
			sessions_enqueue(r, sessions_get(r, next_in++));
		for (k = 0; k < 250 && next_out < next_in; k++) {
			ds = sessions_dequeue(r);
			assert_non_null(ds);
			assert_int_equal(ds->id, next_out);
			next_out++;
		}
	}
	assert_true(round > 6);
	assert_null(sessions_dequeue(r));
	sessions_free(r);
}

static void
test_status_of(void **state)
{
	static const struct {
		enum supervise_state	sv;
		enum session_status	st;
	} cases[] = {
		{ SV_STOPPED, SESSION_STATUS_STOPPED },
		{ SV_STARTING, SESSION_STATUS_STARTING },
		{ SV_READY, SESSION_STATUS_READY },
		{ SV_BACKOFF, SESSION_STATUS_BACKOFF },
		{ SV_STOPPING, SESSION_STATUS_STOPPING },
		{ SV_FAILED, SESSION_STATUS_FAILED },
		{ SV_NEEDS_AUTH, SESSION_STATUS_NEEDS_AUTH },
		{ SV_NSTATES, SESSION_STATUS_NEW },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		assert_int_equal(sessions_status_of(cases[i].sv), cases[i].st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_queue_ring),
		cmocka_unit_test(test_status_of),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
