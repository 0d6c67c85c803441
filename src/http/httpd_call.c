/*
 * A request the HTTP front does not answer at once (httpd.c hands it
 * over): an offloaded route's, run off the loop and answered when its
 * result comes back, or by a 503 at its deadline; and first, for a route
 * with one, its before hook on the loop.  Everything the handler reads is
 * copied into the call, so the worker never touches libevent's request.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "http/httpd.h"
#include "http/httpd_impl.h"

/*
 * An offloaded request: everything the handler reads is copied here, so
 * the worker never touches libevent's request, which only the loop may.
 */
struct httpd_call {
	struct httpd			*h;	/* NULL: the server is gone */
	void				*arg;	/* the routes' */
	struct evhttp_request		*req;
	const struct httpd_route	*route;
	struct httpd_request		 rq;
	struct httpd_response		 rs;
	char				*path, *query, *body, *accept;
	/*
	 * The answer is due by HTTPD_CALL_DEADLINE_MS: past it, a 503 goes
	 * out (answered) and what the worker returns later is not sent.
	 */
	struct event			*deadline;
	int				 deadline_ms;	/* the store's */
	bool				 answered;
	/* In the route's before hook (its own, longer, deadline). */
	bool				 before;
	bool				 skip_after;	/* the hook answered */
	void				*prepared;
	void				(*prepared_free)(void *);
	LIST_ENTRY(httpd_call)		 link;
};

static void
httpd_call_free(struct httpd_call *c)
{
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->prepared_free != NULL)
		c->prepared_free(c->prepared);
	json_decref(c->rs.json);
	buf_free(&c->rs.text);
	free(c->path);
	free(c->query);
	free(c->body);
	free(c->accept);
	free(c);
}

/*
 * The store has not answered in time (a locked SQLite file, a frozen
 * database, a queue behind either): the client hears so now, in JSON,
 * while its connection is open, not a closed connection later.  The job
 * still runs when the store lets it: a write may yet be made, so the
 * message says to check before trying again.
 */
static void
httpd_call_late(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_call	*c = arg;
	struct httpd_response	 rs = { 0 };

	(void)fd;
	(void)what;
	if (c->h == NULL || c->answered)
		return;
	c->answered = true;
	c->h->stats.late++;
	if (c->before) {
		/* Nothing was written: the handler has not run. */
		log_warn("api.before_late", LOGF_S("path", c->path),
		    LOGF_I("deadline_ms", HTTPD_BEFORE_DEADLINE_MS));
		httpd_error(&rs, 503, NULL, "what the request needs (the "
		    "provider's listing) did not come within %d ms: nothing "
		    "was written; try again", HTTPD_BEFORE_DEADLINE_MS);
	} else {
		log_warn("api.store_late", LOGF_S("path", c->path),
		    LOGF_I("deadline_ms", c->deadline_ms));
		httpd_error(&rs, 503, NULL, "the state store did not answer "
		    "within %d ms: try again (a write may still be made; read "
		    "before writing again)", c->deadline_ms);
	}
	rs.retry_after = 1;
	httpd_send(c->h, c->req, &rs);
	json_decref(rs.json);
	buf_free(&rs.text);
	c->req = NULL;
}

/* Arm the call's deadline (its timer made at its creation) for ms. */
static void
httpd_call_arm(struct httpd_call *c, int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	if (c->deadline != NULL)
		evtimer_add(c->deadline, &tv);
}

/*
 * To the offload (the store's worker), under the store's deadline; run
 * here, on the loop, when there is none.
 */
static void
httpd_call_offload(struct httpd_call *c)
{
	struct httpd	*h = c->h;

	if (h->offload == NULL) {
		httpd_call_run(c, NULL);
		httpd_call_finish(c, 0);
		return;
	}
	httpd_call_arm(c, c->deadline_ms);
	if (h->offload(h->offload_arg, c) < 0) {
		log_warn("api.overloaded", LOGF_S("path", c->path),
		    LOGF_I("calls_out", (int64_t)h->ncalls - 1));
		httpd_call_finish(c, -ENOBUFS);
	}
}

