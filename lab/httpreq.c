/*
 * The request-head parser (see httpreq.h).  It accepts CRLF or bare LF
 * line ends, rejects control bytes, obsolete line folding, conflicting
 * Content-Length values and any Transfer-Encoding (so a smuggled body can
 * never be read as a second request).
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "httpreq.h"

static bool
httpreq_is_tchar(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Length of the head including the blank line, or 0 if incomplete. */
static size_t
httpreq_head_end(const char *data, size_t len)
{
	size_t	i;

	for (i = 0; i + 1 < len; i++) {
		if (data[i] != '\n')
			continue;
		if (data[i + 1] == '\n')
			return i + 2;
		if (data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static int
httpreq_request_line(struct httpreq *r, char *line)
{
	char	*sp1, *sp2, *q, *p;

	if ((sp1 = strchr(line, ' ')) == NULL)
		return -EINVAL;
	*sp1 = '\0';
	if (sp1 == line || (size_t)(sp1 - line) >= sizeof(r->method))
		return -EINVAL;
	for (p = line; *p != '\0'; p++)
		if (!isupper((unsigned char)*p))
			return -EINVAL;
	memcpy(r->method, line, (size_t)(sp1 - line) + 1);
	r->target = sp1 + 1;
	if ((sp2 = strchr(r->target, ' ')) == NULL || sp2 == r->target)
		return -EINVAL;
	*sp2 = '\0';
	for (p = sp1 + 1; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
			return -EINVAL;
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
		r->minor = 1;
	else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
		r->minor = 0;
	else
		return -EINVAL;
	/* The path is the target up to '?'; an absolute URI is not served. */
	(void)util_strlcpy(r->path, r->target, sizeof(r->path));
	if ((q = strchr(r->path, '?')) != NULL) {
		*q = '\0';
		r->query = r->target + (q - r->path) + 1;
	} else
		r->query = "";
	return 0;
}

static int
httpreq_header_line(struct httpreq *r, char *line)
{
	char	*colon, *v, *end, *p;

	if (line[0] == ' ' || line[0] == '\t')
		return -EINVAL;		/* obsolete line folding */
	if ((colon = strchr(line, ':')) == NULL || colon == line)
		return -EINVAL;
	for (p = line; p < colon; p++)
		if (!httpreq_is_tchar((unsigned char)*p))
			return -EINVAL;
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	for (p = v; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') ||
		    (unsigned char)*p == 0x7f)
			return -EINVAL;
	if (r->nheaders >= HTTPREQ_MAX_HEADERS)
		return -EMSGSIZE;
	r->headers[r->nheaders].name = line;
	r->headers[r->nheaders].value = v;
	r->nheaders++;
	return 0;
}

int
httpreq_parse(struct httpreq *r, const char *data, size_t len)
{
	const char	*cl, *conn;
	char		*line, *nl;
	size_t		 end, i;
	int64_t		 n;
	int		 rc;
	bool		 have_cl = false;

	end = httpreq_head_end(data, len < HTTPREQ_MAX_HEAD + 3 ? len :
	    HTTPREQ_MAX_HEAD + 3);
	if (end == 0)
		return len >= HTTPREQ_MAX_HEAD ? -EMSGSIZE : -EAGAIN;
	if (end > HTTPREQ_MAX_HEAD)
		return -EMSGSIZE;
	if (memchr(data, '\0', end) != NULL)
		return -EINVAL;
	memset(r, 0, offsetof(struct httpreq, head));
	memcpy(r->head, data, end);
	r->head[end] = '\0';
	r->nheaders = 0;
	r->content_length = 0;
	line = r->head;
	for (i = 0; line != NULL && *line != '\0'; i++) {
		if ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			if (nl > line && nl[-1] == '\r')
				nl[-1] = '\0';
		}
		if (line[0] == '\0') {
			/* A blank line before the request line is tolerated. */
			if (i == 0) {
				line = nl + 1;
				i = (size_t)-1;
				continue;
			}
			break;
		}
		rc = i == 0 ? httpreq_request_line(r, line) :
		    httpreq_header_line(r, line);
		if (rc != 0)
			return rc;
		line = nl != NULL ? nl + 1 : NULL;
	}
	if (r->method[0] == '\0')
		return -EINVAL;
	for (i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].name, "Transfer-Encoding") == 0)
			return -ENOTSUP;
		if (strcasecmp(r->headers[i].name, "Content-Length") != 0)
			continue;
		cl = r->headers[i].value;
		if (cl[0] < '0' || cl[0] > '9' ||
		    util_parse_i64(cl, 0, INT64_MAX, &n) != 0)
			return -EINVAL;
		if (have_cl && (size_t)n != r->content_length)
			return -EINVAL;
		if (n > HTTPREQ_MAX_BODY)
			return -EFBIG;
		r->content_length = (size_t)n;
		have_cl = true;
	}
	conn = httpreq_header(r, "Connection");
	if (r->minor == 1)
		r->keep_alive = conn == NULL || strcasecmp(conn, "close") != 0;
	else
		r->keep_alive = conn != NULL &&
		    strcasecmp(conn, "keep-alive") == 0;
	r->head_len = end;
	return (int)end;
}

const char *
httpreq_header(const struct httpreq *r, const char *name)
{
	size_t	i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static int
httpreq_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
httpreq_urldecode(const char *in, size_t len, bool form, char *out,
    size_t outlen)
{
	size_t	i, o = 0;
	int	hi, lo;
	char	c;

	if (outlen == 0)
		return -ENAMETOOLONG;
	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '%') {
			if (i + 2 >= len || (hi = httpreq_hex(in[i + 1])) < 0 ||
			    (lo = httpreq_hex(in[i + 2])) < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			if (c == '\0')
				return -EINVAL;
			i += 2;
		} else if (c == '+' && form)
			c = ' ';
		if (o + 1 >= outlen)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int
httpreq_query_get(const char *query, const char *key, char *out,
    size_t outlen)
{
	const char	*p, *amp, *eq;
	size_t		 klen = strlen(key);

	for (p = query; p != NULL && *p != '\0'; p = amp != NULL ? amp + 1 :
	    NULL) {
		amp = strchr(p, '&');
		eq = memchr(p, '=', amp != NULL ? (size_t)(amp - p) : strlen(p));
		if (eq == NULL) {
			/* "key" alone means an empty value. */
			if ((amp != NULL ? (size_t)(amp - p) : strlen(p)) ==
			    klen && strncmp(p, key, klen) == 0)
				return httpreq_urldecode("", 0, true, out,
				    outlen);
			continue;
		}
		if ((size_t)(eq - p) != klen || strncmp(p, key, klen) != 0)
			continue;
		return httpreq_urldecode(eq + 1, amp != NULL ?
		    (size_t)(amp - eq - 1) : strlen(eq + 1), true, out, outlen);
	}
	return -ENOENT;
}
