/*
 * A small HTTP/1.1 server on the lab's event loop: keep-alive, bounded
 * heads and bodies (httpreq.h), a cap on connections, and responses that
 * a handler can delay or turn into a dropped connection, which is how the
 * lab injects latency, hangs and "commit then drop".
 */
#ifndef LAB_HTTP_H
#define LAB_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "base/buf.h"
#include "httpreq.h"

#define HTTP_MAX_CONNS		1024
#define HTTP_MAX_RESPONSE	(16 * 1024 * 1024)
#define HTTP_MAX_EXTRA_HEADERS	6
#define HTTP_HEADER_LINE_MAX	512
#define HTTP_IDLE_TIMEOUT_MS	60000

struct http_response {
	int		 status;
	const char	*content_type;		/* a static string */
	struct buf	 body;
	char		 headers[HTTP_MAX_EXTRA_HEADERS][HTTP_HEADER_LINE_MAX];
	size_t		 nheaders;
	int64_t		 delay_ms;		/* answer this much later */
	bool		 drop;			/* then close, answering nothing */
};

/* The handler fills resp; the request, body and peer are valid only here. */
typedef void (*http_handler_fn)(void *arg, const struct httpreq *req,
    const char *body, size_t bodylen, const char *peer,
    struct http_response *resp);

struct http;

/* Listens on addr:port (0 picks one); the bound port goes to *ret_port. */
int	http_new(struct event_base *base, const char *addr, int port,
	    http_handler_fn fn, void *arg, struct http **ret, int *ret_port);
void	http_free(struct http *h);

void	http_response_header(struct http_response *r, const char *name,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	http_response_text(struct http_response *r, int status,
	    const char *text);
/* Takes the reference to j. */
void	http_response_json(struct http_response *r, int status, json_t *j);

#endif
