/*
 * The daemon's HTTP front: libevent's HTTP server on the daemon's own
 * loop, serving a table of routes (src/api.c).  It owns everything that is
 * the same for every route, so handlers see only a parsed request and fill
 * in a response:
 *
 *   - listening on RESPAWN_API_LISTEN (a socket of its own, close-on-exec,
 *     so connectors never inherit it);
 *   - limits on headers, body and time, and JSON for every error it
 *     answers itself (unknown path, wrong method, body too large, a body
 *     that is not application/json, a header holding a NUL or a control
 *     character) and for those libevent answers before any route (a
 *     request it cannot parse, an unknown method: see evhttp_send_error
 *     in httpd.c);
 *   - authentication of routes marked so: `x-api-key: KEY` or
 *     `Authorization: Bearer KEY`, compared in constant time with the key
 *     from a secret reference; a request that fails starts a re-read of
 *     the reference, so a rotated key works without a restart.  The
 *     re-read runs on a thread of the server's own (exec: may take
 *     seconds), one at a time and at most one per HTTPD_KEY_REREAD_MS;
 *     until it is done requests are judged against the key known so far.
 *
 * Route patterns are literal paths where "{id}" stands for one path
 * segment holding a positive integer, e.g. "/api/sessions/{id}/start".
 * Matching is pure (httpd_match) so it is unit-tested without sockets.
 */
#ifndef RESPAWN_HTTPD_H
#define RESPAWN_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"

struct event_base;

#define HTTPD_HEADERS_MAX	(16 * 1024)	/* all request headers */
#define HTTPD_BODY_MAX		(64 * 1024)	/* a request body we read */
#define HTTPD_WIRE_BODY_MAX	(1024 * 1024)	/* beyond: libevent's own 413 */
#define HTTPD_TIMEOUT_S		10		/* a request's read and write */
/* An offloaded answer not ready by then is a 503 (well before the above). */
#define HTTPD_CALL_DEADLINE_MS	5000
/* A route's before hook (the provider's listing) not done by then: 503. */
#define HTTPD_BEFORE_DEADLINE_MS	60000
#define HTTPD_PATH_MAX		512
#define HTTPD_KEY_REREAD_MS	5000	/* between re-reads of the key */
#define HTTPD_ADDR_LEN		80
#define HTTPD_ERR_LEN		256
#define HTTPD_ECHO_MAX		128	/* a client's text quoted in a message */
#define HTTPD_ECHO_LEN		(HTTPD_ECHO_MAX + 4)	/* with "..." and NUL */
#define HTTPD_TEXT_MAX		(8 * 1024 * 1024)	/* a text answer */
/*
 * Every answer's Content-Security-Policy.  The dashboard (dashboard.c) is
 * the only HTML served: its scripts and styles come from this origin only,
 * no inline script or style, images from here or made in the page (blob:
 * for the QR code fetched with the key), requests only to this origin, and
 * no framing.  JSON answers carry it too, harmlessly.
 */
#define HTTPD_CSP	"default-src 'none'; script-src 'self'; " \
	"style-src 'self'; img-src 'self' blob:; connect-src 'self'; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

enum httpd_method {
	HTTPD_GET,
	HTTPD_POST,
	HTTPD_DELETE,
	HTTPD_OTHER,
};

struct httpd_request {
	enum httpd_method	 method;
	const char		*path;
	const char		*query;		/* raw, NULL: none */
	const char		*body;		/* NUL-terminated */
	size_t			 bodylen;
	int64_t			 id;		/* the {id} segment, 0: none */
	const char		*accept;	/* the Accept header, NULL: none */
	/*
	 * For a route that runs off the loop: what the offload gave it to
	 * work with (the API: the store worker's connection); NULL on the
	 * loop.
	 */
	void			*worker;
	/* What the route's before hook prepared (httpd_call_proceed). */
	void			*prepared;
};

