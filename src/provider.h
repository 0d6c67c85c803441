/*
 * Where proxies come from.  A provider lists the proxies it bills for and
 * builds the URL a connector uses to reach one; providers that can buy
 * (Bright Data) will add purchases and releases behind the same interface,
 * asynchronously on the event loop.
 *
 * Today there is one implementation, the static list (provider_static.c):
 * a file of proxies bought elsewhere, for operators with their own supply
 * and for off-the-shelf proxies such as tinyproxy or squid.
 */
#ifndef RESPAWN_PROVIDER_H
#define RESPAWN_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include "country.h"

#define PROVIDER_URL_MAX	1024
#define PROVIDER_ERR_LEN	256
#define PROVIDER_KEY_MAX	64	/* the proxy's identity, stored as "ip" */

struct provider;

/* One proxy as the provider lists it. */
struct provider_proxy {
	char	key[PROVIDER_KEY_MAX];		/* no secret in it */
	char	country[COUNTRY_CODE_LEN];
};

typedef int (*provider_list_cb)(const struct provider_proxy *p, void *arg);

const char	*provider_name(const struct provider *p);
bool		 provider_can_purchase(const struct provider *p);
/* Calls cb for each proxy the provider lists now. */
int		 provider_list(struct provider *p, provider_list_cb cb,
		    void *arg);
/*
 * The URL a connector gets for the proxy with this key (it carries the
 * credentials: it goes to the connector's environment only).
 */
int		 provider_proxy_url(const struct provider *p, const char *key,
		    char out[PROVIDER_URL_MAX]);
void		 provider_free(struct provider *p);

/*
 * The static list: each line is "URL COUNTRY", '#' starts a comment, e.g.
 *   http://user:pass@127.0.0.1:3128 de
 * Errors name the file and line.
 */
int		 provider_static_open(const char *path, struct provider **ret,
		    char err[PROVIDER_ERR_LEN]);
/* Parse one line (pure, for tests and fuzzing); 0: blank or comment. */
int		 provider_static_parse_line(const char *line,
		    struct provider_proxy *ret, char url[PROVIDER_URL_MAX],
		    const char **why);

#endif
