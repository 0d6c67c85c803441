/*
 * The configured provider's listing for a command: see cli.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "cli/cli.h"
#include "provider/provider.h"

/* The answer, copied out of the provider's callback. */
struct cli_list_wait {
	struct event_base	*base;
	bool			 done;
	enum provider_outcome	 outcome;
	char			 message[256];
	struct cli_listing	*out;
};

static void
cli_provider_listed(const struct provider_result *r, void *arg)
{
	struct cli_list_wait	*w = arg;

	w->done = true;
	w->outcome = r->outcome;
	(void)util_strlcpy(w->message, r->message != NULL ? r->message : "",
	    sizeof w->message);
	if (r->outcome == PROVIDER_OK && r->n > 0) {
		w->out->proxies = xcalloc(r->n, sizeof *w->out->proxies);
		memcpy(w->out->proxies, r->proxies,
		    r->n * sizeof *w->out->proxies);
		w->out->n = r->n;
	}
	event_base_loopbreak(w->base);
}

int
cli_provider_list(struct cli *cli, const char *context, bool ask,
    const char *hint, struct cli_listing *ret)
{
	struct cli_list_wait	 w = { 0 };
	struct provider		*prov = NULL;
	struct timeval		 tv = { CLI_LIST_TIMEOUT_S, 0 };
	char			 err[PROVIDER_ERR_LEN];
	int			 r, ex = EX_OK;

	memset(ret, 0, sizeof *ret);
	w.out = ret;
	if ((w.base = event_base_new()) == NULL)
		return EX_OSERR;
	if ((r = provider_open(w.base, cli->cfg, &prov, err)) < 0) {
		cli_error(context, "%s", err);
		ex = EX_CONFIG;
		goto out;
	}
	(void)util_strlcpy(ret->provider, provider_name(prov),
	    sizeof ret->provider);
	(void)util_strlcpy(ret->zone, provider_zone(prov), sizeof ret->zone);
	ret->settle_ms = provider_settle_ms(prov);
	if (!ask)
		goto out;
	ret->asked_at = util_now_ms();
	if ((r = provider_list(prov, cli_provider_listed, &w)) < 0) {
		cli_error(context, "cannot ask %s: %s%s", provider_name(prov),
		    strerror(-r), hint);
		ex = EX_UNAVAILABLE;
		goto out;
	}
	event_base_loopexit(w.base, &tv);
	event_base_dispatch(w.base);
	if (!w.done || w.outcome != PROVIDER_OK) {
		cli_error(context, "%s did not list its proxies: %s%s",
		    provider_name(prov), w.done ? w.message : "no answer",
		    hint);
		ex = EX_UNAVAILABLE;
	}
out:
	/* The provider first: its pending callbacks need the loop. */
	provider_free(prov);
	event_base_free(w.base);
	if (ex != EX_OK)
		cli_listing_free(ret);
	return ex;
}

void
cli_listing_free(struct cli_listing *l)
{
	if (l == NULL)
		return;
	free(l->proxies);
	l->proxies = NULL;
	l->n = 0;
}
