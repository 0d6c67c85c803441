/*
 * The Bright Data account API client: lists, buys and releases the static
 * (ISP) IPs of one zone and counts the IPs for sale, asynchronously on the
 * daemon's libevent loop through libcurl's multi interface.  It never
 * blocks the loop on the network.
 *
 * Paid calls are never made twice.  Every result says whether the
 * operation happened (OK), certainly did not happen (FAILED), or may have
 * happened (UNKNOWN: a purchase or release whose answer was lost).  The
 * client never repeats a purchase or a release whose outcome is unknown;
 * the caller settles it by listing (bdclient_list), as the purchase intents
 * of docs/DATA_MODEL.md expect.  What is retried, and how:
 *
 *   list, count (GET)       timeouts, connection errors, 408, 429, 5xx and
 *                           malformed answers: full-jitter backoff, at
 *                           least the server's Retry-After, within the
 *                           retry budget and max_attempts
 *   add, remove (POST,      only answers that prove nothing happened: 429
 *   DELETE)                 (honouring Retry-After) and a connection that
 *                           was never made; everything after the request
 *                           may have left is UNKNOWN, never retried
 *   any                     401 once: the key reference is resolved again
 *                           (a rotated key) and the call repeated once
 *
 * A circuit breaker (src/core/breaker.h) guards the whole client: while it
 * is open no request goes out and operations fail, from the loop, with
 * -EHOSTDOWN.  At most BDCLIENT_CONNECTIONS_MAX requests are out at once;
 * the others wait in the client's queue, oldest first, and ask the breaker
 * when their turn comes, so a purchase queued before the breaker opened is
 * not sent after it did.  Answers are capped at BDJSON_BODY_MAX and parsed
 * strictly (bdjson.h).  The API key lives in struct secret and, while a
 * request is in flight, in its curl header list, which is wiped when
 * freed; no message, log line or result ever holds it.
 *
 * docs/internals/bdclient.md has the sources and the reasoning.
 */
#ifndef RESPAWN_BDCLIENT_H
#define RESPAWN_BDCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backoff.h"
#include "core/breaker.h"
#include "provider/bdjson.h"

struct event_base;

#define BDCLIENT_DEFAULT_URL		"https://api.brightdata.com"
#define BDCLIENT_URL_MAX		1024
/* Customer ids ("hl_1234abcd") and zone names: [A-Za-z0-9_], this long. */
#define BDCLIENT_NAME_MAX		64
#define BDCLIENT_TIMEOUT_DEFAULT_MS	30000
#define BDCLIENT_TIMEOUT_MAX_MS		600000
/* Connecting is bounded separately: a dead address fails fast. */
#define BDCLIENT_CONNECT_TIMEOUT_MS	10000
/* Attempts of one operation, the first included. */
#define BDCLIENT_ATTEMPTS_DEFAULT	4
#define BDCLIENT_ATTEMPTS_MAX		16
/* Operations started and not yet called back; past it -EAGAIN. */
#define BDCLIENT_PENDING_MAX		1024
/*
 * Requests out at once (one connection each); the others wait in the
 * client's queue, never in curl's, where the breaker is not asked.
 */
#define BDCLIENT_CONNECTIONS_MAX	8
/* IPs bought by one call (the lab's limit; Bright Data documents none). */
#define BDCLIENT_ADD_MAX		1000
#define BDCLIENT_MSG_LEN		512
#define BDCLIENT_ERR_LEN		256

struct bdclient;

struct bdclient_config {
	const char	*base_url;	/* NULL: BDCLIENT_DEFAULT_URL */
	const char	*customer;	/* BRIGHT_DATA_CUSTOMER_ID */
	const char	*zone;		/* BRIGHT_DATA_ZONE */
	const char	*api_key_ref;	/* secret reference (secret.h) */
	int64_t		 timeout_ms;	/* per request; 0: the default */
	unsigned	 max_attempts;	/* 0: BDCLIENT_ATTEMPTS_DEFAULT */
	/*
	 * Extra plan fields for a per-country count, a JSON object such as
	 * {"ips_type":"dedicated"}; NULL sends {"country":cc} alone.
	 */
	const char	*count_plan;
	/* NULL: the core modules' defaults. */
	const struct backoff_policy		*backoff;
	const struct backoff_budget_config	*budget;
	const struct breaker_config		*breaker;
};

