/*
 * Fuzz target for what the HTTP API reads from a request before any
 * handler acts on it: the body of POST /api/sessions (api_sessions_parse,
 * which runs api_session_fields on the parsed object), query strings
 * (httpd_query_check, httpd_query_i64, httpd_query_str), the path
 * against route patterns (httpd_match, over httpd_pattern_match) and the
 * API key a request presents (httpd_presented_key, httpd_key_equal).
 *
 * Besides memory errors it checks their promises.  A session body is
 * taken whole or refused: taken, every field is valid (user id, E.164
 * phone, lower-case country, priority in range, known proxy type and
 * desired state), equal to the body's, defaults where the body is
 * silent, and the response untouched; written back as a body it parses to
 * the same session.  Refused, it is -EINVAL, the session untouched and a
 * 400 whose JSON names the error, and a field when it says one.  A query
 * integer is its default when absent, else the parameter's value within
 * its range, or a 400 naming the parameter with the output untouched; a
 * query that passes the check names no other parameter, and none twice.
 * A route matches only its own pattern, with the {id} a positive number
 * written as the path writes it, and answers 405 (-EPERM) only for a path
 * some route takes with another method; the outputs are written only on a
 * match.
 * The key comparison says equal exactly for equal non-empty keys.
 *
 * The body of POST /api/sessions/batch is taken whole or refused with a
 * 400; each of its items is judged as that item alone would be.
 *
 * The body of POST /api/import is read as a Firestore export, as {"rows":
 * [...]} or as {"text": ..., "format": ...}, or refused with a 400 and
 * nothing returned; read as rows, there is one row per element, each
 * named by its index, and every row is either refused with a reason or a
 * session with a phone.
 *
 * Input layout: byte 0 picks the reader (mod 4), byte 1 a method (for a
 * body, mod 3: one session, a batch, an import); the rest is the body, the
 * query, "PATTERN\nPATH" or "KEY\nPRESENTED".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "base/util.h"
#include "base/validate.h"
#include "http/api.h"
#include "http/httpd.h"
#include "store/import_parse.h"
#include "store/store.h"
#include "fuzz.h"

#define POISON	0x5a

/* A refusal: a 400 with an "error", a "message" and maybe a "field". */
static void
check_400(const struct httpd_response *rs, const char *field)
{
	json_t	*f;

	FUZZ_CHECK(rs->status == 400);
	FUZZ_CHECK(json_is_object(rs->json));
	FUZZ_CHECK(strcmp(json_string_value(json_object_get(rs->json,
	    "error")) ?: "", "invalid_request") == 0);
	FUZZ_CHECK(json_string_length(json_object_get(rs->json,
	    "message")) > 0);
	f = json_object_get(rs->json, "field");
	FUZZ_CHECK(f == NULL || json_is_string(f));
	if (field != NULL)
		FUZZ_CHECK(f != NULL &&
		    strcmp(json_string_value(f), field) == 0);
}

static void
response_done(struct httpd_response *rs)
{
	json_decref(rs->json);
	memset(rs, 0, sizeof *rs);
}

static const char *
str_field(json_t *o, const char *key, const char *def)
{
	json_t	*v = json_object_get(o, key);

	return v != NULL ? json_string_value(v) : def;
}

