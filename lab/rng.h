/*
 * The lab's only source of randomness: a seeded splitmix64 generator.  One
 * seed drives every random choice (fault decisions, addresses, tokens), so
 * a test that fixes the seed sees the same world every run.  The state is
 * one integer, which also makes it trivial to save and restore.
 */
#ifndef LAB_RNG_H
#define LAB_RNG_H

#include <stdint.h>

struct rng {
	uint64_t	state;
};

void	 rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n); n == 0 yields 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Uniform in [0, 1). */
double	 rng_unit(struct rng *r);

#endif
