/*
 * The Bright Data account API client's requests: see bdclient.h, and
 * bdclient_impl.h for what the client's files share.
 *
 * libcurl's multi interface runs on the daemon's libevent loop through
 * curlev.c, the "socket action" way libcurl documents (the hiperfifo
 * pattern).  Nothing waits on the network.
 *
 * Each operation is a struct bdreq with one timer event that drives it:
 * first to send (always from the loop, so a callback is never called from
 * inside the call that started the operation), then to send again after a
 * backoff, and last to deliver the result.  Results are delivered from
 * that timer rather than from inside curl's processing, so a callback may
 * start operations or free the client.
 *
 * At most BDCLIENT_CONNECTIONS_MAX requests are in curl at once; the
 * others wait in the client's own queue for one to finish.  Left to curl,
 * they would wait in curl's queue instead and go out whenever a connection
 * frees up, long after the breaker was asked: a purchase admitted while it
 * was closed would be sent after it opened.  A request leaving our queue
 * asks the breaker again.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/secret.h"
#include "provider/bdclient.h"
#include "provider/bdclient_impl.h"
#include "provider/bdjson.h"
#include "store/storeq.h"
#include "sys/curlev.h"

#ifndef RESPAWN_VERSION
#define RESPAWN_VERSION		"0"
#endif
#define BDCLIENT_USER_AGENT	"respawn/" RESPAWN_VERSION

/* --- The rules --------------------------------------------------------- */

enum bdclient_verdict
bdclient_decide(const struct bdclient_attempt *a)
{
	int	s = a->http_status;

	/*
	 * A request that never left is repeated whatever it was; one that
	 * may have left is repeated only when it is a read.
	 */
	if (a->transport_error) {
		if (!a->sent || !a->mutating)
			return BDCLIENT_V_RETRY;
		return BDCLIENT_V_UNKNOWN;
	}
	if (s >= 200 && s <= 299) {
		if (a->body_ok)
			return BDCLIENT_V_OK;
		return a->mutating ? BDCLIENT_V_UNKNOWN : BDCLIENT_V_RETRY;
	}
	/* Bright Data answers 401 before doing anything: safe to repeat. */
	if (s == 401)
		return a->reloaded ? BDCLIENT_V_FAILED : BDCLIENT_V_RELOAD_KEY;
	/* 429 means "not executed" (RFC 6585, and Bright Data's own docs). */
	if (s == 429)
		return BDCLIENT_V_RETRY;
	/*
	 * 408 and 5xx say nothing certain about a purchase: a proxy in front
	 * of the API may time out after the API committed it.
	 */
	if (s == 408 || s >= 500)
		return a->mutating ? BDCLIENT_V_UNKNOWN : BDCLIENT_V_RETRY;
	if (s >= 400 && s <= 499)
		return BDCLIENT_V_FAILED;
	/* 1xx or 3xx as a final answer: not the API we know. */
	return a->mutating ? BDCLIENT_V_UNKNOWN : BDCLIENT_V_FAILED;
}

bool
bdclient_is_provider_failure(const struct bdclient_attempt *a)
{
	int	s = a->http_status;

	if (a->transport_error)
		return true;
	if (s >= 200 && s <= 299)
		return !a->body_ok;
	/* A refusal is an answer: the provider is up.  Throttling is not. */
	return s == 408 || s == 429 || s >= 500 || s < 200 ||
	    (s >= 300 && s <= 399);
}

/* --- Headers ----------------------------------------------------------- */

