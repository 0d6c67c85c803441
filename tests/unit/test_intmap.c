/*
 * Tests of the integer map against a plain array as the model: random
 * inserts, replacements and deletions (deletion's backward shift is the
 * subtle part) must always agree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "base/intmap.h"

#define KEYS	2000

static void
test_against_model(void **state)
{
	static void	*model[KEYS];
	struct intmap	*m = intmap_new();
	uint64_t	 x = 88172645463325252ULL;
	size_t		 n = 0;
	int		 i, k;

	(void)state;
	for (i = 0; i < 200000; i++) {
		/* xorshift64: a fixed sequence, so failures reproduce. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Keys that collide: multiples of 1024 and small numbers. */
		k = (int)(x % KEYS);
		if ((x >> 32) % 3 == 0) {
			void *v = intmap_del(m, (int64_t)k * 1024);

			assert_ptr_equal(v, model[k]);
			if (model[k] != NULL)
				n--;
			model[k] = NULL;
		} else {
			void *v = (void *)(uintptr_t)(i + 1);

			if (model[k] == NULL)
				n++;
			model[k] = v;
			intmap_put(m, (int64_t)k * 1024, v);
		}
		assert_int_equal(intmap_count(m), n);
	}
	for (k = 0; k < KEYS; k++)
		assert_ptr_equal(intmap_get(m, (int64_t)k * 1024), model[k]);
	assert_null(intmap_get(m, -5));
	intmap_free(m);
	intmap_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
