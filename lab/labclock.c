/*
 * The lab clock (see labclock.h).  Every change rebases the clock at the
 * current instant, so changing the speed never makes time jump.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "base/xmalloc.h"
#include "labclock.h"

struct labclock {
	int64_t	base_lab;
	int64_t	base_real;
	double	speed;
};

struct labclock *
labclock_new(int64_t lab_ms, double speed, int64_t real_ms)
{
	struct labclock	*c;

	c = xcalloc(1, sizeof(*c));
	c->base_lab = lab_ms;
	c->base_real = real_ms;
	c->speed = speed > 0 && speed <= LABCLOCK_MAX_SPEED ? speed : 1.0;
	return c;
}

void
labclock_free(struct labclock *c)
{
	free(c);
}

int64_t
labclock_now(const struct labclock *c, int64_t real_ms)
{
	double	elapsed;

	elapsed = (double)(real_ms - c->base_real) * c->speed;
	return c->base_lab + (int64_t)llround(elapsed);
}

double
labclock_speed(const struct labclock *c)
{
	return c->speed;
}

void
labclock_set(struct labclock *c, int64_t lab_ms, int64_t real_ms)
{
	c->base_lab = lab_ms;
	c->base_real = real_ms;
}

int
labclock_advance(struct labclock *c, int64_t ms, int64_t real_ms)
{
	if (ms < 0)
		return -EINVAL;
	labclock_set(c, labclock_now(c, real_ms) + ms, real_ms);
	return 0;
}

int
labclock_set_speed(struct labclock *c, double speed, int64_t real_ms)
{
	if (!(speed > 0) || speed > LABCLOCK_MAX_SPEED)
		return -EINVAL;
	labclock_set(c, labclock_now(c, real_ms), real_ms);
	c->speed = speed;
	return 0;
}