/* Wipe the Authorization line in curl's copy, then free the list. */
static void
bdclient_headers_free(struct curl_slist *h)
{
	struct curl_slist	*p;

	for (p = h; p != NULL; p = p->next)
		util_wipe(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static struct curl_slist *
bdclient_headers(struct bdclient *c, bool with_body)
{
	struct curl_slist	*h = NULL, *n;
	const char		*prefix = "Authorization: Bearer ";
	size_t			 plen = strlen(prefix), klen;
	char			*line;

	klen = secret_len(c->key);
	line = xmalloc(plen + klen + 1);
	memcpy(line, prefix, plen);
	memcpy(line + plen, secret_value(c->key), klen);
	line[plen + klen] = '\0';
	n = curl_slist_append(h, line);
	util_wipe(line, plen + klen);
	free(line);
	if (n == NULL)
		goto oom;
	h = n;
	if ((n = curl_slist_append(h, "Accept: application/json")) == NULL)
		goto oom;
	h = n;
	/*
	 * No "Expect: 100-continue" for a large DELETE: one more round trip
	 * and one more way for the answer to go astray.
	 */
	if (with_body) {
		if ((n = curl_slist_append(h,
		    "Content-Type: application/json")) == NULL)
			goto oom;
		h = n;
		if ((n = curl_slist_append(h, "Expect:")) == NULL)
			goto oom;
		h = n;
	}
	return h;
oom:
	bdclient_headers_free(h);
	return NULL;
}

/* --- curl callbacks ---------------------------------------------------- */

static size_t
bdclient_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct bdreq	*req = arg;
	size_t		 n = size * nmemb;

	/* Returning less than n makes curl stop with CURLE_WRITE_ERROR. */
	if (buf_append(&req->resp, p, n) != 0) {
		req->resp_over = true;
		return 0;
	}
	return n;
}

/* --- Requests ---------------------------------------------------------- */

static void
bdreq_arm(struct bdreq *req, enum bdreq_state state, int64_t ms)
{
	struct timeval	tv;

	req->state = state;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	(void)evtimer_add(req->timer, &tv);
}

static void __attribute__((format(printf, 3, 4)))
bdreq_note(struct bdreq *req, int error, const char *fmt, ...)
{
	va_list	ap;

	req->result.error = error;
	va_start(ap, fmt);
	(void)vsnprintf(req->message, sizeof(req->message), fmt, ap);
	va_end(ap);
}

/* The outcome is settled: deliver it from the loop. */
static void
bdreq_finish(struct bdreq *req, enum bdclient_outcome status)
{
	char	tmp[BDCLIENT_MSG_LEN];

	req->result.status = status;
	if (status == BDCLIENT_UNKNOWN) {
		req->c->unknown++;
		(void)util_strlcpy(tmp, req->message, sizeof(tmp));
		(void)snprintf(req->message, sizeof(req->message),
		    "outcome unknown, settle by listing: %s", tmp);
	}
	if (status == BDCLIENT_OK) {
		req->result.error = 0;
		req->message[0] = '\0';
	}
	bdreq_arm(req, BDREQ_WAIT_DELIVER, 0);
}

/* Take a request out of the queue for a connection. */
static void
bdreq_unqueue(struct bdreq *req)
{
	TAILQ_REMOVE(&req->c->slot_queue, req, slot_link);
	req->c->queued--;
}

void
bdclient_req_free(struct bdreq *req)
{
	if (req->state == BDREQ_WAIT_SLOT)
		bdreq_unqueue(req);
	else if (req->state == BDREQ_WAIT_KEY && !req->c->closing)
		TAILQ_REMOVE(&req->c->key_waiters, req, key_link);
	else if (req->state == BDREQ_IN_FLIGHT)
		req->c->in_flight--;
	if (req->easy != NULL) {
		curlev_remove(req->c->curl, req->easy);
		curl_easy_cleanup(req->easy);
	}
	bdclient_headers_free(req->headers);
	if (req->timer != NULL)
		event_free(req->timer);
	buf_free(&req->resp);
	free(req->url);
	free(req->body);
	free(req->ips);
	free(req);
}

static void
bdreq_deliver(struct bdreq *req)
{
	struct bdclient	*c = req->c;

	TAILQ_REMOVE(&c->reqs, req, link);
	c->pending--;
	req->result.message = req->message;
	req->result.ips = req->ips;
	req->cb(&req->result, req->arg);
	bdclient_req_free(req);
}

static int
bdreq_easy(struct bdreq *req)
{
	struct bdclient	*c = req->c;
	CURL		*e;
	CURLcode	 rc = CURLE_OK;
	int		 r;

	if ((req->headers = bdclient_headers(c, req->body != NULL)) == NULL)
		return -ENOMEM;
	/* The API is reached directly, whatever *_proxy says. */
	if ((r = curlev_easy_new(c->timeout_ms, BDCLIENT_CONNECT_TIMEOUT_MS,
	    &e)) != 0)
		return r;
	req->easy = e;
	req->key_gen = c->key_gen;
	buf_reset(&req->resp);
	req->resp_over = false;
	req->hdr.retry_after[0] = req->hdr.date[0] = req->curl_err[0] = '\0';

#define BDSET(opt, val) do {						\
	if (rc == CURLE_OK)						\
		rc = curl_easy_setopt(e, opt, val);			\
} while (0)
	BDSET(CURLOPT_URL, req->url);
	BDSET(CURLOPT_PRIVATE, req);
	BDSET(CURLOPT_HTTPHEADER, req->headers);
	BDSET(CURLOPT_USERAGENT, BDCLIENT_USER_AGENT);
	BDSET(CURLOPT_WRITEFUNCTION, bdclient_write);
	BDSET(CURLOPT_WRITEDATA, req);
	BDSET(CURLOPT_HEADERFUNCTION, curlev_retry_header);
	BDSET(CURLOPT_HEADERDATA, &req->hdr);
	BDSET(CURLOPT_ERRORBUFFER, req->curl_err);
	BDSET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)BDJSON_BODY_MAX);
	if (req->mutating) {
		/*
		 * A fresh connection for every purchase and release: on a
		 * reused connection that dies before any answer, libcurl
		 * silently sends the request again on a new one
		 * (Curl_retry_request), which would buy twice.
		 */
		BDSET(CURLOPT_FRESH_CONNECT, 1L);
		BDSET(CURLOPT_FORBID_REUSE, 1L);
		BDSET(CURLOPT_POSTFIELDS, req->body);
		BDSET(CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(req->body));
		BDSET(CURLOPT_CUSTOMREQUEST, req->method);
	} else
		BDSET(CURLOPT_HTTPGET, 1L);
