/*
 * The super proxy stand-in: HTTP CONNECT on a loopback port with Bright
 * Data's username grammar (proxyauth.h).  Each tunnel's outgoing socket is
 * bound to the exit address chosen for it (an allocated ISP IP, or a
 * residential peer), so the far end sees that address.  Bytes are counted
 * per zone and residential bytes are billed; every CONNECT is logged.
 */
#ifndef LAB_SUPERPROXY_H
#define LAB_SUPERPROXY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROXY_MAX_HEAD		4096		/* CONNECT request head */
#define PROXY_HANDSHAKE_MS	10000		/* head and connect timeout */
#define PROXY_TARGET_MAX	128

struct lab;
struct relayworker;
struct superproxy;

/* With workers (relayworker.h), open tunnels are handed to them. */
int	 superproxy_new(struct lab *lab, const char *addr, int port,
	    const struct relayworker *workers, int nworkers,
	    struct superproxy **ret, int *ret_port);
void	 superproxy_free(struct superproxy *sp);
/* Closes every tunnel leaving from ip (a revoked IP); returns how many. */
size_t	 superproxy_close_ip(struct superproxy *sp, uint32_t ip);
json_t	*superproxy_json(const struct superproxy *sp);
json_t	*superproxy_log_json(const struct superproxy *sp);

#endif
