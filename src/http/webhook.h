/*
 * Webhooks: tells the operator's own systems, over signed HTTP POSTs,
 * that something happened to a session (ready, needs-auth, failed, a
 * fallback used, a proxy replaced).  The daemon calls webhook_emit() and
 * carries on: delivery runs on the daemon's libevent loop through
 * libcurl's multi interface and never blocks the loop.
 *
 * One emitted event becomes one delivery per configured URL.  All
 * deliveries of one event share its id, which is both the payload's "id"
 * and the X-Respawn-Delivery header, so a receiver listening on several
 * URLs, or receiving a retry, can recognise the event it has already seen.
 * The body is built once and is byte-for-byte the same for every URL and
 * every attempt:
 *
 *   {"id":"<32 hex>","event":"<event>","timestamp":"<RFC 3339 UTC, ms>",
 *    "instanceId":"<instance>","data":{...}}
 *
 * Each attempt carries these headers:
 *
 *   Content-Type: application/json
 *   User-Agent: respawn/<version>
 *   X-Respawn-Event: <event>
 *   X-Respawn-Delivery: <id>
 *   X-Respawn-Timestamp: <Unix seconds when this attempt was sent>
 *   X-Respawn-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>
 *
 * The timestamp is that of the attempt, not of the event, and is inside
 * the signed string, so a receiver can refuse a replayed request by its
 * age even when it is a late retry of an old event.
 *
 * A 2xx answer ends a delivery.  Anything else (another status, a timeout,
 * a refused connection) is retried after a full-jitter backoff
 * (src/core/backoff.h: base 1 s doubling, cap 5 min by default) until
 * `attempts` attempts were made; then the delivery is given up, counted and
 * logged once.  Deliveries are at least once: a receiver that answered 2xx
 * too late may see the same id again, and must deduplicate by it.
 *
 * Deliveries waiting to be sent (first attempts and retries together, for
 * all URLs) are bounded by queue_max: when it is reached, the oldest
 * waiting delivery (by the time its event was emitted) is dropped and
 * counted.  First attempts to one URL start in the order the events were
 * emitted; at most WEBHOOK_INFLIGHT_MAX requests are in flight, and at most
 * WEBHOOK_INFLIGHT_PER_URL_MAX to one URL, so a receiver that hangs cannot
 * hold up the others.  Retries may overtake later events: receivers order
 * events by their "timestamp", not by arrival.
 *
 * The signing key is copied into memory that is wiped when the webhook is
 * freed; it never reaches a log line or an error message, and neither does
 * a URL's path, query or user information (they often hold tokens): log
 * lines name the receiver by scheme, host and port.
 *
 * docs/WEBHOOKS.md describes the format for people who write receivers.
 */
#ifndef RESPAWN_WEBHOOK_H
#define RESPAWN_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;
struct webhook;

/* URLs in RESPAWN_WEBHOOK_URLS, and the length of one. */
#define WEBHOOK_URLS_MAX		16
#define WEBHOOK_URL_MAX			2048
/* Event names: 1..this many of [a-z0-9._-]. */
#define WEBHOOK_EVENT_MAX		64
/* A payload larger than this is not sent (logged and counted dropped). */
#define WEBHOOK_BODY_MAX		(64 * 1024)
/* Bytes of a receiver's answer read (and discarded) before giving up on it. */
#define WEBHOOK_RESPONSE_MAX		(64 * 1024)
/* Requests in flight at once, in all and to one URL. */
#define WEBHOOK_INFLIGHT_MAX		16
#define WEBHOOK_INFLIGHT_PER_URL_MAX	4
/* Bounds and defaults (0 in webhook_params means the default). */
#define WEBHOOK_QUEUE_DEFAULT		10000
#define WEBHOOK_QUEUE_MAX		1000000
#define WEBHOOK_ATTEMPTS_DEFAULT	8
#define WEBHOOK_ATTEMPTS_MAX		100
#define WEBHOOK_TIMEOUT_DEFAULT_MS	5000
#define WEBHOOK_TIMEOUT_MAX_MS		600000
/* Connecting is bounded separately: a dead address fails fast. */
#define WEBHOOK_CONNECT_TIMEOUT_MS	10000
#define WEBHOOK_BACKOFF_BASE_MS		1000
#define WEBHOOK_BACKOFF_CAP_MS		300000
#define WEBHOOK_SECRET_MAX		(64 * 1024)
#define WEBHOOK_INSTANCE_MAX		256
/* A delivery id: 32 lower-case hex digits and a NUL. */
#define WEBHOOK_ID_LEN			33
/* A signature: 64 lower-case hex digits and a NUL. */
#define WEBHOOK_SIG_LEN			65
#define WEBHOOK_ERR_LEN			256

