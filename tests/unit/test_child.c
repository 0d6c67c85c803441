/*
 * Tests of connector spawning: a new process session, output to the log
 * file (rotated past its cap), a failed exec reported as an error rather
 * than a crash, no descriptor of the parent leaking in, and signals sent
 * to the whole group.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "base/util.h"
#include "sys/child.h"
#include "sys/procinfo.h"

static char tmpdir[] = "/tmp/respawn-test-child-XXXXXX";

static char *
slurp(const char *path)
{
	static char	buf[8192];
	FILE		*f = fopen(path, "r");
	size_t		 n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
run(const char *script, const char *log, size_t log_max, pid_t *pid)
{
	char	*argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	char	*envp[] = { "PATH=/usr/bin:/bin", "FOO=bar", NULL };
	char	 err[CHILD_ERR_LEN];
	struct child_request req = { .argv = argv, .envp = envp,
		.cwd = tmpdir, .log_path = log, .log_max = log_max };

	return child_start(&req, pid, err);
}

static int
wait_status(pid_t pid)
{
	int	status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static void
test_session_env_cwd_log(void **state)
{
	char	log[600], want[700];
	pid_t	pid;
	int	leak;

	(void)state;
	snprintf(log, sizeof log, "%s/a.log", tmpdir);
	/* A descriptor of ours without CLOEXEC would show up in the child. */
	leak = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(run("echo sid=$(cut -d' ' -f6 /proc/$$/stat) "
	    "pid=$$ foo=$FOO cwd=$(pwd); ls /proc/$$/fd | tr '\\n' ' '; "
	    "echo; echo err >&2; read x; echo stdin=$?", log, 0, &pid), 0);
	assert_int_equal(wait_status(pid), 0);
	close(leak);
	snprintf(want, sizeof want, "sid=%d pid=%d foo=bar cwd=%s\n", (int)pid,
	    (int)pid, tmpdir);
	assert_non_null(strstr(slurp(log), want));
	assert_non_null(strstr(slurp(log), "err\n"));
	/* stdin is /dev/null: read fails at once instead of blocking. */
	assert_non_null(strstr(slurp(log), "stdin=1"));
	/* The shell has only 0, 1 and 2 open. */
	if (strstr(slurp(log), "\n0 1 2 \n") == NULL)
		fail_msg("descriptors leaked: %s", slurp(log));
}

static void
test_exec_failure(void **state)
{
	char			*argv[] = { "/nonexistent/connector", NULL };
	char			*envp[] = { NULL };
	char			 err[CHILD_ERR_LEN], log[600];
	struct child_request	 req = { .argv = argv, .envp = envp };
	pid_t			 pid = 0;

	(void)state;
	snprintf(log, sizeof log, "%s/b.log", tmpdir);
	req.log_path = log;
	assert_int_equal(child_start(&req, &pid, err), -ENOENT);
	assert_int_equal(pid, 0);
	assert_non_null(strstr(err, "/nonexistent/connector"));

	req.log_path = "/nonexistent/dir/x.log";
	argv[0] = "/bin/true";
	assert_int_equal(child_start(&req, &pid, err), -ENOENT);
	assert_non_null(strstr(err, "log file"));
}

static void
test_log_rotation(void **state)
{
	char	log[600], old[700];
	pid_t	pid;

	(void)state;
	snprintf(log, sizeof log, "%s/c.log", tmpdir);
	snprintf(old, sizeof old, "%s.1", log);
	assert_int_equal(run("head -c 2000 /dev/zero", log, 1000, &pid), 0);
	assert_int_equal(wait_status(pid), 0);
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(run("echo second", log, 1000, &pid), 0);
	assert_int_equal(wait_status(pid), 0);
	assert_int_equal(access(old, F_OK), 0);
	assert_string_equal(slurp(log), "second\n");
}