#undef BDSET
	return rc == CURLE_OK ? 0 : -EINVAL;
}

/*
 * Send the request now, unless the breaker says no; without a free
 * connection it waits in the queue, and the breaker is asked when its
 * turn comes (bdclient_next).  An open breaker still fails requests at
 * once: the failure that opened it freed a connection, and none is taken
 * while it stays open.
 */
static void
bdreq_send(struct bdreq *req)
{
	struct bdclient	*c = req->c;
	char		 last[BDCLIENT_MSG_LEN];
	int		 r;

	if (c->in_flight >= BDCLIENT_CONNECTIONS_MAX) {
		req->state = BDREQ_WAIT_SLOT;
		TAILQ_INSERT_TAIL(&c->slot_queue, req, slot_link);
		c->queued++;
		return;
	}
	if (!breaker_allow(c->breaker, util_mono_ms())) {
		if (req->result.attempts == 0)
			bdreq_note(req, -EHOSTDOWN, "%s %s: circuit breaker "
			    "open: not sent", req->method, req->path);
		else {
			(void)util_strlcpy(last, req->message, sizeof(last));
			bdreq_note(req, -EHOSTDOWN, "circuit breaker open, "
			    "not sent again; last attempt: %s", last);
		}
		bdreq_finish(req, BDCLIENT_FAILED);
		return;
	}
	if ((r = bdreq_easy(req)) != 0 ||
	    curlev_add(c->curl, req->easy) != 0) {
		/* Our own failure, not the provider's. */
		breaker_record(c->breaker, util_mono_ms(), true);
		bdclient_headers_free(req->headers);
		req->headers = NULL;
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
		bdreq_note(req, r != 0 ? r : -EIO, "%s %s: cannot start the "
		    "request", req->method, req->path);
		bdreq_finish(req, BDCLIENT_FAILED);
		return;
	}
	req->state = BDREQ_IN_FLIGHT;
	c->in_flight++;
	req->result.attempts++;
	c->requests++;
	if (req->mutating)
		req->maybe_sent = true;
}

/*
 * Connections are free: the requests that waited longest take them, each
 * asking the breaker now.  One it refuses fails without a connection, and
 * the next is tried.
 */
static void
bdclient_next(struct bdclient *c)
{
	struct bdreq	*req;

	while (!c->closing && c->in_flight < BDCLIENT_CONNECTIONS_MAX &&
	    (req = TAILQ_FIRST(&c->slot_queue)) != NULL) {
		bdreq_unqueue(req);
		bdreq_send(req);
	}
}

