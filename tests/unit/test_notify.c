/*
 * Tests of the sd_notify receiver: the payload parser, and the socket's
 * checks on real datagrams (credentials, truncation, NUL bytes, passed
 * descriptors, abstract addresses), including systemd-notify itself when
 * it is installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "sys/notify.h"

struct parse_case {
	const char		*payload;
	size_t			 len;		/* 0: strlen */
	int			 want_r;
	bool			 ready, watchdog;
	const char		*status;
	enum notify_event	 event;
	int			 err;
};

static const struct parse_case parse_cases[] = {
	{ "READY=1", 0, 0, true, false, NULL, NOTIFY_EVENT_NONE, 0 },
	{ "READY=1\nSTATUS=open\n", 0, 0, true, false, "open", 0, 0 },
	{ "WATCHDOG=1", 0, 0, false, true, NULL, 0, 0 },
	{ "READY=0", 0, 0, false, false, NULL, 0, 0 },
	{ "STATUS=qr\nX_RESPAWN_EVENT=logged_out", 0, 0, false, false, "qr",
	  NOTIFY_EVENT_LOGGED_OUT, 0 },
	{ "X_RESPAWN_EVENT=conflict\n", 0, 0, false, false, NULL,
	  NOTIFY_EVENT_CONFLICT, 0 },
	{ "X_RESPAWN_EVENT=proxy_blocked", 0, 0, false, false, NULL,
	  NOTIFY_EVENT_PROXY_BLOCKED, 0 },
	{ "X_RESPAWN_EVENT=dancing", 0, 0, false, false, NULL,
	  NOTIFY_EVENT_OTHER, 0 },
	{ "ERRNO=111", 0, 0, false, false, NULL, 0, 111 },
	{ "ERRNO=-3\nERRNO=x", 0, 0, false, false, NULL, 0, 0 },
	{ "FDSTORE=1\nMAINPID=4\nUNKNOWN\n\n", 0, 0, false, false, NULL, 0, 0 },
	{ "", 0, -EBADMSG, false, false, NULL, 0, 0 },
	{ "READY=1\0WATCHDOG=1", 18, -EBADMSG, false, false, NULL, 0, 0 },
};

static void
test_parse(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(parse_cases); i++) {
		const struct parse_case	*tc = &parse_cases[i];
		struct notify_msg	 m;
		size_t			 len = tc->len ? tc->len :
					    strlen(tc->payload);
		int			 r;

		r = notify_parse(tc->payload, len, &m);
		assert_int_equal(r, tc->want_r);
		if (r < 0)
			continue;
		assert_int_equal(m.ready, tc->ready);
		assert_int_equal(m.watchdog, tc->watchdog);
		assert_int_equal(m.has_status, tc->status != NULL);
		if (tc->status != NULL)
			assert_string_equal(m.status, tc->status);
		assert_int_equal(m.event, tc->event);
		assert_int_equal(m.errno_value, tc->err);
	}
}

/* A STATUS longer than the buffer is cut, not overflowed. */
static void
test_parse_long_status(void **state)
{
	char			buf[NOTIFY_BUFFER_MAX];
	struct notify_msg	m;

	(void)state;
	memset(buf, 'x', sizeof buf);
	memcpy(buf, "STATUS=", 7);
	assert_int_equal(notify_parse(buf, sizeof buf, &m), 0);
	assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 1);
}

static int
client_socket(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	int	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, strlen(path));
	if (path[0] == '@')
		sa->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	return fd;
}

static void
send_plain(const char *path, const void *p, size_t n)
{
	struct sockaddr_un	sa;
	socklen_t		len;
	int			fd = client_socket(path, &sa, &len);

	assert_true(sendto(fd, p, n, 0, (struct sockaddr *)&sa, len) ==
	    (ssize_t)n);
	close(fd);
}

