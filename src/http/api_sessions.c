/*
 * The session routes of the HTTP API (see api.h): list, add, add many,
 * show, remove, start, stop and restart.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/validate.h"
#include "base/xmalloc.h"
#include "http/api_impl.h"
#include "store/session_json.h"
#include "store/store.h"

static int
api_sessions_page_cb(const struct session *s, void *arg)
{
	struct api_page	*pg = arg;

	if (s->id <= pg->after || (pg->status_set && s->status != pg->status) ||
	    (pg->country[0] != '\0' && strcmp(s->country, pg->country) != 0))
		return 0;
	if (json_array_size(pg->items) == pg->limit) {
		pg->more = true;
		return 1;	/* stop: the page is full */
	}
	json_array_append_new(pg->items, session_json_new(s));
	pg->last = s->id;
	return 0;
}

static const char *
api_sessions_state_name(int i)
{
	return store_session_status_name((enum session_status)i);
}

void
api_sessions_list(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	static const char *const allowed[] = { "limit", "after", "state",
	    "status", "country", NULL };
	struct api	*a = arg;
	struct api_page	 pg = { 0 };
	int64_t		 limit;
	int		 r, state = 0;

	if (httpd_query_check(rq, allowed, rs) < 0 ||
	    httpd_query_i64(rq, "limit", API_PAGE_DEFAULT, 1, API_PAGE_MAX,
	    &limit, rs) < 0 ||
	    httpd_query_i64(rq, "after", 0, 0, INT64_MAX, &pg.after, rs) < 0 ||
	    api_country_filter(rq, &pg, rs) < 0)
		return;
	/* ?status= is state's deprecated name (0.1). */
	if (api_state_filter(rq, "status", api_sessions_state_name,
	    SESSION_STATUS_DORMANT + 1, &state, &pg.status_set, rs) < 0)
		return;
	pg.status = (enum session_status)state;
	pg.limit = (size_t)limit;
	pg.items = json_array();
	if ((r = store_session_list(api_st(a, rq), api_sessions_page_cb, &pg)) < 0) {
		json_decref(pg.items);
		api_store_error(api_st(a, rq), rs, r);
		return;
	}
	rs->json = api_page_answer(&pg, "sessions");
}

/* The body as a JSON object, or a 400 saying why not. */
static json_t *
api_sessions_body(const char *body, size_t len, struct httpd_response *rs)
{
	json_error_t	 e;
	json_t		*o;
	char		 echo[HTTPD_ECHO_LEN];

	if (len == 0) {
		httpd_error(rs, 400, NULL, "a JSON object body is required");
		return NULL;
	}
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (o == NULL) {
		/* jansson's text may quote the offending bytes. */
		httpd_error(rs, 400, NULL, "the body is not valid JSON: %s "
		    "(line %d, column %d)", httpd_echo(echo, sizeof echo,
		    e.text, HTTPD_ECHO_MAX), e.line, e.column);
		return NULL;
	}
	if (!json_is_object(o)) {
		httpd_error(rs, 400, NULL, "the body must be a JSON object");
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * POST /api/sessions: {"userId", "phoneNumber", "country", "priority"?,
 * "proxyType"?, "desiredState"?}.  Every problem names its field.
 */
static int
api_sessions_fields(const json_t *o, struct session_new *n,
    struct httpd_response *rs)
{
	const char	*key, *why, *s;
	json_t		*v;
	char		 echo[HTTPD_ECHO_LEN];
	bool		 have_user = false, have_phone = false,
			 have_country = false;

	memset(n, 0, sizeof *n);
	n->desired = SESSION_DESIRED_RUNNING;
	json_object_foreach((json_t *)o, key, v) {
		if (strcmp(key, "priority") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) <
			    -1000000 || json_integer_value(v) > 1000000) {
				httpd_error(rs, 400, key, "priority: must be an "
				    "integer from -1000000 to 1000000");
				return -EINVAL;
			}
			n->priority = json_integer_value(v);
			continue;
		}
		if (strcmp(key, "userId") != 0 &&
		    strcmp(key, "phoneNumber") != 0 &&
		    strcmp(key, "country") != 0 &&
		    strcmp(key, "proxyType") != 0 &&
		    strcmp(key, "desiredState") != 0) {
			httpd_error(rs, 400, key, "%s: unknown field",
			    httpd_echo(echo, sizeof echo, key, 64));
			return -EINVAL;
		}
		if (!json_is_string(v)) {
			httpd_error(rs, 400, key, "%s: must be a string",
			    httpd_echo(echo, sizeof echo, key, 64));
			return -EINVAL;
		}
		s = json_string_value(v);
		if (strcmp(key, "userId") == 0) {
			if (validate_user_id(s, &why) < 0 ||
			    util_strlcpy(n->user_id, s, sizeof n->user_id) < 0) {
				httpd_error(rs, 400, key, "userId: %s", why);
				return -EINVAL;
			}
			have_user = true;
		} else if (strcmp(key, "phoneNumber") == 0) {
			if (validate_phone(s, &why) < 0 ||
			    util_strlcpy(n->phone, s, sizeof n->phone) < 0) {
				httpd_error(rs, 400, key, "phoneNumber: '%s' "
				    "%s", httpd_echo(echo, sizeof echo, s, 32),
				    why);
				return -EINVAL;
			}
			have_phone = true;
		} else if (strcmp(key, "country") == 0) {
			if (validate_country(s, n->country, &why) < 0) {
				httpd_error(rs, 400, key, "country: '%s' %s",
				    httpd_echo(echo, sizeof echo, s, 16), why);
				return -EINVAL;
			}
			have_country = true;
		} else if (strcmp(key, "proxyType") == 0) {
			if (strcmp(s, "isp") == 0)
				n->proxy_type = PROXY_TYPE_ISP;
			else if (strcmp(s, "residential") == 0)
				n->proxy_type = PROXY_TYPE_RESIDENTIAL;
			else {
				httpd_error(rs, 400, key, "proxyType: must be "
				    "isp or residential");
				return -EINVAL;
			}
		} else {
			if (strcmp(s, "running") == 0)
				n->desired = SESSION_DESIRED_RUNNING;
			else if (strcmp(s, "stopped") == 0)
				n->desired = SESSION_DESIRED_STOPPED;
			else {
				httpd_error(rs, 400, key, "desiredState: must be "
				    "running or stopped");
				return -EINVAL;
			}
		}
	}
	if (!have_user || !have_phone || !have_country) {
		key = !have_user ? "userId" : !have_phone ? "phoneNumber" :
		    "country";
		httpd_error(rs, 400, key, "%s: is required", key);
		return -EINVAL;
	}
	return 0;
}

