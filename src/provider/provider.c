/*
 * Provider dispatch: see provider.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "provider/provider.h"

/* Latency buckets (seconds): a local call to a slow, retried purchase. */
static const double provider_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };

/* One operation in flight, timed from the call to its callback. */
struct provider_call {
	struct provider	*p;
	enum provider_op op;
	int64_t		 t0;
	provider_cb	 cb;
	void		*arg;
};

static void
provider_call_done(const struct provider_result *r, void *arg)
{
	struct provider_call	*c = arg;
	struct provider_op_stats *s = &c->p->stats[c->op];

	if ((unsigned)r->outcome <= PROVIDER_UNKNOWN)
		s->outcomes[r->outcome]++;
	metrics_hist_observe(&s->latency,
	    (double)(util_mono_ms() - c->t0) / 1000.0);
	c->cb(r, c->arg);
	free(c);
}

static struct provider_call *
provider_call_new(struct provider *p, enum provider_op op, provider_cb cb,
    void *arg)
{
	struct provider_call	*c = xcalloc(1, sizeof *c);
	struct provider_op_stats *s = &p->stats[op];

	if (s->latency.nbounds == 0)
		metrics_hist_init(&s->latency, provider_buckets,
		    sizeof provider_buckets / sizeof provider_buckets[0]);
	s->calls++;
	c->p = p;
	c->op = op;
	c->t0 = util_mono_ms();
	c->cb = cb;
	c->arg = arg;
	return c;
}

/* The operation did not begin: nothing will call back. */
static int
provider_call_refused(struct provider_call *c, int r)
{
	c->p->stats[c->op].refused++;
	free(c);
	return r;
}

const char *
provider_name(const struct provider *p)
{
	return p->ops->name;
}

const char *
provider_zone(const struct provider *p)
{
	return p->ops->zone(p);
}

bool
provider_can_purchase(const struct provider *p)
{
	return p->ops->can_purchase;
}

int
provider_list(struct provider *p, provider_cb cb, void *arg)
{
	struct provider_call	*c = provider_call_new(p, PROVIDER_OP_LIST, cb,
				    arg);
	int			 r;

	if ((r = p->ops->list(p, provider_call_done, c)) < 0)
		return provider_call_refused(c, r);
	return r;
}

int
provider_purchase(struct provider *p, const char *country, int count,
    provider_cb cb, void *arg)
{
	struct provider_call	*c;
	int			 r;

	if (p->ops->purchase == NULL)
		return -ENOTSUP;
	c = provider_call_new(p, PROVIDER_OP_PURCHASE, cb, arg);
	if ((r = p->ops->purchase(p, country, count, provider_call_done,
	    c)) < 0)
		return provider_call_refused(c, r);
	return r;
}

int
provider_release(struct provider *p, const char *const *keys, size_t n,
    provider_cb cb, void *arg)
{
	struct provider_call	*c = provider_call_new(p, PROVIDER_OP_RELEASE,
				    cb, arg);
	int			 r;

	if ((r = p->ops->release(p, keys, n, provider_call_done, c)) < 0)
		return provider_call_refused(c, r);
	return r;
}

int
provider_proxy_url(const struct provider *p, const char *key,
    char out[PROVIDER_URL_MAX])
{
	return p->ops->proxy_url(p, key, out);
}

int
provider_session_url(const struct provider *p, const char *phone,
    const char *country, unsigned generation, char out[PROVIDER_URL_MAX])
{
	if (p->ops->session_url == NULL)
		return -ENOTSUP;
	return p->ops->session_url(p, phone, country, generation, out);
}

int
provider_open(struct event_base *base, const struct config *cfg,
    struct provider **ret, char err[PROVIDER_ERR_LEN])
{
	if (strcmp(cfg->provider, "brightdata") == 0)
		return provider_bd_open(base, cfg, ret, err);
	if (cfg->static_proxies[0] == '\0') {
		snprintf(err, PROVIDER_ERR_LEN, "RESPAWN_STATIC_PROXIES must "
		    "name the proxy list file");
		return -EINVAL;
	}
	return provider_static_open(base, cfg->static_proxies, ret, err);
}

int64_t
provider_settle_ms(const struct provider *p)
{
	return p->ops->settle_ms != NULL ? p->ops->settle_ms(p) : 0;
}

void
provider_free(struct provider *p)
{
	if (p != NULL)
		p->ops->free(p);
}

const struct provider_op_stats *
provider_op_stats(const struct provider *p, enum provider_op op)
{
	return &p->stats[op];
}

const char *
provider_op_name(enum provider_op op)
{
	switch (op) {
	case PROVIDER_OP_LIST:
		return "list";
	case PROVIDER_OP_PURCHASE:
		return "purchase";
	default:
		return "release";
	}
}

void
provider_health(const struct provider *p, struct provider_health *ret)
{
	struct provider_health	h = { 0 };

	if (p->ops->health != NULL)
		p->ops->health(p, &h);
	*ret = h;
}