/*
 * A request that leaves the request callback unanswered: to its route's
 * before hook, or straight to the offload.  body becomes the call's.
 */
void
httpd_defer(struct httpd *h, struct evhttp_request *req,
    const struct httpd_route *route, const struct httpd_request *rq,
    char *body)
{
	struct httpd_call	*c = xcalloc(1, sizeof *c);

	c->h = h;
	c->arg = h->arg;
	c->req = req;
	c->route = route;
	c->rq = *rq;
	c->path = xstrdup(rq->path);
	c->rq.path = c->path;
	if (rq->query != NULL) {
		c->query = xstrdup(rq->query);
		c->rq.query = c->query;
	}
	if (rq->accept != NULL) {
		c->accept = xstrdup(rq->accept);
		c->rq.accept = c->accept;
	}
	c->body = body;
	c->rq.body = body;
	buf_init(&c->rs.text, HTTPD_TEXT_MAX);
	c->deadline = evtimer_new(h->base, httpd_call_late, c);
	c->deadline_ms = HTTPD_CALL_DEADLINE_MS;
	LIST_INSERT_HEAD(&h->calls, c, link);
	h->ncalls++;
	if (route->before == NULL) {
		httpd_call_offload(c);
		return;
	}
	c->before = true;
	httpd_call_arm(c, HTTPD_BEFORE_DEADLINE_MS);
	route->before(h->arg, c, &c->rq, &c->rs);
}

/* The call is done without an answer to send (or one sent already). */
static void
httpd_call_drop(struct httpd_call *c)
{
	if (c->h != NULL) {
		LIST_REMOVE(c, link);
		c->h->ncalls--;
	}
	httpd_call_free(c);
}

void
httpd_call_proceed(struct httpd_call *c, void *prepared,
    void (*prepared_free)(void *))
{
	c->prepared = prepared;
	c->prepared_free = prepared_free;
	c->rq.prepared = prepared;
	/* The server is gone, or the client was told 503 already. */
	if (c->h == NULL || c->answered) {
		httpd_call_drop(c);
		return;
	}
	if (c->deadline != NULL)
		evtimer_del(c->deadline);
	c->before = false;
	httpd_call_offload(c);
}

void
httpd_call_deadline(struct httpd_call *c, int ms)
{
	c->deadline_ms = ms;
}

void
httpd_call_answer(struct httpd_call *c)
{
	c->skip_after = true;
	httpd_call_finish(c, 0);
}

void
httpd_set_offload(struct httpd *h, httpd_offload_fn fn, void *arg)
{
	h->offload = fn;
	h->offload_arg = arg;
}

void
httpd_call_run(struct httpd_call *c, void *worker)
{
	c->rq.worker = worker;
	c->route->handler(c->arg, &c->rq, &c->rs);
}

void
httpd_call_finish(struct httpd_call *c, int result)
{
	struct httpd	*h = c->h;

	if (h == NULL) {
		httpd_call_free(c);
		return;
	}
	LIST_REMOVE(c, link);
	h->ncalls--;
	c->rq.worker = NULL;
	if (result < 0) {
		json_decref(c->rs.json);
		c->rs.json = NULL;
		buf_reset(&c->rs.text);
		httpd_error(&c->rs, 503, NULL, "the daemon is too busy or "
		    "stopping: try again");
		c->rs.retry_after = 1;
	} else if (c->route->after != NULL && !c->skip_after) {
		c->route->after(c->arg, &c->rq, &c->rs);
	}
	/* Sent on a closed connection, libevent only frees the request. */
	if (!c->answered)
		httpd_send(h, c->req, &c->rs);
	httpd_call_free(c);
}

size_t
httpd_calls_out(const struct httpd *h)
{
	return h->ncalls;
}

void
httpd_calls_orphan(struct httpd *h)
{
	struct httpd_call	*c;

	/*
	 * Their requests go with the server: finishing only frees them.
	 * Their deadlines go now, while the event base they are on exists.
	 */
	LIST_FOREACH(c, &h->calls, link) {
		c->h = NULL;
		if (c->deadline != NULL) {
			event_free(c->deadline);
			c->deadline = NULL;
		}
	}
}
