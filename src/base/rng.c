/*
 * xorshift64* (Vigna): see rng.h.
 */
#include <sys/random.h>

#include <stdint.h>
#include <unistd.h>

#include "base/rng.h"
#include "base/util.h"

void
rng_seed_with(struct rng *r, uint64_t seed)
{
	/* A zero state would stay zero for ever. */
	r->s = seed != 0 ? seed : UINT64_C(0x9E3779B97F4A7C15);
}

void
rng_seed(struct rng *r)
{
	uint64_t	seed;

	if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
		seed = (uint64_t)util_now_ms() ^ ((uint64_t)getpid() << 32);
	rng_seed_with(r, seed | 1);
}

uint64_t
rng_next(struct rng *r)
{
	uint64_t	x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

double
rng_double(struct rng *r)
{
	return (double)(rng_next(r) >> 11) / (double)(UINT64_C(1) << 53);
}
