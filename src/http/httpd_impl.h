/*
 * What the HTTP front's files share, and nobody else: httpd.c (the
 * socket, dispatch, the key, the answers) and httpd_call.c (the requests
 * answered later).  The rest of the daemon knows the front through
 * httpd.h.
 */
#ifndef RESPAWN_HTTPD_IMPL_H
#define RESPAWN_HTTPD_IMPL_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/httpd.h"

struct evhttp;
struct evhttp_request;
struct secret;
struct storeq;

struct httpd {
	struct event_base		*base;
	struct evhttp			*http;
	const struct httpd_route	*routes;
	void				*arg;
	char				*key_ref;	/* "" : none */
	struct secret			*key;
	struct storeq			*keyq;		/* re-reads it */
	bool				 key_reading;	/* one is out */
	int64_t				 key_read_at;	/* its start, mono ms */
	struct httpd_stats		 stats;
	httpd_offload_fn		 offload;
	void				*offload_arg;
	LIST_HEAD(, httpd_call)		 calls;		/* out, offloaded */
	size_t				 ncalls;
};

/* httpd.c: send rs as the answer to req (headers, body, figures). */
void	httpd_send(struct httpd *h, struct evhttp_request *req,
	    struct httpd_response *rs);

/* httpd_call.c */
/*
 * A request not answered at once: to the route's before hook, or to the
 * offload; body becomes the call's.
 */
void	httpd_defer(struct httpd *h, struct evhttp_request *req,
	    const struct httpd_route *route, const struct httpd_request *rq,
	    char *body);
/* The server goes: its calls still out only free themselves when done. */
void	httpd_calls_orphan(struct httpd *h);

#endif