/* 0 in a number means its default. */
struct webhook_params {
	/* Comma-separated http(s) URLs (config RESPAWN_WEBHOOK_URLS). */
	const char	*urls;
	const void	*secret;	/* HMAC-SHA256 key bytes */
	size_t		 secret_len;
	/* RESPAWN_WEBHOOK_QUEUE: deliveries waiting, all URLs together. */
	size_t		 queue_max;
	int		 attempts;	/* RESPAWN_WEBHOOK_ATTEMPTS */
	int64_t		 timeout_ms;	/* RESPAWN_WEBHOOK_TIMEOUT, per try */
	const char	*instance_id;	/* put in every payload */
	/* For tests: the backoff between attempts; 0 means the defaults. */
	int64_t		 backoff_base_ms;
	int64_t		 backoff_cap_ms;
	/*
	 * Requests in flight to one URL, 1..WEBHOOK_INFLIGHT_PER_URL_MAX; 0
	 * means the maximum.  1 makes first attempts arrive in order too.
	 */
	int		 inflight_per_url;
};

/*
 * Every counter counts deliveries (one event to one URL), so that
 * emitted == delivered + given_up + dropped + pending + in_flight.
 * attempts_failed counts attempts that did not get a 2xx answer.
 */
struct webhook_stats {
	int64_t	emitted;
	int64_t	delivered;
	int64_t	attempts_failed;
	int64_t	given_up;
	int64_t	dropped;
	int64_t	pending;	/* waiting: first attempts and retries */
	int64_t	in_flight;
};

/*
 * Checks the parameters (at least one URL, each http:// or https://; a
 * non-empty secret; values within the bounds above) and returns 0, or
 * -EINVAL with a message naming the bad value in err (never the secret).
 * Calls curl_global_init (libcurl counts these; webhook_free balances it).
 */
int	webhook_new(struct event_base *base, const struct webhook_params *p,
	    struct webhook **ret, char err[WEBHOOK_ERR_LEN]);
/* Accepts NULL; abandons what is pending, without calling anyone. */
void	webhook_free(struct webhook *w);
/*
 * Queue one event for every URL; takes ownership of data (a JSON object;
 * NULL sends {}).  now_ms is the wall clock (Unix epoch milliseconds) when
 * the event happened: the payload's "timestamp".  Never blocks, and never
 * sends from inside the call: requests leave from the loop.  w NULL (no
 * webhooks configured) only frees data.  An event name that is not 1 to
 * WEBHOOK_EVENT_MAX of [a-z0-9._-] is a bug of the caller: it is logged
 * and nothing is queued.
 */
void	webhook_emit(struct webhook *w, const char *event, int64_t now_ms,
	    json_t *data);
void	webhook_stats(const struct webhook *w, struct webhook_stats *ret);

/*
 * Pure, for tests: hex HMAC-SHA256 signature of "<timestamp>.<body>".
 * Returns 0 and writes out, or -EINVAL (a NULL argument), -EIO (libcrypto
 * failed).
 */
int	webhook_sign(const void *key, size_t keylen, const char *timestamp,
	    const char *body, size_t bodylen, char out[WEBHOOK_SIG_LEN]);
/* Pure: hex HMAC-SHA256 of data, for RFC 4231's test vectors. */
int	webhook_hmac_sha256(const void *key, size_t keylen, const void *data,
	    size_t len, char out[WEBHOOK_SIG_LEN]);

#endif