/* SIGTERM to the group reaches a grandchild, as a browser would be. */
static void
test_signal_group(void **state)
{
	char	log[600], *p;
	pid_t	pid, grandchild;
	int	i;

	(void)state;
	snprintf(log, sizeof log, "%s/d.log", tmpdir);
	assert_int_equal(run("sleep 60 & echo child=$!; wait", log, 0, &pid),
	    0);
	for (i = 0; i < 200 && strstr(slurp(log), "child=") == NULL; i++)
		usleep(10000);
	p = strstr(slurp(log), "child=");
	assert_non_null(p);
	grandchild = (pid_t)strtol(p + 6, NULL, 10);
	assert_int_equal(child_signal_group(pid, SIGTERM), 0);
	assert_int_equal(wait_status(pid), -SIGTERM);
	for (i = 0; i < 200 && kill(grandchild, 0) == 0; i++)
		usleep(10000);
	assert_int_equal(kill(grandchild, 0), -1);
	assert_int_equal(child_signal_group(1, SIGTERM), -EINVAL);
}

static int
setup(void **state)
{
	(void)state;
	/*
	 * Whatever started this test may have left descriptors open without
	 * close-on-exec; the daemon marks them at start, and so do we here.
	 */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[600];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * One read of /proc gives what the start-up scan asks of a process: its
 * parent, its session and its start time, the same as the separate reads
 * and getsid say; nothing for a process gone, or a zombie.
 */
static void
test_procinfo_ids(void **state)
{
	struct procinfo_ids	 pi, poison;
	uint64_t		 ticks;
	pid_t			 parent, pid;
	int			 status;

	(void)state;
	assert_int_equal(procinfo_ids(getpid(), &pi), 0);
	assert_int_equal(procinfo_parent(getpid(), &parent), 0);
	assert_int_equal(procinfo_start_ticks(getpid(), &ticks), 0);
	assert_int_equal(pi.parent, parent);
	assert_int_equal(pi.parent, getppid());
	assert_int_equal(pi.sid, getsid(0));
	assert_true(pi.start_ticks == ticks && ticks > 0);

	/* A child in a session of its own, then a zombie, then gone. */
	if ((pid = fork()) == 0) {
		(void)setsid();
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	while (procinfo_ids(pid, &pi) < 0 || pi.sid != pid)
		usleep(1000);
	assert_int_equal(pi.parent, getpid());
	assert_true(procinfo_same(pid, pi.start_ticks));
	kill(pid, SIGKILL);
	while (procinfo_ids(pid, &pi) == 0)
		usleep(1000);
	/* A zombie now: nothing written. */
	memset(&poison, 0x5a, sizeof poison);
	memcpy(&pi, &poison, sizeof pi);
	assert_int_equal(procinfo_ids(pid, &pi), -ESRCH);
	assert_memory_equal(&pi, &poison, sizeof pi);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(procinfo_ids(pid, &pi), -ESRCH);
	assert_int_equal(procinfo_ids(0, &pi), -ESRCH);
}

/*
 * A start time on the wall clock, as the adoption of a connector compares
 * it with a pairing request's file time: a child forked now started now,
 * to within a clock tick (10 ms at the kernel's 100 per second) and the
 * rounding.
 */
static void
test_procinfo_start_wall(void **state)
{
	int64_t		before, after, started;
	uint64_t	ticks;
	pid_t		pid;
	int		status;

	(void)state;
	before = util_now_ms();
	if ((pid = fork()) == 0) {
		pause();
		_exit(0);
	}
	after = util_now_ms();
	assert_true(pid > 0);
	assert_int_equal(procinfo_start_ticks(pid, &ticks), 0);
	started = procinfo_start_wall_ms(ticks);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(started >= before - 20);
	assert_true(started <= after + 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_env_cwd_log),
		cmocka_unit_test(test_exec_failure),
		cmocka_unit_test(test_log_rotation),
		cmocka_unit_test(test_signal_group),
		cmocka_unit_test(test_procinfo_ids),
		cmocka_unit_test(test_procinfo_start_wall),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
