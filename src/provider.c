/*
 * Provider dispatch: see provider.h.
 */
#include <errno.h>
#include <stddef.h>

#include "provider.h"

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
	return p->ops->list(p, cb, arg);
}

int
provider_purchase(struct provider *p, const char *country, int count,
    provider_cb cb, void *arg)
{
	if (p->ops->purchase == NULL)
		return -ENOTSUP;
	return p->ops->purchase(p, country, count, cb, arg);
}

int
provider_release(struct provider *p, const char *const *keys, size_t n,
    provider_cb cb, void *arg)
{
	return p->ops->release(p, keys, n, cb, arg);
}

int
provider_proxy_url(const struct provider *p, const char *key,
    char out[PROVIDER_URL_MAX])
{
	return p->ops->proxy_url(p, key, out);
}

void
provider_free(struct provider *p)
{
	if (p != NULL)
		p->ops->free(p);
}