static void
fuzz_session(const char *body, size_t len)
{
	struct session_new	 n, poison, again;
	struct httpd_response	 rs = { 0 };
	char			 cc[COUNTRY_CODE_LEN], *back;
	const char		*why;
	json_t			*o;
	int			 r;

	memset(&poison, POISON, sizeof poison);
	n = poison;
	r = api_sessions_parse(body, len, &n, &rs);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL);
		FUZZ_CHECK(memcmp(&n, &poison, sizeof n) == 0);
		check_400(&rs, NULL);
		response_done(&rs);
		return;
	}
	FUZZ_CHECK(r == 0 && rs.status == 0 && rs.json == NULL);
	FUZZ_CHECK(validate_user_id(n.user_id, &why) == 0);
	FUZZ_CHECK(validate_phone(n.phone, &why) == 0);
	FUZZ_CHECK(validate_country(n.country, cc, &why) == 0 &&
	    strcmp(cc, n.country) == 0);
	FUZZ_CHECK(n.priority >= -1000000 && n.priority <= 1000000);
	FUZZ_CHECK(n.proxy_type == PROXY_TYPE_ISP ||
	    n.proxy_type == PROXY_TYPE_RESIDENTIAL);
	FUZZ_CHECK(n.desired == SESSION_DESIRED_RUNNING ||
	    n.desired == SESSION_DESIRED_STOPPED);

	/* The session is the body's, with defaults where it is silent. */
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(o));
	FUZZ_CHECK(strcmp(str_field(o, "userId", ""), n.user_id) == 0);
	FUZZ_CHECK(strcmp(str_field(o, "phoneNumber", ""), n.phone) == 0);
	FUZZ_CHECK(strcasecmp(str_field(o, "country", ""), n.country) == 0);
	FUZZ_CHECK(n.priority == (json_object_get(o, "priority") != NULL ?
	    json_integer_value(json_object_get(o, "priority")) : 0));
	FUZZ_CHECK(strcmp(str_field(o, "proxyType", "isp"),
	    n.proxy_type == PROXY_TYPE_ISP ? "isp" : "residential") == 0);
	FUZZ_CHECK(strcmp(str_field(o, "desiredState", "running"),
	    n.desired == SESSION_DESIRED_RUNNING ? "running" : "stopped") == 0);
	json_decref(o);

	/* Written back as a body, it is the same session. */
	o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "userId", n.user_id,
	    "phoneNumber", n.phone, "country", n.country, "priority",
	    (json_int_t)n.priority, "proxyType", n.proxy_type ==
	    PROXY_TYPE_ISP ? "isp" : "residential", "desiredState",
	    n.desired == SESSION_DESIRED_RUNNING ? "running" : "stopped");
	FUZZ_CHECK(o != NULL);
	back = json_dumps(o, JSON_COMPACT);
	FUZZ_CHECK(back != NULL);
	memset(&again, 0, sizeof again);
	FUZZ_CHECK(api_sessions_parse(back, strlen(back), &again, &rs) == 0);
	FUZZ_CHECK(strcmp(again.user_id, n.user_id) == 0 &&
	    strcmp(again.phone, n.phone) == 0 &&
	    strcmp(again.country, n.country) == 0 &&
	    again.priority == n.priority &&
	    again.proxy_type == n.proxy_type && again.desired == n.desired);
	free(back);
	json_decref(o);
}

/*
 * The body of POST /api/sessions/batch: taken, it is 1 to API_BATCH_MAX
 * items, as many as the body's list, each judged as POST /api/sessions
 * judges that item alone (the same session, or refused with a message);
 * refused, a 400 and no items.
 */
static void
fuzz_batch(const char *body, size_t len)
{
	struct api_batch_item	*v = NULL;
	struct httpd_response	 rs = { 0 }, one;
	struct session_new	 n;
	json_t			*o, *list, *it;
	char			*text;
	size_t			 count = 0, i;
	int			 r;

	r = api_sessions_batch_parse(body, len, &v, &count, &rs);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && v == NULL && count == 0);
		check_400(&rs, NULL);
		response_done(&rs);
		return;
	}
	FUZZ_CHECK(r == 0 && rs.json == NULL);
	FUZZ_CHECK(count >= 1 && count <= API_BATCH_MAX);
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	list = json_object_get(o, "sessions");
	FUZZ_CHECK(json_array_size(list) == count);
	json_array_foreach(list, i, it) {
		memset(&one, 0, sizeof one);
		memset(&n, 0, sizeof n);
		text = json_dumps(it, JSON_COMPACT | JSON_ENCODE_ANY);
		FUZZ_CHECK(text != NULL);
		r = api_sessions_parse(text, strlen(text), &n, &one);
		FUZZ_CHECK((r == 0) == (v[i].error == NULL));
		if (r == 0)
			FUZZ_CHECK(strcmp(n.user_id, v[i].n.user_id) == 0 &&
			    strcmp(n.phone, v[i].n.phone) == 0 &&
			    strcmp(n.country, v[i].n.country) == 0 &&
			    n.priority == v[i].n.priority &&
			    n.proxy_type == v[i].n.proxy_type &&
			    n.desired == v[i].n.desired);
		else
			FUZZ_CHECK(json_is_string(json_object_get(v[i].error,
			    "message")));
		response_done(&one);
		free(text);
	}
	json_decref(o);
	api_sessions_batch_free(v, count);
}

