/*
 * Super proxy credentials: the Basic Proxy-Authorization header and
 * Bright Data's username grammar,
 *
 *   brd-customer-<id>-zone-<zone>[-<key>-<value> | -<flag>]...
 *
 * of which the lab acts on ip, country and session (and accepts, without
 * acting on them, the other documented keys and flags).  Pure.
 */
#ifndef LAB_PROXYAUTH_H
#define LAB_PROXYAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXYAUTH_FIELD_MAX	64
#define PROXYAUTH_CRED_MAX	512

struct proxy_user {
	char		customer[PROXYAUTH_FIELD_MAX];
	char		zone[PROXYAUTH_FIELD_MAX];
	bool		has_ip;
	uint32_t	ip;
	bool		has_country;
	char		country[3];
	bool		has_session;
	char		session[PROXYAUTH_FIELD_MAX];
};

/*
 * "Basic <base64(user:pass)>" into user and pass.  -EINVAL when malformed,
 * -ENOENT when the scheme is not Basic.
 */
int	proxyauth_basic(const char *header, char *user, size_t ulen,
	    char *pass, size_t plen);
/* -EINVAL for anything outside the grammar. */
int	proxyauth_username(const char *user, struct proxy_user *out);

#endif
