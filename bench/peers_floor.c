/*
 * peers_floor: the floor of bench/peers.  A bare loop of posix_spawn (no
 * attributes, no file actions, no store, no admission limit) starts N
 * connectors, each with NOTIFY_SOCKET naming one datagram socket, and
 * counts the READY=1 datagrams that arrive on it (drained without waiting
 * between two spawns, then waited on).  That is all a supervisor must do
 * to start N connectors and know them ready, so it is what the others are
 * measured against.
 *
 * usage: peers_floor N CONNECTOR [CAP_S]
 *   Binds ./notify (in the working directory, which the connectors
 *   inherit), spawns N times CONNECTOR, and prints one line
 *   "floor ready=R n=N spawn_ms=S ready_ms=T" when R = N datagrams came,
 *   or when CAP_S seconds (default 600) have passed.  Then it sleeps until
 *   SIGTERM or SIGINT, sends SIGTERM to every connector it started, reaps
 *   them all and exits 0 (1 when not all became ready).
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Reads every datagram waiting; returns how many said READY=1. */
static long
drain(int fd)
{
	char	buf[4097];
	ssize_t	n;
	long	ready = 0;

	while ((n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT)) >= 0) {
		buf[n] = '\0';
		if (strncmp(buf, "READY=1", 7) == 0 || strstr(buf, "\nREADY=1"))
			ready++;
	}
	return ready;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un	 sun;
	struct sigaction	 sa;
	struct pollfd		 pfd;
	char			 cwd[PATH_MAX], *notify, *cargv[2];
	char			*env[3];
	pid_t			*pids;
	long			 n, i, ready = 0, started = 0;
	long long		 t0, t_spawn, t_ready = -1, cap_ms;
	sigset_t		 block, old;
	int			 fd;

	if (argc < 3 || (n = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: peers_floor N CONNECTOR [CAP_S]\n");
		return 64;
	}
	cap_ms = (argc > 3 ? strtol(argv[3], NULL, 10) : 600) * 1000LL;
	if ((pids = calloc((size_t)n, sizeof *pids)) == NULL ||
	    getcwd(cwd, sizeof cwd) == NULL ||
	    asprintf(&notify, "NOTIFY_SOCKET=%s/notify", cwd) < 0)
		return 2;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", cwd) >=
	    (int)sizeof sun.sun_path) {
		fprintf(stderr, "peers_floor: %s: path too long\n", cwd);
		return 2;
	}
	(void)unlink(sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		perror("peers_floor: notify socket");
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);

	env[0] = notify;
	env[1] = "PATH=/usr/bin:/bin";
	env[2] = NULL;
	cargv[0] = argv[2];
	cargv[1] = NULL;
	t0 = now_ms();
	for (i = 0; i < n && !stop_flag; i++) {
		if (posix_spawn(&pids[i], argv[2], NULL, NULL, cargv, env) != 0) {
			perror("peers_floor: posix_spawn");
			break;
		}
		started++;
		ready += drain(fd);
	}
	t_spawn = now_ms() - t0;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (ready < n && !stop_flag && now_ms() - t0 < cap_ms) {
		if (poll(&pfd, 1, 100) > 0)
			ready += drain(fd);
	}
	if (ready >= n)
		t_ready = now_ms() - t0;
	printf("floor ready=%ld n=%ld spawn_ms=%lld ready_ms=%lld\n", ready, n,
	    t_spawn, t_ready);
	fflush(stdout);

	/* Blocked only now: the connectors must not inherit the mask. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	while (!stop_flag)
		sigsuspend(&old);
	for (i = 0; i < started; i++)
		(void)kill(pids[i], SIGTERM);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	(void)unlink(sun.sun_path);
	return ready >= n ? 0 : 1;
}
