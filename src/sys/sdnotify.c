/*
 * Reporting to our own supervisor: see sdnotify.h.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "sys/sdnotify.h"

static struct sockaddr_un	sdnotify_addr;
static socklen_t		sdnotify_len;
static int64_t			sdnotify_watchdog_ms;

void
sdnotify_init(void)
{
	const char	*path = getenv("NOTIFY_SOCKET");
	const char	*wd = getenv("WATCHDOG_USEC");
	const char	*wdpid = getenv("WATCHDOG_PID");
	int64_t		 usec, pid;
	size_t		 n;

	sdnotify_len = 0;
	if (path != NULL && (path[0] == '/' || path[0] == '@') &&
	    (n = strlen(path)) < sizeof sdnotify_addr.sun_path) {
		memset(&sdnotify_addr, 0, sizeof sdnotify_addr);
		sdnotify_addr.sun_family = AF_UNIX;
		memcpy(sdnotify_addr.sun_path, path, n);
		if (path[0] == '@')
			sdnotify_addr.sun_path[0] = '\0';
		sdnotify_len = (socklen_t)(offsetof(struct sockaddr_un,
		    sun_path) + n);
	}
	sdnotify_watchdog_ms = 0;
	if (wd != NULL && util_parse_i64(wd, 1, INT64_MAX, &usec) == 0 &&
	    (wdpid == NULL || (util_parse_i64(wdpid, 1, INT32_MAX, &pid) == 0 &&
	    pid == getpid())))
		sdnotify_watchdog_ms = usec / 2000;
	/* Children must not inherit our supervisor's channel. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

int
sdnotify_send(const char *msg)
{
	int	fd, r = 0;

	if (sdnotify_len == 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sdnotify_addr, sdnotify_len) < 0)
		r = -errno;
	close(fd);
	return r;
}

int64_t
sdnotify_watchdog_interval_ms(void)
{
	return sdnotify_watchdog_ms;
}
