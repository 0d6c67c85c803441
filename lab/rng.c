/*
 * splitmix64 (Steele, Lea, Flood 2014): small, fast and good enough for
 * test decisions; see rng.h for why the lab has exactly one generator.
 */
#include "rng.h"

void
rng_seed(struct rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t
rng_next(struct rng *r)
{
	uint64_t	z;

	z = (r->state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t
rng_below(struct rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	/* The modulo bias is below 2^-40 for every n the lab uses. */
	return rng_next(r) % n;
}

double
rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
