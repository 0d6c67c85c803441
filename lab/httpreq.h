/*
 * A bounded HTTP/1.x request-head parser, shared by the lab's HTTP server
 * and its super proxy (a CONNECT request is an ordinary head).  It is pure
 * and copies the head into the request, so it can be fuzzed alone.  The
 * lab writes its own server instead of using evhttp because evhttp in
 * libevent 2.1 ignores the body of a DELETE, and Bright Data's
 * DELETE /zone/ips carries its IPs in a JSON body.
 */
#ifndef LAB_HTTPREQ_H
#define LAB_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>

#define HTTPREQ_MAX_HEAD	8192		/* request line + headers */
#define HTTPREQ_MAX_HEADERS	48
#define HTTPREQ_MAX_BODY	(256 * 1024)
#define HTTPREQ_METHOD_MAX	16

struct httpreq_header {
	const char	*name;
	const char	*value;
};

struct httpreq {
	char			 head[HTTPREQ_MAX_HEAD + 1];
	char			 method[HTTPREQ_METHOD_MAX];
	const char		*target;	/* as sent */
	char			 path[HTTPREQ_MAX_HEAD];
	const char		*query;		/* after '?', or "" */
	int			 minor;		/* HTTP/1.minor */
	struct httpreq_header	 headers[HTTPREQ_MAX_HEADERS];
	size_t			 nheaders;
	size_t			 content_length;
	bool			 keep_alive;
	size_t			 head_len;	/* bytes consumed */
};

/*
 * Parses the head at the start of data.  Returns the head's length when it
 * is complete, -EAGAIN when more bytes are needed, -EMSGSIZE when the head
 * is over HTTPREQ_MAX_HEAD or has too many headers, -EFBIG for a body over
 * HTTPREQ_MAX_BODY, -ENOTSUP for a Transfer-Encoding, -EINVAL otherwise.
 */
int		 httpreq_parse(struct httpreq *r, const char *data, size_t len);
/* Case-insensitive lookup; NULL when absent. */
const char	*httpreq_header(const struct httpreq *r, const char *name);
/*
 * Finds key in an application/x-www-form-urlencoded query and decodes its
 * value into out.  -ENOENT when absent, -EINVAL for bad escapes,
 * -ENAMETOOLONG when it does not fit.
 */
int		 httpreq_query_get(const char *query, const char *key,
		    char *out, size_t outlen);
/* Percent-decodes (and '+' to space when form is true). */
int		 httpreq_urldecode(const char *in, size_t len, bool form,
		    char *out, size_t outlen);

#endif
