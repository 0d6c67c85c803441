/*
 * Bright Data account API bodies: see bdjson.h.
 */
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "provider/bdjson.h"

static int __attribute__((format(printf, 4, 5)))
bdjson_err(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

bool
bdjson_ip_valid(const char *s)
{
	unsigned char	addr[sizeof(struct in6_addr)];

	if (s == NULL || strlen(s) >= BDJSON_IP_LEN)
		return false;
	return inet_pton(AF_INET, s, addr) == 1 ||
	    inet_pton(AF_INET6, s, addr) == 1;
}

/*
 * Parse a whole answer that must be a JSON object.  Duplicate keys are
 * refused: with two "new_ips" a lenient parser picks one and the other
 * purchase is lost from view.
 */
static int
bdjson_load(const char *body, size_t len, json_t **ret, char *err,
    size_t errlen)
{
	json_error_t	 jerr;
	json_t		*j;

	if (body == NULL)
		return bdjson_err(err, errlen, -EBADMSG, "empty answer");
	if (len > BDJSON_BODY_MAX)
		return bdjson_err(err, errlen, -EMSGSIZE,
		    "answer of %zu bytes is over the %d byte limit", len,
		    BDJSON_BODY_MAX);
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return bdjson_err(err, errlen, -EBADMSG,
		    "malformed JSON at byte %d: %s", jerr.position, jerr.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return bdjson_err(err, errlen, -EBADMSG,
		    "answer is not a JSON object");
	}
	*ret = j;
	return 0;
}

/* The array under field, bounded; its length goes to *ret_n. */
static int
bdjson_array(json_t *obj, const char *field, json_t **ret, size_t *ret_n,
    char *err, size_t errlen)
{
	json_t	*a;

	if ((a = json_object_get(obj, field)) == NULL)
		return bdjson_err(err, errlen, -EBADMSG, "\"%s\" is missing",
		    field);
	if (!json_is_array(a))
		return bdjson_err(err, errlen, -EBADMSG,
		    "\"%s\" is not an array", field);
	if (json_array_size(a) > BDJSON_IPS_MAX)
		return bdjson_err(err, errlen, -E2BIG,
		    "\"%s\" has %zu entries, over the limit of %d", field,
		    json_array_size(a), BDJSON_IPS_MAX);
	*ret = a;
	*ret_n = json_array_size(a);
	return 0;
}

/* An IP string into out; the index names the entry in a message. */
static int
bdjson_ip(json_t *v, const char *field, size_t i, char out[BDJSON_IP_LEN],
    char *err, size_t errlen)
{
	const char	*s;

	if (!json_is_string(v))
		return bdjson_err(err, errlen, -EBADMSG,
		    "%s[%zu] is not a string", field, i);
	s = json_string_value(v);
	if (json_string_length(v) != strlen(s) || !bdjson_ip_valid(s))
		return bdjson_err(err, errlen, -EBADMSG,
		    "%s[%zu] is not an IP address", field, i);
	(void)util_strlcpy(out, s, BDJSON_IP_LEN);
	return 0;
}

/*
 * A geo-database country: two ASCII letters, or empty when the database
 * has none.  Any two letters are taken (lower-cased), not only the codes
 * of our table: one unusual code must not make a whole listing unreadable,
 * since the listing is what settles unknown purchases.
 */
static int
bdjson_country(json_t *v, size_t i, char out[COUNTRY_CODE_LEN], char *err,
    size_t errlen)
{
	const char	*s;
	size_t		 k;

	if (!json_is_string(v))
		return bdjson_err(err, errlen, -EBADMSG,
		    "ips[%zu].maxmind is missing or not a string", i);
	s = json_string_value(v);
	if (json_string_length(v) == 0) {
		out[0] = '\0';
		return 0;
	}
	if (json_string_length(v) != 2)
		return bdjson_err(err, errlen, -EBADMSG,
		    "ips[%zu].maxmind is not a country code", i);
	for (k = 0; k < 2; k++) {
		if (!((s[k] >= 'a' && s[k] <= 'z') ||
		    (s[k] >= 'A' && s[k] <= 'Z')))
			return bdjson_err(err, errlen, -EBADMSG,
			    "ips[%zu].maxmind is not a country code", i);
		out[k] = (char)(s[k] | 0x20);
	}
	out[2] = '\0';
	return 0;
}

int
bdjson_parse_list(const char *body, size_t len, struct bdjson_ip **ret,
    size_t *ret_n, char *err, size_t errlen)
{
	struct bdjson_ip	*ips = NULL;
	json_t			*j, *a, *e;
	size_t			 i, n;
	int			 r;

	if ((r = bdjson_load(body, len, &j, err, errlen)) != 0)
		return r;
	if ((r = bdjson_array(j, "ips", &a, &n, err, errlen)) != 0)
		goto out;
	if (n > 0)
		ips = xcalloc(n, sizeof(*ips));
	json_array_foreach(a, i, e) {
		if (!json_is_object(e)) {
			r = bdjson_err(err, errlen, -EBADMSG,
			    "ips[%zu] is not an object", i);
			goto out;
		}
		if ((r = bdjson_ip(json_object_get(e, "ip"), "ips", i,
		    ips[i].ip, err, errlen)) != 0 ||
		    (r = bdjson_country(json_object_get(e, "maxmind"), i,
		    ips[i].country, err, errlen)) != 0)
			goto out;
	}
	*ret = ips;
	*ret_n = n;
	ips = NULL;
out:
	free(ips);
	json_decref(j);
	return r;
}

int
bdjson_parse_ip_strings(const char *body, size_t len, const char *field,
    struct bdjson_ip **ret, size_t *ret_n, char *err, size_t errlen)
{
	struct bdjson_ip	*ips = NULL;
	json_t			*j, *a, *e;
	size_t			 i, n;
	int			 r;

	if ((r = bdjson_load(body, len, &j, err, errlen)) != 0)
		return r;
	if ((r = bdjson_array(j, field, &a, &n, err, errlen)) != 0)
		goto out;
	if (n > 0)
		ips = xcalloc(n, sizeof(*ips));
	json_array_foreach(a, i, e) {
		if ((r = bdjson_ip(e, field, i, ips[i].ip, err, errlen)) != 0)
			goto out;
	}
	*ret = ips;
	*ret_n = n;
	ips = NULL;
out:
	free(ips);
	json_decref(j);
	return r;
}

int
bdjson_parse_count(const char *body, size_t len, int64_t *ret, char *err,
    size_t errlen)
{
	json_t		*j, *v;
	json_int_t	 n;
	int		 r;

	if ((r = bdjson_load(body, len, &j, err, errlen)) != 0)
		return r;
	v = json_object_get(j, "count");
	if (v == NULL)
		r = bdjson_err(err, errlen, -EBADMSG, "\"count\" is missing");
	else if (!json_is_integer(v))
		r = bdjson_err(err, errlen, -EBADMSG,
		    "\"count\" is not an integer");
	else if ((n = json_integer_value(v)) < 0 || n > BDJSON_COUNT_MAX)
		r = bdjson_err(err, errlen, -EBADMSG,
		    "\"count\" %lld is out of range", (long long)n);
	else
		*ret = (int64_t)n;
	json_decref(j);
	return r;
}

void
bdjson_snippet(const char *body, size_t len, char *out, size_t size)
{
	size_t		 i, o = 0, limit;
	unsigned char	 ch;
	int		 space = 0;

	if (size == 0)
		return;
	limit = size - 1 < BDJSON_SNIPPET_MAX ? size - 1 : BDJSON_SNIPPET_MAX;
	for (i = 0; body != NULL && i < len && o < limit; i++) {
		ch = (unsigned char)body[i];
		if (ch <= ' ' || ch == 0x7f) {
			space = o > 0;
			continue;
		}
		if (space) {
			/* A blank is kept only with a byte after it. */
			if (o + 1 >= limit)
				break;
			out[o++] = ' ';
			space = 0;
		}
		out[o++] = ch < 0x80 ? (char)ch : '?';
	}
	out[o] = '\0';
}

/* A name the API takes: what bdclient checks too, repeated for safety. */
static bool
bdjson_name_ok(const char *s)
{
	return s != NULL && *s != '\0' && strlen(s) < 256;
}

/* json_dumps into a caller-owned string; jansson allocates with malloc. */
static int
bdjson_dump(json_t *j, char **ret)
{
	char	*s;

	if (j == NULL)
		return -EINVAL;
	s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	if (s == NULL)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int
bdjson_build_add(const char *customer, const char *zone, int count,
    const char *country, char **ret)
{
	json_t	*j;

	if (!bdjson_name_ok(customer) || !bdjson_name_ok(zone) || count < 1 ||
	    (country != NULL && strlen(country) != 2))
		return -EINVAL;
	j = json_pack("{s:s,s:s,s:i}", "customer", customer, "zone", zone,
	    "count", count);
	if (j != NULL && country != NULL &&
	    json_object_set_new(j, "country", json_string(country)) != 0) {
		json_decref(j);
		return -EINVAL;
	}
	return bdjson_dump(j, ret);
}

int
bdjson_build_remove(const char *zone, const char *const *ips, size_t n,
    char **ret)
{
	json_t	*j, *a;
	size_t	 i;

	if (!bdjson_name_ok(zone) || ips == NULL || n == 0 ||
	    n > BDJSON_IPS_MAX)
		return -EINVAL;
	a = json_array();
	for (i = 0; i < n; i++) {
		if (!bdjson_ip_valid(ips[i]) ||
		    json_array_append_new(a, json_string(ips[i])) != 0) {
			json_decref(a);
			return -EINVAL;
		}
	}
	j = json_pack("{s:s,s:o}", "zone", zone, "ips", a);
	return bdjson_dump(j, ret);
}

int
bdjson_build_plan(const char *country, const char *extra, char **ret)
{
	json_error_t	 jerr;
	json_t		*j;

	if (country == NULL || strlen(country) != 2)
		return -EINVAL;
	if (extra != NULL) {
		if (strlen(extra) > BDJSON_PLAN_MAX)
			return -EINVAL;
		j = json_loads(extra, JSON_REJECT_DUPLICATES, &jerr);
		if (j == NULL)
			return -EINVAL;
		if (!json_is_object(j)) {
			json_decref(j);
			return -EINVAL;
		}
	} else
		j = json_object();
	if (json_object_set_new(j, "country", json_string(country)) != 0) {
		json_decref(j);
		return -EINVAL;
	}
	return bdjson_dump(j, ret);
}
