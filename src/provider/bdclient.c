/*
 * The Bright Data account API client: see bdclient.h.
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

#include <arpa/inet.h>
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
#include "base/validate.h"
#include "base/xmalloc.h"
#include "config/secret.h"
#include "provider/bdclient.h"
#include "provider/bdjson.h"
#include "sys/curlev.h"

#ifndef RESPAWN_VERSION
#define RESPAWN_VERSION		"0"
#endif
#define BDCLIENT_USER_AGENT	"respawn/" RESPAWN_VERSION

enum bdreq_state {
	BDREQ_WAIT_SEND,	/* timer armed: send (first time or again) */
	BDREQ_WAIT_SLOT,	/* in the client's queue for a connection */
	BDREQ_IN_FLIGHT,	/* the easy handle is in the multi */
	BDREQ_WAIT_DELIVER,	/* timer armed: call back */
};

struct bdreq {
	TAILQ_ENTRY(bdreq)	 link;
	TAILQ_ENTRY(bdreq)	 slot_link;	/* while BDREQ_WAIT_SLOT */
	struct bdclient		*c;
	enum bdclient_op	 op;
	const char		*method;
	const char		*path;		/* for messages */
	bool			 mutating;
	char			*url;
	char			*body;		/* NULL for a GET */
	char			 country[COUNTRY_CODE_LEN];
	bdclient_cb		 cb;
	void			*arg;

	enum bdreq_state	 state;
	struct event		*timer;
	CURL			*easy;
	struct curl_slist	*headers;	/* holds the key: wiped */
	struct buf		 resp;
	bool			 resp_over;
	struct curlev_retry	 hdr;		/* Retry-After, Date */
	char			 curl_err[CURL_ERROR_SIZE];
	uint64_t		 key_gen;	/* of the key it was sent with */
	bool			 reloaded;
	bool			 maybe_sent;	/* a mutating call left */

	struct bdclient_result	 result;
	char			 message[BDCLIENT_MSG_LEN];
	struct bdjson_ip	*ips;
};

struct bdclient {
	struct event_base	*base;
	struct curlev		*curl;
	char			*base_url;
	char			*customer;
	char			*zone;
	char			*key_ref;
	char			*count_plan;
	struct secret		*key;
	uint64_t		 key_gen;
	int64_t			 timeout_ms;
	unsigned		 max_attempts;
	struct backoff_policy	 policy;
	struct backoff_budget	*budget;
	struct breaker		*breaker;
	struct rng		 rng;
	bool			 closing;

	TAILQ_HEAD(, bdreq)	 reqs;
	size_t			 pending;
	/* Waiting for a connection, oldest first. */
	TAILQ_HEAD(, bdreq)	 slot_queue;
	size_t			 queued;
	size_t			 in_flight;	/* handles in the multi */

	uint64_t		 requests;
	uint64_t		 retries;
	uint64_t		 reloads;
	uint64_t		 unknown;
};

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

/* --- Small helpers ----------------------------------------------------- */

/* Customer ids and zone names: what a '-'-separated username can carry. */
static bool
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

static int
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

static void
bdreq_free(struct bdreq *req)
{
	if (req->state == BDREQ_WAIT_SLOT)
		bdreq_unqueue(req);
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
	bdreq_free(req);
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

/* After a 401: a newer key, or -EACCES with the reason noted. */
static int
bdreq_reload_key(struct bdreq *req)
{
	struct bdclient	*c = req->c;
	struct secret	*s;
	char		 err[BDCLIENT_ERR_LEN];
	int		 r;

	/* Another request already picked up a rotated key: use it. */
	if (c->key_gen != req->key_gen)
		return 0;
	if ((r = bdclient_load_key(c->key_ref, &s, err, sizeof(err))) != 0) {
		bdreq_note(req, -EACCES, "%s %s: HTTP 401, and re-reading the "
		    "key failed: %s", req->method, req->path, err);
		return -EACCES;
	}
	if (secret_len(s) == secret_len(c->key) &&
	    memcmp(secret_value(s), secret_value(c->key), secret_len(s)) == 0) {
		secret_free(s);
		bdreq_note(req, -EACCES, "%s %s: HTTP 401: the key from %s is "
		    "refused and has not changed", req->method, req->path,
		    c->key_ref);
		return -EACCES;
	}
	secret_free(c->key);
	c->key = s;
	c->key_gen++;
	c->reloads++;
	log_warn("bdclient.key_reloaded", LOGF_S("ref", c->key_ref),
	    LOGF_S("msg", "API key refused; a newer key was read"));
	return 0;
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
		if (bdreq_reload_key(req) != 0) {
			bdreq_finish(req, BDCLIENT_FAILED);
			break;
		}
		req->reloaded = true;
		bdreq_arm(req, BDREQ_WAIT_SEND, 0);
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
static void
bdclient_transfer_done(void *priv, CURLcode rc, void *arg)
{
	(void)arg;
	bdreq_done(priv, rc);
}

/* Queue an operation: it is sent from the loop, never from here. */
static int
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
		bdreq_free(req);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&c->reqs, req, link);
	c->pending++;
	backoff_budget_deposit(c->budget, util_mono_ms());
	bdreq_arm(req, BDREQ_WAIT_SEND, 0);
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
		bdreq_free(req);
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

/* --- Proxy usernames --------------------------------------------------- */

#define BDCLIENT_ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void
bdclient_sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = BDCLIENT_ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = BDCLIENT_ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = BDCLIENT_ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = BDCLIENT_ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = BDCLIENT_ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = BDCLIENT_ROTL(v[2], 32);
}

