/*
 * The lab's HTTP server (see http.h).  Each connection reads into a
 * bounded buffer, answers one request at a time in order (pipelined
 * requests wait in the buffer), and stops reading while a delayed answer
 * is pending, so a slow answer holds back only its own connection.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "http.h"
#include "net.h"

#define HTTP_READ_CHUNK		16384
#define HTTP_MAX_INPUT		(HTTPREQ_MAX_HEAD + HTTPREQ_MAX_BODY + \
				    HTTP_READ_CHUNK)

struct http_conn {
	TAILQ_ENTRY(http_conn)	 entry;
	struct http		*h;
	int			 fd;
	struct event		 rev;
	struct event		 wev;
	struct event		 tev;
	struct buf		 in;
	struct buf		 out;
	char			 peer[64];
	bool			 busy;		/* a delayed answer waits */
	bool			 drop;		/* ...and it is a drop */
	bool			 close_after;
	struct httpreq		 req;
};
TAILQ_HEAD(http_conn_list, http_conn);

struct http {
	struct event_base	*base;
	int			 fd;
	struct event		 lev;
	http_handler_fn		 fn;
	void			*arg;
	struct http_conn_list	 conns;
	size_t			 nconns;
};

static void	http_conn_process(struct http_conn *c);
static void	http_conn_flush(struct http_conn *c);

static const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

void
http_response_header(struct http_response *r, const char *name,
    const char *fmt, ...)
{
	char	value[HTTP_HEADER_LINE_MAX];
	va_list	ap;

	if (r->nheaders >= HTTP_MAX_EXTRA_HEADERS)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	(void)snprintf(r->headers[r->nheaders++], HTTP_HEADER_LINE_MAX,
	    "%s: %s", name, value);
}

void
http_response_text(struct http_response *r, int status, const char *text)
{
	r->status = status;
	r->content_type = "text/html; charset=utf-8";
	buf_reset(&r->body);
	(void)buf_puts(&r->body, text);
}

void
http_response_json(struct http_response *r, int status, json_t *j)
{
	char	*s;

	r->status = status;
	r->content_type = "application/json; charset=utf-8";
	buf_reset(&r->body);
	s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
	if (s != NULL) {
		if (buf_puts(&r->body, s) != 0) {
			r->status = 500;
			buf_reset(&r->body);
		}
		free(s);
	}
	json_decref(j);
}

static void
http_conn_free(struct http_conn *c)
{
	if (c == NULL)
		return;
	event_del(&c->rev);
	event_del(&c->wev);
	event_del(&c->tev);
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	TAILQ_REMOVE(&c->h->conns, c, entry);
	c->h->nconns--;
	free(c);
}

static void
http_arm_timer(struct http_conn *c, int64_t ms)
{
	struct timeval	tv = { .tv_sec = ms / 1000,
			    .tv_usec = (ms % 1000) * 1000 };

	event_add(&c->tev, &tv);
}

/* Serializes a response into the output buffer. */
static void
http_conn_queue(struct http_conn *c, struct http_response *r)
{
	size_t	i;

	(void)buf_printf(&c->out, "HTTP/1.1 %d %s\r\n", r->status,
	    http_reason(r->status));
	if (r->content_type != NULL)
		(void)buf_printf(&c->out, "Content-Type: %s\r\n",
		    r->content_type);
	(void)buf_printf(&c->out, "Content-Length: %zu\r\n", r->body.len);
	for (i = 0; i < r->nheaders; i++)
		(void)buf_printf(&c->out, "%s\r\n", r->headers[i]);
	if (c->close_after)
		(void)buf_puts(&c->out, "Connection: close\r\n");
	(void)buf_puts(&c->out, "\r\n");
	if (r->body.len > 0)
		(void)buf_append(&c->out, r->body.data, r->body.len);
}

static void
http_conn_error(struct http_conn *c, int status, const char *text)
{
	struct http_response	r;

	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 1024);
	http_response_text(&r, status, text);
	c->close_after = true;
	http_conn_queue(c, &r);
	buf_free(&r.body);
	event_del(&c->rev);
	http_conn_flush(c);
}

