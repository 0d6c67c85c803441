/*
 * respawn-lab-notify-recv: a minimal sd_notify receiver for the lab's
 * tests.  It binds an AF_UNIX datagram socket at PATH and appends every
 * message it receives to OUT, one message per line with newlines inside a
 * message turned into spaces, until SIGTERM.
 *
 * usage: respawn-lab-notify-recv PATH OUT
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NOTIFY_MAX	4096

static volatile sig_atomic_t quit;

static void
on_term(int sig)
{
	quit = 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un	sun;
	struct sigaction	sa;
	char			msg[NOTIFY_MAX + 1];
	ssize_t			n, i;
	int			fd, out;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: respawn-lab-notify-recv PATH OUT\n");
		return 64;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[1], strlen(argv[1]));
	(void)unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror("respawn-lab-notify-recv: bind");
		return 71;
	}
	out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0) {
		perror("respawn-lab-notify-recv: open");
		return 73;
	}
	while (!quit) {
		n = recv(fd, msg, NOTIFY_MAX, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (i = 0; i < n; i++)
			if (msg[i] == '\n' || msg[i] == '\0')
				msg[i] = ' ';
		msg[n++] = '\n';
		(void)!write(out, msg, (size_t)n);
	}
	close(out);
	close(fd);
	(void)unlink(argv[1]);
	return 0;
}