static uint64_t
bdclient_le64(const uint8_t *p, size_t n)
{
	uint64_t	x = 0;
	size_t		i;

	for (i = 0; i < n; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}

uint64_t
bdclient_siphash(const uint8_t key[16], const void *data, size_t n)
{
	const uint8_t	*p = data;
	uint64_t	 k0 = bdclient_le64(key, 8), k1 = bdclient_le64(key + 8, 8);
	uint64_t	 v[4], m;
	size_t		 i;

	v[0] = k0 ^ UINT64_C(0x736f6d6570736575);
	v[1] = k1 ^ UINT64_C(0x646f72616e646f6d);
	v[2] = k0 ^ UINT64_C(0x6c7967656e657261);
	v[3] = k1 ^ UINT64_C(0x7465646279746573);
	for (i = 0; i + 8 <= n; i += 8) {
		m = bdclient_le64(p + i, 8);
		v[3] ^= m;
		bdclient_sipround(v);
		bdclient_sipround(v);
		v[0] ^= m;
	}
	m = bdclient_le64(p + i, n - i) | ((uint64_t)(n & 0xff) << 56);
	v[3] ^= m;
	bdclient_sipround(v);
	bdclient_sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		bdclient_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

int
bdclient_session_id(const char *phone, unsigned generation,
    const char *salt, char out[BDCLIENT_SESSION_ID_LEN])
{
	/* Two fixed keys turn the salt, of any length, into a 128-bit key. */
	static const uint8_t	 kdf0[16] = "respawn-session0";
	static const uint8_t	 kdf1[16] = "respawn-session1";
	uint8_t			 key[16];
	char			 msg[PHONE_LEN + 16];
	const char		*why;
	uint64_t		 k0, k1, h;
	int			 n, i;

	if (validate_phone(phone, &why) != 0 || salt == NULL)
		return -EINVAL;
	k0 = bdclient_siphash(kdf0, salt, strlen(salt));
	k1 = bdclient_siphash(kdf1, salt, strlen(salt));
	for (i = 0; i < 8; i++) {
		key[i] = (uint8_t)(k0 >> (8 * i));
		key[8 + i] = (uint8_t)(k1 >> (8 * i));
	}
	n = snprintf(msg, sizeof(msg), "%s/%u", phone, generation);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	h = bdclient_siphash(key, msg, (size_t)n);
	util_wipe(key, sizeof(key));
	(void)snprintf(out, BDCLIENT_SESSION_ID_LEN, "%016llx",
	    (unsigned long long)h);
	return 0;
}

static int
bdclient_put(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Format into a local buffer first: out is written only on success. */
static int
bdclient_put(char *out, size_t size, const char *fmt, ...)
{
	char	tmp[BDCLIENT_USERNAME_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp) || (size_t)n >= size)
		return -ENAMETOOLONG;
	memcpy(out, tmp, (size_t)n + 1);
	return 0;
}

int
bdclient_proxy_username(const char *customer, const char *zone,
    const char *ip, char *out, size_t size)
{
	struct in_addr	addr;

	if (!bdclient_name_ok(customer) || !bdclient_name_ok(zone) ||
	    ip == NULL || inet_pton(AF_INET, ip, &addr) != 1 || out == NULL)
		return -EINVAL;
	return bdclient_put(out, size, "brd-customer-%s-zone-%s-ip-%s",
	    customer, zone, ip);
}

int
bdclient_proxy_username_residential(const char *customer, const char *zone,
    const char *country, const char *session_id, char *out, size_t size)
{
	char		 cc[COUNTRY_CODE_LEN];
	const char	*why;
	size_t		 i, n;

	if (!bdclient_name_ok(customer) || !bdclient_name_ok(zone) ||
	    validate_country(country, cc, &why) != 0 || session_id == NULL ||
	    out == NULL)
		return -EINVAL;
	/* Bright Data: letters and digits only; '-' or '*' are errors. */
	n = strlen(session_id);
	if (n == 0 || n > BDCLIENT_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!((session_id[i] >= 'a' && session_id[i] <= 'z') ||
		    (session_id[i] >= 'A' && session_id[i] <= 'Z') ||
		    (session_id[i] >= '0' && session_id[i] <= '9')))
			return -EINVAL;
	}
	return bdclient_put(out, size,
	    "brd-customer-%s-zone-%s-country-%s-session-%s", customer, zone,
	    cc, session_id);
}
