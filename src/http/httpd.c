/*
 * The daemon's HTTP front on the loop (see httpd.h): the listening socket,
 * limits, the key and its re-read, dispatch to the routes, and the
 * answers, libevent's own errors included.  A request that is not
 * answered at once (offloaded, or waiting for its before hook) is a call,
 * in httpd_call.c.  What it decides without libevent (matching, the key's
 * comparison, queries, error bodies) is in httpd_req.c.
 */
#include <sys/socket.h>
#include <sys/queue.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/secret.h"
#include "http/httpd.h"
#include "http/httpd_impl.h"
#include "store/storeq.h"

#define HTTPD_BACKLOG	1024
/* What a NUL a client sent becomes before libevent parses it. */
#define HTTPD_NUL_STANDIN	'\x01'
/* Pieces of the input buffer looked at per evbuffer_peek. */
#define HTTPD_PEEK_IOV		8

/* How many headers are called name. */
static size_t
httpd_header_count(const struct evkeyvalq *headers, const char *name)
{
	const struct evkeyval	*kv;
	size_t			 n = 0;

	TAILQ_FOREACH(kv, headers, next)
		if (strcasecmp(kv->key, name) == 0)
			n++;
	return n;
}

void
httpd_stats(const struct httpd *h, struct httpd_stats *ret)
{
	*ret = h->stats;
}

/* A re-read of the API key's reference, made off the loop. */
struct httpd_keyread {
	struct httpd	*h;
	char		*ref;		/* a copy: the worker touches only this */
	struct secret	*s;
	char		 err[SECRET_ERR_LEN];
};

/* On the key's worker. */
static int
httpd_key_run(struct store *st, void *arg)
{
	struct httpd_keyread	*kr = arg;

	(void)st;
	return secret_resolve(kr->ref, &kr->s, kr->err);
}

/* On the loop, or from storeq_free in httpd_free (h still whole). */
static void
httpd_key_done(int result, void *arg)
{
	struct httpd_keyread	*kr = arg;
	struct httpd		*h = kr->h;

	h->key_reading = false;
	if (result == 0) {
		if (secret_len(kr->s) != secret_len(h->key) ||
		    memcmp(secret_value(kr->s), secret_value(h->key),
		    secret_len(kr->s)) != 0)
			log_info("api.key_loaded");
		secret_free(h->key);
		h->key = kr->s;
	} else if (result != -ECANCELED)
		log_warn("api.key_unreadable", LOGF_S("error", kr->err));
	free(kr->ref);
	free(kr);
}

/*
 * A key that does not match may be a rotated one: read the reference
 * again.  Not on the loop: exec: runs a command and a Secret Manager
 * answer comes over the network, seconds either way, and anyone who can
 * reach the port can send a wrong key.  One re-read at a time, at most one
 * started per HTTPD_KEY_REREAD_MS, on a thread of the server's own;
 * requests are judged against the key known so far until it is done.
 */
static void
httpd_key_reread(struct httpd *h)
{
	struct httpd_keyread	*kr;
	int64_t			 now = util_mono_ms();

	if (h->keyq == NULL || h->key_reading ||
	    now - h->key_read_at < HTTPD_KEY_REREAD_MS)
		return;
	h->key_read_at = now;
	kr = xcalloc(1, sizeof *kr);
	kr->h = h;
	kr->ref = xstrdup(h->key_ref);
	if (storeq_submit(h->keyq, httpd_key_run, httpd_key_done, kr) < 0) {
		free(kr->ref);
		free(kr);
		return;
	}
	h->key_reading = true;
}

/* Is the presented key the API key?  A mismatch may start a re-read. */
static bool
httpd_authorized(struct httpd *h, const char *given)
{
	if (h->key_ref[0] == '\0' || given == NULL)
		return false;
	if (httpd_key_equal(given, strlen(given), secret_value(h->key),
	    secret_len(h->key)))
		return true;
	httpd_key_reread(h);
	return false;
}

/*
 * Every byte a client sends passes here, on the connection's input buffer,
 * before libevent parses it.  libevent keeps header values as C strings,
 * so a NUL would silently cut one: "x-api-key: KEY\0junk" would arrive as
 * "KEY" and be accepted.  Each NUL becomes HTTPD_NUL_STANDIN, a control
 * character that httpd_headers_ok refuses in a header and that is as
 * invalid as a NUL in a JSON body.
 */
