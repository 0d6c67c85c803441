/*
 * The sd_notify receiver: see notify.h.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "sys/notify.h"

struct notify {
	int	 fd;
	char	*path;
	bool	 abstract;
};

int
notify_open(const char *path, struct notify **ret)
{
	struct sockaddr_un	 sa = { .sun_family = AF_UNIX };
	struct notify		*n;
	socklen_t		 len;
	size_t			 plen = strlen(path);
	int			 fd, one = 1, r;

	if (plen == 0 || plen >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, plen);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	else
		(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	/* Connectors may run as another user; the directory guards access. */
	if (path[0] != '@')
		(void)chmod(path, 0666);
	/* Room for bursts: 10,000 connectors may report READY at once. */
	{
		int	size = 8 * 1024 * 1024;

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
		    sizeof size);
	}
	n = xcalloc(1, sizeof *n);
	n->fd = fd;
	n->path = xstrdup(path);
	n->abstract = path[0] == '@';
	*ret = n;
	return 0;
}

void
notify_close(struct notify *n)
{
	if (n == NULL)
		return;
	close(n->fd);
	if (!n->abstract)
		(void)unlink(n->path);
	free(n->path);
	free(n);
}

int
notify_fd(const struct notify *n)
{
	return n->fd;
}

const char *
notify_path(const struct notify *n)
{
	return n->path;
}

/* Does the line [p, p+len) start with key (including its '=')? */
static bool
notify_key(const char *p, size_t len, const char *key, const char **val,
    size_t *vlen)
{
	size_t	klen = strlen(key);

	if (len < klen || memcmp(p, key, klen) != 0)
		return false;
	*val = p + klen;
	*vlen = len - klen;
	return true;
}

int
notify_parse(const char *buf, size_t len, struct notify_msg *ret)
{
	struct notify_msg	 m;
	const char		*p = buf, *end = buf + len, *nl, *v;
	size_t			 llen, vlen;
	char			 num[16];
	int64_t			 e;

	if (len == 0 || memchr(buf, '\0', len) != NULL)
		return -EBADMSG;
	memset(&m, 0, sizeof m);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (notify_key(p, llen, "READY=", &v, &vlen)) {
			m.ready = vlen == 1 && v[0] == '1';
		} else if (notify_key(p, llen, "WATCHDOG=", &v, &vlen)) {
			m.watchdog = vlen == 1 && v[0] == '1';
		} else if (notify_key(p, llen, "STOPPING=", &v, &vlen)) {
			m.stopping = vlen == 1 && v[0] == '1';
		} else if (notify_key(p, llen, "STATUS=", &v, &vlen)) {
			if (vlen >= sizeof m.status)
				vlen = sizeof m.status - 1;
			memcpy(m.status, v, vlen);
			m.status[vlen] = '\0';
			m.has_status = true;
		} else if (notify_key(p, llen, "ERRNO=", &v, &vlen)) {
			if (vlen < sizeof num) {
				memcpy(num, v, vlen);
				num[vlen] = '\0';
				if (util_parse_i64(num, 0, 4095, &e) == 0)
					m.errno_value = (int)e;
			}
		} else if (notify_key(p, llen, "X_RESPAWN_EVENT=", &v, &vlen)) {
			if (vlen == 10 && memcmp(v, "logged_out", 10) == 0)
				m.event = NOTIFY_EVENT_LOGGED_OUT;
			else if (vlen == 13 &&
			    memcmp(v, "proxy_blocked", 13) == 0)
				m.event = NOTIFY_EVENT_PROXY_BLOCKED;
			else if (vlen == 8 && memcmp(v, "conflict", 8) == 0)
				m.event = NOTIFY_EVENT_CONFLICT;
			else
				m.event = NOTIFY_EVENT_OTHER;
		}
		/* Unknown keys are ignored, as the protocol says. */
		p += llen + (nl != NULL ? 1 : 0);
	}
	*ret = m;
	return 0;
}

/* Close every descriptor a sender passed: we never want any. */
static void
notify_close_passed_fds(struct msghdr *mh)
{
	struct cmsghdr	*c;
	int		*fds;
	size_t		 i, n;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		fds = (int *)(void *)CMSG_DATA(c);
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++)
			close(fds[i]);
	}
}

int
notify_recv(struct notify *n, struct notify_msg *ret)
{
	char			 buf[NOTIFY_BUFFER_MAX];
	union {
		struct cmsghdr	 align;
		char		 data[CMSG_SPACE(sizeof(struct ucred)) +
				    CMSG_SPACE(sizeof(int) * 16)];
	}			 control;
	struct iovec		 iov = { buf, sizeof buf };
	struct msghdr		 mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &control,
		.msg_controllen = sizeof control,
	};
	struct cmsghdr		*c;
	struct ucred		*cred = NULL;
	ssize_t			 len;
	int			 r;

	len = recvmsg(n->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
	if (len < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	notify_close_passed_fds(&mh);
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)len > sizeof buf)
		return -EBADMSG;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
			cred = (struct ucred *)(void *)CMSG_DATA(c);
	if (cred == NULL || cred->pid <= 0)
		return -EBADMSG;
	if ((r = notify_parse(buf, (size_t)len, ret)) < 0)
		return r;
	ret->pid = cred->pid;
	return 0;
}