static void
bdreq_timer(evutil_socket_t fd, short what, void *arg)
{
	struct bdreq	*req = arg;

	(void)fd;
	(void)what;
	if (req->state == BDREQ_WAIT_SEND)
		bdreq_send(req);
	else if (req->state == BDREQ_WAIT_DELIVER)
		bdreq_deliver(req);
}

static int
bdclient_curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_WEIRD_SERVER_REPLY:
		return -EPROTO;
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_WRITE_ERROR:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

static int
bdclient_http_errno(int status)
{
	switch (status) {
	case 400:
		return -EINVAL;
	case 401:
		return -EACCES;
	case 403:
		return -EPERM;
	case 404:
	case 422:
		return -ENOENT;
	case 429:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

/*
 * Whether a failed transfer certainly never sent the request: curl could
 * not resolve, connect or finish the TLS handshake, so nothing reached the
 * API.  Anything else may have left.
 */
static bool
bdclient_not_sent(CURL *e, CURLcode rc)
{
	curl_off_t	pre = 0;
	long		reqsize = 0;

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return true;
	case CURLE_OPERATION_TIMEDOUT:
		(void)curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
		(void)curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &reqsize);
		return pre == 0 && reqsize == 0;
	default:
		return false;
	}
}

/* Parse a 2xx answer into the result; 0 or an error noted. */
static int
bdreq_parse(struct bdreq *req, int status)
{
	char		 err[BDCLIENT_ERR_LEN];
	size_t		 i, n = 0;
	int		 r;

	free(req->ips);
	req->ips = NULL;
	req->result.nips = 0;
	switch (req->op) {
	case BDCLIENT_OP_LIST:
		r = bdjson_parse_list(req->resp.data, req->resp.len,
		    &req->ips, &n, err, sizeof(err));
		break;
	case BDCLIENT_OP_ADD:
		r = bdjson_parse_ip_strings(req->resp.data, req->resp.len,
		    "new_ips", &req->ips, &n, err, sizeof(err));
		for (i = 0; r == 0 && i < n; i++)
			(void)util_strlcpy(req->ips[i].country, req->country,
			    sizeof(req->ips[i].country));
		break;
	case BDCLIENT_OP_REMOVE:
		r = bdjson_parse_ip_strings(req->resp.data, req->resp.len,
		    "ips", &req->ips, &n, err, sizeof(err));
		break;
	case BDCLIENT_OP_COUNT:
	default:
		r = bdjson_parse_count(req->resp.data, req->resp.len,
		    &req->result.count, err, sizeof(err));
		break;
	}
	if (r != 0) {
		bdreq_note(req, r, "%s %s: HTTP %d: malformed answer: %s",
		    req->method, req->path, status, err);
		return r;
	}
	req->result.nips = n;
	return 0;
}

/* A re-read of the key's reference, made off the loop. */
struct bdclient_keyread {
	struct bdclient	*c;
	char		*ref;		/* a copy: the thread touches only this */
	struct secret	*s;
	char		 err[BDCLIENT_ERR_LEN];
};

/* On the key's thread. */
static int
bdclient_key_run(struct store *st, void *arg)
{
	struct bdclient_keyread	*kr = arg;

	(void)st;
	return bdclient_load_key(kr->ref, &kr->s, kr->err, sizeof(kr->err));
}

/*
 * On the loop (or from storeq_free in bdclient_free, the client whole and
 * closing): a newer key sends every waiting request again with it; a key
 * that did not change, or could not be read, fails them with the reason.
 */