enum bdclient_outcome {
	BDCLIENT_OK,		/* it happened; the result is complete */
	BDCLIENT_FAILED,	/* it certainly did not happen */
	BDCLIENT_UNKNOWN,	/* it may have happened: settle by listing */
};

enum bdclient_op {
	BDCLIENT_OP_LIST,
	BDCLIENT_OP_ADD,
	BDCLIENT_OP_REMOVE,
	BDCLIENT_OP_COUNT,
};

/*
 * What a callback receives; it and everything it points to are valid only
 * during the call.  error is 0 on success, else a negative errno:
 *   -ECANCELED     bdclient_free() while pending
 *   -EHOSTDOWN     the circuit breaker is open: nothing was sent
 *   -EAGAIN        429 and no retry left (budget or attempts)
 *   -ETIMEDOUT, -ECONNREFUSED, -ECONNRESET, -EHOSTUNREACH, -EPROTO, -EIO
 *                  transport failures (curl's, mapped)
 *   -EMSGSIZE      the answer was over BDJSON_BODY_MAX
 *   -EBADMSG       the answer was malformed
 *   -EACCES        401 after re-reading the key; -EPERM 403
 *   -EINVAL 400, -ENOENT 404 and 422 (unknown zone), -EIO 5xx and others
 * message is for people: it names the call, the HTTP status and the
 * provider's own words, never the key.
 */
struct bdclient_result {
	enum bdclient_op	 op;
	enum bdclient_outcome	 status;
	int			 error;
	int			 http_status;	/* last answer; 0: none */
	unsigned		 attempts;	/* requests sent */
	const char		*message;	/* "" on success */
	/*
	 * list: every IP of the zone with its geo-database country; add:
	 * the IPs bought now ("new_ips"), with the country asked for ("" for
	 * any); remove: the IPs the provider says it released.
	 */
	const struct bdjson_ip	*ips;
	size_t			 nips;
	int64_t			 count;		/* count: IPs for sale */
};

typedef void (*bdclient_cb)(const struct bdclient_result *r, void *arg);

/* What metrics and the status API show. */
struct bdclient_status {
	struct breaker_status	breaker;
	int64_t			retry_tokens;	/* retries the budget allows */
	size_t			pending;	/* operations not called back */
	/* Of those, waiting for one of BDCLIENT_CONNECTIONS_MAX to free. */
	size_t			queued;
	uint64_t		requests;	/* HTTP requests started */
	uint64_t		retries;
	uint64_t		key_reloads;	/* 401s that re-read the key */
	uint64_t		unknown;	/* UNKNOWN results */
};

/*
 * A client for one customer and zone.  Resolves the key reference now, so
 * a bad reference is a configuration error at start; errors go to err
 * (naming the reference, never the value).  Calls curl_global_init (libcurl
 * counts these; bdclient_free balances it).
 */
int	 bdclient_new(struct event_base *base,
	    const struct bdclient_config *cfg, struct bdclient **ret,
	    char *err, size_t errlen);
/*
 * Cancels what is pending: each callback is called, from inside this
 * function, with error -ECANCELED and FAILED, or UNKNOWN for a purchase or
 * release that may already have left; those callbacks must not use the
 * client.  Accepts NULL.
 */
void	 bdclient_free(struct bdclient *c);

/*
 * Each operation returns 0 when started, and its callback is then called
 * exactly once, later, from the loop (never from inside the call); or a
 * negative errno (-EINVAL for a bad argument, -EAGAIN past
 * BDCLIENT_PENDING_MAX, -ESHUTDOWN while freeing) and the callback is
 * never called.
 */
