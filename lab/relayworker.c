/*
 * Relay workers (see relayworker.h).  A worker is a small process with its
 * own event loop: it owns no part of the world, only sockets and byte
 * counters.  Its sends are blocking and the parent's are not, so the two
 * can never wait on each other.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "relay.h"
#include "relayworker.h"
#include "world.h"

struct wtunnel {
	TAILQ_ENTRY(wtunnel)	 entry;
	struct worker		*w;
	uint64_t		 id;
	uint32_t		 zone;
	struct relay		*relay;
};
TAILQ_HEAD(wtunnel_list, wtunnel);

struct worker {
	struct event_base	*base;
	int			 ctl;
	struct event		 cev;
	struct event		 tick;
	struct wtunnel_list	 tunnels;
	uint64_t		 bytes[WORLD_MAX_ZONES];
};

int
relayworker_send(int ctl, const struct relayworker_msg *m, const int *fds,
    int nfds)
{
	union {
		char		buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr	align;
	} u;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)m;
	iov.iov_len = sizeof(*m);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	for (;;) {
		if (sendmsg(ctl, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(*m))
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static void
worker_tunnel_free(struct wtunnel *t)
{
	TAILQ_REMOVE(&t->w->tunnels, t, entry);
	free(t);
}

static void
worker_bytes_cb(void *arg, size_t n)
{
	struct wtunnel	*t = arg;

	if (t->zone < WORLD_MAX_ZONES)
		t->w->bytes[t->zone] += n;
}

static void
worker_done_cb(void *arg)
{
	struct wtunnel		*t = arg;
	struct relayworker_msg	 m = { .type = RELAYWORKER_CLOSED,
				    .id = t->id };

	(void)relayworker_send(t->w->ctl, &m, NULL, 0);
	worker_tunnel_free(t);
}

static void
worker_report(struct worker *w)
{
	struct relayworker_msg	m;
	uint32_t		z;

	for (z = 0; z < WORLD_MAX_ZONES; z++) {
		if (w->bytes[z] == 0)
			continue;
		memset(&m, 0, sizeof(m));
		m.type = RELAYWORKER_BYTES;
		m.zone = z;
		m.n = w->bytes[z];
		w->bytes[z] = 0;
		(void)relayworker_send(w->ctl, &m, NULL, 0);
	}
}

static void
worker_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	worker_report(arg);
}

static void
worker_add(struct worker *w, const struct relayworker_msg *m, int *fds)
{
	struct wtunnel	*t;

	t = xcalloc(1, sizeof(*t));
	t->w = w;
	t->id = m->id;
	t->zone = m->zone;
	TAILQ_INSERT_TAIL(&w->tunnels, t, entry);
	t->relay = relay_new(w->base, fds[0], fds[1], NULL, 0, NULL, 0,
	    worker_bytes_cb, worker_done_cb, t);
}

static void
worker_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	union {
		char		buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr	align;
	} u;
	struct worker		*w = arg;
	struct relayworker_msg	 m;
	struct wtunnel		*t;
	struct msghdr		 mh;
	struct iovec		 iov;
	struct cmsghdr		*c;
	int			 fds[2] = { -1, -1 }, nfds = 0;
	ssize_t			 n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &m;
	iov.iov_len = sizeof(m);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		event_base_loopexit(w->base, NULL);	/* the lab is gone */
		return;
	}
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (nfds > 2)
				nfds = 2;
			memcpy(fds, CMSG_DATA(c), (size_t)nfds * sizeof(int));
		}
	}
	if (n != (ssize_t)sizeof(m) || (m.type == RELAYWORKER_ADD &&
	    nfds != 2)) {
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
		return;
	}
	if (m.type == RELAYWORKER_ADD) {
		worker_add(w, &m, fds);
		return;
	}
	if (m.type == RELAYWORKER_CLOSE) {
		TAILQ_FOREACH(t, &w->tunnels, entry) {
			if (t->id == m.id) {
				relay_free(t->relay);
				worker_tunnel_free(t);
				break;
			}
		}
	}
}

static int
relayworker_main(int ctl)
{
	struct worker	 w;
	struct wtunnel	*t;
	struct timeval	 tv = { 0, RELAYWORKER_BYTES_MS * 1000 };

	memset(&w, 0, sizeof(w));
	TAILQ_INIT(&w.tunnels);
	w.ctl = ctl;
	(void)signal(SIGINT, SIG_IGN);		/* the lab stops us */
	(void)signal(SIGTERM, SIG_IGN);
	if ((w.base = event_base_new()) == NULL)
		return 71;
	event_assign(&w.cev, w.base, ctl, EV_READ | EV_PERSIST, worker_ctl_cb,
	    &w);
	event_add(&w.cev, NULL);
	event_assign(&w.tick, w.base, -1, EV_PERSIST, worker_tick_cb, &w);
	event_add(&w.tick, &tv);
	event_base_dispatch(w.base);
	while ((t = TAILQ_FIRST(&w.tunnels)) != NULL) {
		relay_free(t->relay);
		worker_tunnel_free(t);
	}
	event_del(&w.cev);
	event_del(&w.tick);
	event_base_free(w.base);
	close(ctl);
	return 0;
}

int
relayworker_spawn(int n, struct relayworker *workers)
{
	int	sv[2], i, k, sz = 1 << 20;
	pid_t	pid;

	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv) != 0)
			return -errno;
		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		if ((pid = fork()) < 0)
			return -errno;
		if (pid == 0) {
			/* Siblings' control sockets must not stay open here. */
			for (k = 0; k < i; k++)
				close(workers[k].ctl);
			close(sv[0]);
			exit(relayworker_main(sv[1]));
		}
		close(sv[1]);
		workers[i].pid = pid;
		workers[i].ctl = sv[0];
		(void)evutil_make_socket_nonblocking(sv[0]);
	}
	return 0;
}

void
relayworker_stop(struct relayworker *workers, int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		if (workers[i].ctl >= 0)
			close(workers[i].ctl);
		workers[i].ctl = -1;
	}
	for (i = 0; i < n; i++)
		if (workers[i].pid > 0)
			(void)waitpid(workers[i].pid, NULL, 0);
}