/*
 * What a handler answers: a JSON document (json, owned by the response)
 * or text (text, with content_type).  status 0 means 200.
 */
struct httpd_response {
	int		 status;
	json_t		*json;
	struct buf	 text;
	const char	*content_type;
	int		 retry_after;	/* seconds, for Retry-After; 0: none */
};

typedef void (*httpd_handler)(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs);

struct httpd_call;

/*
 * A route's before hook runs on the loop once the request is read, ahead
 * of its offloaded handler, for what only the loop can get and what may
 * take time to come (the provider's listing, for an import).  It ends,
 * at once or later, with httpd_call_proceed (the handler then runs as any
 * offloaded one, finding what the hook prepared in rq->prepared) or with
 * httpd_call_answer (the answer the hook wrote in rs goes out and the
 * handler does not run).  A hook not done within HTTPD_BEFORE_DEADLINE_MS
 * is answered 503; the store's own deadline starts when it is done.
 */
typedef void (*httpd_before)(void *arg, struct httpd_call *c,
    const struct httpd_request *rq, struct httpd_response *rs);

/*
 * A route marked offload has its handler run off the loop, through the
 * offload function (httpd_set_offload), where it may block; it must then
 * touch nothing but the request, the response and rq->worker.  after, if
 * set, runs on the loop once the handler is done and before the answer
 * leaves, for what only the loop may touch.
 */
struct httpd_route {
	enum httpd_method	 method;
	const char		*pattern;
	bool			 auth;		/* needs the API key */
	httpd_handler		 handler;
	bool			 offload;
	httpd_handler		 after;
	/* Bytes of body accepted: 0 for HTTPD_BODY_MAX, at most the wire's. */
	size_t			 body_max;
	/*
	 * Takes query parameters (its handler refuses those it does not
	 * know); a route with the key that takes none answers any with 400.
	 */
	bool			 query;
	httpd_before		 before;	/* NULL: none (offload only) */
};

struct httpd;

/*
 * Arrange for httpd_call_run(c, worker) to be called off the loop, then
 * httpd_call_finish(c, result) on it; a negative return (the queue is
 * full) answers 503 at once.
 */
typedef int (*httpd_offload_fn)(void *arg, struct httpd_call *c);

/*
 * Listen on listen ("host:port"; port 0: the kernel picks) and serve
 * routes (ending with a NULL pattern) with arg.  key_ref is the API key's
 * secret reference ("" : no key, so authenticated routes answer 401),
 * read here once, then re-read off the loop.  bound receives the address
 * listened on.
 */
int	httpd_new(struct event_base *base, const char *listen,
	    const struct httpd_route *routes, void *arg, const char *key_ref,
	    struct httpd **ret, char bound[HTTPD_ADDR_LEN],
	    char err[HTTPD_ERR_LEN]);
/*
 * Free the server.  Whatever runs offloaded handlers must have delivered
 * every call (httpd_call_finish) before: a call still out is dropped
 * unanswered when it finishes.  A key re-read still out is waited for
 * (STOREQ_STOP_WAIT_MS at most).
 */
void	httpd_free(struct httpd *h);

/* Offloaded routes go through fn(arg, call); without it they run inline. */
void	httpd_set_offload(struct httpd *h, httpd_offload_fn fn, void *arg);
/* Off the loop: run the route's handler with worker. */
void	httpd_call_run(struct httpd_call *c, void *worker);
/*
 * On the loop: answer (503 when result is negative: the handler never
 * ran), after the route's after hook, and free the call.
 */
void	httpd_call_finish(struct httpd_call *c, int result);
/*
 * From a before hook, on the loop: go on to the handler, which finds
 * prepared in rq->prepared; prepared_free (NULL: nothing to free) frees
 * it once the call is done, answered or not.
 */
void	httpd_call_proceed(struct httpd_call *c, void *prepared,
	    void (*prepared_free)(void *));
