/*
 * Socket helpers (see net.h).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

int
net_listen(const char *addr, int port, int *ret_port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, one = 1, r;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, NET_BACKLOG) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_port = ntohs(sin.sin_port);
	return fd;
}

int
net_peer_u32(int fd, uint32_t *ip)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	if (getpeername(fd, (struct sockaddr *)&sin, &len) != 0)
		return -errno;
	if (sin.sin_family != AF_INET)
		return -EAFNOSUPPORT;
	*ip = ntohl(sin.sin_addr.s_addr);
	return 0;
}

int
net_peer_ip(int fd, char *out, size_t outlen)
{
	struct in_addr	a;
	uint32_t	ip = 0;
	int		r;

	if ((r = net_peer_u32(fd, &ip)) != 0)
		return r;
	a.s_addr = htonl(ip);
	if (inet_ntop(AF_INET, &a, out, (socklen_t)outlen) == NULL)
		return -errno;
	return 0;
}
