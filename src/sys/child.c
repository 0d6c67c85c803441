/*
 * Starting connectors: see child.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sys/child.h"

/* Open the log for appending, rotating it first when it is too big. */
static int
child_open_log(const char *path, size_t max)
{
	struct stat	st;
	char		old[4096];
	int		fd;

	if (stat(path, &st) == 0 && (size_t)st.st_size > max) {
		if (snprintf(old, sizeof old, "%s.1", path) < (int)sizeof old)
			(void)rename(path, old);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
	    0600);
	return fd < 0 ? -errno : fd;
}

/*
 * Signals the parent ignores or handles must reach a child with their
 * default meaning (SIGPIPE stays ignored across exec otherwise).
 */
static const int child_default_signals[] = {
	SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2,
};

void
child_spawnattr(posix_spawnattr_t *attr, short flags)
{
	sigset_t	none, dfl;
	size_t		i;

	sigemptyset(&none);
	sigemptyset(&dfl);
	for (i = 0; i < sizeof child_default_signals /
	    sizeof child_default_signals[0]; i++)
		sigaddset(&dfl, child_default_signals[i]);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setsigdefault(attr, &dfl);
	posix_spawnattr_setflags(attr, flags | POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
}

void
child_signals_reset(void)
{
	struct sigaction	sa;
	sigset_t		none;
	size_t			i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* Defaults first: no handler of the parent's may run once unblocked. */
	for (i = 0; i < sizeof child_default_signals /
	    sizeof child_default_signals[0]; i++)
		(void)sigaction(child_default_signals[i], &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

int
child_start(const struct child_request *req, pid_t *ret_pid,
    char err[CHILD_ERR_LEN])
{
	posix_spawn_file_actions_t	fa;
	posix_spawnattr_t		attr;
	pid_t				pid;
	int				logfd, r;

	logfd = child_open_log(req->log_path, req->log_max ? req->log_max :
	    CHILD_LOG_MAX_DEFAULT);
	if (logfd < 0) {
		snprintf(err, CHILD_ERR_LEN, "log file '%s': %s",
		    req->log_path, strerror(-logfd));
		return logfd;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	child_spawnattr(&attr, POSIX_SPAWN_SETSID);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	    O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, logfd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, logfd, STDERR_FILENO);
	if (req->cwd != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, req->cwd);
	r = posix_spawnp(&pid, req->argv[0], &fa, &attr, req->argv,
	    req->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(logfd);
	if (r != 0) {
		snprintf(err, CHILD_ERR_LEN, "cannot start '%s': %s",
		    req->argv[0], strerror(r));
		return -r;
	}
	*ret_pid = pid;
	return 0;
}

int
child_log_trim(const char *log_path, size_t max)
{
	struct stat	st;
	char		old[4096], chunk[65536];
	ssize_t		n;
	int		in, out, r = 1;

	if (stat(log_path, &st) < 0 || (size_t)st.st_size <= max)
		return 0;
	if (snprintf(old, sizeof old, "%s.1", log_path) >= (int)sizeof old)
		return -ENAMETOOLONG;
	if ((in = open(log_path, O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0)
		return -errno;
	out = open(old, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY,
	    0600);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	/* Copy at most what was there when we looked; then empty it. */
	while ((n = read(in, chunk, sizeof chunk)) > 0)
		if (write(out, chunk, (size_t)n) != n) {
			r = -EIO;
			break;
		}
	if (n < 0)
		r = -errno;
	close(out);
	if (r == 1 && ftruncate(in, 0) < 0)
		r = -errno;
	close(in);
	return r;
}

int
child_signal_group(pid_t pid, int sig)
{
	if (pid <= 1)
		return -EINVAL;
	if (kill(-pid, sig) < 0) {
		/* The leader may be gone while others of its group live on. */
		if (errno == ESRCH && kill(pid, sig) == 0)
			return 0;
		return -errno;
	}
	return 0;
}