/*
 * From a before hook, before it proceeds: give the store ms (not
 * HTTPD_CALL_DEADLINE_MS) to answer this call, for one known to be long
 * (an import of thousands of rows in one transaction).
 */
void	httpd_call_deadline(struct httpd_call *c, int ms);
/* From a before hook, on the loop: send what it wrote in rs, and end. */
void	httpd_call_answer(struct httpd_call *c);
/* Calls handed to the offload and not yet finished. */
size_t	httpd_calls_out(const struct httpd *h);

/* Requests answered, and answers by class, for /metrics. */
struct httpd_stats {
	uint64_t	requests;
	uint64_t	unauthorized;
	uint64_t	client_errors;	/* 4xx */
	uint64_t	server_errors;	/* 5xx */
	uint64_t	late;		/* 503: the store past the deadline */
};
void	httpd_stats(const struct httpd *h, struct httpd_stats *ret);

/*
 * The route for method and path: 0 and the route's index (and the {id}
 * value); -ENOENT when no pattern matches the path; -EPERM when a pattern
 * matches but not with this method (405).
 */
int	httpd_match(const struct httpd_route *routes, enum httpd_method method,
	    const char *path, size_t *ret_index, int64_t *ret_id);
/*
 * Does a path no route takes (or not with its method) lie under an
 * authenticated route's first segment ("/api/...")?  Such a path answers
 * 401 without the key, as the routes there do, before 404 or 405.
 */
bool	httpd_guarded(const struct httpd_route *routes, const char *path);
/* Constant-time comparison of a presented key with the real one. */
bool	httpd_key_equal(const char *given, size_t givenlen, const char *key,
	    size_t keylen);
/*
 * Is a Content-Type JSON?  "application/json" in any case, with parameters
 * after ";" allowed, but a charset only if it is utf-8 (the one JSON may be
 * sent in).  NULL (no Content-Type) is not.
 */
bool	httpd_json_type(const char *content_type);
/*
 * The key a request presents: the x-api-key value, else the token of an
 * "Authorization: Bearer" header; NULL when there is none.
 */
const char *httpd_presented_key(const char *x_api_key,
	    const char *authorization);

/*
 * A client's text made fit to quote in a message: at most max bytes of in
 * (and of out, less 4), cut at a character boundary with "..." marking the
 * cut, every byte that does not belong to a valid UTF-8 character (a stray
 * continuation byte, an overlong form, a surrogate, a code point past
 * U+10FFFF, a sequence cut short) replaced by U+FFFD.  JSON strings must be
 * valid UTF-8: without this one bad byte would turn an error answer into an
 * empty one.  Writes out and returns it.
 */
const char *httpd_echo(char *out, size_t outlen, const char *in, size_t max);
/*
 * Answer an error: {"error": "<reason>", "message": "...", "field": ...}.
 * field may be NULL.  The message and the field go through httpd_echo, so
 * whatever they hold the answer is a JSON Error; a client's value quoted in
 * fmt should still go through httpd_echo first, to be cut where it says.
 */
void	httpd_error(struct httpd_response *rs, int status, const char *field,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * A query parameter as an integer in [min, max]; absent: def.  On a bad
 * value answers 400 naming the parameter and returns -EINVAL.
 */
int	httpd_query_i64(const struct httpd_request *rq, const char *name,
	    int64_t def, int64_t min, int64_t max, int64_t *ret,
	    struct httpd_response *rs);
/*
 * A query parameter as true or false (those words only); absent: def.  On
 * another value answers 400 naming the parameter and returns -EINVAL.
 */
int	httpd_query_bool(const struct httpd_request *rq, const char *name,
	    bool def, bool *ret, struct httpd_response *rs);
/* A query parameter's value (decoded), or NULL; caller frees. */
char	*httpd_query_str(const struct httpd_request *rq, const char *name);
/* The names of the query's parameters that are not in allowed (NULL-ended). */
int	httpd_query_check(const struct httpd_request *rq,
	    const char *const *allowed, struct httpd_response *rs);

#endif