static void
bdclient_key_done(int result, void *arg)
{
	struct bdclient_keyread	*kr = arg;
	struct bdclient		*c = kr->c;
	struct bdreq		*req;
	bool			 fresh;

	c->key_reading = false;
	if (c->closing) {
		secret_free(kr->s);
		free(kr->ref);
		free(kr);
		return;
	}
	fresh = result == 0 && (secret_len(kr->s) != secret_len(c->key) ||
	    memcmp(secret_value(kr->s), secret_value(c->key),
	    secret_len(kr->s)) != 0);
	if (fresh) {
		secret_free(c->key);
		c->key = kr->s;
		kr->s = NULL;
		c->key_gen++;
		c->reloads++;
		log_warn("bdclient.key_reloaded", LOGF_S("ref", c->key_ref),
		    LOGF_S("msg", "API key refused; a newer key was read"));
	}
	while ((req = TAILQ_FIRST(&c->key_waiters)) != NULL) {
		TAILQ_REMOVE(&c->key_waiters, req, key_link);
		if (fresh) {
			req->reloaded = true;
			bdreq_arm(req, BDREQ_WAIT_SEND, 0);
		} else if (result != 0) {
			bdreq_note(req, -EACCES, "%s %s: HTTP 401, and "
			    "re-reading the key failed: %s", req->method,
			    req->path, result == -ECANCELED ? "cancelled" :
			    kr->err);
			bdreq_finish(req, BDCLIENT_FAILED);
		} else {
			bdreq_note(req, -EACCES, "%s %s: HTTP 401: the key "
			    "from %s is refused and has not changed",
			    req->method, req->path, c->key_ref);
			bdreq_finish(req, BDCLIENT_FAILED);
		}
	}
	secret_free(kr->s);
	free(kr->ref);
	free(kr);
}

/*
 * After a 401: the key may have been rotated.  A request sent with an
 * older key than the client now holds goes again at once; the others wait
 * for one re-read of the reference, made on the client's thread so the
 * loop never waits for an exec: command or Secret Manager.
 */
static void
bdreq_reload_key(struct bdreq *req)
{
	struct bdclient		*c = req->c;
	struct bdclient_keyread	*kr;

	if (c->key_gen != req->key_gen) {
		req->reloaded = true;
		bdreq_arm(req, BDREQ_WAIT_SEND, 0);
		return;
	}
	req->state = BDREQ_WAIT_KEY;
	TAILQ_INSERT_TAIL(&c->key_waiters, req, key_link);
	if (c->key_reading)
		return;
	kr = xcalloc(1, sizeof(*kr));
	kr->c = c;
	kr->ref = xstrdup(c->key_ref);
	if (storeq_submit(c->keyq, bdclient_key_run, bdclient_key_done,
	    kr) < 0) {
		(void)util_strlcpy(kr->err, "the key reader is busy",
		    sizeof(kr->err));
		c->key_reading = true;
		bdclient_key_done(-EBUSY, kr);
		return;
	}
	c->key_reading = true;
}

/* Schedule another attempt, or settle as FAILED when none is left. */
static void
bdreq_retry(struct bdreq *req)
{
	struct bdclient	*c = req->c;
	char		 last[BDCLIENT_MSG_LEN];
	int64_t		 ra = -1, delay;
	int		 http = req->result.http_status;

	if (req->result.attempts >= c->max_attempts) {
		(void)util_strlcpy(last, req->message, sizeof(last));
		bdreq_note(req, req->result.error, "%s (after %u attempts)",
		    last, req->result.attempts);
		bdreq_finish(req, BDCLIENT_FAILED);
		return;
	}
	if (!backoff_budget_withdraw(c->budget, util_mono_ms())) {
		(void)util_strlcpy(last, req->message, sizeof(last));
		bdreq_note(req, req->result.error, "%s (retry budget "
		    "exhausted)", last);
		bdreq_finish(req, BDCLIENT_FAILED);
		return;
	}
	if (req->hdr.retry_after[0] != '\0' &&
	    backoff_retry_after_parse(req->hdr.retry_after,
	    req->hdr.date[0] != '\0' ? req->hdr.date : NULL, util_now_ms(),
	    &ra) != 0)
		ra = -1;
	delay = backoff_next_ms(&c->policy, req->result.attempts - 1,
	    rng_next(&c->rng), ra);
	c->retries++;
	log_info("bdclient.retry", LOGF_S("method", req->method),
	    LOGF_S("path", req->path), LOGF_I("status", http),
	    LOGF_I("attempt", req->result.attempts),
	    LOGF_I("retry_after_ms", ra), LOGF_I("delay_ms", delay));
	bdreq_arm(req, BDREQ_WAIT_SEND, delay);
}

