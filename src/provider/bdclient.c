/*
 * The Bright Data account API client: see bdclient.h.  This file holds the
 * client itself (its configuration, key, life and figures) and the four
 * operations, each building its request (URL, query, JSON body) and
 * handing it to bdclient_req.c, which sends it, retries it and delivers
 * the answer; bdclient_impl.h has what the files share.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/rng.h"
#include "base/util.h"
#include "base/validate.h"
#include "base/xmalloc.h"
#include "config/secret.h"
#include "provider/bdclient.h"
#include "provider/bdclient_impl.h"
#include "provider/bdjson.h"
#include "store/storeq.h"
#include "sys/curlev.h"

static int __attribute__((format(printf, 3, 4)))
bdclient_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

const char *
bdclient_outcome_name(enum bdclient_outcome s)
{
	switch (s) {
	case BDCLIENT_OK:
		return "ok";
	case BDCLIENT_FAILED:
		return "failed";
	case BDCLIENT_UNKNOWN:
		return "unknown";
	}
	return "?";
}

const char *
bdclient_op_name(enum bdclient_op op)
{
	switch (op) {
	case BDCLIENT_OP_LIST:
		return "list";
	case BDCLIENT_OP_ADD:
		return "add";
	case BDCLIENT_OP_REMOVE:
		return "remove";
	case BDCLIENT_OP_COUNT:
		return "count";
	}
	return "?";
}

/* --- Small helpers ----------------------------------------------------- */

/* Customer ids and zone names: what a '-'-separated username can carry. */
bool
bdclient_name_ok(const char *s)
{
	size_t	i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > BDCLIENT_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	}
	return true;
}

/* A key that could split a header line is refused before it is sent. */
static bool
bdclient_key_ok(const struct secret *s)
{
	const char	*v = secret_value(s);
	size_t		 i, n = secret_len(s);

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] == 0x7f)
			return false;
	}
	return true;
}

int
bdclient_load_key(const char *ref, struct secret **ret, char *err,
    size_t errlen)
{
	struct secret	*s;
	char		 serr[SECRET_ERR_LEN];
	int		 r;

	if ((r = secret_resolve(ref, &s, serr)) != 0) {
		(void)bdclient_errf(err, errlen, "API key: %s", serr);
		return r;
	}
	if (!bdclient_key_ok(s)) {
		secret_free(s);
		(void)bdclient_errf(err, errlen, "API key from %s is empty or "
		    "holds blanks or control characters", ref);
		return -EINVAL;
	}
	*ret = s;
	return 0;
}

static int
bdclient_can_start(struct bdclient *c, bdclient_cb cb)
{
	if (c == NULL || cb == NULL)
		return -EINVAL;
	if (c->closing)
		return -ESHUTDOWN;
	if (c->pending >= BDCLIENT_PENDING_MAX)
		return -EAGAIN;
	return 0;
}

/* A query value, %-encoded by curl. */
static char *
bdclient_escape(const char *s)
{
	char	*e, *r;

	if ((e = curl_easy_escape(NULL, s, 0)) == NULL)
		return NULL;
	r = xstrdup(e);
	curl_free(e);
	return r;
}

/* --- The operations ---------------------------------------------------- */

int
bdclient_list(struct bdclient *c, bdclient_cb cb, void *arg)
{
	char	*zone, *url;
	int	 r;

	if ((r = bdclient_can_start(c, cb)) != 0)
		return r;
	if ((zone = bdclient_escape(c->zone)) == NULL)
		return -ENOMEM;
	url = xasprintf("%s/zone/ips?zone=%s", c->base_url, zone);
	free(zone);
	if ((r = bdclient_start(c, BDCLIENT_OP_LIST, "GET", "/zone/ips", url,
	    NULL, NULL, cb, arg)) != 0)
		free(url);
	return r;
}

int
bdclient_add(struct bdclient *c, const char *country, int count,
    bdclient_cb cb, void *arg)
{
	char		 cc[COUNTRY_CODE_LEN] = "", *body, *url;
	const char	*why;
	int		 r;

	if ((r = bdclient_can_start(c, cb)) != 0)
		return r;
	if (count < 1 || count > BDCLIENT_ADD_MAX)
		return -EINVAL;
	/* Upper-case codes get a misleading "no IPs available" answer. */
	if (country != NULL && validate_country(country, cc, &why) != 0)
		return -EINVAL;
	if ((r = bdjson_build_add(c->customer, c->zone, count,
	    country != NULL ? cc : NULL, &body)) != 0)
		return r;
	url = xasprintf("%s/zone/ips", c->base_url);
	if ((r = bdclient_start(c, BDCLIENT_OP_ADD, "POST", "/zone/ips", url,
	    body, cc, cb, arg)) != 0) {
		free(url);
		free(body);
	}
	return r;
}

