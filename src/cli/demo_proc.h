/*
 * The processes `respawn demo` starts, and stopping every one of them.
 *
 * The demo starts respawn-lab and daemons itself, each in a process group
 * of its own so that a terminal's Ctrl-C reaches only the demo, which then
 * stops them in order.  The daemons start connectors in sessions of their
 * own; those outlive a killed daemon on purpose, so the demo stops them by
 * the process groups the store recorded, and, as a last pass, by a sweep
 * of /proc for any process running one of the demo's executables with the
 * demo's directory in its command line or environment.  Nothing is ever
 * stopped by name.
 */
#ifndef RESPAWN_DEMO_PROC_H
#define RESPAWN_DEMO_PROC_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define DEMO_PROC_ERR_LEN	256
#define DEMO_PROC_POLL_MS	20	/* how often a stop looks */

/*
 * Start argv[0] (a path) with envp in a new process group: stdin from
 * /dev/null, stdout and stderr appended to log_path, no other descriptor.
 */
int	demo_proc_spawn(char *const argv[], char *const envp[],
	    const char *log_path, pid_t *ret_pid, char err[DEMO_PROC_ERR_LEN]);
/*
 * Has the child pid exited?  1 (reaped; *ret_status is its wait status),
 * 0 when it still runs, or a negative errno.
 */
int	demo_proc_exited(pid_t pid, int *ret_status);
/*
 * Send sig to the child's process group and wait up to timeout_ms for the
 * child to exit, then SIGKILL the group and reap the child.  Returns 0 when
 * it exited by itself in time, -ETIMEDOUT when it had to be killed.
 */
int	demo_proc_stop(pid_t pid, int sig, int64_t timeout_ms,
	    int *ret_status);
/*
 * SIGKILL the process group led by pgid, if its leader is still the
 * process that started at start_ticks (a pid may have been reused).
 * Returns 1 when a signal was sent, 0 when the process was gone.
 */
int	demo_proc_kill_group(pid_t pgid, uint64_t start_ticks);
/*
 * SIGKILL every process (but this one) running one of exes (absolute
 * paths) whose command line or environment contains needle.  Returns how
 * many were killed.
 */
int	demo_proc_sweep(const char *needle, const char *const exes[],
	    size_t n_exes);
/* Sleep for ms milliseconds, or less when a signal arrives. */
void	demo_proc_sleep_ms(int64_t ms);

#endif
