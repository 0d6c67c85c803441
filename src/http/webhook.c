/*
 * Webhook delivery: see webhook.h and docs/WEBHOOKS.md.
 *
 * libcurl's multi interface runs on the daemon's libevent loop through
 * curlev.c, as bdclient.c's does (the hiperfifo pattern): curl says which
 * sockets to watch and when to wake it, libevent says what happened.
 *
 * Every delivery (one event to one URL) is in exactly one state:
 *
 *   QUEUED     waiting for its first attempt, in its URL's FIFO
 *   BACKOFF    an attempt failed; its own timer fires when it may retry
 *   READY      the backoff is over; in its URL's ready list
 *   IN_FLIGHT  a request is out, in one of WEBHOOK_INFLIGHT_MAX slots
 *
 * All deliveries are also on one list in the order their events were
 * emitted, so the oldest waiting one is found by skipping at most
 * WEBHOOK_INFLIGHT_MAX deliveries in flight at the head.
 *
 * Requests are started only by the "kick" timer, armed with no delay from
 * webhook_emit() and whenever a slot or a delivery becomes free, so
 * emitting never touches the network and curl's callbacks never start
 * transfers from inside themselves.
 */
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/time.h>

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
#include "sys/curlev.h"

#ifndef RESPAWN_VERSION
#define RESPAWN_VERSION		"0"
#endif
#define WEBHOOK_USER_AGENT	"respawn/" RESPAWN_VERSION
/* "scheme://host:port" of a URL, for log lines. */
#define WEBHOOK_LABEL_MAX	300
/* A header line we build: the longest is the signature's. */
#define WEBHOOK_HEADER_LINE_MAX	160
/* Drops are logged at most this often; the counter has every one. */
#define WEBHOOK_DROP_LOG_MS	10000

enum whdel_state {
	WHDEL_QUEUED,
	WHDEL_BACKOFF,
	WHDEL_READY,
	WHDEL_IN_FLIGHT,
};

/* One emitted event, shared by its deliveries to every URL. */
struct whevent {
	unsigned	 refs;
	char		 id[WEBHOOK_ID_LEN];
	char		 name[WEBHOOK_EVENT_MAX + 1];
	char		*body;
	size_t		 bodylen;
};

struct whtarget;
struct whslot;

struct whdel {
	TAILQ_ENTRY(whdel)	 all;		/* webhook's, emission order */
	TAILQ_ENTRY(whdel)	 q;		/* target's queued or ready */
	struct webhook		*w;
	struct whtarget		*t;
	struct whevent		*ev;
	enum whdel_state	 state;
	int			 attempts;	/* made so far */
	struct event		*timer;		/* in BACKOFF only */
	struct whslot		*slot;		/* in IN_FLIGHT only */
};
TAILQ_HEAD(whdel_list, whdel);

struct whtarget {
	char			*url;
	char			 label[WEBHOOK_LABEL_MAX];
	struct whdel_list	 queued;
	struct whdel_list	 ready;
	int			 in_flight;
};

/* A request in flight; the slots are preallocated and reused. */
struct whslot {
	struct webhook		*w;
	struct whdel		*d;		/* NULL: the slot is free */
	CURL			*easy;
	struct curl_slist	*headers;
	size_t			 resp_bytes;
	bool			 resp_over;
	struct curlev_retry	 hdr;		/* Retry-After, Date */
	char			 err[CURL_ERROR_SIZE];
};

struct webhook {
	struct event_base	*base;
	struct curlev		*curl;
	struct event		*kick;

	struct whtarget		 targets[WEBHOOK_URLS_MAX];
	size_t			 ntargets;
	size_t			 rr;		/* next target to serve */
	struct whslot		 slots[WEBHOOK_INFLIGHT_MAX];
	struct whdel_list	 dels;