/* One transfer is over: classify it and move the request on. */
static void
bdreq_done(struct bdreq *req, CURLcode rc)
{
	struct bdclient		*c = req->c;
	struct bdclient_attempt	 a = { 0 };
	char			 snip[BDJSON_SNIPPET_MAX + 1];
	long			 status = 0;

	(void)curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_FILESIZE_EXCEEDED)
		req->resp_over = true;
	a.mutating = req->mutating;
	a.reloaded = req->reloaded;
	/* An answer over the limit is still an answer with a status. */
	a.transport_error = rc != CURLE_OK && !(req->resp_over && status > 0);
	a.sent = !a.transport_error || !bdclient_not_sent(req->easy, rc);
	a.http_status = a.transport_error ? 0 : (int)status;
	req->result.http_status = a.http_status;
	if (a.transport_error)
		bdreq_note(req, bdclient_curl_errno(rc), "%s %s: %s%s",
		    req->method, req->path, req->curl_err[0] != '\0' ?
		    req->curl_err : curl_easy_strerror(rc),
		    a.sent ? "" : " (not sent)");
	else if (req->resp_over)
		bdreq_note(req, -EMSGSIZE, "%s %s: HTTP %d: answer over the "
		    "%d byte limit", req->method, req->path, a.http_status,
		    BDJSON_BODY_MAX);
	else if (a.http_status >= 200 && a.http_status <= 299)
		a.body_ok = bdreq_parse(req, a.http_status) == 0;
	else {
		bdjson_snippet(req->resp.data, req->resp.len, snip,
		    sizeof(snip));
		bdreq_note(req, bdclient_http_errno(a.http_status),
		    "%s %s: HTTP %d: %s", req->method, req->path,
		    a.http_status, snip[0] != '\0' ? snip : "(no text)");
	}

	curlev_remove(c->curl, req->easy);
	curl_easy_cleanup(req->easy);
	req->easy = NULL;
	c->in_flight--;
	bdclient_headers_free(req->headers);
	req->headers = NULL;
	breaker_record(c->breaker, util_mono_ms(),
	    !bdclient_is_provider_failure(&a));

	switch (bdclient_decide(&a)) {
	case BDCLIENT_V_OK:
		bdreq_finish(req, BDCLIENT_OK);
		break;
	case BDCLIENT_V_RETRY:
		bdreq_retry(req);
		break;
	case BDCLIENT_V_RELOAD_KEY:
		bdreq_reload_key(req);
		break;
	case BDCLIENT_V_FAILED:
		bdreq_finish(req, BDCLIENT_FAILED);
		break;
	case BDCLIENT_V_UNKNOWN:
		bdreq_finish(req, BDCLIENT_UNKNOWN);
		break;
	}
	/* After breaker_record: the next request sees this outcome. */
	bdclient_next(c);
}

/* curlev's done callback: priv is the request (CURLOPT_PRIVATE). */
void
bdclient_transfer_done(void *priv, CURLcode rc, void *arg)
{
	(void)arg;
	bdreq_done(priv, rc);
}

/* Queue an operation: it is sent from the loop, never from here. */
int
bdclient_start(struct bdclient *c, enum bdclient_op op, const char *method,
    const char *path, char *url, char *body, const char *country,
    bdclient_cb cb, void *arg)
{
	struct bdreq	*req;

	req = xcalloc(1, sizeof(*req));
	req->c = c;
	req->op = op;
	req->method = method;
	req->path = path;
	req->mutating = strcmp(method, "GET") != 0;
	req->url = url;
	req->body = body;
	if (country != NULL)
		(void)util_strlcpy(req->country, country,
		    sizeof(req->country));
	req->cb = cb;
	req->arg = arg;
	req->result.op = op;
	buf_init(&req->resp, BDJSON_BODY_MAX);
	if ((req->timer = evtimer_new(c->base, bdreq_timer, req)) == NULL) {
		req->url = req->body = NULL;
		bdclient_req_free(req);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&c->reqs, req, link);
	c->pending++;
	backoff_budget_deposit(c->budget, util_mono_ms());
	bdreq_arm(req, BDREQ_WAIT_SEND, 0);
	return 0;
}