/* The body of POST /api/import. */
static void
fuzz_import(const char *body, size_t len)
{
	struct httpd_response	 rs = { 0 };
	struct import_set	*set = NULL;
	json_t			*o, *rows;
	char			 want[32];
	size_t			 i;
	int			 r;

	r = api_import_parse(body, len, PROXY_TYPE_ISP, &set, &rs);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && set == NULL);
		check_400(&rs, NULL);
		response_done(&rs);
		return;
	}
	FUZZ_CHECK(r == 0 && set != NULL && rs.json == NULL);
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(o));
	if (json_object_get(o, "text") != NULL) {
		/* A file's text: only text and format beside it. */
		FUZZ_CHECK(json_is_string(json_object_get(o, "text")));
		FUZZ_CHECK(json_object_size(o) <= 2);
	} else if ((rows = json_object_get(o, "rows")) != NULL) {
		FUZZ_CHECK(set->format == IMPORT_FORMAT_JSONL);
		FUZZ_CHECK(set->n == json_array_size(rows));
		for (i = 0; i < set->n; i++) {
			snprintf(want, sizeof want, "rows[%zu]", i);
			FUZZ_CHECK(strcmp(set->rows[i].where, want) == 0);
			FUZZ_CHECK(set->rows[i].line == 0);
		}
	} else
		FUZZ_CHECK(set->format == IMPORT_FORMAT_FIRESTORE);
	for (i = 0; i < set->n; i++)
		FUZZ_CHECK(set->rows[i].error[0] != '\0' ||
		    validate_phone(set->rows[i].s.phone, NULL) == 0);
	json_decref(o);
	import_set_free(set);
}

/* One integer parameter: its default, its value in range, or a 400. */
static void
check_i64(const struct httpd_request *rq, const char *name, int64_t def,
    int64_t min, int64_t max)
{
	struct httpd_response	 rs = { 0 };
	int64_t			 v = INT64_C(0x5a5a5a5a), want;
	char			*s;
	int			 r;

	r = httpd_query_i64(rq, name, def, min, max, &v, &rs);
	s = httpd_query_str(rq, name);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && v == INT64_C(0x5a5a5a5a));
		FUZZ_CHECK(s != NULL &&
		    util_parse_i64(s, min, max, &want) < 0);
		check_400(&rs, name);
	} else {
		FUZZ_CHECK(r == 0 && rs.json == NULL && rs.status == 0);
		if (s == NULL)
			FUZZ_CHECK(v == def);
		else
			FUZZ_CHECK(util_parse_i64(s, min, max, &want) == 0 &&
			    v == want && v >= min && v <= max);
	}
	free(s);
	response_done(&rs);
}

static void
fuzz_query(const char *query)
{
	static const char *const allowed[] = { "limit", "after", "status",
	    NULL };
	struct httpd_request	 rq = { .query = query };
	struct httpd_response	 rs = { 0 };
	struct evkeyvalq	 q;
	struct evkeyval		*kv;
	size_t			 i, n;
	char			*s;
	int			 r;

	r = httpd_query_check(&rq, allowed, &rs);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL);
		check_400(&rs, NULL);
	} else {
		FUZZ_CHECK(r == 0 && rs.json == NULL && rs.status == 0);
		s = httpd_query_str(&rq, "other");
		FUZZ_CHECK(s == NULL);
		/* Each allowed parameter at most once. */
		for (i = 0; allowed[i] != NULL; i++) {
			TAILQ_INIT(&q);
			FUZZ_CHECK(evhttp_parse_query_str(query, &q) == 0);
			n = 0;
			TAILQ_FOREACH(kv, &q, next)
				n += strcmp(kv->key, allowed[i]) == 0;
			evhttp_clear_headers(&q);
			FUZZ_CHECK(n <= 1);
		}
	}
	response_done(&rs);
	check_i64(&rq, "limit", 100, 1, 1000);
	check_i64(&rq, "after", 0, 0, INT64_MAX);
	free(httpd_query_str(&rq, "status"));
}