	unsigned char		*key;		/* wiped when freed */
	size_t			 keylen;
	char			*instance;
	size_t			 queue_max;
	int			 attempts;
	int64_t			 timeout_ms;
	int			 per_url;
	struct backoff_policy	 policy;
	struct rng		 rng;
	uint64_t		 ids;		/* fallback id counter */
	int64_t			 drop_logged_ms;
	int64_t			 drops_unlogged;

	int64_t			 emitted;
	int64_t			 delivered;
	int64_t			 attempts_failed;
	int64_t			 given_up;
	int64_t			 dropped;
	int64_t			 waiting;
	int64_t			 in_flight;
};

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

static void
webhook_event_unref(struct whevent *ev)
{
	if (ev == NULL || --ev->refs > 0)
		return;
	free(ev->body);
	free(ev);
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

/* --- curl callbacks ---------------------------------------------------- */

/* The answer is not needed, only bounded: a receiver may not flood us. */
static size_t
webhook_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct whslot	*s = arg;
	size_t		 n = size * nmemb;

	(void)p;
	if (n > WEBHOOK_RESPONSE_MAX - s->resp_bytes) {
		s->resp_over = true;
		return 0;
	}
	s->resp_bytes += n;
	return n;
}

/* --- Deliveries -------------------------------------------------------- */

static void
webhook_kick(struct webhook *w)
{
	struct timeval	tv = { 0, 0 };

	if (!evtimer_pending(w->kick, NULL))
		(void)evtimer_add(w->kick, &tv);
}

/* Take a waiting delivery out of its state's list or timer. */
static void
webhook_del_unwait(struct whdel *d)
{
	switch (d->state) {
	case WHDEL_QUEUED:
		TAILQ_REMOVE(&d->t->queued, d, q);
		break;
	case WHDEL_READY:
		TAILQ_REMOVE(&d->t->ready, d, q);
		break;
	case WHDEL_BACKOFF:
		if (d->timer != NULL) {
			event_free(d->timer);
			d->timer = NULL;
		}
		break;
	case WHDEL_IN_FLIGHT:
		return;
	}
	d->w->waiting--;
}

/* Forget a delivery that is in no list or slot but the emission order. */
static void
webhook_del_free(struct whdel *d)
{
	TAILQ_REMOVE(&d->w->dels, d, all);
	if (d->timer != NULL)
		event_free(d->timer);
	webhook_event_unref(d->ev);
	free(d);
}

static void
webhook_slot_release(struct whslot *s)
{
	struct webhook	*w = s->w;

	if (s->easy != NULL) {
		curlev_remove(w->curl, s->easy);
		curl_easy_cleanup(s->easy);
		s->easy = NULL;
	}
	curl_slist_free_all(s->headers);
	s->headers = NULL;
	if (s->d != NULL) {
		s->d->slot = NULL;
		s->d->t->in_flight--;
		w->in_flight--;
		s->d = NULL;
	}
}

static void
webhook_drop_oldest(struct webhook *w)
{
	struct whdel	*d;
	int64_t		 now;

	TAILQ_FOREACH(d, &w->dels, all) {
		if (d->state != WHDEL_IN_FLIGHT)
			break;
	}
	if (d == NULL)
		return;
	webhook_del_unwait(d);
	w->dropped++;
	w->drops_unlogged++;
	now = util_mono_ms();
	/* A receiver that is down for long would otherwise flood the log. */
	if (w->drop_logged_ms == 0 ||
	    now - w->drop_logged_ms >= WEBHOOK_DROP_LOG_MS) {
		log_warn("webhook.dropped", LOGF_S("msg", "webhook queue full, "
		    "oldest deliveries dropped"),
		    LOGF_S("webhook_event", d->ev->name),
		    LOGF_S("delivery", d->ev->id), LOGF_S("url", d->t->label),
		    LOGF_I("dropped", w->drops_unlogged),
		    LOGF_I("dropped_total", w->dropped),
		    LOGF_I("queue_max", w->queue_max));
		w->drop_logged_ms = now;
		w->drops_unlogged = 0;
	}
	webhook_del_free(d);
}

