/*
 * Socket helpers shared by the lab's three listeners.
 */
#ifndef LAB_NET_H
#define LAB_NET_H

#include <stddef.h>
#include <stdint.h>

#define NET_BACKLOG	4096

/* A non-blocking, close-on-exec IPv4 listener; -errno on failure. */
int	net_listen(const char *addr, int port, int *ret_port);
/* "a.b.c.d" of a socket's peer or local end into out. */
int	net_peer_ip(int fd, char *out, size_t outlen);
int	net_peer_u32(int fd, uint32_t *ip);

#endif
