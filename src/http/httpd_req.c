/*
 * The HTTP front's pure half (see httpd.h): route matching, the guarded
 * prefix, the key's comparison and where a request presents it, the
 * Content-Type check, query parameters, and error bodies with the
 * client's text quoted safely.  No libevent state and no I/O: unit tests
 * and fuzz targets call them as they are; httpd.c is the loop's half.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "http/httpd.h"

bool
httpd_guarded(const struct httpd_route *routes, const char *path)
{
	const char	*p;
	size_t		 i, seg;

	/* The path's first segment, "/api" of "/api/anything". */
	if (*path != '/')
		return false;
	seg = 1 + strcspn(path + 1, "/");
	for (i = 0; routes[i].pattern != NULL; i++) {
		p = routes[i].pattern;
		if (routes[i].auth && strncmp(p, path, seg) == 0 &&
		    (p[seg] == '/' || p[seg] == '\0'))
			return true;
	}
	return false;
}

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

bool
httpd_json_type(const char *ct)
{
	static const char	 type[] = "application/json";
	const char		*p, *name, *val;
	size_t			 nlen, vlen;

	if (ct == NULL || strncasecmp(ct, type, sizeof type - 1) != 0)
		return false;
	p = ct + sizeof type - 1;
	/* *( OWS ";" OWS name "=" ( token / quoted-string ) ) OWS */
	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			return true;
		if (*p++ != ';')
			return false;
		p += strspn(p, " \t");
		name = p;
		nlen = strcspn(p, "=; \t\"");
		p += nlen;
		if (nlen == 0 || *p++ != '=')
			return false;
		if (*p == '"') {
			val = ++p;
			vlen = strcspn(p, "\"");
			if (p[vlen] != '"')
				return false;
			p += vlen + 1;
		} else {
			val = p;
			vlen = strcspn(p, "; \t\"");
			p += vlen;
			if (vlen == 0)
				return false;
		}
		if (nlen == 7 && strncasecmp(name, "charset", 7) == 0 &&
		    (vlen != 5 || strncasecmp(val, "utf-8", 5) != 0))
			return false;
	}
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
	case 417: return "expectation_failed";
	case 422: return "unprocessable";
	case 501: return "not_implemented";
	case 502: return "bad_gateway";
	case 503: return "unavailable";
	default: return status >= 500 ? "internal_error" : "error";
	}
}

/*
 * The length of the valid UTF-8 character at s (n bytes left), or 0.  As
 * strict as jansson, which refuses a string holding anything else.
 */
static size_t
httpd_utf8_char(const unsigned char *s, size_t n)
{
	uint32_t	c;
	size_t		len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)	/* a continuation byte, or an overlong pair */
		return 0;
	if (s[0] < 0xe0) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

const char *
httpd_echo(char *out, size_t outlen, const char *in, size_t max)
{
	static const char	 replacement[] = "\xef\xbf\xbd";	/* U+FFFD */
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 n = strlen(in), i = 0, o = 0, len, add;

	if (outlen < 4) {
		if (outlen > 0)
			out[0] = '\0';
		return out;
	}
	if (max > outlen - 4)
		max = outlen - 4;
	while (i < n) {
		len = httpd_utf8_char(s + i, n - i);
		add = len > 0 ? len : sizeof replacement - 1;
		if (o + add > max) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, len > 0 ? in + i : replacement, add);
		o += add;
		i += len > 0 ? len : 1;
	}
	out[o] = '\0';
	return out;
}

void
httpd_error(struct httpd_response *rs, int status, const char *field,
    const char *fmt, ...)
{
	va_list	ap;
	/*
	 * Formatted with room to spare, then cut to HTTPD_ERR_LEN by
	 * httpd_echo, so a long message ends at a character boundary
	 * rather than wherever vsnprintf stopped.
	 */
	char	raw[2 * HTTPD_ERR_LEN], msg[HTTPD_ERR_LEN],
		fieldbuf[HTTPD_ECHO_LEN];

	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	httpd_echo(msg, sizeof msg, raw, sizeof msg);
	json_decref(rs->json);
	rs->status = status;
	rs->json = json_pack("{s:s, s:s}", "error", httpd_reason(status),
	    "message", msg);
	if (rs->json != NULL && field != NULL)
		json_object_set_new(rs->json, "field", json_string(httpd_echo(
		    fieldbuf, sizeof fieldbuf, field, HTTPD_ECHO_MAX)));
}

int
httpd_query_bool(const struct httpd_request *rq, const char *name, bool def,
    bool *ret, struct httpd_response *rs)
{
	char	*v, echo[HTTPD_ECHO_LEN];
	int	 r = 0;

	if ((v = httpd_query_str(rq, name)) == NULL) {
		*ret = def;
		return 0;
	}
	if (strcmp(v, "true") == 0)
		*ret = true;
	else if (strcmp(v, "false") == 0)
		*ret = false;
	else {
		httpd_error(rs, 400, name, "%s: '%s' is not true or false",
		    name, httpd_echo(echo, sizeof echo, v, 32));
		r = -EINVAL;
	}
	free(v);
	return r;
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
	uint64_t		 seen = 0;
	size_t			 i;
	int			 r = 0;
	char			 echo[HTTPD_ECHO_LEN];

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
			    "parameter", httpd_echo(echo, sizeof echo, kv->key,
			    64));
			r = -EINVAL;
			break;
		}
		/*
		 * A parameter given twice is refused, not read as its first
		 * value: a proxy in front may read the last.
		 */
		if (i < 64 && (seen & (UINT64_C(1) << i)) != 0) {
			httpd_error(rs, 400, kv->key, "%s: given more than "
			    "once", allowed[i]);
			r = -EINVAL;
			break;
		}
		if (i < 64)
			seen |= UINT64_C(1) << i;
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