static void
webhook_del_retry_timer(evutil_socket_t fd, short what, void *arg)
{
	struct whdel	*d = arg;

	(void)fd;
	(void)what;
	event_free(d->timer);
	d->timer = NULL;
	d->state = WHDEL_READY;
	TAILQ_INSERT_TAIL(&d->t->ready, d, q);
	webhook_kick(d->w);
}

/*
 * An attempt failed: retry after a backoff, or give up.  status is the
 * HTTP status (0 for none) and why curl's message (or "").
 */
static void
webhook_del_failed(struct whdel *d, int status, const char *why,
    int64_t retry_after_ms)
{
	struct webhook	*w = d->w;
	struct timeval	 tv;
	int64_t		 delay;

	w->attempts_failed++;
	if (d->attempts >= w->attempts) {
		w->given_up++;
		log_warn("webhook.given_up", LOGF_S("msg", "webhook delivery "
		    "given up"), LOGF_S("webhook_event", d->ev->name),
		    LOGF_S("delivery", d->ev->id), LOGF_S("url", d->t->label),
		    LOGF_I("attempts", d->attempts), LOGF_I("status", status),
		    LOGF_S("error", why));
		webhook_del_free(d);
		return;
	}
	log_debug("webhook.attempt_failed",
	    LOGF_S("webhook_event", d->ev->name),
	    LOGF_S("delivery", d->ev->id), LOGF_S("url", d->t->label),
	    LOGF_I("attempt", d->attempts), LOGF_I("status", status),
	    LOGF_S("error", why));
	/* The first retry is backoff attempt 0: a delay in [0, base]. */
	delay = backoff_next_ms(&w->policy, (unsigned)(d->attempts - 1),
	    rng_next(&w->rng), retry_after_ms);
	d->state = WHDEL_BACKOFF;
	w->waiting++;
	d->timer = evtimer_new(w->base, webhook_del_retry_timer, d);
	if (d->timer == NULL) {
		/* Without a timer it is ready at once: late is better. */
		d->state = WHDEL_READY;
		TAILQ_INSERT_TAIL(&d->t->ready, d, q);
		webhook_kick(w);
	} else {
		tv.tv_sec = (time_t)(delay / 1000);
		tv.tv_usec = (suseconds_t)((delay % 1000) * 1000);
		(void)evtimer_add(d->timer, &tv);
	}
	/*
	 * A retry waits again, so it counts against the queue as well; the
	 * oldest waiting delivery may be this one, so d is not used below.
	 */
	while (w->waiting > (int64_t)w->queue_max)
		webhook_drop_oldest(w);
}

static int
webhook_slot_headers(struct whslot *s, const struct whevent *ev,
    const char *timestamp, const char *sig)
{
	char			 line[WEBHOOK_HEADER_LINE_MAX];
	struct curl_slist	*h = NULL, *n;
	const char		*fixed[] = {
		"Content-Type: application/json",
		/* No wait for a 100 Continue that some servers never send. */
		"Expect:",
	};
	size_t			 i;

	for (i = 0; i < nitems(fixed); i++) {
		if ((n = curl_slist_append(h, fixed[i])) == NULL)
			goto fail;
		h = n;
	}
#define WHHEADER(...) do {						\
	(void)snprintf(line, sizeof(line), __VA_ARGS__);		\
	if ((n = curl_slist_append(h, line)) == NULL)			\
		goto fail;						\
	h = n;								\
} while (0)
	WHHEADER("X-Respawn-Event: %s", ev->name);
	WHHEADER("X-Respawn-Delivery: %s", ev->id);
	WHHEADER("X-Respawn-Timestamp: %s", timestamp);
	WHHEADER("X-Respawn-Signature: sha256=%s", sig);
#undef WHHEADER
	s->headers = h;
	return 0;