/*
 * Is path the pattern with each "{id}" replaced by id?  Only exact when
 * the pattern has at most one "{id}" (the route table's have).
 */
static bool
path_of(const char *pattern, int64_t id, const char *path)
{
	const char	*at = strstr(pattern, "{id}");
	char		*want;
	bool		 same;

	if (at == NULL)
		return id == 0 && strcmp(pattern, path) == 0;
	if (strstr(at + 4, "{id}") != NULL)
		return true;
	FUZZ_CHECK(asprintf(&want, "%.*s%" PRId64 "%s", (int)(at - pattern),
	    pattern, id, at + 4) > 0);
	same = id > 0 && strcmp(want, path) == 0;
	free(want);
	return same;
}

static void
check_match(const struct httpd_route *routes, enum httpd_method method,
    const char *path)
{
	size_t		 i = 12345, j;
	int64_t		 id = -1, id2;
	int		 r;

	r = httpd_match(routes, method, path, &i, &id);
	if (r == 0) {
		FUZZ_CHECK(routes[i].pattern != NULL);
		FUZZ_CHECK(routes[i].method == method);
		FUZZ_CHECK(path_of(routes[i].pattern, id, path));
		return;
	}
	FUZZ_CHECK(i == 12345 && id == -1);
	FUZZ_CHECK(r == -EPERM || r == -ENOENT);
	/* 405 exactly when another method would have matched. */
	for (j = 0; routes[j].pattern != NULL; j++) {
		if (routes[j].method == method)
			continue;
		if (httpd_match(routes, routes[j].method, path, &i, &id2) == 0)
			break;
	}
	FUZZ_CHECK((r == -EPERM) == (routes[j].pattern != NULL));
}

static void
fuzz_route(char *text, unsigned sel)
{
	static const enum httpd_method methods[] = {
		HTTPD_GET, HTTPD_POST, HTTPD_DELETE, HTTPD_OTHER,
	};
	struct httpd_route	 routes[2];
	enum httpd_method	 method = methods[sel % 4];
	char			*path, *p;

	if ((path = strchr(text, '\n')) == NULL)
		return;
	*path++ = '\0';
	/* Patterns are literal paths with "{id}" segments: no other '{'. */
	for (p = text; (p = strchr(p, '{')) != NULL; p++)
		if (strncmp(p, "{id}", 4) != 0)
			*p = '_';
	memset(routes, 0, sizeof routes);
	routes[0].method = methods[(sel / 4) % 4];
	routes[0].pattern = text;
	check_match(routes, method, path);
	check_match(api_routes, method, path);
}

static void
fuzz_key(const char *text, size_t len)
{
	const char	*nl = memchr(text, '\n', len), *k;
	size_t		 klen, glen;
	bool		 same;

	if (nl == NULL)
		return;
	klen = (size_t)(nl - text);
	glen = len - klen - 1;
	same = klen > 0 && glen == klen && memcmp(text, nl + 1, klen) == 0;
	FUZZ_CHECK(httpd_key_equal(nl + 1, glen, text, klen) == same);

	/* The presented key: x-api-key first, else a Bearer token. */
	FUZZ_CHECK(httpd_presented_key(text, nl + 1) == text);
	k = httpd_presented_key(NULL, text);
	if (strncasecmp(text, "Bearer ", 7) != 0)
		FUZZ_CHECK(k == NULL);
	else
		FUZZ_CHECK(k == text + 7 + strspn(text + 7, " "));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	if (size < 2)
		return 0;
	s = malloc(size - 1);
	FUZZ_CHECK(s != NULL);
	memcpy(s, data + 2, size - 2);
	s[size - 2] = '\0';
	switch (data[0] % 4) {
	case 0:
		/* The method byte is free here: it picks the body's route. */
		if (data[1] % 3 == 1)
			fuzz_batch(s, size - 2);
		else if (data[1] % 3 == 2)
			fuzz_import(s, size - 2);
		else
			fuzz_session(s, size - 2);
		break;
	case 1:
		fuzz_query(s);
		break;
	case 2:
		fuzz_route(s, data[1]);
		break;
	default:
		fuzz_key(s, strlen(s));
		break;
	}
	free(s);
	return 0;
}
