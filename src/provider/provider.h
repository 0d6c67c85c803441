/*
 * Where proxies come from.  A provider lists the proxies it bills for,
 * buys new ones (when it can), and builds the URL a connector uses to reach
 * one.  Listing and buying are asynchronous on the daemon's event loop:
 * an operation that starts (returns 0) calls its callback exactly once,
 * later, from the loop, never from inside the call.
 *
 * Two implementations:
 *   static      (provider_static.c) a file of proxies bought elsewhere, for
 *               operators with their own supply and for off-the-shelf
 *               proxies such as tinyproxy or squid; it cannot buy;
 *   brightdata  (provider_bd.c) Bright Data's ISP IPs through its account
 *               API (bdclient.c), pinned with the -ip- username.
 */
#ifndef RESPAWN_PROVIDER_H
#define RESPAWN_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/country.h"
#include "base/metrics.h"
#include "core/breaker.h"

struct event_base;
struct config;

#define PROVIDER_URL_MAX	1024
#define PROVIDER_ERR_LEN	256
#define PROVIDER_KEY_MAX	64	/* the proxy's identity, stored as "ip" */

struct provider;

/* One proxy as the provider lists it. */
struct provider_proxy {
	char	key[PROVIDER_KEY_MAX];		/* no secret in it */
	char	country[COUNTRY_CODE_LEN];	/* "": the provider does not say */
};

enum provider_outcome {
	PROVIDER_OK,		/* it happened */
	PROVIDER_FAILED,	/* it certainly did not happen */
	PROVIDER_UNKNOWN,	/* it may have happened: settle by listing */
};

struct provider_result {
	enum provider_outcome		 outcome;
	int				 error;		/* 0 or -errno */
	const char			*message;	/* for logs; no secret */
	bool				 sold_out;	/* purchase: none for sale */
	/*
	 * What the provider says, not checked here: list, every proxy it
	 * bills; purchase, the new ones (with the country asked for); release,
	 * the ones it released.  The daemon checks them against the store.
	 */
	const struct provider_proxy	*proxies;
	size_t				 n;
};

typedef void (*provider_cb)(const struct provider_result *r, void *arg);

const char	*provider_name(const struct provider *p);
const char	*provider_zone(const struct provider *p);
bool		 provider_can_purchase(const struct provider *p);
int		 provider_list(struct provider *p, provider_cb cb, void *arg);
/* Give proxies back (keys); the result names the ones released. */
int		 provider_release(struct provider *p, const char *const *keys,
		    size_t n, provider_cb cb, void *arg);
/* Buy count proxies in country; -ENOTSUP when the provider cannot. */
int		 provider_purchase(struct provider *p, const char *country,
		    int count, provider_cb cb, void *arg);
/*
 * The URL a connector gets for the proxy with this key.  It carries the
 * credentials, so it goes to the connector's environment only.
 */
int		 provider_proxy_url(const struct provider *p, const char *key,
		    char out[PROVIDER_URL_MAX]);
/*
 * The URL for a session that rents no IP of its own (residential): the
 * provider keeps a sticky peer for the phone in country; generation moves
 * it to another one.  -ENOTSUP when the provider has none to offer.
 */
int		 provider_session_url(const struct provider *p,
		    const char *phone, const char *country, unsigned generation,
		    char out[PROVIDER_URL_MAX]);
void		 provider_free(struct provider *p);
/*
 * How long after its asker was last seen a purchase may still be carried
 * out by the provider (a request sent just before the asker died or gave
 * up): a listing taken later shows its whole outcome.
 */
int64_t		 provider_settle_ms(const struct provider *p);

/*
 * The provider RESPAWN_PROVIDER names, from the configuration: the only
 * place that knows the implementations by name.
 */
int		 provider_open(struct event_base *base, const struct config *cfg,
		    struct provider **ret, char err[PROVIDER_ERR_LEN]);

/*
 * What /metrics shows of the provider: each asynchronous operation's
 * count by outcome and its latency from the call to the callback
 * (retries included), measured here for every implementation.
 */
enum provider_op {
	PROVIDER_OP_LIST,
	PROVIDER_OP_PURCHASE,
	PROVIDER_OP_RELEASE,
	PROVIDER_OP_N
};

struct provider_op_stats {
	uint64_t		calls;
	uint64_t		outcomes[PROVIDER_UNKNOWN + 1];
	uint64_t		refused;	/* failed before it began */
	struct metrics_hist	latency;	/* seconds */
};

struct provider_health {
	bool			has_breaker;
	struct breaker_status	breaker;
	uint64_t		requests;	/* HTTP requests sent */
	uint64_t		retries;
	uint64_t		queued;		/* waiting for a connection */
};

const struct provider_op_stats *provider_op_stats(const struct provider *p,
		    enum provider_op op);
const char	*provider_op_name(enum provider_op op);
/* The client's health; has_breaker false for providers without one. */
void		 provider_health(const struct provider *p,
		    struct provider_health *ret);

/*
 * The static list: each line is "URL COUNTRY", '#' starts a comment, e.g.
 *   http://user:pass@127.0.0.1:3128 de
 * Errors name the file and line.
 */
int		 provider_static_open(struct event_base *base, const char *path,
		    struct provider **ret, char err[PROVIDER_ERR_LEN]);
/* Parse one line (pure, for tests and fuzzing); 0: blank or comment. */
int		 provider_static_parse_line(const char *line,
		    struct provider_proxy *ret, char url[PROVIDER_URL_MAX],
		    const char **why);

/* Bright Data, from the BRIGHT_DATA_* configuration. */
int		 provider_bd_open(struct event_base *base,
		    const struct config *cfg, struct provider **ret,
		    char err[PROVIDER_ERR_LEN]);

/* For implementations: the operations behind a provider. */
struct provider_ops {
	const char	*name;
	bool		 can_purchase;
	const char	*(*zone)(const struct provider *p);
	int		(*list)(struct provider *p, provider_cb cb, void *arg);
	int		(*purchase)(struct provider *p, const char *country,
			    int count, provider_cb cb, void *arg);
	int		(*release)(struct provider *p, const char *const *keys,
			    size_t n, provider_cb cb, void *arg);
	int		(*proxy_url)(const struct provider *p, const char *key,
			    char out[PROVIDER_URL_MAX]);
	/* Optional: residential sessions. */
	int		(*session_url)(const struct provider *p,
			    const char *phone, const char *country,
			    unsigned generation, char out[PROVIDER_URL_MAX]);
	void		(*free)(struct provider *p);
	/* Optional: the breaker and request counts. */
	void		(*health)(const struct provider *p,
			    struct provider_health *ret);
	/* Optional (NULL: 0): see provider_settle_ms. */
	int64_t		(*settle_ms)(const struct provider *p);
};

/* Every implementation's struct starts with this. */
struct provider {
	const struct provider_ops	*ops;
	struct event_base		*base;
	struct provider_op_stats	 stats[PROVIDER_OP_N];	/* provider.c's */
};

#endif