fail:
	curl_slist_free_all(h);
	return -ENOMEM;
}

static int
webhook_slot_easy(struct whslot *s, struct whdel *d)
{
	struct webhook	*w = s->w;
	char		 ts[24], sig[WEBHOOK_SIG_LEN];
	CURL		*e;
	CURLcode	 rc = CURLE_OK;
	int		 r;

	/* The timestamp of this attempt, signed with the body. */
	(void)snprintf(ts, sizeof(ts), "%lld", (long long)(util_now_ms() /
	    1000));
	if ((r = webhook_sign(w->key, w->keylen, ts, d->ev->body,
	    d->ev->bodylen, sig)) != 0)
		return r;
	if ((r = webhook_slot_headers(s, d->ev, ts, sig)) != 0)
		return r;
	/*
	 * A redirect is an answer that is not 2xx: retried, never followed.
	 * Receivers are reached directly, whatever *_proxy says.
	 */
	if ((r = curlev_easy_new(w->timeout_ms, WEBHOOK_CONNECT_TIMEOUT_MS,
	    &e)) != 0)
		return r;
	s->easy = e;
	s->resp_bytes = 0;
	s->resp_over = false;
	s->hdr.retry_after[0] = s->hdr.date[0] = s->err[0] = '\0';

#define WHSET(opt, val) do {						\
	if (rc == CURLE_OK)						\
		rc = curl_easy_setopt(e, opt, val);			\
} while (0)
	WHSET(CURLOPT_URL, d->t->url);
	WHSET(CURLOPT_PRIVATE, s);
	WHSET(CURLOPT_HTTPHEADER, s->headers);
	WHSET(CURLOPT_USERAGENT, WEBHOOK_USER_AGENT);
	WHSET(CURLOPT_POST, 1L);
	WHSET(CURLOPT_POSTFIELDS, d->ev->body);
	WHSET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->ev->bodylen);
	WHSET(CURLOPT_WRITEFUNCTION, webhook_write);
	WHSET(CURLOPT_WRITEDATA, s);
	WHSET(CURLOPT_HEADERFUNCTION, curlev_retry_header);
	WHSET(CURLOPT_HEADERDATA, &s->hdr);
	WHSET(CURLOPT_ERRORBUFFER, s->err);
	WHSET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)WEBHOOK_RESPONSE_MAX);
#undef WHSET
	return rc == CURLE_OK ? 0 : -EINVAL;
}

static void
webhook_send(struct webhook *w, struct whdel *d)
{
	struct whslot	*s = NULL;
	size_t		 i;
	int		 r;

	for (i = 0; i < WEBHOOK_INFLIGHT_MAX; i++) {
		if (w->slots[i].d == NULL) {
			s = &w->slots[i];
			break;
		}
	}
	if (s == NULL)
		return;
	webhook_del_unwait(d);
	d->state = WHDEL_IN_FLIGHT;
	d->slot = s;
	d->attempts++;
	s->d = d;
	d->t->in_flight++;
	w->in_flight++;
	if ((r = webhook_slot_easy(s, d)) != 0 ||
	    curlev_add(w->curl, s->easy) != 0) {
		/* Our own failure; it still counts against the attempts. */
		webhook_slot_release(s);
		webhook_del_failed(d, 0, "cannot start the request", -1);
	}
}

/* Start what the slots allow, serving the URLs round robin. */
static void
webhook_pump(struct webhook *w)
{
	struct whtarget	*t;
	struct whdel	*d;
	size_t		 idle = 0;

	while (w->in_flight < WEBHOOK_INFLIGHT_MAX && idle < w->ntargets) {
		t = &w->targets[w->rr];
		w->rr = (w->rr + 1) % w->ntargets;
		d = NULL;
		/* Retries first: their events are older. */
		if (t->in_flight < w->per_url &&
		    (d = TAILQ_FIRST(&t->ready)) == NULL)
			d = TAILQ_FIRST(&t->queued);
		if (d == NULL) {
			idle++;
			continue;
		}
		idle = 0;
		webhook_send(w, d);
	}
}

