/*
 * The daemon's HTTP front: see httpd.h.
 */
#include <sys/socket.h>
#include <sys/queue.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/secret.h"
#include "http/httpd.h"

#define HTTPD_BACKLOG	1024

struct httpd {
	struct evhttp			*http;
	const struct httpd_route	*routes;
	void				*arg;
	char				*key_ref;	/* "" : none */
	struct secret			*key;
	int64_t				 key_read_at;	/* monotonic ms */
	struct httpd_stats		 stats;
	httpd_offload_fn		 offload;
	void				*offload_arg;
	LIST_HEAD(, httpd_call)		 calls;		/* out, offloaded */
	size_t				 ncalls;
};

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
	char				*path, *query, *body;
	LIST_ENTRY(httpd_call)		 link;
};

bool
httpd_key_equal(const char *given, size_t givenlen, const char *key,
    size_t keylen)
{
	volatile unsigned char	d;
	size_t			i;

	/*
	 * The time depends on the real key's length only, never on where a
	 * presented key first differs.
	 */
	d = givenlen != keylen;
	for (i = 0; i < keylen; i++)
		d |= (unsigned char)(i < givenlen ? given[i] : 0) ^
		    (unsigned char)key[i];
	return keylen > 0 && d == 0;
}

const char *
httpd_presented_key(const char *x_api_key, const char *authorization)
{
	if (x_api_key != NULL)
		return x_api_key;
	if (authorization != NULL &&
	    strncasecmp(authorization, "Bearer ", 7) == 0) {
		authorization += 7;
		while (*authorization == ' ')
			authorization++;
		return authorization;
	}
	return NULL;
}

/* Does one pattern match the path?  Writes the {id} on success. */
static bool
httpd_pattern_match(const char *pat, const char *path, int64_t *ret_id)
{
	int64_t		id = 0;
	const char	*end;
	char		num[24];
	size_t		len;

	while (*pat != '\0') {
		if (strncmp(pat, "{id}", 4) == 0) {
			len = strcspn(path, "/");
			if (len == 0 || len >= sizeof num)
				return false;
			memcpy(num, path, len);
			num[len] = '\0';
			if (num[0] == '0' || strspn(num, "0123456789") != len ||
			    util_parse_i64(num, 1, INT64_MAX, &id) < 0)
				return false;
			pat += 4;
			path += len;
			continue;
		}
		end = strchr(pat, '{');
		len = end != NULL ? (size_t)(end - pat) : strlen(pat);
		if (strncmp(pat, path, len) != 0)
			return false;
		pat += len;
		path += len;
	}
	if (*path != '\0')
		return false;
	*ret_id = id;
	return true;
}

int
httpd_match(const struct httpd_route *routes, enum httpd_method method,
    const char *path, size_t *ret_index, int64_t *ret_id)
{
	size_t	i;
	int64_t	id;
	bool	path_known = false;

	for (i = 0; routes[i].pattern != NULL; i++) {
		if (!httpd_pattern_match(routes[i].pattern, path, &id))
			continue;
		if (routes[i].method != method) {
			path_known = true;
			continue;
		}
		*ret_index = i;
		*ret_id = id;
		return 0;
	}
	return path_known ? -EPERM : -ENOENT;
}

static const char *
httpd_reason(int status)
{
	switch (status) {
	case 400: return "invalid_request";
	case 401: return "unauthorized";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 409: return "conflict";
	case 413: return "payload_too_large";
	case 415: return "unsupported_media_type";
	case 503: return "unavailable";
	default: return status >= 500 ? "internal_error" : "error";
	}
}

/*
 * Text as a JSON string.  jansson refuses what is not UTF-8 (a query
 * parameter's name can be anything, and a message cut to its buffer can
 * end inside a character): such text is shown with '?' for each byte
 * past ASCII, so that every error still answers JSON.
 */
static json_t *
httpd_json_text(const char *s)
{
	json_t	*j;
	char	*copy, *p;

	if ((j = json_string(s)) != NULL)
		return j;
	copy = xstrdup(s);
	for (p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void
httpd_error(struct httpd_response *rs, int status, const char *field,
    const char *fmt, ...)
{
	va_list	ap;
	char	msg[HTTPD_ERR_LEN];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_decref(rs->json);
	rs->status = status;
	rs->json = json_pack("{s:s, s:o}", "error", httpd_reason(status),
	    "message", httpd_json_text(msg));
	if (field != NULL)
		json_object_set_new(rs->json, "field", httpd_json_text(field));
}

char *
httpd_query_str(const struct httpd_request *rq, const char *name)
{
	struct evkeyvalq	 q;
	const char		*v;
	char			*out = NULL;

	if (rq->query == NULL)
		return NULL;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(rq->query, &q) == 0 &&
	    (v = evhttp_find_header(&q, name)) != NULL)
		out = xstrdup(v);
	evhttp_clear_headers(&q);
	return out;
}

int
httpd_query_check(const struct httpd_request *rq, const char *const *allowed,
    struct httpd_response *rs)
{
	struct evkeyvalq	 q;
	struct evkeyval		*kv;
	size_t			 i;
	int			 r = 0;

	if (rq->query == NULL)
		return 0;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(rq->query, &q) < 0) {
		httpd_error(rs, 400, NULL, "the query string is malformed");
		return -EINVAL;
	}
	TAILQ_FOREACH(kv, &q, next) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(kv->key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			httpd_error(rs, 400, kv->key, "%s: unknown query "
			    "parameter", kv->key);
			r = -EINVAL;
			break;
		}
	}
	evhttp_clear_headers(&q);
	return r;
}