static void
run_socket_checks(const char *path)
{
	struct notify		*n;
	struct notify_msg	 m;
	char			 big[NOTIFY_BUFFER_MAX + 100];

	assert_int_equal(notify_open(path, &n), 0);
	assert_int_equal(notify_recv(n, &m), -EAGAIN);

	send_plain(path, "READY=1\nSTATUS=hello", 20);
	assert_int_equal(notify_recv(n, &m), 0);
	assert_true(m.ready);
	assert_string_equal(m.status, "hello");
	/* The kernel, not the payload, names the sender. */
	assert_int_equal(m.pid, getpid());

	/* Too big for the buffer: dropped whole. */
	memset(big, 'a', sizeof big);
	memcpy(big, "READY=1\n", 8);
	send_plain(path, big, sizeof big);
	assert_int_equal(notify_recv(n, &m), -EBADMSG);

	send_plain(path, "READY=1\0", 8);
	assert_int_equal(notify_recv(n, &m), -EBADMSG);

	/* A passed descriptor is closed, and the message still counts. */
	{
		struct sockaddr_un	 sa;
		socklen_t		 len;
		int			 fd = client_socket(path, &sa, &len);
		int			 pass = open("/dev/null", O_RDONLY);
		union {
			struct cmsghdr	align;
			char		data[CMSG_SPACE(sizeof(int))];
		}			 control;
		struct iovec		 iov = { "WATCHDOG=1", 10 };
		struct msghdr		 mh = { .msg_name = &sa,
			.msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = &control,
			.msg_controllen = sizeof control };
		struct cmsghdr		*c = CMSG_FIRSTHDR(&mh);
		int			 before, after;

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass, sizeof pass);
		assert_true(sendmsg(fd, &mh, 0) == 10);
		close(pass);
		close(fd);
		/* The lowest free descriptor shows whether one leaked. */
		before = open("/dev/null", O_RDONLY);
		close(before);
		assert_int_equal(notify_recv(n, &m), 0);
		assert_true(m.watchdog);
		after = open("/dev/null", O_RDONLY);
		close(after);
		assert_int_equal(before, after);
	}
	notify_close(n);
}

static void
test_socket_path(void **state)
{
	char	path[] = "/tmp/respawn-test-notify-XXXXXX";
	char	sock[128];

	(void)state;
	assert_non_null(mkdtemp(path));
	snprintf(sock, sizeof sock, "%s/notify", path);
	run_socket_checks(sock);
	assert_int_equal(access(sock, F_OK), -1);
	rmdir(path);
}

static void
test_socket_abstract(void **state)
{
	char	sock[64];

	(void)state;
	snprintf(sock, sizeof sock, "@respawn-test-notify-%d", (int)getpid());
	run_socket_checks(sock);
}

/* systemd's own client, as a shell-script connector would use it. */
static void
test_systemd_notify(void **state)
{
	struct notify		*n;
	struct notify_msg	 m;
	char			 sock[64];
	pid_t			 pid;
	int			 status = 0, r, tries;
	bool			 got;

	(void)state;
	if (access("/usr/bin/systemd-notify", X_OK) != 0)
		skip();
	snprintf(sock, sizeof sock, "@respawn-test-sdn-%d", (int)getpid());
	assert_int_equal(notify_open(sock, &n), 0);
	if ((pid = fork()) == 0) {
		setenv("NOTIFY_SOCKET", sock, 1);
		execl("/usr/bin/systemd-notify", "systemd-notify", "--ready",
		    "--status=from a script", (char *)NULL);
		_exit(127);
	}
	/*
	 * systemd-notify follows READY=1 with a BARRIER=1 message carrying a
	 * descriptor, and waits until the receiver has closed it: receiving
	 * while it runs is what lets it finish.
	 */
	got = false;
	for (tries = 0; tries < 500; tries++) {
		if ((r = notify_recv(n, &m)) == 0 && m.ready) {
			got = true;
			assert_string_equal(m.status, "from a script");
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(got);
	notify_close(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_long_status),
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_socket_abstract),
		cmocka_unit_test(test_systemd_notify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
