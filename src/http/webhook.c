/*
 * Webhooks: see webhook.h and docs/WEBHOOKS.md.  This file holds the
 * webhook's parameters (the URLs checked and named for log lines), its
 * life and figures, the payload of an emitted event and its signature;
 * webhook_deliver.c queues, sends and retries the deliveries, and
 * webhook_impl.h has what the two share.
 */
#include <sys/queue.h>
#include <sys/random.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "core/backoff.h"
#include "http/webhook.h"
#include "http/webhook_impl.h"
#include "sys/curlev.h"

static int __attribute__((format(printf, 2, 3)))
webhook_errf(char err[WEBHOOK_ERR_LEN], const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL) {
		va_start(ap, fmt);
		(void)vsnprintf(err, WEBHOOK_ERR_LEN, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* --- Signatures -------------------------------------------------------- */

/* HMAC-SHA256 of the concatenation of n parts, in lower-case hex. */
static int
webhook_mac(const void *key, size_t keylen, const void *const *parts,
    const size_t *lens, size_t n, char out[WEBHOOK_SIG_LEN])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	char			 digest[] = "SHA256";
	OSSL_PARAM		 params[2];
	EVP_MAC			*m;
	EVP_MAC_CTX		*ctx = NULL;
	size_t			 maclen = 0, i;
	int			 r = -EIO;

	/* libcrypto wants a key pointer even for an empty key. */
	if (key == NULL)
		key = "";
	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -EIO;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(m)) == NULL ||
	    EVP_MAC_init(ctx, key, keylen, params) != 1)
		goto out;
	for (i = 0; i < n; i++) {
		if (lens[i] > 0 && EVP_MAC_update(ctx, parts[i], lens[i]) != 1)
			goto out;
	}
	if (EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) != 1 ||
	    maclen != 32)
		goto out;
	for (i = 0; i < maclen; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 0x0f];
	}
	out[2 * maclen] = '\0';
	r = 0;
out:
	util_wipe(mac, sizeof(mac));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return r;
}

int
webhook_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t len, char out[WEBHOOK_SIG_LEN])
{
	const void	*parts[1] = { data };
	size_t		 lens[1] = { len };

	if ((key == NULL && keylen > 0) || (data == NULL && len > 0) ||
	    out == NULL)
		return -EINVAL;
	return webhook_mac(key, keylen, parts, lens, 1, out);
}

int
webhook_sign(const void *key, size_t keylen, const char *timestamp,
    const char *body, size_t bodylen, char out[WEBHOOK_SIG_LEN])
{
	const void	*parts[3];
	size_t		 lens[3];

	if ((key == NULL && keylen > 0) || timestamp == NULL ||
	    (body == NULL && bodylen > 0) || out == NULL)
		return -EINVAL;
	parts[0] = timestamp;
	lens[0] = strlen(timestamp);
	parts[1] = ".";
	lens[1] = 1;
	parts[2] = body;
	lens[2] = bodylen;
	return webhook_mac(key, keylen, parts, lens, 3, out);
}

/* --- Small helpers ----------------------------------------------------- */

/*
 * A delivery id: 128 bits from the kernel.  Should getrandom have nothing
 * to give without blocking (early boot), the jitter generator and a counter
 * still make ids that are unique within this process, which is what
 * receivers deduplicate on.
 */
static void
webhook_new_id(struct webhook *w, char id[WEBHOOK_ID_LEN])
{
	static const char	hex[] = "0123456789abcdef";
	uint8_t			b[16];
	uint64_t		x, y;
	size_t			i;

	if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b)) {
		x = rng_next(&w->rng);
		y = ++w->ids ^ ((uint64_t)util_now_ms() << 20);
		for (i = 0; i < 8; i++) {
			b[i] = (uint8_t)(x >> (8 * i));
			b[8 + i] = (uint8_t)(y >> (8 * i));
		}
	}
	for (i = 0; i < sizeof(b); i++) {
		id[2 * i] = hex[b[i] >> 4];
		id[2 * i + 1] = hex[b[i] & 0x0f];
	}
	id[2 * sizeof(b)] = '\0';
}

static bool
webhook_event_ok(const char *s)
{
	size_t	i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > WEBHOOK_EVENT_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '_' || s[i] == '-'))
			return false;
	}
	return true;
}

/*
 * Check one URL (the n-th of the list, counting from 1) and make its
 * label, "scheme://host[:port]".  Path, query and user information are
 * left out of every log line and message because receivers often put
 * tokens there; errors name the URL by its position instead.
 */