int
httpd_query_i64(const struct httpd_request *rq, const char *name,
    int64_t def, int64_t min, int64_t max, int64_t *ret,
    struct httpd_response *rs)
{
	char	*v;
	int64_t	 n;

	if ((v = httpd_query_str(rq, name)) == NULL) {
		*ret = def;
		return 0;
	}
	if (util_parse_i64(v, min, max, &n) < 0) {
		httpd_error(rs, 400, name, "%s: must be an integer from %lld "
		    "to %lld", name, (long long)min, (long long)max);
		free(v);
		return -EINVAL;
	}
	free(v);
	*ret = n;
	return 0;
}

void
httpd_stats(const struct httpd *h, struct httpd_stats *ret)
{
	*ret = h->stats;
}

/*
 * Is the presented key the API key?  A mismatch re-reads the reference
 * (rate-limited), so a key rotated in the secret store is picked up.
 */
static bool
httpd_authorized(struct httpd *h, const char *given)
{
	struct secret	*s;
	char		 err[SECRET_ERR_LEN];
	int64_t		 now = util_mono_ms();
	bool		 ok;

	if (h->key_ref[0] == '\0' || given == NULL)
		return false;
	if (h->key != NULL && httpd_key_equal(given, strlen(given),
	    secret_value(h->key), secret_len(h->key)))
		return true;
	if (h->key != NULL && now - h->key_read_at < HTTPD_KEY_REREAD_MS)
		return false;
	h->key_read_at = now;
	if (secret_resolve(h->key_ref, &s, err) < 0) {
		log_warn("api.key_unreadable", LOGF_S("error", err));
		return false;
	}
	ok = httpd_key_equal(given, strlen(given), secret_value(s),
	    secret_len(s));
	if (h->key == NULL || secret_len(s) != secret_len(h->key) ||
	    memcmp(secret_value(s), secret_value(h->key), secret_len(s)) != 0)
		log_info("api.key_loaded");
	secret_free(h->key);
	h->key = s;
	return ok;
}

static enum httpd_method
httpd_method_of(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return HTTPD_GET;
	case EVHTTP_REQ_POST:
		return HTTPD_POST;
	case EVHTTP_REQ_DELETE:
		return HTTPD_DELETE;
	default:
		return HTTPD_OTHER;
	}
}

static void
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
	if (status >= 500)
		h->stats.server_errors++;
	else if (status >= 400)
		h->stats.client_errors++;
	evhttp_send_reply(req, status, NULL, NULL);
}

static void
httpd_call_free(struct httpd_call *c)
{
	json_decref(c->rs.json);
	buf_free(&c->rs.text);
	free(c->path);
	free(c->query);
	free(c->body);
	free(c);
}

/* Hand a request to the offload; body becomes the call's. */
static void
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
	c->body = body;
	c->rq.body = body;
	buf_init(&c->rs.text, HTTPD_TEXT_MAX);
	LIST_INSERT_HEAD(&h->calls, c, link);
	h->ncalls++;
	if (h->offload(h->offload_arg, c) < 0) {
		log_warn("api.overloaded", LOGF_S("path", rq->path),
		    LOGF_I("calls_out", (int64_t)h->ncalls - 1));
		httpd_call_finish(c, -ENOBUFS);
	}
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
	} else if (c->route->after != NULL) {
		c->route->after(c->arg, &c->rq, &c->rs);
	}
	/* Sent on a closed connection, libevent only frees the request. */
	httpd_send(h, c->req, &c->rs);
	httpd_call_free(c);
}

size_t
httpd_calls_out(const struct httpd *h)
{
	return h->ncalls;
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
	char			*copy = NULL;
	size_t			 idx, len;
	int			 r;

	h->stats.requests++;
	buf_init(&rs.text, HTTPD_TEXT_MAX);
	rq.method = httpd_method_of(evhttp_request_get_command(req));
	rq.path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	rq.query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if (rq.path == NULL || *rq.path == '\0')
		rq.path = "/";
	if (strlen(rq.path) > HTTPD_PATH_MAX) {
		httpd_error(&rs, 404, NULL, "no such path");
		goto send;
	}
	r = httpd_match(h->routes, rq.method, rq.path, &idx, &rq.id);
	if (r == -ENOENT) {
		httpd_error(&rs, 404, NULL, "no such path: %s", rq.path);
		goto send;
	}
	if (r == -EPERM) {
		httpd_error(&rs, 405, NULL, "method not allowed on %s",
		    rq.path);
		goto send;
	}
	route = &h->routes[idx];
	if (route->auth && !httpd_authorized(h, httpd_presented_key(
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
	len = evbuffer_get_length(body);
	if (len > HTTPD_BODY_MAX) {
		httpd_error(&rs, 413, NULL, "the body is %zu bytes; at most "
		    "%d are accepted", len, HTTPD_BODY_MAX);
		goto send;
	}
	copy = xmalloc(len + 1);
	evbuffer_copyout(body, copy, len);
	copy[len] = '\0';
	rq.body = copy;
	rq.bodylen = len;
	if (route->offload && h->offload != NULL) {
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
	char		 serr[SECRET_ERR_LEN];
	int		 fd = -1, r;

	if ((r = httpd_listen(listen, &fd, bound, err)) < 0)
		return r;
	h = xcalloc(1, sizeof *h);
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
	*ret = h;
	return 0;
}

void
httpd_free(struct httpd *h)
{
	struct httpd_call	*c;

	if (h == NULL)
		return;
	/* Their requests go with the server: finishing only frees them. */
	LIST_FOREACH(c, &h->calls, link)
		c->h = NULL;
	if (h->http != NULL)
		evhttp_free(h->http);
	secret_free(h->key);
	free(h->key_ref);
	free(h);
}