static void
httpd_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct evbuffer_iovec	 v[HTTPD_PEEK_IOV];
	struct evbuffer_ptr	 pos;
	size_t			 len = evbuffer_get_length(buf), at, l;
	char			*p, *end;
	int			 n, i;

	(void)arg;
	if (info->n_added == 0)
		return;
	/* What was added is at the end; scan it, in pieces. */
	at = len > info->n_added ? len - info->n_added : 0;
	while (at < len) {
		if (evbuffer_ptr_set(buf, &pos, at, EVBUFFER_PTR_SET) < 0 ||
		    (n = evbuffer_peek(buf, (ev_ssize_t)(len - at), &pos, v,
		    HTTPD_PEEK_IOV)) <= 0)
			return;
		for (i = 0; i < n && i < HTTPD_PEEK_IOV && at < len; i++) {
			l = v[i].iov_len < len - at ? v[i].iov_len : len - at;
			p = v[i].iov_base;
			end = p + l;
			while (p < end && (p = memchr(p, '\0',
			    (size_t)(end - p))) != NULL)
				*p++ = HTTPD_NUL_STANDIN;
			at += l;
		}
	}
}

/* Each connection's buffers, made here so httpd_input_cb sees its input. */
static struct bufferevent *
httpd_bev_cb(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;

	(void)arg;
	/* Out of memory is fatal, as with xmalloc. */
	if ((bev = bufferevent_socket_new(base, -1, 0)) == NULL ||
	    evbuffer_add_cb(bufferevent_get_input(bev), httpd_input_cb,
	    NULL) == NULL) {
		log_error("api.out_of_memory");
		abort();
	}
	return bev;
}

/*
 * A header whose name or value holds a control character (HTAB aside) or
 * a NUL (see httpd_input_cb) is malformed: 0 or -EINVAL with its name.
 */
static int
httpd_headers_ok(const struct evkeyvalq *headers, const char **ret_name)
{
	const struct evkeyval	*kv;
	const unsigned char	*p;

	TAILQ_FOREACH(kv, headers, next) {
		for (p = (const unsigned char *)kv->key; *p != '\0'; p++)
			if (*p < 0x20 || *p == 0x7f)
				goto bad;
		for (p = (const unsigned char *)kv->value; *p != '\0'; p++)
			if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
				goto bad;
		continue;
bad:
		*ret_name = kv->key;
		return -EINVAL;
	}
	return 0;
}

static enum httpd_method
httpd_method_of(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:	/* a GET whose answer leaves without its body */
		return HTTPD_GET;
	case EVHTTP_REQ_POST:
		return HTTPD_POST;
	case EVHTTP_REQ_DELETE:
		return HTTPD_DELETE;
	default:
		return HTTPD_OTHER;
	}
}

/*
 * What every answer says about how a browser may use it (the dashboard is
 * served from this origin): the policy, no type sniffing, no referrer, no
 * framing by another site.
 */
