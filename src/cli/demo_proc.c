/*
 * The demo's processes: see demo_proc.h.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "cli/demo_proc.h"
#include "sys/child.h"
#include "sys/procinfo.h"

#define DEMO_PROC_FILE_MAX	(256 * 1024)	/* a cmdline or environ file */
#define DEMO_PROC_PATH_LEN	64		/* "/proc/<pid>/environ" */

void
demo_proc_sleep_ms(int64_t ms)
{
	struct timespec	ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	/* A signal cuts the sleep short, so the caller sees it sooner. */
	(void)nanosleep(&ts, NULL);
}

int
demo_proc_spawn(char *const argv[], char *const envp[], const char *log_path,
    pid_t *ret_pid, char err[DEMO_PROC_ERR_LEN])
{
	posix_spawn_file_actions_t	fa;
	posix_spawnattr_t		attr;
	pid_t				pid;
	int				r;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/*
	 * The demo catches SIGINT and SIGTERM and ignores SIGPIPE: the lab
	 * and the daemon get their default meaning back.  A process group
	 * of its own: a terminal's Ctrl-C goes to the demo alone, which
	 * stops the lab and the daemon in order, and a stop reaches
	 * whatever the child started in its group.
	 */
	posix_spawnattr_setpgroup(&attr, 0);
	child_spawnattr(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	    O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_path,
	    O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY, 0600);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	/*
	 * Every descriptor of ours is close-on-exec already (libcurl's
	 * sockets included, see demo_lab.c); this makes sure of it.
	 */
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	r = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0) {
		snprintf(err, DEMO_PROC_ERR_LEN, "cannot start '%s': %s",
		    argv[0], strerror(r));
		return -r;
	}
	*ret_pid = pid;
	return 0;
}

int
demo_proc_exited(pid_t pid, int *ret_status)
{
	pid_t	r;
	int	status;

	do
		r = waitpid(pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	*ret_status = status;
	return 1;
}

int
demo_proc_stop(pid_t pid, int sig, int64_t timeout_ms, int *ret_status)
{
	int64_t		deadline = util_mono_ms() + timeout_ms;
	siginfo_t	si;
	bool		timed_out = false;
	int		status = 0;

	if (pid <= 1)
		return -EINVAL;
	(void)kill(-pid, sig);
	for (;;) {
		/* WNOWAIT: the zombie keeps its pid, so its group id, ours. */
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG |
		    WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (si.si_pid == pid)
			break;
		if (util_mono_ms() >= deadline) {
			timed_out = true;
			break;
		}
		demo_proc_sleep_ms(DEMO_PROC_POLL_MS);
	}
	/* What the leader started in its group goes with it. */
	(void)kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (ret_status != NULL)
		*ret_status = status;
	return timed_out ? -ETIMEDOUT : 0;
}

int
demo_proc_kill_group(pid_t pgid, uint64_t start_ticks)
{
	if (pgid <= 1 || !procinfo_same(pgid, start_ticks))
		return 0;
	return kill(-pgid, SIGKILL) == 0 ? 1 : 0;
}

/* Read a /proc file whole (up to DEMO_PROC_FILE_MAX); -errno on failure. */
static ssize_t
demo_proc_read(const char *path, char *buf, size_t size)
{
	size_t	len = 0;
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	while (len < size) {
		n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	return (ssize_t)len;
}

/* Does the process run one of exes, and mention needle? */
static bool
demo_proc_matches(pid_t pid, const char *needle, const char *const exes[],
    size_t n_exes, char *buf)
{
	static const char *const files[] = { "cmdline", "environ" };
	char	path[DEMO_PROC_PATH_LEN], exe[PATH_MAX];
	ssize_t	len;
	size_t	i;
	bool	ours = false;

	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	if ((len = readlink(path, exe, sizeof exe - 1)) <= 0)
		return false;
	exe[len] = '\0';
	for (i = 0; i < n_exes && !ours; i++)
		ours = exes[i] != NULL && strcmp(exe, exes[i]) == 0;
	if (!ours)
		return false;
	for (i = 0; i < nitems(files); i++) {
		snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, files[i]);
		if ((len = demo_proc_read(path, buf, DEMO_PROC_FILE_MAX)) > 0 &&
		    memmem(buf, (size_t)len, needle, strlen(needle)) != NULL)
			return true;
	}
	return false;
}

int
demo_proc_sweep(const char *needle, const char *const exes[], size_t n_exes)
{
	static char	 buf[DEMO_PROC_FILE_MAX];
	struct dirent	*de;
	DIR		*dir;
	int64_t		 v;
	int		 killed = 0;

	if (needle == NULL || *needle == '\0' ||
	    (dir = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    util_parse_i64(de->d_name, 2, INT_MAX, &v) < 0 ||
		    (pid_t)v == getpid())
			continue;
		if (demo_proc_matches((pid_t)v, needle, exes, n_exes, buf) &&
		    kill((pid_t)v, SIGKILL) == 0)
			killed++;
	}
	closedir(dir);
	return killed;
}
