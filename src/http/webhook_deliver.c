/*
 * Webhook delivery's queue and requests: see webhook.h and
 * docs/WEBHOOKS.md, and webhook_impl.h for what it shares with webhook.c
 * (parameters, payloads, signatures).
 *
 * libcurl's multi interface runs on the daemon's libevent loop through
 * curlev.c, as bdclient_req.c's does (the hiperfifo pattern): curl says
 * which sockets to watch and when to wake it, libevent says what happened.
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
#include <sys/time.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "core/backoff.h"
#include "http/webhook.h"
#include "http/webhook_impl.h"
#include "sys/curlev.h"

#ifndef RESPAWN_VERSION
#define RESPAWN_VERSION		"0"
#endif
#define WEBHOOK_USER_AGENT	"respawn/" RESPAWN_VERSION
/* A header line we build: the longest is the signature's. */
#define WEBHOOK_HEADER_LINE_MAX	160
/* Drops are logged at most this often; the counter has every one. */
#define WEBHOOK_DROP_LOG_MS	10000

/* An event is freed with its last delivery. */
static void
webhook_event_unref(struct whevent *ev)
{
	if (ev == NULL || --ev->refs > 0)
		return;
	free(ev->body);
	free(ev);
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

void
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
void
webhook_transfer_done(void *priv, CURLcode rc, void *arg)
{
	struct whslot	*s = priv;
	struct webhook	*w = arg;

	if (s->d == NULL)
		return;
	webhook_slot_done(s, rc);
	webhook_kick(w);
}

/* --- Queueing and abandoning ------------------------------------------- */

void
webhook_enqueue(struct webhook *w, struct whevent *ev)
{
	struct whdel	*d;
	size_t		 i;

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
webhook_deliveries_free(struct webhook *w)
{
	struct whdel	*d;
	size_t		 i;

	for (i = 0; i < WEBHOOK_INFLIGHT_MAX; i++)
		webhook_slot_release(&w->slots[i]);
	while ((d = TAILQ_FIRST(&w->dels)) != NULL) {
		webhook_del_unwait(d);
		webhook_del_free(d);
	}
}