static void
httpd_add_security_headers(struct evkeyvalq *hdr)
{
	evhttp_add_header(hdr, "Content-Security-Policy", HTTPD_CSP);
	evhttp_add_header(hdr, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(hdr, "Referrer-Policy", "no-referrer");
	evhttp_add_header(hdr, "X-Frame-Options", "DENY");
}

/* What a request libevent refused was refused for, by status. */
static void
httpd_protocol_error(struct httpd_response *rs, int status)
{
	switch (status) {
	case 400:
		httpd_error(rs, status, NULL, "the request could not be read: "
		    "a malformed request line, header, Content-Length or "
		    "chunk, or headers over %d bytes", HTTPD_HEADERS_MAX);
		break;
	case 413:
		httpd_error(rs, status, NULL, "the body is over the %d bytes "
		    "accepted, or its chunked encoding is malformed",
		    HTTPD_BODY_MAX);
		break;
	case 417:
		httpd_error(rs, status, NULL, "Expect: only 100-continue is "
		    "understood");
		break;
	case 501:
		httpd_error(rs, status, NULL, "the method is not implemented: "
		    "the API serves GET, POST and DELETE");
		break;
	default:
		httpd_error(rs, status, NULL, "the request could not be "
		    "served");
		break;
	}
}

/*
 * libevent's own error answers, in JSON.
 *
 * What libevent refuses before a route sees it (a request line, header,
 * Content-Length or chunk it cannot parse, headers past
 * HTTPD_HEADERS_MAX, a body past HTTPD_WIRE_BODY_MAX, an Expect other than
 * 100-continue, a method it does not know) it answers by calling
 * evhttp_send_error, which writes an HTML page.  libevent 2.1 offers no
 * hook for those answers (2.2's evhttp_set_errorcb would be one), so this
 * definition takes the place of libevent's: libevent calls
 * evhttp_send_error through its procedure linkage table, and the dynamic
 * linker binds that call to the executable's definition, as it does for
 * malloc.  The contract is libevent's: answer req with status and close
 * the connection, since after a request that could not be read the bytes
 * that follow cannot be trusted to start the next one.
 *
 * Were libevent linked statically the link would fail on the second
 * definition; were it built to bind its own calls (-Bsymbolic-functions)
 * its HTML would come back.  tests/integration/test_api.sh checks every
 * such answer, so either shows.
 */
void
evhttp_send_error(struct evhttp_request *req, int status, const char *reason)
{
	struct httpd_response	 rs = { 0 };
	struct evkeyvalq	*hdr = evhttp_request_get_output_headers(req);
	struct evbuffer		*out = evhttp_request_get_output_buffer(req);
	char			*s;

	httpd_protocol_error(&rs, status);
	evhttp_clear_headers(hdr);
	evbuffer_drain(out, evbuffer_get_length(out));
	evhttp_add_header(hdr, "Content-Type", "application/json");
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	httpd_add_security_headers(hdr);
	evhttp_add_header(hdr, "Connection", "close");
	if (rs.json != NULL &&
	    (s = json_dumps(rs.json, JSON_COMPACT | JSON_PRESERVE_ORDER)) !=
	    NULL) {
		evbuffer_add(out, s, strlen(s));
		evbuffer_add(out, "\n", 1);
		free(s);
	}
	json_decref(rs.json);
	/*
	 * A request line that could not be parsed left no version: answer
	 * in HTTP/1.1, as libevent's own page does, rather than "HTTP/0.0".
	 */
	if (req->major == 0) {
		req->major = 1;
		req->minor = 1;
	}
	evhttp_send_reply(req, status, reason, NULL);
}

void
httpd_send(struct httpd *h, struct evhttp_request *req,
    struct httpd_response *rs)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	char		*s;
	int		 status = rs->status ? rs->status : 200;

	if (rs->json != NULL) {
		s = json_dumps(rs->json, JSON_COMPACT | JSON_PRESERVE_ORDER);
		evhttp_add_header(hdr, "Content-Type", "application/json");
		if (s != NULL) {
			evbuffer_add(out, s, strlen(s));
			evbuffer_add(out, "\n", 1);
		}
		free(s);
	} else if (status != 204) {
		evhttp_add_header(hdr, "Content-Type", rs->content_type ?
		    rs->content_type : "text/plain; charset=utf-8");
		if (rs->text.len > 0)
			evbuffer_add(out, rs->text.data, rs->text.len);
	}
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	if (rs->retry_after > 0) {
		char	ra[16];

		snprintf(ra, sizeof ra, "%d", rs->retry_after);
		evhttp_add_header(hdr, "Retry-After", ra);
	}
	httpd_add_security_headers(hdr);
	/*
	 * HEAD: the headers GET would have, Content-Length included, and no
	 * body (RFC 9110, 9.3.2).
	 */
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		char	len[32];

		snprintf(len, sizeof len, "%zu", evbuffer_get_length(out));
		evhttp_add_header(hdr, "Content-Length", len);
		evbuffer_drain(out, evbuffer_get_length(out));
	}
	if (status >= 500)
		h->stats.server_errors++;
	else if (status >= 400)
		h->stats.client_errors++;
	evhttp_send_reply(req, status, NULL, NULL);
}