static void
http_consume(struct buf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

static void
http_conn_process(struct http_conn *c)
{
	struct http_response	 r;
	size_t			 total;
	int			 rc;

	while (!c->busy && !c->close_after && c->in.len > 0) {
		rc = httpreq_parse(&c->req, c->in.data, c->in.len);
		if (rc == -EAGAIN)
			return;
		if (rc < 0) {
			log_debug("http.bad_request", LOGF_S("peer", c->peer),
			    LOGF_I("errno", -rc));
			switch (rc) {
			case -EMSGSIZE:
				http_conn_error(c, 431, "Request header fields "
				    "too large\n");
				break;
			case -EFBIG:
				http_conn_error(c, 413, "Request body too "
				    "large\n");
				break;
			case -ENOTSUP:
				http_conn_error(c, 501, "Transfer-Encoding is "
				    "not supported; send Content-Length\n");
				break;
			default:
				http_conn_error(c, 400, "Malformed HTTP "
				    "request\n");
				break;
			}
			return;
		}
		total = c->req.head_len + c->req.content_length;
		if (c->in.len < total)
			return;
		memset(&r, 0, sizeof(r));
		buf_init(&r.body, HTTP_MAX_RESPONSE);
		r.status = 500;
		c->h->fn(c->h->arg, &c->req, c->in.data + c->req.head_len,
		    c->req.content_length, c->peer, &r);
		if (!c->req.keep_alive)
			c->close_after = true;
		http_consume(&c->in, total);
		if (r.drop || r.delay_ms > 0) {
			c->busy = true;
			c->drop = r.drop;
			if (!r.drop)
				http_conn_queue(c, &r);
			buf_free(&r.body);
			event_del(&c->rev);
			http_arm_timer(c, r.delay_ms);
			return;
		}
		http_conn_queue(c, &r);
		buf_free(&r.body);
		http_conn_flush(c);
		return;		/* flush continues with pipelined requests */
	}
}

static void
http_conn_flush(struct http_conn *c)
{
	ssize_t	n;

	while (c->out.len > 0) {
		n = write(c->fd, c->out.data, c->out.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(&c->wev, NULL);
			return;
		}
		if (n <= 0) {
			http_conn_free(c);
			return;
		}
		http_consume(&c->out, (size_t)n);
	}
	event_del(&c->wev);
	if (c->close_after) {
		http_conn_free(c);
		return;
	}
	event_add(&c->rev, NULL);
	http_arm_timer(c, HTTP_IDLE_TIMEOUT_MS);
	http_conn_process(c);
}

static void
http_conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;
	char			 chunk[HTTP_READ_CHUNK];
	ssize_t			 n;

	n = read(fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		http_conn_free(c);
		return;
	}
	if (buf_append(&c->in, chunk, (size_t)n) != 0) {
		http_conn_error(c, 413, "Request too large\n");
		return;
	}
	http_arm_timer(c, HTTP_IDLE_TIMEOUT_MS);
	http_conn_process(c);
}

static void
http_conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	http_conn_flush(arg);
}

static void
http_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;

	if (!c->busy) {
		http_conn_free(c);	/* idle keep-alive connection */
		return;
	}
	c->busy = false;
	if (c->drop) {
		http_conn_free(c);
		return;
	}
	http_conn_flush(c);
}

static void
http_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct http		*h = arg;
	struct http_conn	*c;
	int			 fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("http.accept_failed",
				    LOGF_I("errno", errno));
			return;
		}
		if (h->nconns >= HTTP_MAX_CONNS) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->h = h;
		c->fd = fd;
		buf_init(&c->in, HTTP_MAX_INPUT);
		buf_init(&c->out, HTTP_MAX_RESPONSE + 4096);
		if (net_peer_ip(fd, c->peer, sizeof(c->peer)) != 0)
			(void)util_strlcpy(c->peer, "unknown", sizeof(c->peer));
		event_assign(&c->rev, h->base, fd, EV_READ | EV_PERSIST,
		    http_conn_read_cb, c);
		event_assign(&c->wev, h->base, fd, EV_WRITE | EV_PERSIST,
		    http_conn_write_cb, c);
		evtimer_assign(&c->tev, h->base, http_conn_timer_cb, c);
		TAILQ_INSERT_TAIL(&h->conns, c, entry);
		h->nconns++;
		event_add(&c->rev, NULL);
		http_arm_timer(c, HTTP_IDLE_TIMEOUT_MS);
	}
}

int
http_new(struct event_base *base, const char *addr, int port,
    http_handler_fn fn, void *arg, struct http **ret, int *ret_port)
{
	struct http	*h;
	int		 fd;

	if ((fd = net_listen(addr, port, ret_port)) < 0)
		return fd;
	h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->fd = fd;
	h->fn = fn;
	h->arg = arg;
	TAILQ_INIT(&h->conns);
	event_assign(&h->lev, base, fd, EV_READ | EV_PERSIST, http_accept_cb,
	    h);
	event_add(&h->lev, NULL);
	*ret = h;
	return 0;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	while (!TAILQ_EMPTY(&h->conns))
		http_conn_free(TAILQ_FIRST(&h->conns));
	event_del(&h->lev);
	close(h->fd);
	free(h);
}