int
bdclient_remove(struct bdclient *c, const char *const *ips, size_t n,
    bdclient_cb cb, void *arg)
{
	char	*body, *url;
	int	 r;

	if ((r = bdclient_can_start(c, cb)) != 0)
		return r;
	if ((r = bdjson_build_remove(c->zone, ips, n, &body)) != 0)
		return r;
	url = xasprintf("%s/zone/ips", c->base_url);
	if ((r = bdclient_start(c, BDCLIENT_OP_REMOVE, "DELETE", "/zone/ips",
	    url, body, NULL, cb, arg)) != 0) {
		free(url);
		free(body);
	}
	return r;
}

int
bdclient_count_available(struct bdclient *c, const char *country,
    bdclient_cb cb, void *arg)
{
	char		 cc[COUNTRY_CODE_LEN], *plan, *q, *url;
	const char	*why;
	int		 r;

	if ((r = bdclient_can_start(c, cb)) != 0)
		return r;
	if (country == NULL)
		q = bdclient_escape(c->zone);
	else {
		if (validate_country(country, cc, &why) != 0)
			return -EINVAL;
		if ((r = bdjson_build_plan(cc, c->count_plan, &plan)) != 0)
			return r;
		q = bdclient_escape(plan);
		free(plan);
	}
	if (q == NULL)
		return -ENOMEM;
	url = xasprintf("%s/zone/count_available_ips?%s=%s", c->base_url,
	    country == NULL ? "zone" : "plan", q);
	free(q);
	if ((r = bdclient_start(c, BDCLIENT_OP_COUNT, "GET",
	    "/zone/count_available_ips", url, NULL, NULL, cb, arg)) != 0)
		free(url);
	return r;
}

/* --- The client -------------------------------------------------------- */

static int
bdclient_check_config(const struct bdclient_config *cfg, char *err,
    size_t errlen)
{
	const char	*url = cfg->base_url != NULL ? cfg->base_url :
			    BDCLIENT_DEFAULT_URL;
	const char	*why;
	char		*plan;

	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)
		return bdclient_errf(err, errlen, "API URL %s: must start "
		    "with http:// or https://", url);
	if (strlen(url) >= BDCLIENT_URL_MAX || strpbrk(url, "?# \t\r\n"))
		return bdclient_errf(err, errlen, "API URL %s: too long or "
		    "holds a query, fragment or blank", url);
	if (!bdclient_name_ok(cfg->customer))
		return bdclient_errf(err, errlen, "customer id %s: must be 1 "
		    "to %d letters, digits or '_'", cfg->customer != NULL ?
		    cfg->customer : "(none)", BDCLIENT_NAME_MAX);
	if (!bdclient_name_ok(cfg->zone))
		return bdclient_errf(err, errlen, "zone %s: must be 1 to %d "
		    "letters, digits or '_'", cfg->zone != NULL ? cfg->zone :
		    "(none)", BDCLIENT_NAME_MAX);
	if (secret_ref_check(cfg->api_key_ref, &why) != 0)
		return bdclient_errf(err, errlen, "API key reference: %s",
		    why);
	if (cfg->timeout_ms < 0 || cfg->timeout_ms > BDCLIENT_TIMEOUT_MAX_MS)
		return bdclient_errf(err, errlen, "timeout %lld ms: must be "
		    "0..%d", (long long)cfg->timeout_ms,
		    BDCLIENT_TIMEOUT_MAX_MS);
	if (cfg->max_attempts > BDCLIENT_ATTEMPTS_MAX)
		return bdclient_errf(err, errlen, "max attempts %u: must be "
		    "0..%d", cfg->max_attempts, BDCLIENT_ATTEMPTS_MAX);
	if (cfg->backoff != NULL && backoff_policy_check(cfg->backoff,
	    &why) != 0)
		return bdclient_errf(err, errlen, "backoff: %s", why);
	if (cfg->count_plan != NULL) {
		if (bdjson_build_plan("us", cfg->count_plan, &plan) != 0)
			return bdclient_errf(err, errlen, "count plan: must be "
			    "a JSON object of at most %d bytes",
			    BDJSON_PLAN_MAX);
		free(plan);
	}
	return 0;
}

