/*
 * The static-list provider: see provider.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/util.h"
#include "base/validate.h"
#include "base/xmalloc.h"
#include "provider/provider.h"

#define PROVIDER_STATIC_MAX	100000	/* proxies in one file */

struct provider_static_entry {
	struct provider_proxy	 px;
	char			*url;
};

struct provider_static {
	struct provider			 base;	/* first: see provider.h */
	struct provider_static_entry	*entries;
	struct provider_proxy		*listing;	/* the entries' proxies */
	size_t				 n;
};

/* A listing waiting for the loop to call back. */
struct provider_static_call {
	struct provider_static	*p;
	provider_cb		 cb;
	void			*arg;
	struct provider_proxy	*released;	/* a release's keys */
	size_t			 nreleased;
};

/*
 * The key is the URL without its scheme and password, so two lines for
 * one proxy with different users (pinned IPs on one super proxy) stay
 * apart, and no secret reaches the database.  The user information ends
 * at the last '@' (util_url_split), as connectors read the URL: a
 * password may hold '@' and ':'.
 */
static int
provider_static_key(const char *url, char key[PROVIDER_KEY_MAX],
    const char **why)
{
	struct util_url	 u;
	char		 buf[PROVIDER_URL_MAX];
	size_t		 n;

	if (util_url_split(url, &u) < 0) {
		*why = "not a URL";
		return -EINVAL;
	}
	/* Their host would end at the delimiter: the password must not. */
	if (u.raw_delim) {
		*why = "proxy URL: a password holding '/', '?' or '#' must be "
		    "percent-encoded (%2F, %3F, %23)";
		return -EINVAL;
	}
	/* The user name, then the '@' and the host on. */
	n = (u.pass != 0 ? u.pass - 1 : u.at != 0 ? u.at : u.host) - u.user;
	if (snprintf(buf, sizeof buf, "%.*s%s", (int)n, url + u.user,
	    url + (u.at != 0 ? u.at : u.host)) >= PROVIDER_KEY_MAX ||
	    util_strlcpy(key, buf, PROVIDER_KEY_MAX) < 0) {
		*why = "proxy URL too long";
		return -E2BIG;
	}
	return 0;
}

int
provider_static_parse_line(const char *line, struct provider_proxy *ret,
    char url[PROVIDER_URL_MAX], const char **why)
{
	char	 buf[PROVIDER_URL_MAX + 64], *p, *u, *cc, *end;
	size_t	 n;
	int	 r;

	n = strlen(line);
	if (n >= sizeof buf) {
		*why = "line too long";
		return -E2BIG;
	}
	memcpy(buf, line, n + 1);
	if ((p = strchr(buf, '#')) != NULL)
		*p = '\0';
	p = buf;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	if (*p == '\0')
		return 0;
	u = p;
	p += strcspn(p, " \t");
	if (*p == '\0') {
		*why = "expected 'URL COUNTRY'";
		return -EINVAL;
	}
	*p++ = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	cc = p;
	if (strcspn(cc, " \t") != strlen(cc)) {
		*why = "expected 'URL COUNTRY' and nothing more";
		return -EINVAL;
	}
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "socks5://", 9) != 0 &&
	    strncmp(u, "socks5h://", 10) != 0) {
		*why = "proxy URL must start with http://, socks5:// or "
		    "socks5h://";
		return -EINVAL;
	}
	if (strlen(u) >= PROVIDER_URL_MAX) {
		*why = "proxy URL too long";
		return -E2BIG;
	}
	if (validate_country(cc, ret->country, why) < 0)
		return -EINVAL;
	if ((r = provider_static_key(u, ret->key, why)) < 0)
		return r;
	memcpy(url, u, strlen(u) + 1);
	return 1;
}

static void	provider_static_free(struct provider *base);
static const struct provider_ops provider_static_ops;

static int
provider_static_cmp(const void *a, const void *b)
{
	return strcmp(((const struct provider_static_entry *)a)->px.key,
	    ((const struct provider_static_entry *)b)->px.key);
}

int
provider_static_open(struct event_base *base, const char *path,
    struct provider **ret, char err[PROVIDER_ERR_LEN])
{
	struct provider_static	*p;
	struct provider_proxy	 px;
	FILE			*f;
	char			*line = NULL, url[PROVIDER_URL_MAX];
	const char		*why;
	size_t			 cap = 0, lineno = 0, i;
	ssize_t			 len;
	int			 r = 0;

