/*
 * The Bright Data provider: ISP IPs of one zone, listed and bought through
 * the account API (bdclient.c), each pinned for its connector with the
 * `-ip-<ip>` username on the super proxy.  See provider.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "provider/bdclient.h"
#include "provider/provider.h"

#define PROVIDER_BD_SETTLE_MARGIN_MS	5000

struct provider_bd {
	struct provider		 base;	/* first: see provider.h */
	struct bdclient		*client;
	const struct config	*cfg;
};

/* One operation in flight: the caller's callback and its argument. */
struct provider_bd_call {
	provider_cb	 cb;
	void		*arg;
	char		 country[COUNTRY_CODE_LEN];
};

static const struct provider_ops provider_bd_ops;

static enum provider_outcome
provider_bd_outcome(enum bdclient_outcome o)
{
	return o == BDCLIENT_OK ? PROVIDER_OK : o == BDCLIENT_UNKNOWN ?
	    PROVIDER_UNKNOWN : PROVIDER_FAILED;
}

/* Turn the client's IPs into the provider's proxies, then call back. */
static void
provider_bd_done(const struct bdclient_result *br, void *arg)
{
	struct provider_bd_call	*call = arg;
	struct provider_result	 r = { 0 };
	struct provider_proxy	*px = NULL;
	size_t			 i, n = 0;

	r.outcome = provider_bd_outcome(br->status);
	r.error = br->error;
	r.message = br->message;
	if (br->nips > 0) {
		px = xcalloc(br->nips, sizeof *px);
		for (i = 0; i < br->nips; i++) {
			if (util_strlcpy(px[n].key, br->ips[i].ip,
			    sizeof px[n].key) < 0)
				continue;
			/*
			 * A purchase's answer names no country: its IPs are
			 * taken to have the one asked for until a listing
			 * says otherwise.  A listed IP without a usable
			 * country is kept, with none: dropping it would have
			 * a known IP marked lost, or a billed one unknown.
			 */
			if (br->op == BDCLIENT_OP_ADD)
				memcpy(px[n].country, call->country,
				    sizeof px[n].country);
			else if (country_find(br->ips[i].country,
			    px[n].country) == NULL)
				px[n].country[0] = '\0';
			n++;
		}
	}
	r.proxies = px;
	r.n = n;
	/*
	 * "Not enough available IPs" (400) is how Bright Data says a country
	 * is sold out; the pool then looks elsewhere for a while.
	 */
	r.sold_out = br->op == BDCLIENT_OP_ADD && br->status == BDCLIENT_FAILED &&
	    br->http_status == 400 && br->message != NULL &&
	    strstr(br->message, "vailable") != NULL;
	call->cb(&r, call->arg);
	free(px);
	free(call);
}

static int
provider_bd_list(struct provider *base, provider_cb cb, void *arg)
{
	struct provider_bd	*p = (struct provider_bd *)base;
	struct provider_bd_call	*call = xcalloc(1, sizeof *call);
	int			 r;

	call->cb = cb;
	call->arg = arg;
	if ((r = bdclient_list(p->client, provider_bd_done, call)) < 0)
		free(call);
	return r;
}

static int
provider_bd_purchase(struct provider *base, const char *country, int count,
    provider_cb cb, void *arg)
{
	struct provider_bd	*p = (struct provider_bd *)base;
	struct provider_bd_call	*call = xcalloc(1, sizeof *call);
	int			 r;

	call->cb = cb;
	call->arg = arg;
	(void)util_strlcpy(call->country, country, sizeof call->country);
	if ((r = bdclient_add(p->client, country, count, provider_bd_done,
	    call)) < 0)
		free(call);
	return r;
}

static int
provider_bd_release(struct provider *base, const char *const *keys, size_t n,
    provider_cb cb, void *arg)
{
	struct provider_bd	*p = (struct provider_bd *)base;
	struct provider_bd_call	*call = xcalloc(1, sizeof *call);
	int			 r;

	call->cb = cb;
	call->arg = arg;
	if ((r = bdclient_remove(p->client, keys, n, provider_bd_done,
	    call)) < 0)
		free(call);
	return r;
}

/*
 * A super proxy URL for user.  The zone's password is taken as Bright
 * Data shows it and percent-encoded here: one holding '/', '?', '#', ':'
 * or '@' would otherwise end the user information or the host where a
 * connector's URL parser looks (connectors decode it, docs/CONNECTORS.md).
 */
static int
provider_bd_url(const char *user, const char *password, const char *host,
    int64_t port, char out[PROVIDER_URL_MAX])
{
	char	pw[PROVIDER_URL_MAX];
	int	r;

	if ((r = util_url_encode(password, pw, sizeof pw)) < 0)
		return r;
	r = snprintf(out, PROVIDER_URL_MAX, "http://%s:%s@%s:%lld", user, pw,
	    host, (long long)port) >= PROVIDER_URL_MAX ? -E2BIG : 0;
	util_wipe(pw, sizeof pw);
	return r;
}

