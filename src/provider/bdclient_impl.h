/*
 * What the files of the Bright Data account API client share, and nobody
 * else: bdclient.c (the client, its configuration and the four operations'
 * requests), bdclient_req.c (an operation's journey: the client's queue
 * for a connection, the transfer through curlev.c, the verdict, retries
 * and delivery of the result) and bdclient_username.c (proxy usernames and
 * session ids, no I/O).  The rest of the daemon knows the client through
 * bdclient.h.
 */
#ifndef RESPAWN_BDCLIENT_IMPL_H
#define RESPAWN_BDCLIENT_IMPL_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "base/country.h"
#include "base/rng.h"
#include "provider/bdclient.h"
#include "provider/bdjson.h"
#include "sys/curlev.h"

struct event;
struct secret;
struct storeq;

enum bdreq_state {
	BDREQ_WAIT_SEND,	/* timer armed: send (first time or again) */
	BDREQ_WAIT_SLOT,	/* in the client's queue for a connection */
	BDREQ_IN_FLIGHT,	/* the easy handle is in the multi */
	BDREQ_WAIT_KEY,		/* refused (401): waits for the key's re-read */
	BDREQ_WAIT_DELIVER,	/* timer armed: call back */
};

struct bdreq {
	TAILQ_ENTRY(bdreq)	 link;
	TAILQ_ENTRY(bdreq)	 slot_link;	/* while BDREQ_WAIT_SLOT */
	TAILQ_ENTRY(bdreq)	 key_link;	/* while BDREQ_WAIT_KEY */
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
	/*
	 * The key's re-read after a 401 runs on a thread of the client's own
	 * (an exec: command or a Secret Manager answer takes seconds); the
	 * requests it refused wait for it here, in the order they came.
	 */
	struct storeq		*keyq;
	bool			 key_reading;
	TAILQ_HEAD(, bdreq)	 key_waiters;

	uint64_t		 requests;
	uint64_t		 retries;
	uint64_t		 reloads;
	uint64_t		 unknown;
};

/* bdclient.c */

/* Customer ids and zone names: what a '-'-separated username can carry. */
bool	 bdclient_name_ok(const char *s);
/*
 * Resolve the key reference and check the key can go in a header line;
 * errors go to err, naming the reference, never the value.
 */
int	 bdclient_load_key(const char *ref, struct secret **ret, char *err,
	    size_t errlen);

/* bdclient_req.c */

/*
 * Queue an operation: it is sent from the loop, never from here.  Takes
 * url and body (NULL for a GET) on success only; country is the one asked
 * for by a purchase (NULL otherwise).
 */
int	 bdclient_start(struct bdclient *c, enum bdclient_op op,
	    const char *method, const char *path, char *url, char *body,
	    const char *country, bdclient_cb cb, void *arg);
/* curlev's done callback: priv is the request (CURLOPT_PRIVATE). */
void	 bdclient_transfer_done(void *priv, CURLcode rc, void *arg);
/*
 * Free a request the caller took off the client's list of requests: out
 * of the queue for a connection or the multi, as its state says.
 */
void	 bdclient_req_free(struct bdreq *req);

#endif
