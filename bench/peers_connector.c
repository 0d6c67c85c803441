/*
 * peers_connector: the connector of bench/peers, for every supervisor
 * alike.  It says it is ready and then sleeps, so that what the bench
 * measures is the supervisor's own cost, not a connector's.
 *
 *   - NOTIFY_SOCKET set (respawn, the bare floor): one "READY=1" datagram
 *     sent to it (a path, or an abstract name when it starts with '@');
 *   - PEERS_READY_FD set (s6, whose notification-fd file names that fd):
 *     a newline written to that descriptor, which is then closed;
 *   - neither (supervisord, which has no readiness protocol): nothing.
 * Then it sleeps until SIGTERM (or SIGINT), and exits 0.  It reads no file,
 * writes nothing else and takes no arguments.
 *
 * bench/peers compiles it with cc -O2 (static when the C library allows).
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static void
notify_socket(const char *path)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	size_t			n = strlen(path);
	int			fd;

	if (n == 0 || n >= sizeof sun.sun_path)
		return;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '@' ? 0 : 1));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	/* Blocking: a full receive queue makes us wait, never drops READY. */
	while (sendto(fd, "READY=1\n", 8, 0, (struct sockaddr *)&sun, len) < 0 &&
	    errno == EINTR)
		;
	close(fd);
}

static void
notify_fd(const char *s)
{
	char	*end;
	long	 fd;

	errno = 0;
	fd = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || fd < 0 || fd > 1 << 20)
		return;
	while (write((int)fd, "\n", 1) < 0 && errno == EINTR)
		;
	close((int)fd);
}

int
main(void)
{
	struct sigaction	sa;
	const char		*s;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	if ((s = getenv("NOTIFY_SOCKET")) != NULL && *s != '\0')
		notify_socket(s);
	if ((s = getenv("PEERS_READY_FD")) != NULL && *s != '\0')
		notify_fd(s);
	for (;;)
		pause();
}