static int
webhook_url_check(const char *url, size_t n, char label[WEBHOOK_LABEL_MAX],
    char err[WEBHOOK_ERR_LEN])
{
	CURLU		*u;
	char		*scheme = NULL, *host = NULL, *port = NULL;
	size_t		 i, len = strlen(url);
	int		 r = 0;

	if (len >= WEBHOOK_URL_MAX)
		return webhook_errf(err, "webhook URL %zu: %zu bytes, at most "
		    "%d", n, len, WEBHOOK_URL_MAX - 1);
	for (i = 0; i < len; i++) {
		if ((unsigned char)url[i] < 0x21 ||
		    (unsigned char)url[i] == 0x7f)
			return webhook_errf(err, "webhook URL %zu: holds a "
			    "control character", n);
	}
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return webhook_errf(err, "webhook URL %zu: must start with "
		    "http:// or https://", n);
	if ((u = curl_url()) == NULL)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0') {
		r = webhook_errf(err, "webhook URL %zu: not a valid URL", n);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (snprintf(label, WEBHOOK_LABEL_MAX, "%s://%s%s%s", scheme, host,
	    port != NULL ? ":" : "", port != NULL ? port : "") >=
	    WEBHOOK_LABEL_MAX)
		r = webhook_errf(err, "webhook URL %zu: host name too long", n);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

/* --- The API ----------------------------------------------------------- */

void
webhook_emit(struct webhook *w, const char *event, int64_t now_ms,
    json_t *data)
{
	struct whevent	*ev;
	json_t		*root;
	char		 ts[UTIL_TIME_LEN];

	if (w == NULL) {
		json_decref(data);
		return;
	}
	if (!webhook_event_ok(event)) {
		log_error("webhook.bad_event", LOGF_S("msg", "webhook event "
		    "name refused: 1 to 64 of a-z 0-9 . _ -"),
		    LOGF_S("webhook_event", event != NULL ? event : "(null)"));
		json_decref(data);
		return;
	}
	if (data == NULL)
		data = json_object();
	ev = xcalloc(1, sizeof(*ev));
	webhook_new_id(w, ev->id);
	(void)util_strlcpy(ev->name, event, sizeof(ev->name));
	util_fmt_time(now_ms, ts);
	/*
	 * "o" hands data to the object, even when packing fails.  timestamp
	 * is occurredAt's deprecated name (0.1), sent for one release.
	 */
	root = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s}", "id", ev->id, "event",
	    ev->name, "occurredAt", ts, "instanceId", w->instance, "data",
	    data, "timestamp", ts);
	ev->body = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	w->emitted += (int64_t)w->ntargets;
	if (ev->body == NULL || (ev->bodylen = strlen(ev->body)) >
	    WEBHOOK_BODY_MAX) {
		log_error("webhook.unsendable", LOGF_S("msg", "webhook payload "
		    "cannot be built or is too large, dropped"),
		    LOGF_S("webhook_event", ev->name),
		    LOGF_S("delivery", ev->id),
		    LOGF_I("bytes", ev->bodylen),
		    LOGF_I("max", WEBHOOK_BODY_MAX));
		w->dropped += (int64_t)w->ntargets;
		free(ev->body);
		free(ev);
		return;
	}
	webhook_enqueue(w, ev);
}

void
webhook_stats(const struct webhook *w, struct webhook_stats *ret)
{
	struct webhook_stats	s;

	memset(&s, 0, sizeof(s));
	if (w != NULL) {
		s.emitted = w->emitted;
		s.delivered = w->delivered;
		s.attempts_failed = w->attempts_failed;
		s.given_up = w->given_up;
		s.dropped = w->dropped;
		s.pending = w->waiting;
		s.in_flight = w->in_flight;
	}
	*ret = s;
}

static int
webhook_check_params(const struct webhook_params *p,
    char err[WEBHOOK_ERR_LEN])
{
	json_t	*j;

	if (p->urls == NULL)
		return webhook_errf(err, "no webhook URLs");
	if (p->secret == NULL || p->secret_len == 0)
		return webhook_errf(err, "the webhook signing secret is empty");
	if (p->secret_len > WEBHOOK_SECRET_MAX)
		return webhook_errf(err, "the webhook signing secret is over "
		    "%d bytes", WEBHOOK_SECRET_MAX);
	if (p->queue_max > WEBHOOK_QUEUE_MAX)
		return webhook_errf(err, "webhook queue %zu: must be 1..%d",
		    p->queue_max, WEBHOOK_QUEUE_MAX);
	if (p->attempts < 0 || p->attempts > WEBHOOK_ATTEMPTS_MAX)
		return webhook_errf(err, "webhook attempts %d: must be 1..%d",
		    p->attempts, WEBHOOK_ATTEMPTS_MAX);
	if (p->timeout_ms < 0 || p->timeout_ms > WEBHOOK_TIMEOUT_MAX_MS)
		return webhook_errf(err, "webhook timeout %lld ms: must be "
		    "1..%d", (long long)p->timeout_ms, WEBHOOK_TIMEOUT_MAX_MS);
	if (p->inflight_per_url < 0 ||
	    p->inflight_per_url > WEBHOOK_INFLIGHT_PER_URL_MAX)
		return webhook_errf(err, "webhook requests in flight per URL "
		    "%d: must be 1..%d", p->inflight_per_url,
		    WEBHOOK_INFLIGHT_PER_URL_MAX);
	if (p->backoff_base_ms < 0 || p->backoff_cap_ms < 0)
		return webhook_errf(err, "webhook backoff: negative");
	if (p->instance_id != NULL) {
		if (strlen(p->instance_id) > WEBHOOK_INSTANCE_MAX)
			return webhook_errf(err, "instance id: over %d bytes",
			    WEBHOOK_INSTANCE_MAX);
		/* jansson takes UTF-8 only; find out now, not per event. */
		if ((j = json_string(p->instance_id)) == NULL)
			return webhook_errf(err, "instance id: not UTF-8");
		json_decref(j);
	}
	return 0;
}

