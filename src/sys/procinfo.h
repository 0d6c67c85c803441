/*
 * Facts about other processes, from /proc: whether a pid is alive (a
 * zombie is not), its start time in clock ticks since boot (which, with
 * the pid, names one process for good: pids are reused, start times of a
 * pid are not), and its process session.  A restarted daemon uses these to
 * recognise the connectors it started before, and only those.
 */
#ifndef RESPAWN_PROCINFO_H
#define RESPAWN_PROCINFO_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

/* -ESRCH when the process is gone or a zombie. */
int	procinfo_start_ticks(pid_t pid, uint64_t *ret);
bool	procinfo_alive(pid_t pid);
/* Its parent's pid. */
int	procinfo_parent(pid_t pid, pid_t *ret);
/*
 * Its parent, its session and its start time from one read of /proc (for
 * the scan of thousands of connectors at a start); -ESRCH when it is gone
 * or a zombie.  Outputs written only on success.
 */
struct procinfo_ids {
	pid_t		parent;
	pid_t		sid;
	uint64_t	start_ticks;
};
int	procinfo_ids(pid_t pid, struct procinfo_ids *ret);
/* Is pid alive and the very process that started at start_ticks? */
bool	procinfo_same(pid_t pid, uint64_t start_ticks);
/*
 * The wall-clock time (ms since the epoch) of a start at start_ticks:
 * exact to a clock tick, the start being counted on the boot-time clock,
 * as long as the wall clock was not stepped since.
 */
int64_t	procinfo_start_wall_ms(uint64_t start_ticks);

/*
 * Every live process whose working directory is dir or below it: cb gets
 * its pid and the rest of the path after dir ("" for dir itself, else
 * "/..."); a non-zero answer stops the walk and is returned.  Processes of
 * other users whose directory cannot be read are passed over.  Reads
 * /proc/PID/cwd links only: one readlink per process.
 */
typedef int	(*procinfo_cwd_cb)(pid_t pid, const char *rest, void *arg);
int	procinfo_scan_cwd(const char *dir, procinfo_cwd_cb cb, void *arg);

#endif