static void
httpd_request_cb(struct evhttp_request *req, void *arg)
{
	struct httpd		*h = arg;
	struct httpd_request	 rq = { 0 };
	struct httpd_response	 rs = { 0 };
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq	*in = evhttp_request_get_input_headers(req);
	struct evbuffer		*body = evhttp_request_get_input_buffer(req);
	const struct httpd_route *route;
	const char		*name;
	char			*copy = NULL, echo[HTTPD_ECHO_LEN];
	size_t			 idx, len, n, limit;
	int			 r;

	h->stats.requests++;
	buf_init(&rs.text, HTTPD_TEXT_MAX);
	rq.method = httpd_method_of(evhttp_request_get_command(req));
	rq.path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	rq.query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	rq.accept = evhttp_find_header(in, "Accept");
	if (rq.path == NULL || *rq.path == '\0')
		rq.path = "/";
	if (httpd_headers_ok(in, &name) < 0) {
		httpd_error(&rs, 400, NULL, "the header %s holds a NUL or a "
		    "control character", httpd_echo(echo, sizeof echo, name,
		    64));
		goto send;
	}
	if (strlen(rq.path) > HTTPD_PATH_MAX) {
		httpd_error(&rs, 404, NULL, "no such path");
		goto send;
	}
	r = httpd_match(h->routes, rq.method, rq.path, &idx, &rq.id);
	/*
	 * The key is asked for before anything is said of the path: without
	 * it, a path under an authenticated prefix answers 401 whether it
	 * exists or takes the method, so a caller without the key learns
	 * nothing of the routes.
	 */
	if ((r == 0 ? h->routes[idx].auth : httpd_guarded(h->routes,
	    rq.path)) && !httpd_authorized(h, httpd_presented_key(
	    evhttp_find_header(in, "x-api-key"),
	    evhttp_find_header(in, "Authorization")))) {
		h->stats.unauthorized++;
		httpd_error(&rs, 401, NULL, "%s", h->key_ref[0] == '\0' ?
		    "no API key is configured (RESPAWN_API_KEY_SECRET)" :
		    "a valid API key is required (x-api-key or "
		    "Authorization: Bearer)");
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer");
		goto send;
	}
	if (r == -ENOENT) {
		httpd_error(&rs, 404, NULL, "no such path: %s", httpd_echo(echo,
		    sizeof echo, rq.path, HTTPD_ECHO_MAX));
		goto send;
	}
	if (r == -EPERM) {
		httpd_error(&rs, 405, NULL, "method not allowed on %s",
		    httpd_echo(echo, sizeof echo, rq.path, HTTPD_ECHO_MAX));
		goto send;
	}
	route = &h->routes[idx];
	if (route->auth && !route->query && rq.query != NULL &&
	    rq.query[0] != '\0') {
		char	field[HTTPD_ECHO_LEN];

		httpd_echo(field, sizeof field, rq.query, 32);
		field[strcspn(field, "=&")] = '\0';
		httpd_error(&rs, 400, field, "%s: %s %s takes no query "
		    "parameters", field, rq.method == HTTPD_GET ? "GET" :
		    rq.method == HTTPD_POST ? "POST" : "DELETE", route->pattern);
		goto send;
	}
	len = evbuffer_get_length(body);
	if (len > (limit = route->body_max != 0 ? route->body_max :
	    HTTPD_BODY_MAX)) {
		httpd_error(&rs, 413, NULL, "the body is %zu bytes; at most "
		    "%zu are accepted", len, limit);
		goto send;
	}
	/*
	 * A GET, HEAD or DELETE has no body to read here; one sent anyway
	 * is refused, so that a proxy in front, which may take it for the
	 * next request, and this server never disagree on where a request
	 * ends.
	 */
	if (len > 0 && rq.method != HTTPD_POST) {
		httpd_error(&rs, 400, NULL, "a %s request takes no body",
		    evhttp_request_get_command(req) == EVHTTP_REQ_HEAD ?
		    "HEAD" : rq.method == HTTPD_GET ? "GET" : "DELETE");
		goto send;
	}
	/*
	 * Only JSON is read.  A second Content-Type could make a proxy in
	 * front and this server disagree on what the body is.
	 */
	if (len > 0 && (n = httpd_header_count(in, "Content-Type")) > 1) {
		httpd_error(&rs, 415, NULL, "a body must come with one "
		    "Content-Type, not %zu", n);
		goto send;
	}
	if (len > 0 && !httpd_json_type(name = evhttp_find_header(in,
	    "Content-Type"))) {
		httpd_error(&rs, 415, NULL, "a body must be sent as "
		    "Content-Type: application/json (a charset, if any, "
		    "utf-8), not %s", name == NULL ? "without one" :
		    httpd_echo(echo, sizeof echo, name, 64));
		goto send;
	}
	copy = xmalloc(len + 1);
	evbuffer_copyout(body, copy, len);
	copy[len] = '\0';
	rq.body = copy;
	rq.bodylen = len;
	if ((route->offload && h->offload != NULL) || route->before != NULL) {
		httpd_defer(h, req, route, &rq, copy);
		buf_free(&rs.text);
		return;
	}
	route->handler(h->arg, &rq, &rs);
	if (route->after != NULL)
		route->after(h->arg, &rq, &rs);
send:
	httpd_send(h, req, &rs);
	json_decref(rs.json);
	buf_free(&rs.text);
	free(copy);
}