	if ((f = fopen(path, "re")) == NULL) {
		r = -errno;
		snprintf(err, PROVIDER_ERR_LEN, "static proxies '%s': %s", path,
		    strerror(-r));
		return r;
	}
	p = xcalloc(1, sizeof *p);
	p->base.ops = &provider_static_ops;
	p->base.base = base;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if ((r = provider_static_parse_line(line, &px, url, &why)) < 0) {
			snprintf(err, PROVIDER_ERR_LEN, "static proxies '%s', "
			    "line %zu: %s", path, lineno, why);
			goto fail;
		}
		if (r == 0)
			continue;
		if (p->n == PROVIDER_STATIC_MAX) {
			snprintf(err, PROVIDER_ERR_LEN, "static proxies '%s': "
			    "more than %d proxies", path, PROVIDER_STATIC_MAX);
			r = -E2BIG;
			goto fail;
		}
		p->entries = xreallocarray(p->entries, p->n + 1,
		    sizeof *p->entries);
		p->entries[p->n].px = px;
		p->entries[p->n].url = xstrdup(url);
		p->n++;
	}
	/* Sorted by key: duplicates are neighbours, lookups are bsearch. */
	qsort(p->entries, p->n, sizeof *p->entries, provider_static_cmp);
	for (i = 1; i < p->n; i++) {
		if (strcmp(p->entries[i - 1].px.key, p->entries[i].px.key) == 0) {
			snprintf(err, PROVIDER_ERR_LEN, "static proxies '%s': "
			    "proxy '%s' listed twice", path, p->entries[i].px.key);
			r = -EEXIST;
			goto fail;
		}
	}
	p->listing = xcalloc(p->n, sizeof *p->listing);
	for (i = 0; i < p->n; i++)
		p->listing[i] = p->entries[i].px;
	free(line);
	fclose(f);
	*ret = &p->base;
	return 0;
fail:
	free(line);
	fclose(f);
	provider_static_free(&p->base);
	return r;
}

static void
provider_static_list_cb(evutil_socket_t fd, short what, void *arg)
{
	struct provider_static_call	*call = arg;
	struct provider_result		 r = {
		.outcome = PROVIDER_OK,
		.message = "",
		.proxies = call->p->listing,
		.n = call->p->n,
	};

	(void)fd;
	(void)what;
	call->cb(&r, call->arg);
	free(call);
}

static int
provider_static_list(struct provider *base, provider_cb cb, void *arg)
{
	struct provider_static		*p = (struct provider_static *)base;
	struct provider_static_call	*call = xcalloc(1, sizeof *call);
	struct timeval			 now = { 0, 0 };

	call->p = p;
	call->cb = cb;
	call->arg = arg;
	/* The file was read at start; answer from the loop, as promised. */
	if (event_base_once(base->base, -1, EV_TIMEOUT, provider_static_list_cb,
	    call, &now) < 0) {
		free(call);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Nothing to give back to anyone: a released static proxy is simply no
 * longer used, and the answer names every key asked for.  It still comes
 * from the loop.
 */
static void
provider_static_release_cb(evutil_socket_t fd, short what, void *arg)
{
	struct provider_static_call	*call = arg;
	struct provider_result		 r = { .outcome = PROVIDER_OK,
					    .message = "" };

	(void)fd;
	(void)what;
	r.proxies = call->released;
	r.n = call->nreleased;
	call->cb(&r, call->arg);
	free(call->released);
	free(call);
}

static int
provider_static_release(struct provider *base, const char *const *keys,
    size_t n, provider_cb cb, void *arg)
{
	struct provider_static_call	*call = xcalloc(1, sizeof *call);
	struct timeval			 now = { 0, 0 };
	size_t				 i;

	call->p = (struct provider_static *)base;
	call->cb = cb;
	call->arg = arg;
	call->released = xcalloc(n ? n : 1, sizeof *call->released);
	for (i = 0; i < n; i++)
		if (util_strlcpy(call->released[call->nreleased].key, keys[i],
		    PROVIDER_KEY_MAX) == 0)
			call->nreleased++;
	if (event_base_once(base->base, -1, EV_TIMEOUT,
	    provider_static_release_cb, call, &now) < 0) {
		free(call->released);
		free(call);
		return -ENOMEM;
	}
	return 0;
}

static int
provider_static_proxy_url(const struct provider *base, const char *key,
    char out[PROVIDER_URL_MAX])
{
	const struct provider_static	*p = (const struct provider_static *)base;
	struct provider_static_entry	 k, *e;

	if (util_strlcpy(k.px.key, key, sizeof k.px.key) < 0)
		return -ENOENT;
	e = bsearch(&k, p->entries, p->n, sizeof *p->entries,
	    provider_static_cmp);
	if (e == NULL)
		return -ENOENT;
	return util_strlcpy(out, e->url, PROVIDER_URL_MAX) < 0 ? -E2BIG : 0;
}

static const char *
provider_static_zone(const struct provider *p)
{
	(void)p;
	return "";
}

static void
provider_static_free(struct provider *base)
{
	struct provider_static	*p = (struct provider_static *)base;
	size_t			 i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		util_wipe(p->entries[i].url, strlen(p->entries[i].url));
		free(p->entries[i].url);
	}
	free(p->entries);
	free(p->listing);
	free(p);
}

static const struct provider_ops provider_static_ops = {
	.name = "static",
	.can_purchase = false,
	.zone = provider_static_zone,
	.list = provider_static_list,
	.purchase = NULL,
	.release = provider_static_release,
	.proxy_url = provider_static_proxy_url,
	.free = provider_static_free,
};