int
api_sessions_parse(const char *body, size_t len, struct session_new *ret,
    struct httpd_response *rs)
{
	struct session_new	 n;
	json_t			*o;
	int			 r;

	if ((o = api_sessions_body(body, len, rs)) == NULL)
		return -EINVAL;
	r = api_sessions_fields(o, &n, rs);
	json_decref(o);
	if (r < 0)
		return r;
	*ret = n;
	return 0;
}

void
api_sessions_add(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api		*a = arg;
	struct session_new	 n;
	struct session		 s;
	int64_t			 id;
	int			 r;

	if (api_sessions_parse(rq->body, rq->bodylen, &n, rs) < 0)
		return;
	r = store_session_add(api_st(a, rq), &n, API_ACTOR, util_now_ms(),
	    &id);
	if (r == -EEXIST) {
		httpd_error(rs, 409, "phoneNumber", "phoneNumber: %s already "
		    "has a session", n.phone);
		return;
	}
	if (r < 0 || (r = store_session_get(api_st(a, rq), id, &s)) < 0) {
		api_store_error(api_st(a, rq), rs, r);
		return;
	}
	rs->status = 201;
	rs->json = session_json_new(&s);
}

/*
 * POST /api/sessions/batch: many sessions in one write.  Each item is
 * judged as POST /api/sessions judges its body; the valid ones are added
 * together (store_session_add_many), so a store failure adds none, and
 * each refused one is answered with its index and why.
 */
int
api_sessions_batch_parse(const char *body, size_t len,
    struct api_batch_item **ret, size_t *ret_n, struct httpd_response *rs)
{
	struct httpd_response	 one;
	struct api_batch_item	*v;
	const char		*key;
	json_t			*o, *list = NULL, *it;
	size_t			 i, n;

	if ((o = api_sessions_body(body, len, rs)) == NULL)
		return -EINVAL;
	json_object_foreach(o, key, it) {
		if (strcmp(key, "sessions") != 0) {
			char	echo[HTTPD_ECHO_LEN];

			httpd_error(rs, 400, key, "%s: unknown field",
			    httpd_echo(echo, sizeof echo, key, 64));
			json_decref(o);
			return -EINVAL;
		}
		list = it;
	}
	if (!json_is_array(list) || (n = json_array_size(list)) == 0 ||
	    n > API_BATCH_MAX) {
		httpd_error(rs, 400, "sessions", "sessions: must be a list of "
		    "1 to %d sessions%s", API_BATCH_MAX, json_is_array(list) &&
		    n > 0 ? " (send the rest in further requests)" : "");
		json_decref(o);
		return -EINVAL;
	}
	v = xcalloc(n, sizeof *v);
	json_array_foreach(list, i, it) {
		memset(&one, 0, sizeof one);
		if (!json_is_object(it))
			httpd_error(&one, 400, NULL, "a session must be a "
			    "JSON object");
		else
			(void)api_sessions_fields(it, &v[i].n, &one);
		v[i].error = one.json;
	}
	json_decref(o);
	*ret = v;
	*ret_n = n;
	return 0;
}

void
api_sessions_batch_free(struct api_batch_item *v, size_t n)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		json_decref(v[i].error);
	free(v);
}