/* Split the list on commas and blanks, as the configuration reads it. */
static int
webhook_add_urls(struct webhook *w, const char *urls,
    char err[WEBHOOK_ERR_LEN])
{
	struct whtarget	*t;
	char		*url;
	const char	*v = urls;
	size_t		 len;
	int		 r;

	while (*v != '\0') {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (*v == '\0')
			break;
		len = strcspn(v, ", \t");
		if (w->ntargets == WEBHOOK_URLS_MAX)
			return webhook_errf(err, "more than %d webhook URLs",
			    WEBHOOK_URLS_MAX);
		url = xstrndup(v, len);
		v += len;
		t = &w->targets[w->ntargets];
		if ((r = webhook_url_check(url, w->ntargets + 1, t->label,
		    err)) != 0) {
			free(url);
			return r;
		}
		t->url = url;
		TAILQ_INIT(&t->queued);
		TAILQ_INIT(&t->ready);
		w->ntargets++;
	}
	if (w->ntargets == 0)
		return webhook_errf(err, "no webhook URLs");
	return 0;
}

int
webhook_new(struct event_base *base, const struct webhook_params *p,
    struct webhook **ret, char err[WEBHOOK_ERR_LEN])
{
	struct webhook	*w;
	const char	*why;
	size_t		 i;
	int		 r;

	if (base == NULL || p == NULL || ret == NULL)
		return webhook_errf(err, "no loop or parameters");
	if ((r = webhook_check_params(p, err)) != 0)
		return r;
	w = xcalloc(1, sizeof(*w));
	w->base = base;
	TAILQ_INIT(&w->dels);
	for (i = 0; i < WEBHOOK_INFLIGHT_MAX; i++)
		w->slots[i].w = w;
	/* First, as curl_global_init was: the URLs are checked with curl. */
	if ((r = curlev_new(base, (long)WEBHOOK_INFLIGHT_MAX,
	    webhook_transfer_done, w, &w->curl)) != 0) {
		(void)webhook_errf(err, r == -EIO ? "curl_global_init failed" :
		    "cannot set up libcurl");
		goto fail;
	}
	if ((r = webhook_add_urls(w, p->urls, err)) != 0)
		goto fail;
	w->key = xmalloc(p->secret_len);
	memcpy(w->key, p->secret, p->secret_len);
	w->keylen = p->secret_len;
	w->instance = xstrdup(p->instance_id != NULL ? p->instance_id : "");
	w->queue_max = p->queue_max > 0 ? p->queue_max :
	    WEBHOOK_QUEUE_DEFAULT;
	w->attempts = p->attempts > 0 ? p->attempts : WEBHOOK_ATTEMPTS_DEFAULT;
	w->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms :
	    WEBHOOK_TIMEOUT_DEFAULT_MS;
	w->per_url = p->inflight_per_url > 0 ? p->inflight_per_url :
	    WEBHOOK_INFLIGHT_PER_URL_MAX;
	w->policy.base_ms = p->backoff_base_ms > 0 ? p->backoff_base_ms :
	    WEBHOOK_BACKOFF_BASE_MS;
	w->policy.cap_ms = p->backoff_cap_ms > 0 ? p->backoff_cap_ms :
	    WEBHOOK_BACKOFF_CAP_MS;
	if (w->policy.cap_ms < w->policy.base_ms)
		w->policy.cap_ms = w->policy.base_ms;
	/* A receiver's Retry-After is honoured up to the cap. */
	w->policy.retry_after_cap_ms = w->policy.cap_ms;
	w->policy.retry_after_spread_ms = w->policy.base_ms;
	if (backoff_policy_check(&w->policy, &why) != 0) {
		r = webhook_errf(err, "webhook backoff: %s", why);
		goto fail;
	}
	rng_seed(&w->rng);
	if ((w->kick = evtimer_new(base, webhook_kick_event, w)) == NULL) {
		r = -ENOMEM;
		(void)webhook_errf(err, "cannot set up libcurl");
		goto fail;
	}
	*ret = w;
	return 0;
fail:
	webhook_free(w);
	return r;
}

void
webhook_free(struct webhook *w)
{
	int64_t		 abandoned;
	size_t		 i;

	if (w == NULL)
		return;
	abandoned = w->waiting + w->in_flight;
	if (abandoned > 0)
		log_info("webhook.abandoned", LOGF_S("msg", "webhook "
		    "deliveries abandoned at shutdown"),
		    LOGF_I("deliveries", abandoned));
	webhook_deliveries_free(w);
	/* After the slots, which took their handles out of the multi. */
	curlev_free(w->curl);
	if (w->kick != NULL)
		event_free(w->kick);
	for (i = 0; i < w->ntargets; i++)
		free(w->targets[i].url);
	if (w->key != NULL) {
		util_wipe(w->key, w->keylen);
		free(w->key);
	}
	free(w->instance);
	free(w);
}
