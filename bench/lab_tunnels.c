/*
 * respawn-lab-bench-tunnels: opens COUNT tunnels through respawn-lab's
 * super proxy to a WhatsApp stand-in, says HELLO as COUNT different phones
 * and holds every tunnel idle, to measure how many the super proxy holds.
 * At most INFLIGHT handshakes run at once.  Prints one line:
 *
 *   established=N failed=M seconds=S
 *
 * usage: respawn-lab-bench-tunnels PROXY_PORT TARGET USER:PASS COUNT
 *            HOLD_SECONDS [TIMEOUT_SECONDS]
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "base/util.h"

#define INFLIGHT	256
#define MAX_COUNT	50000

enum phase { P_CONNECTING, P_PROXY, P_HELLO, P_DONE, P_FAILED };

struct tun {
	int		fd;
	enum phase	phase;
	char		buf[256];
	size_t		len;
};

static struct tun	*tuns;

static void
send_str(int fd, const char *s)
{
	(void)!send(fd, s, strlen(s), MSG_NOSIGNAL);
}

int
main(int argc, char **argv)
{
	struct epoll_event	 ev, evs[512];
	struct sockaddr_in	 sin;
	struct rlimit		 rl;
	struct tun		*t;
	char			 req[1024], enc[512], hello[64];
	int64_t			 count, hold, timeout, port, i, next = 0;
	int64_t			 start, established = 0, failed = 0, inflight = 0;
	int			 ep, n, k, err;
	socklen_t		 len;
	ssize_t			 r;

	if (argc < 6 || util_parse_i64(argv[1], 1, 65535, &port) != 0 ||
	    util_parse_i64(argv[4], 1, MAX_COUNT, &count) != 0 ||
	    util_parse_i64(argv[5], 0, 3600, &hold) != 0) {
		fprintf(stderr, "usage: respawn-lab-bench-tunnels PROXY_PORT "
		    "TARGET USER:PASS COUNT HOLD_SECONDS [TIMEOUT_SECONDS]\n");
		return 64;
	}
	timeout = 120;
	if (argc > 6 && util_parse_i64(argv[6], 1, 3600, &timeout) != 0)
		return 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	(void)b64_encode(argv[3], strlen(argv[3]), enc, sizeof(enc));
	(void)snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "Proxy-Authorization: Basic %s\r\n\r\n", argv[2], argv[2], enc);
	tuns = calloc((size_t)count, sizeof(*tuns));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (tuns == NULL || ep < 0)
		return 71;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	start = util_mono_ms();
	while (established + failed < count &&
	    util_mono_ms() - start < timeout * 1000) {
		while (next < count && inflight < INFLIGHT) {
			t = &tuns[next];
			t->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);
			if (t->fd < 0 || (connect(t->fd, (struct sockaddr *)&sin,
			    sizeof(sin)) != 0 && errno != EINPROGRESS)) {
				t->phase = P_FAILED;
				failed++;
				if (t->fd >= 0)
					close(t->fd);
				t->fd = -1;
				next++;
				continue;
			}
			ev.events = EPOLLOUT | EPOLLIN;
			ev.data.u64 = (uint64_t)next;
			(void)epoll_ctl(ep, EPOLL_CTL_ADD, t->fd, &ev);
			inflight++;
			next++;
		}
		n = epoll_wait(ep, evs, 512, 1000);
		for (k = 0; k < n; k++) {
			i = (int64_t)evs[k].data.u64;
			t = &tuns[i];
			if (t->phase == P_CONNECTING) {
				len = sizeof(err);
				if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err,
				    &len) != 0 || err != 0)
					goto fail;
				send_str(t->fd, req);
				t->phase = P_PROXY;
				ev.events = EPOLLIN;
				ev.data.u64 = (uint64_t)i;
				(void)epoll_ctl(ep, EPOLL_CTL_MOD, t->fd, &ev);
				continue;
			}
			if (t->phase != P_PROXY && t->phase != P_HELLO) {
				/* An established tunnel got a ping or closed. */
				r = recv(t->fd, t->buf, sizeof(t->buf), 0);
				if (r == 0) {
					t->phase = P_FAILED;
					established--;
					failed++;
					(void)epoll_ctl(ep, EPOLL_CTL_DEL, t->fd,
					    NULL);
				}
				continue;
			}
			r = recv(t->fd, t->buf + t->len,
			    sizeof(t->buf) - 1 - t->len, 0);
			if (r <= 0)
				goto fail;
			t->len += (size_t)r;
			t->buf[t->len] = '\0';
			if (t->phase == P_PROXY) {
				if (strstr(t->buf, "\r\n\r\n") == NULL)
					continue;
				if (strncmp(t->buf, "HTTP/1.1 200", 12) != 0)
					goto fail;
				(void)snprintf(hello, sizeof(hello),
				    "HELLO +1555%07lld benchtoken\n",
				    (long long)i);
				send_str(t->fd, hello);
				t->phase = P_HELLO;
				t->len = 0;
				continue;
			}
			if (strchr(t->buf, '\n') == NULL)
				continue;
			if (strncmp(t->buf, "OK\n", 3) != 0)
				goto fail;
			t->phase = P_DONE;
			established++;
			inflight--;
			continue;
fail:
			t->phase = P_FAILED;
			failed++;
			inflight--;
			(void)epoll_ctl(ep, EPOLL_CTL_DEL, t->fd, NULL);
			close(t->fd);
			t->fd = -1;
		}
	}
	printf("established=%lld failed=%lld seconds=%.2f\n",
	    (long long)established, (long long)(count - established),
	    (double)(util_mono_ms() - start) / 1000.0);
	fflush(stdout);
	/* Hold them idle, answering nothing; the caller measures meanwhile. */
	start = util_mono_ms();
	while (util_mono_ms() - start < hold * 1000)
		(void)epoll_wait(ep, evs, 512, 1000);
	for (i = 0; i < count; i++)
		if (tuns[i].fd > 0)
			close(tuns[i].fd);
	free(tuns);
	close(ep);
	return 0;
}