/* GET /zone/ips?zone=Z */
int	 bdclient_list(struct bdclient *c, bdclient_cb cb, void *arg);
/*
 * POST /zone/ips {"customer","zone","count","country"}: buys count
 * (1..BDCLIENT_ADD_MAX) IPs in country (any case; NULL: any country).
 */
int	 bdclient_add(struct bdclient *c, const char *country, int count,
	    bdclient_cb cb, void *arg);
/* DELETE /zone/ips {"zone","ips"}: 1..BDJSON_IPS_MAX addresses. */
int	 bdclient_remove(struct bdclient *c, const char *const *ips, size_t n,
	    bdclient_cb cb, void *arg);
/*
 * GET /zone/count_available_ips: with a country, ?plan={"country":cc,...}
 * (the IPs for sale there); with NULL, ?zone=Z (for the zone's plan).
 */
int	 bdclient_count_available(struct bdclient *c, const char *country,
	    bdclient_cb cb, void *arg);

/* now is the monotonic clock in milliseconds (util_mono_ms()). */
void	 bdclient_status(const struct bdclient *c, int64_t now,
	    struct bdclient_status *ret);

const char	*bdclient_outcome_name(enum bdclient_outcome s);
const char	*bdclient_op_name(enum bdclient_op op);

/*
 * The verdict on one attempt, pure so the rules above are unit-tested.
 * sent: the request may have left (curl got past connecting); for a
 * transport error, http_status is 0.  body_ok: a 2xx answer parsed.
 * reloaded: this operation already re-read the key after a 401.
 */
enum bdclient_verdict {
	BDCLIENT_V_OK,
	BDCLIENT_V_RETRY,	/* nothing happened, or safe to repeat */
	BDCLIENT_V_RELOAD_KEY,	/* 401: re-read the key, repeat once */
	BDCLIENT_V_FAILED,
	BDCLIENT_V_UNKNOWN,
};

struct bdclient_attempt {
	bool	mutating;	/* POST or DELETE */
	bool	transport_error;
	bool	sent;
	int	http_status;
	bool	body_ok;
	bool	reloaded;
};

enum bdclient_verdict	 bdclient_decide(const struct bdclient_attempt *a);
/* Whether the attempt counts as the provider failing, for the breaker. */
bool			 bdclient_is_provider_failure(
			    const struct bdclient_attempt *a);

/*
 * Proxy usernames for the super proxy (no I/O).  The static form pins one
 * allocated IP:
 *   brd-customer-<customer>-zone-<zone>-ip-<ip>
 * The residential form asks for a country and a sticky session:
 *   brd-customer-<customer>-zone-<zone>-country-<cc>-session-<id>
 * customer and zone are [A-Za-z0-9_] (the username is '-'-separated), ip
 * an IPv4 address, cc a country code in any case (written lower case).
 * Returns 0, -EINVAL naming nothing secret, or -ENAMETOOLONG when out is
 * too small; out is written only on success.
 */
#define BDCLIENT_USERNAME_MAX	256
#define BDCLIENT_SESSION_ID_LEN	17	/* 16 hex digits and a NUL */

int	 bdclient_proxy_username(const char *customer, const char *zone,
	    const char *ip, char *out, size_t size);
int	 bdclient_proxy_username_residential(const char *customer,
	    const char *zone, const char *country, const char *session_id,
	    char *out, size_t size);
/*
 * A residential session id for a phone: 16 lower-case hex digits of
 * SipHash-2-4 over "<phone>/<generation>", keyed with a key derived from
 * salt (a per-deployment string; "" is allowed but lets anyone who sees
 * the id try every phone number).  The same phone, generation and salt
 * always give the same id, so the session keeps its exit IP across
 * restarts; bumping the generation (the proxy was blocked) gives a new one.
 * Bright Data allows letters and digits only in a session id.
 */
int	 bdclient_session_id(const char *phone, unsigned generation,
	    const char *salt, char out[BDCLIENT_SESSION_ID_LEN]);
/* SipHash-2-4 (Aumasson and Bernstein), exposed for its test vectors. */
uint64_t bdclient_siphash(const uint8_t key[16], const void *data, size_t n);

#endif
