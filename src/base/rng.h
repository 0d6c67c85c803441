/*
 * A small pseudo-random generator (xorshift64*) for jitter: retry delays,
 * backoff, webhook retries.  It needs spread, not secrecy; anything that
 * must not be guessed (webhook ids, keys) comes from getrandom(2) instead.
 * The state is plain data owned by its user, so a test can seed it and get
 * the same sequence every time.
 */
#ifndef RESPAWN_RNG_H
#define RESPAWN_RNG_H

#include <stdint.h>

struct rng {
	uint64_t	s;	/* never 0 */
};

/* Seed from the kernel, or from the clock and pid when it has none yet. */
void		rng_seed(struct rng *r);
/* Seed with a given value (tests, simulations). */
void		rng_seed_with(struct rng *r, uint64_t seed);
uint64_t	rng_next(struct rng *r);
/* Uniform in [0, 1). */
double		rng_double(struct rng *r);

#endif