int
bdclient_new(struct event_base *base, const struct bdclient_config *cfg,
    struct bdclient **ret, char *err, size_t errlen)
{
	static const struct backoff_policy	policy = BACKOFF_POLICY_DEFAULT;
	struct bdclient				*c;
	char					 qerr[STORE_ERROR_LEN];
	size_t					 n;
	int					 r;

	if (base == NULL || cfg == NULL)
		return bdclient_errf(err, errlen, "no loop or configuration");
	if ((r = bdclient_check_config(cfg, err, errlen)) != 0)
		return r;
	c = xcalloc(1, sizeof(*c));
	c->base = base;
	TAILQ_INIT(&c->reqs);
	TAILQ_INIT(&c->slot_queue);
	TAILQ_INIT(&c->key_waiters);
	/* First, as curl_global_init was: nothing before it may use curl. */
	if ((r = curlev_new(base, (long)BDCLIENT_CONNECTIONS_MAX,
	    bdclient_transfer_done, c, &c->curl)) != 0) {
		(void)bdclient_errf(err, errlen, r == -EIO ?
		    "curl_global_init failed" : "cannot set up libcurl");
		goto fail;
	}
	c->base_url = xstrdup(cfg->base_url != NULL ? cfg->base_url :
	    BDCLIENT_DEFAULT_URL);
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	c->customer = xstrdup(cfg->customer);
	c->zone = xstrdup(cfg->zone);
	c->key_ref = xstrdup(cfg->api_key_ref);
	c->count_plan = cfg->count_plan != NULL ? xstrdup(cfg->count_plan) :
	    NULL;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms :
	    BDCLIENT_TIMEOUT_DEFAULT_MS;
	c->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts :
	    BDCLIENT_ATTEMPTS_DEFAULT;
	c->policy = cfg->backoff != NULL ? *cfg->backoff : policy;
	rng_seed(&c->rng);
	if ((r = backoff_budget_new(cfg->budget, &c->budget)) != 0) {
		(void)bdclient_errf(err, errlen, "bad retry budget");
		goto fail;
	}
	if ((r = breaker_new(cfg->breaker, &c->breaker)) != 0) {
		(void)bdclient_errf(err, errlen, "bad circuit breaker");
		goto fail;
	}
	if ((r = bdclient_load_key(c->key_ref, &c->key, err, errlen)) != 0)
		goto fail;
	if ((r = storeq_new_thread(base, &c->keyq, qerr)) != 0) {
		(void)bdclient_errf(err, errlen, "key reader: %s", qerr);
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	bdclient_free(c);
	return r;
}

void
bdclient_free(struct bdclient *c)
{
	struct bdreq	*req;

	if (c == NULL)
		return;
	/*
	 * Requests waiting for a connection are cancelled like the rest and
	 * never sent: while closing, bdclient_next hands out no connection.
	 */
	c->closing = true;
	/*
	 * A key re-read still out is answered (or cancelled) first, while
	 * the client is whole; the requests that waited for it are then
	 * cancelled with the rest.
	 */
	storeq_free(c->keyq);
	TAILQ_INIT(&c->key_waiters);
	while ((req = TAILQ_FIRST(&c->reqs)) != NULL) {
		TAILQ_REMOVE(&c->reqs, req, link);
		c->pending--;
		if (req->state != BDREQ_WAIT_DELIVER) {
			req->result.status = req->maybe_sent ?
			    BDCLIENT_UNKNOWN : BDCLIENT_FAILED;
			req->result.error = -ECANCELED;
			(void)snprintf(req->message, sizeof(req->message),
			    "%s %s: cancelled%s", req->method, req->path,
			    req->maybe_sent ? " after it may have been sent, "
			    "settle by listing" : "");
		}
		req->result.message = req->message;
		req->result.ips = req->ips;
		req->cb(&req->result, req->arg);
		bdclient_req_free(req);
	}
	/* After the requests, which took their handles out of the multi. */
	curlev_free(c->curl);
	secret_free(c->key);
	breaker_free(c->breaker);
	backoff_budget_free(c->budget);
	free(c->base_url);
	free(c->customer);
	free(c->zone);
	free(c->key_ref);
	free(c->count_plan);
	free(c);
}

void
bdclient_status(const struct bdclient *c, int64_t now,
    struct bdclient_status *ret)
{
	struct bdclient_status	s;

	memset(&s, 0, sizeof(s));
	breaker_status(c->breaker, now, &s.breaker);
	s.retry_tokens = backoff_budget_available(c->budget, now);
	s.pending = c->pending;
	s.queued = c->queued;
	s.requests = c->requests;
	s.retries = c->retries;
	s.key_reloads = c->reloads;
	s.unknown = c->unknown;
	*ret = s;
}