/* A listening socket of our own, so it is close-on-exec from birth. */
static int
httpd_listen(const char *where, int *ret_fd, char bound[HTTPD_ADDR_LEN],
    char err[HTTPD_ERR_LEN])
{
	struct addrinfo		 hints = { 0 }, *ai = NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof ss;
	char			 host[256], port[8], h2[NI_MAXHOST],
				 p2[NI_MAXSERV];
	const char		*colon = strrchr(where, ':');
	size_t			 hl;
	int			 fd = -1, one = 1, r;

	if (colon == NULL || (hl = (size_t)(colon - where)) >= sizeof host ||
	    util_strlcpy(port, colon + 1, sizeof port) < 0) {
		snprintf(err, HTTPD_ERR_LEN, "RESPAWN_API_LISTEN '%s' is not "
		    "host:port", where);
		return -EINVAL;
	}
	memcpy(host, where, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, HTTPD_ERR_LEN, "RESPAWN_API_LISTEN '%s': %s",
		    where, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	/*
	 * TCP_NODELAY (inherited by accepted sockets): libevent writes large
	 * answers in 16 KiB pieces, and Nagle's algorithm would hold the last
	 * piece for the client's delayed ACK, some 40 ms on every scrape.
	 */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof one) < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof one) < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, HTTPD_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		snprintf(err, HTTPD_ERR_LEN, "cannot listen on %s: %s", where,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	if (getnameinfo((struct sockaddr *)&ss, sl, h2, sizeof h2, p2,
	    sizeof p2, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(bound, HTTPD_ADDR_LEN, "%s", where);
	else
		snprintf(bound, HTTPD_ADDR_LEN, ss.ss_family == AF_INET6 ?
		    "[%s]:%s" : "%s:%s", h2, p2);
	*ret_fd = fd;
	return 0;
}

int
httpd_new(struct event_base *base, const char *listen,
    const struct httpd_route *routes, void *arg, const char *key_ref,
    struct httpd **ret, char bound[HTTPD_ADDR_LEN], char err[HTTPD_ERR_LEN])
{
	struct httpd	*h;
	char		 serr[SECRET_ERR_LEN], qerr[STORE_ERROR_LEN];
	int		 fd = -1, r;

	if ((r = httpd_listen(listen, &fd, bound, err)) < 0)
		return r;
	h = xcalloc(1, sizeof *h);
	h->base = base;
	h->routes = routes;
	h->arg = arg;
	h->key_ref = xstrdup(key_ref != NULL ? key_ref : "");
	/* A key that cannot be read is a configuration error at start. */
	if (h->key_ref[0] != '\0' &&
	    (r = secret_resolve(h->key_ref, &h->key, serr)) < 0) {
		snprintf(err, HTTPD_ERR_LEN, "RESPAWN_API_KEY_SECRET: %s", serr);
		close(fd);
		httpd_free(h);
		return r;
	}
	if (h->key_ref[0] != '\0' &&
	    (r = storeq_new_thread(base, &h->keyq, qerr)) < 0) {
		snprintf(err, HTTPD_ERR_LEN, "API key reader: %s", qerr);
		close(fd);
		httpd_free(h);
		return r;
	}
	h->key_read_at = util_mono_ms();
	if ((h->http = evhttp_new(base)) == NULL ||
	    evhttp_accept_socket_with_handle(h->http, fd) == NULL) {
		snprintf(err, HTTPD_ERR_LEN, "cannot serve HTTP on %s", bound);
		close(fd);
		httpd_free(h);
		return -EIO;
	}
	evhttp_set_max_headers_size(h->http, HTTPD_HEADERS_MAX);
	evhttp_set_max_body_size(h->http, HTTPD_WIRE_BODY_MAX);
	evhttp_set_timeout(h->http, HTTPD_TIMEOUT_S);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(h->http, httpd_request_cb, h);
	evhttp_set_bevcb(h->http, httpd_bev_cb, h);
	*ret = h;
	return 0;
}

void
httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	/* A re-read still out is answered (or cancelled) here, h whole. */
	storeq_free(h->keyq);
	httpd_calls_orphan(h);
	if (h->http != NULL)
		evhttp_free(h->http);
	secret_free(h->key);
	free(h->key_ref);
	free(h);
}