static int
provider_bd_proxy_url(const struct provider *base, const char *key,
    char out[PROVIDER_URL_MAX])
{
	const struct provider_bd	*p = (const struct provider_bd *)base;
	char				 user[BDCLIENT_USERNAME_MAX];
	int				 r;

	if ((r = bdclient_proxy_username(p->cfg->bd_customer_id,
	    p->cfg->bd_zone, key, user, sizeof user)) < 0)
		return r;
	return provider_bd_url(user, p->cfg->bd_zone_password,
	    p->cfg->bd_proxy_host, p->cfg->bd_proxy_port, out);
}

/*
 * A residential session's URL: brd-customer-C-zone-Z-country-cc-session-ID,
 * the id derived from the phone and keyed by RESPAWN_SESSION_SALT, so a
 * restart asks for the same peer; generation moves it to another peer
 * after the phone's connector refused one.
 */
static int
provider_bd_session_url(const struct provider *base, const char *phone,
    const char *country, unsigned generation, char out[PROVIDER_URL_MAX])
{
	const struct provider_bd	*p = (const struct provider_bd *)base;
	const struct config		*cfg = p->cfg;
	char				 sid[BDCLIENT_SESSION_ID_LEN];
	char				 user[BDCLIENT_USERNAME_MAX];
	int				 r;

	if (cfg->bd_res_zone[0] == '\0')
		return -ENOTSUP;
	if ((r = bdclient_session_id(phone, generation, cfg->session_salt,
	    sid)) < 0 || (r = bdclient_proxy_username_residential(
	    cfg->bd_customer_id, cfg->bd_res_zone, country, sid, user,
	    sizeof user)) < 0)
		return r;
	return provider_bd_url(user, cfg->bd_res_password, cfg->bd_proxy_host,
	    cfg->bd_proxy_port, out);
}

static void
provider_bd_health(const struct provider *base, struct provider_health *ret)
{
	const struct provider_bd	*p = (const struct provider_bd *)base;
	struct bdclient_status		 st;

	bdclient_status(p->client, util_mono_ms(), &st);
	ret->has_breaker = true;
	ret->breaker = st.breaker;
	ret->requests = st.requests;
	ret->retries = st.retries;
	ret->queued = st.queued;
}

/*
 * How long a purchase may still be carried out after its asker was last
 * seen: the time the client allows a request, and a margin for the
 * provider's own clock.  Past it, a listing tells the whole outcome.
 */
static int64_t
provider_bd_settle_ms(const struct provider *base)
{
	const struct provider_bd	*p = (const struct provider_bd *)base;

	return p->cfg->bd_timeout_ms + PROVIDER_BD_SETTLE_MARGIN_MS;
}

static const char *
provider_bd_zone(const struct provider *base)
{
	return ((const struct provider_bd *)base)->cfg->bd_zone;
}

static void
provider_bd_free(struct provider *base)
{
	struct provider_bd	*p = (struct provider_bd *)base;

	if (p == NULL)
		return;
	bdclient_free(p->client);
	free(p);
}

int
provider_bd_open(struct event_base *base, const struct config *cfg,
    struct provider **ret, char err[PROVIDER_ERR_LEN])
{
	struct bdclient_config	 bc = { 0 };
	struct provider_bd	*p;
	const char		*missing = NULL;
	int			 r;

	if (cfg->bd_customer_id[0] == '\0')
		missing = "BRIGHT_DATA_CUSTOMER_ID";
	else if (cfg->bd_zone[0] == '\0')
		missing = "BRIGHT_DATA_ZONE";
	else if (cfg->bd_zone_password[0] == '\0')
		missing = "BRIGHT_DATA_ZONE_PASSWORD";
	else if (cfg->bd_api_key_secret[0] == '\0')
		missing = "BRIGHT_DATA_API_KEY_SECRET";
	if (missing != NULL) {
		snprintf(err, PROVIDER_ERR_LEN, "RESPAWN_PROVIDER=brightdata "
		    "needs %s", missing);
		return -EINVAL;
	}
	p = xcalloc(1, sizeof *p);
	p->base.ops = &provider_bd_ops;
	p->base.base = base;
	p->cfg = cfg;
	bc.base_url = cfg->bd_api_url;
	bc.customer = cfg->bd_customer_id;
	bc.zone = cfg->bd_zone;
	bc.api_key_ref = cfg->bd_api_key_secret;
	bc.timeout_ms = cfg->bd_timeout_ms;
	if ((r = bdclient_new(base, &bc, &p->client, err,
	    PROVIDER_ERR_LEN)) < 0) {
		free(p);
		return r;
	}
	*ret = &p->base;
	return 0;
}

static const struct provider_ops provider_bd_ops = {
	.name = "brightdata",
	.can_purchase = true,
	.zone = provider_bd_zone,
	.list = provider_bd_list,
	.purchase = provider_bd_purchase,
	.release = provider_bd_release,
	.proxy_url = provider_bd_proxy_url,
	.session_url = provider_bd_session_url,
	.free = provider_bd_free,
	.health = provider_bd_health,
	.settle_ms = provider_bd_settle_ms,
};