static void
webhook_kick_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	webhook_pump(arg);
}

/* An attempt ended: delivered, or failed and handed to webhook_del_failed. */
static void
webhook_slot_done(struct whslot *s, CURLcode rc)
{
	struct webhook	*w = s->w;
	struct whdel	*d = s->d;
	char		 why[CURL_ERROR_SIZE + 64];
	int64_t		 ra = -1;
	long		 status = 0;

	(void)curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	/*
	 * An answer cut short because it was too long still carries its
	 * status: a 2xx with a large body is delivered.
	 */
	if (rc != CURLE_OK && !s->resp_over && rc != CURLE_FILESIZE_EXCEEDED)
		status = 0;
	if (status >= 200 && status <= 299) {
		webhook_slot_release(s);
		w->delivered++;
		log_debug("webhook.delivered",
		    LOGF_S("webhook_event", d->ev->name),
		    LOGF_S("delivery", d->ev->id), LOGF_S("url", d->t->label),
		    LOGF_I("attempts", d->attempts), LOGF_I("status", status));
		webhook_del_free(d);
		return;
	}
	if (status == 429 || status == 503) {
		if (s->hdr.retry_after[0] == '\0' || backoff_retry_after_parse(
		    s->hdr.retry_after, s->hdr.date[0] != '\0' ?
		    s->hdr.date : NULL, util_now_ms(), &ra) != 0)
			ra = -1;
	}
	if (status != 0)
		(void)snprintf(why, sizeof(why), "HTTP %ld", status);
	else
		(void)snprintf(why, sizeof(why), "%s", s->err[0] != '\0' ?
		    s->err : curl_easy_strerror(rc));
	webhook_slot_release(s);
	webhook_del_failed(d, (int)status, why, ra);
}

/*
 * curlev's done callback: priv is the slot (CURLOPT_PRIVATE).  A slot
 * freed up is a reason to start more; the kick is a timer, so requests
 * are still started from the loop, never from in here.
 */
static void
webhook_transfer_done(void *priv, CURLcode rc, void *arg)
{
	struct whslot	*s = priv;
	struct webhook	*w = arg;

	if (s->d == NULL)
		return;
	webhook_slot_done(s, rc);
	webhook_kick(w);
}

/* --- The API ----------------------------------------------------------- */

void
webhook_emit(struct webhook *w, const char *event, int64_t now_ms,
    json_t *data)
{
	struct whevent	*ev;
	struct whdel	*d;
	json_t		*root;
	char		 ts[UTIL_TIME_LEN];
	size_t		 i;

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
	for (i = 0; i < w->ntargets; i++) {
		if (w->waiting >= (int64_t)w->queue_max)
			webhook_drop_oldest(w);
		d = xcalloc(1, sizeof(*d));
		d->w = w;
		d->t = &w->targets[i];
		d->ev = ev;
		ev->refs++;
		d->state = WHDEL_QUEUED;
		TAILQ_INSERT_TAIL(&w->dels, d, all);
		TAILQ_INSERT_TAIL(&d->t->queued, d, q);
		w->waiting++;
	}
	webhook_kick(w);
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
	struct whdel	*d;
	int64_t		 abandoned;
	size_t		 i;

	if (w == NULL)
		return;
	abandoned = w->waiting + w->in_flight;
	if (abandoned > 0)
		log_info("webhook.abandoned", LOGF_S("msg", "webhook "
		    "deliveries abandoned at shutdown"),
		    LOGF_I("deliveries", abandoned));
	for (i = 0; i < WEBHOOK_INFLIGHT_MAX; i++)
		webhook_slot_release(&w->slots[i]);
	while ((d = TAILQ_FIRST(&w->dels)) != NULL) {
		webhook_del_unwait(d);
		webhook_del_free(d);
	}
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
