/*
 * Starting connector processes.  The thin effectful half of supervision:
 * the decisions are in core/supervise.c.
 *
 * A connector is started with posix_spawn(3): glibc implements it with
 * CLONE_VFORK, which is fast even from a large daemon (no page tables are
 * copied), and it reports a failed exec as an error return with the child's
 * errno, so "could not start" is never mistaken for "started and crashed".
 * Each connector gets a new process session (POSIX_SPAWN_SETSID), so that
 * signalling the group reaches its children (a browser), and notifications
 * from any process of the session can be attributed to it.  Its standard
 * input is /dev/null and its output goes to a per-session log file that is
 * rotated once it passes a size cap, so a connector outlives the daemon.
 * Every descriptor of the daemon is close-on-exec, so none leaks in.
 */
#ifndef RESPAWN_CHILD_H
#define RESPAWN_CHILD_H

#include <sys/types.h>

#include <spawn.h>
#include <stddef.h>

#define CHILD_ERR_LEN		256
#define CHILD_LOG_MAX_DEFAULT	(1024 * 1024)	/* bytes before rotation */

struct child_request {
	char *const	*argv;		/* argv[0] is looked up in PATH */
	char *const	*envp;
	const char	*cwd;		/* NULL: inherit */
	const char	*log_path;	/* stdout and stderr */
	size_t		 log_max;	/* rotate to log_path.1 past this */
};

/*
 * posix_spawn attributes for a child of a daemon: no signal blocked, every
 * signal the parent handles or ignores back to its default, and flags
 * (POSIX_SPAWN_SETSID, POSIX_SPAWN_SETPGROUP ...).
 */
void	child_spawnattr(posix_spawnattr_t *attr, short flags);
/*
 * The same for a child made by fork or vfork, before it executes a
 * program: the signals the parent handles or ignores back to their
 * default, then none blocked.  Only async-signal-safe calls.
 */
void	child_signals_reset(void);
/* On success *ret_pid is the connector, leader of its own session. */
int	child_start(const struct child_request *req, pid_t *ret_pid,
	    char err[CHILD_ERR_LEN]);
/*
 * Keep a running connector's log under max: when it is larger, its
 * content moves to log_path.1 and the file is emptied in place.  The
 * connector keeps its descriptor (opened with O_APPEND, so it writes at the
 * new end), which is why the file is not renamed.  Returns 1 when trimmed.
 */
int	child_log_trim(const char *log_path, size_t max);
/* Signal the connector's whole process group (its session). */
int	child_signal_group(pid_t pid, int sig);

#endif
