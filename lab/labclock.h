/*
 * The lab clock: wall-clock time (Unix epoch milliseconds) that can run
 * faster than real time or be set, so a month of billing passes in
 * seconds.  It is pure: the caller passes the real monotonic time in, so
 * tests drive it without sleeping.
 *
 * lab_now = base_lab + (real - base_real) * speed
 */
#ifndef LAB_LABCLOCK_H
#define LAB_LABCLOCK_H

#include <stdint.h>

#define LABCLOCK_MAX_SPEED	1000000.0

struct labclock;

struct labclock	*labclock_new(int64_t lab_ms, double speed, int64_t real_ms);
void		 labclock_free(struct labclock *c);
int64_t		 labclock_now(const struct labclock *c, int64_t real_ms);
double		 labclock_speed(const struct labclock *c);
/* Jump to lab_ms; the speed is kept. */
void		 labclock_set(struct labclock *c, int64_t lab_ms, int64_t real_ms);
/* Move forward only; -EINVAL for a negative step. */
int		 labclock_advance(struct labclock *c, int64_t ms, int64_t real_ms);
/* -EINVAL outside (0, LABCLOCK_MAX_SPEED]; the current time is kept. */
int		 labclock_set_speed(struct labclock *c, double speed,
		    int64_t real_ms);

#endif
