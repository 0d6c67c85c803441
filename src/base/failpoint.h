/*
 * Named points where a test makes respawn fail or die, as FoundationDB's
 * buggify and libfiu do: the crash-point suite (tests/integration/
 * test_crashpoints.sh) kills the daemon at every step between a decision
 * and its record, and the fault tests make the store's writes fail.
 *
 * They exist only in builds configured with RESPAWN_FAILPOINTS=ON (the
 * project's own test builds, scripts/build); in any other build
 * failpoint() is a constant false and no environment variable is read.
 *
 * What fires is configured from outside the process:
 *
 *   RESPAWN_FAILPOINTS="name=action,name=action,..."
 *   RESPAWN_FAILPOINT_FILE=PATH   the same, one per line, re-read when
 *                                 the file changes (at most every 100 ms),
 *                                 so a test can switch a fault on and off
 *                                 while the daemon runs
 *   RESPAWN_CRASH_MARK=PATH       a crash appends the point's name here
 *
 * Actions: "crash" (SIGKILL the process at the first pass), "crash@N"
 * (at the N-th pass), "fail" (failpoint() returns true at every pass),
 * "fail@N" (at the N-th pass only).  A name ending in '*' matches every
 * point it is a prefix of.
 */
#ifndef RESPAWN_FAILPOINT_H
#define RESPAWN_FAILPOINT_H

#include <stdbool.h>

#define FAILPOINT_MAX		32	/* points configured at once */
#define FAILPOINT_NAME_MAX	48

#ifdef RESPAWN_FAILPOINTS
/* Pass the point: false normally; true when it is to fail; may not return. */
bool	failpoint(const char *name);
#else
static inline bool
failpoint(const char *name)
{
	(void)name;
	return false;
}
#endif

#endif