/* A refused item of a batch: its index, the status it alone would get. */
static json_t *
api_sessions_refusal(size_t index, int status, json_t *error,
    const char *phone)
{
	json_t	*r = json_pack("{s:I, s:i}", "index", (json_int_t)index,
		    "status", status);

	if (r == NULL)
		return NULL;
	json_object_set(r, "message", json_object_get(error, "message"));
	if (json_object_get(error, "field") != NULL)
		json_object_set(r, "field", json_object_get(error, "field"));
	if (phone != NULL)
		json_object_set_new(r, "phoneNumber", json_string(phone));
	return r;
}

void
api_sessions_batch(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api		*a = arg;
	struct api_batch_item	*v = NULL;
	struct session_new	*valid;
	struct httpd_response	 dup;
	json_t			*added, *refused;
	int64_t			*ids;
	size_t			 i, k, n, nvalid = 0;
	int			 r;

	if (api_sessions_batch_parse(rq->body, rq->bodylen, &v, &n, rs) < 0)
		return;
	valid = xcalloc(n, sizeof *valid);
	ids = xcalloc(n, sizeof *ids);
	for (i = 0; i < n; i++)
		if (v[i].error == NULL)
			valid[nvalid++] = v[i].n;
	if ((r = store_session_add_many(api_st(a, rq), valid, nvalid,
	    API_ACTOR, util_now_ms(), ids)) < 0) {
		/* One write: nothing of the batch was added. */
		api_store_error(api_st(a, rq), rs, r);
		goto out;
	}
	added = json_array();
	refused = json_array();
	for (i = 0, k = 0; i < n; i++) {
		if (v[i].error != NULL) {
			json_array_append_new(refused, api_sessions_refusal(i,
			    400, v[i].error, NULL));
			continue;
		}
		if (ids[k] == 0) {
			memset(&dup, 0, sizeof dup);
			httpd_error(&dup, 409, "phoneNumber", "phoneNumber: %s "
			    "already has a session", v[i].n.phone);
			json_array_append_new(refused, api_sessions_refusal(i,
			    409, dup.json, v[i].n.phone));
			json_decref(dup.json);
		} else
			json_array_append_new(added, json_pack("{s:I, s:I, "
			    "s:s}", "index", (json_int_t)i, "id",
			    (json_int_t)ids[k], "phoneNumber", v[i].n.phone));
		k++;
	}
	rs->json = json_pack("{s:I, s:I, s:o, s:o}", "addedCount",
	    (json_int_t)json_array_size(added), "refusedCount",
	    (json_int_t)json_array_size(refused), "added", added, "refused",
	    refused);
out:
	free(ids);
	free(valid);
	api_sessions_batch_free(v, n);
}

int
api_sessions_of(struct api *a, const struct httpd_request *rq,
    struct session *s, struct httpd_response *rs)
{
	int	r;

	if ((r = store_session_get(api_st(a, rq), rq->id, s)) == -ENOENT) {
		httpd_error(rs, 404, NULL, "no session %lld",
		    (long long)rq->id);
		return r;
	}
	if (r < 0) {
		api_store_error(api_st(a, rq), rs, r);
		return r;
	}
	return 0;
}

void
api_sessions_show(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api	*a = arg;
	struct session	 s;

	if (api_sessions_of(a, rq, &s, rs) == 0)
		rs->json = session_json_new(&s);
}

void
api_sessions_delete(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api	*a = arg;
	int		 r;

	r = store_session_remove(api_st(a, rq), rq->id, API_ACTOR,
	    util_now_ms());
	if (r == -ENOENT) {
		httpd_error(rs, 404, NULL, "no session %lld",
		    (long long)rq->id);
		return;
	}
	if (r < 0) {
		api_store_error(api_st(a, rq), rs, r);
		return;
	}
	rs->status = 204;
}

/*
 * start, stop and restart answer 202 with the session as it is now; the
 * daemon is told (and a restart carried out) by api_after_restart and
 * api_after_change, on the loop.
 */
static void
api_sessions_action(struct api *a, const struct httpd_request *rq,
    struct httpd_response *rs, enum session_desired desired)
{
	struct store	*st = api_st(a, rq);
	struct session	 s;
	int		 r;

	/* start, stop and restart read nothing: a body is a mistake. */
	if (rq->bodylen > 0) {
		httpd_error(rs, 400, NULL, "this action takes no body");
		return;
	}
	if (api_sessions_of(a, rq, &s, rs) < 0)
		return;
	/*
	 * Always written, even when unchanged: starting a failed or
	 * logged-out session is how an operator says it may try again.
	 */
	if ((r = store_session_set_desired(st, s.id, desired, API_ACTOR,
	    util_now_ms())) < 0 || (r = store_session_get(st, s.id, &s)) < 0) {
		api_store_error(st, rs, r);
		return;
	}
	rs->status = 202;
	rs->json = session_json_new(&s);
}

void
api_sessions_start(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	api_sessions_action(arg, rq, rs, SESSION_DESIRED_RUNNING);
}

void
api_sessions_stop(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	api_sessions_action(arg, rq, rs, SESSION_DESIRED_STOPPED);
}
