/*
 * The Bright Data account API stand-in, after docs/LAB.md and the
 * provider's documentation: Bearer keys (401 with a plain-text body), 422
 * for an unknown zone, 400 for a missing field or a rotating zone where a
 * static one is needed.  Paths are served with and without the legacy
 * "/api" prefix.  The answer faults (fault.h) are applied here, in the
 * handlers whose answers they falsify.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "api.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "gsm.h"
#include "lab.h"

#define API_QUERY_VALUE_MAX	1024

json_t *
api_body_object(const char *body, size_t len, struct http_response *resp)
{
	json_error_t	 err;
	json_t		*j;

	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		http_response_text(resp, 400, "Invalid JSON body: expected an "
		    "object\n");
		return NULL;
	}
	return j;
}

static bool
api_authorized(const struct lab *lab, const struct httpreq *req,
    struct http_response *resp)
{
	const char	*h = httpreq_header(req, "Authorization");
	size_t		 i;

	if (h == NULL) {
		http_response_text(resp, 401, "User authentication is "
		    "required");
		return false;
	}
	if (strncmp(h, "Bearer ", 7) == 0) {
		for (i = 0; i < lab->conf->nkeys; i++)
			if (strcmp(h + 7, lab->conf->keys[i]) == 0)
				return true;
	}
	http_response_text(resp, 401, "Invalid credentials");
	return false;
}

/*
 * The zone named by the query or the body: 400 when missing, 422 when
 * unknown, 400 "Wrong zone plan" when a static zone is required and it
 * is residential.  Returns the index or -1 with resp set.
 */
static int
api_zone(struct lab *lab, const char *name, bool need_static,
    struct http_response *resp)
{
	int	z;

	if (name == NULL || name[0] == '\0') {
		http_response_text(resp, 400, "zone is required");
		return -1;
	}
	if ((z = world_zone_find(lab->world, name)) < 0) {
		http_response_text(resp, 422, "Zone not found");
		return -1;
	}
	if (need_static && world_zone_type(lab->world, z) != ZONE_ISP) {
		http_response_text(resp, 400, "Wrong zone plan");
		return -1;
	}
	return z;
}

static json_t *
api_ip_strings(const uint32_t *ips, size_t n)
{
	json_t	*arr = json_array();
	char	 s[WORLD_IPSTR_MAX];
	size_t	 i;

	for (i = 0; i < n; i++) {
		world_ip_str(ips[i], s);
		json_array_append_new(arr, json_string(s));
	}
	return arr;
}

static json_t *
api_zone_ip_strings(struct lab *lab, int z)
{
	uint32_t	*ips;
	size_t		 n;
	json_t		*arr;

	n = world_zone_count(lab->world, z);
	ips = xcalloc(n + 1, sizeof(*ips));
	n = world_zone_ips(lab->world, z, ips, n);
	arr = api_ip_strings(ips, n);
	free(ips);
	return arr;
}

static void
api_status(struct lab *lab, const char *peer, struct http_response *resp)
{
	http_response_json(resp, 200, json_pack("{s:s,s:s,s:b,s:s,s:s}",
	    "status", "active", "customer", lab->conf->customer,
	    "can_make_requests", 1, "auth_fail_reason", "", "ip", peer));
}

static void
api_active_zones(struct lab *lab, struct http_response *resp)
{
	json_t	*arr = json_array();
	size_t	 i;

	for (i = 0; i < world_nzones(lab->world); i++)
		json_array_append_new(arr, json_pack("{s:s,s:s}", "name",
		    world_zone_name(lab->world, (int)i), "type",
		    world_zone_type(lab->world, (int)i) == ZONE_ISP ? "isp" :
		    "res_rotating"));
	http_response_json(resp, 200, arr);
}

static bool
api_answer(const struct fault_decision *d, enum fault_kind kind)
{
	return d->answer && d->answer_kind == kind;
}

/*
 * Allocates up to n more IPs of cc for an extra_ips fault: all at once
 * when the stock allows, else one at a time while it lasts (the world's
 * limits may refuse what the stock would allow).  Returns how many went
 * to out.
 */
static int64_t
api_allocate_extra(struct lab *lab, int z, const char *cc, int64_t n,
    uint32_t *out)
{
	int64_t	avail, i;

	avail = world_available(lab->world, cc);
	if (n > avail)
		n = avail;
	if (n <= 0)
		return 0;
	if (world_allocate(lab->world, z, cc, (int)n, lab_now(lab), out) == n)
		return n;
	for (i = 0; i < n; i++)
		if (world_allocate(lab->world, z, cc, 1, lab_now(lab),
		    &out[i]) != 1)
			break;
	return i;
}

/*
 * The new_ips of a known_ips fault: the most recently allocated of the
 * zone's IPs from before the purchase (before[0..nbefore)), up to want of
 * them.  A stale answer most plausibly repeats the previous purchase.
 */
static json_t *
api_known_ips(const uint32_t *before, size_t nbefore, int64_t want)
{
	size_t	n = want < (int64_t)nbefore ? (size_t)want : nbefore;

	return api_ip_strings(before + (nbefore - n), n);
}

static void
api_ips_add(struct lab *lab, const char *body, size_t len,
    const struct fault_decision *d, struct http_response *resp)
{
	json_t		*j, *cnt, *named;
	const char	*customer, *zone, *cc;
	char		 first_cc[3];
	uint32_t	*ips, *before = NULL;
	int64_t		 count, take, got;
	size_t		 nbefore = 0;
	int		 z, r;

	if ((j = api_body_object(body, len, resp)) == NULL)
		return;
	customer = json_string_value(json_object_get(j, "customer"));
	zone = json_string_value(json_object_get(j, "zone"));
	cnt = json_object_get(j, "count");
	cc = json_string_value(json_object_get(j, "country"));
	if (customer == NULL || zone == NULL || cnt == NULL) {
		http_response_text(resp, 400, "customer, zone and count are "
		    "required");
		goto out;
	}
	if (strcmp(customer, lab->conf->customer) != 0) {
		http_response_text(resp, 400, "Wrong customer");
		goto out;
	}
	if ((z = api_zone(lab, zone, true, resp)) < 0)
		goto out;
	/* Some clients send the count as a string. */
	if (json_is_string(cnt)) {
		if (util_parse_i64(json_string_value(cnt), 1, API_MAX_COUNT,
		    &count) != 0)
			count = -1;
	} else
		count = json_is_integer(cnt) ? json_integer_value(cnt) : -1;
	if (count < 1 || count > API_MAX_COUNT) {
		http_response_text(resp, 400, "count must be 1..1000");
		goto out;
	}
	if (cc != NULL && !world_cc_valid(cc)) {
		http_response_text(resp, 400, "country must be a lower-case "
		    "ISO 3166-1 alpha-2 code");
		goto out;
	}
	if (api_answer(d, FAULT_KNOWN_IPS)) {
		nbefore = world_zone_count(lab->world, z);
		before = xcalloc(nbefore + 1, sizeof(*before));
		nbefore = world_zone_ips(lab->world, z, before, nbefore);
	}
	/* A short_ips provider takes fewer, possibly none at all. */
	take = count;
	if (api_answer(d, FAULT_SHORT_IPS))
		take = count > d->fewer ? count - d->fewer : 0;
	/* Room for the extra ones of an extra_ips fault too. */
	ips = xcalloc((size_t)(count + (api_answer(d, FAULT_EXTRA_IPS) ?
	    d->extra : 0)), sizeof(*ips));
	r = take > 0 ? world_allocate(lab->world, z, cc, (int)take,
	    lab_now(lab), ips) : 0;
	if (r < 0) {
		http_response_text(resp, 400, "Not enough available IPs");
		log_info("api.allocate_refused", LOGF_S("zone", zone),
		    LOGF_S("country", cc != NULL ? cc : "any"),
		    LOGF_I("count", count));
		goto done;
	}
	got = take;
	if (api_answer(d, FAULT_EXTRA_IPS)) {
		/* Without a country asked, the extras follow the first IP's. */
		if (cc == NULL && world_ip_country(lab->world, ips[0],
		    first_cc) == 0)
			cc = first_cc;
		got += api_allocate_extra(lab, z, cc, d->extra, ips + got);
	}
	log_info("api.allocated", LOGF_S("zone", zone),
	    LOGF_S("country", cc != NULL ? cc : "any"),
	    LOGF_I("count", got), LOGF_I("asked", count));
	if (nbefore > 0)
		named = api_known_ips(before, nbefore, count + d->extra);
	else
		named = api_ip_strings(ips, (size_t)got);
	http_response_json(resp, 200, json_pack("{s:o,s:o}", "ips",
	    api_zone_ip_strings(lab, z), "new_ips", named));
done:
	free(ips);
	free(before);
out:
	json_decref(j);
}

static bool
api_query_true(const char *query, const char *key)
{
	char	v[16];

	if (httpreq_query_get(query, key, v, sizeof(v)) != 0)
		return false;
	return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

static void
api_ips_list(struct lab *lab, const char *query,
    const struct fault_decision *d, struct http_response *resp)
{
	char		 zone[API_QUERY_VALUE_MAX], cc[3], s[WORLD_IPSTR_MAX];
	uint32_t	*ips;
	json_t		*arr, *map;
	size_t		 n, i;
	int		 z;

	if (httpreq_query_get(query, "zone", zone, sizeof(zone)) != 0)
		zone[0] = '\0';
	if ((z = api_zone(lab, zone, true, resp)) < 0)
		return;
	n = world_zone_count(lab->world, z);
	ips = xcalloc(n + 1, sizeof(*ips));
	n = world_zone_ips(lab->world, z, ips, n);
	if (api_query_true(query, "ip_per_country")) {
		map = json_object();
		for (i = 0; i < n; i++) {
			if (world_ip_country(lab->world, ips[i], cc) != 0)
				continue;
			json_object_set_new(map, cc, json_integer(
			    json_integer_value(json_object_get(map, cc)) + 1));
		}
		http_response_json(resp, 200, map);
	} else {
		arr = json_array();
		for (i = 0; i < n; i++) {
			if (api_answer(d, FAULT_NO_COUNTRY) ||
			    world_ip_country(lab->world, ips[i], cc) != 0)
				cc[0] = '\0';
			world_ip_str(ips[i], s);
			json_array_append_new(arr, json_pack("{s:s,s:s,s:{}}",
			    "ip", s, "maxmind", cc, "ext"));
		}
		http_response_json(resp, 200, json_pack("{s:o}", "ips", arr));
	}
	free(ips);
}

/* The "ips" array of a body into addresses; false with resp set. */
static bool
api_body_ips(const json_t *arr, uint32_t **ret, size_t *ret_n,
    struct http_response *resp)
{
	uint32_t	*ips;
	json_t		*v;
	size_t		 i;

	if (!json_is_array(arr) || json_array_size(arr) > API_MAX_LIST) {
		http_response_text(resp, 400, "ips must be an array of IPv4 "
		    "addresses");
		return false;
	}
	ips = xcalloc(json_array_size(arr) + 1, sizeof(*ips));
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) ||
		    world_ip_parse(json_string_value(v), &ips[i]) != 0) {
			free(ips);
			http_response_text(resp, 400, "ips must be an array of "
			    "IPv4 addresses");
			return false;
		}
	}
	*ret = ips;
	*ret_n = json_array_size(arr);
	return true;
}

static int
api_ip_cmp(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The answer of an other_ips fault: up to n of the zone's IPs that are not
 * among asked[0..n), which it sorts.  Nothing is released.
 */
static json_t *
api_other_ips(struct lab *lab, int z, uint32_t *asked, size_t n)
{
	uint32_t	*zone_ips;
	json_t		*arr = json_array();
	char		 s[WORLD_IPSTR_MAX];
	size_t		 nz, i;

	qsort(asked, n, sizeof(*asked), api_ip_cmp);
	nz = world_zone_count(lab->world, z);
	zone_ips = xcalloc(nz + 1, sizeof(*zone_ips));
	nz = world_zone_ips(lab->world, z, zone_ips, nz);
	for (i = 0; i < nz && json_array_size(arr) < n; i++) {
		if (bsearch(&zone_ips[i], asked, n, sizeof(*asked),
		    api_ip_cmp) != NULL)
			continue;
		world_ip_str(zone_ips[i], s);
		json_array_append_new(arr, json_string(s));
	}
	free(zone_ips);
	return arr;
}

static void
api_ips_delete(struct lab *lab, const char *body, size_t len,
    const struct fault_decision *d, struct http_response *resp)
{
	json_t		*j, *removed;
	uint32_t	*ips;
	size_t		 n, i;
	int		 z;

	if ((j = api_body_object(body, len, resp)) == NULL)
		return;
	if ((z = api_zone(lab, json_string_value(json_object_get(j, "zone")),
	    true, resp)) < 0)
		goto out;
	if (json_object_get(j, "ips") == NULL) {
		http_response_text(resp, 400, "ips is required");
		goto out;
	}
	if (!api_body_ips(json_object_get(j, "ips"), &ips, &n, resp))
		goto out;
	if (api_answer(d, FAULT_OTHER_IPS)) {
		removed = api_other_ips(lab, z, ips, n);
		free(ips);
		http_response_json(resp, 200, json_pack("{s:o}", "ips",
		    removed));
		goto out;
	}
	/* The answer lists the addresses this call released. */
	removed = json_array();
	for (i = 0; i < n; i++) {
		char s[WORLD_IPSTR_MAX];

		if (world_release(lab->world, z, ips[i], lab_now(lab)) != 0)
			continue;
		world_ip_str(ips[i], s);
		json_array_append_new(removed, json_string(s));
	}
	log_info("api.released", LOGF_S("zone", world_zone_name(lab->world,
	    z)), LOGF_I("count", json_array_size(removed)));
	free(ips);
	http_response_json(resp, 200, json_pack("{s:o}", "ips", removed));
out:
	json_decref(j);
}

static void
api_ips_refresh(struct lab *lab, const char *body, size_t len,
    struct http_response *resp)
{
	json_t		*j;
	const char	*cc;
	uint32_t	*ips, *out;
	size_t		 n;
	int		 z, r;

	if ((j = api_body_object(body, len, resp)) == NULL)
		return;
	if ((z = api_zone(lab, json_string_value(json_object_get(j, "zone")),
	    true, resp)) < 0)
		goto done;
	cc = json_string_value(json_object_get(j, "country"));
	if (cc != NULL && !world_cc_valid(cc)) {
		http_response_text(resp, 400, "country must be a lower-case "
		    "ISO 3166-1 alpha-2 code");
		goto done;
	}
	if (json_object_get(j, "ips") != NULL) {
		if (!api_body_ips(json_object_get(j, "ips"), &ips, &n, resp))
			goto done;
	} else {
		/* Without "ips", every address of the zone is replaced. */
		n = world_zone_count(lab->world, z);
		ips = xcalloc(n + 1, sizeof(*ips));
		n = world_zone_ips(lab->world, z, ips, n);
	}
	out = xcalloc(n + 1, sizeof(*out));
	r = world_refresh(lab->world, z, ips, n, cc, lab_now(lab), out);
	if (r == -ENOENT)
		http_response_text(resp, 400, "IP is not allocated to this "
		    "zone");
	else if (r < 0)
		http_response_text(resp, 400, "Not enough available IPs");
	else {
		log_info("api.refreshed", LOGF_S("zone",
		    world_zone_name(lab->world, z)), LOGF_I("count", n));
		http_response_json(resp, 200, json_pack("{s:o,s:o}", "ips",
		    api_zone_ip_strings(lab, z), "new_ips",
		    api_ip_strings(out, n)));
	}
	free(ips);
	free(out);
done:
	json_decref(j);
}

static void
api_count_available(struct lab *lab, const char *query,
    struct http_response *resp)
{
	char		 zone[API_QUERY_VALUE_MAX], plan[API_QUERY_VALUE_MAX];
	const char	*cc = NULL;
	json_t		*pj = NULL;
	int		 z;

	if (httpreq_query_get(query, "plan", plan, sizeof(plan)) == 0) {
		pj = json_loads(plan, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(pj)) {
			json_decref(pj);
			http_response_text(resp, 400, "plan must be a JSON "
			    "object");
			return;
		}
		cc = json_string_value(json_object_get(pj, "country"));
		if (cc != NULL && !world_cc_valid(cc)) {
			json_decref(pj);
			http_response_json(resp, 200, json_pack("{s:i}",
			    "count", 0));
			return;
		}
	} else if (httpreq_query_get(query, "zone", zone, sizeof(zone)) == 0) {
		if ((z = api_zone(lab, zone, true, resp)) < 0)
			return;
	} else {
		http_response_text(resp, 400, "zone or plan is required");
		return;
	}
	http_response_json(resp, 200, json_pack("{s:I}", "count",
	    (json_int_t)world_available(lab->world, cc)));
	json_decref(pj);
}

static void
api_route_ips(struct lab *lab, const char *query, struct http_response *resp)
{
	char		 zone[API_QUERY_VALUE_MAX], want[8], cc[3];
	char		 s[WORLD_IPSTR_MAX];
	uint32_t	*ips;
	json_t		*arr = NULL;
	size_t		 n, i;
	bool		 list;
	int		 z;

	if (httpreq_query_get(query, "zone", zone, sizeof(zone)) != 0)
		zone[0] = '\0';
	if ((z = api_zone(lab, zone, false, resp)) < 0)
		return;
	if (world_zone_type(lab->world, z) != ZONE_ISP) {
		http_response_text(resp, 403, "Static routes not found");
		return;
	}
	if (httpreq_query_get(query, "country", want, sizeof(want)) != 0)
		want[0] = '\0';
	list = api_query_true(query, "list_countries");
	n = world_zone_count(lab->world, z);
	ips = xcalloc(n + 1, sizeof(*ips));
	n = world_zone_ips(lab->world, z, ips, n);
	resp->status = 200;
	resp->content_type = "text/plain; charset=utf-8";
	if (list)
		arr = json_array();
	for (i = 0; i < n; i++) {
		if (world_ip_country(lab->world, ips[i], cc) != 0)
			cc[0] = '\0';
		if (want[0] != '\0' && strcmp(want, cc) != 0)
			continue;
		world_ip_str(ips[i], s);
		if (list)
			json_array_append_new(arr, json_pack("{s:s,s:s}", "ip",
			    s, "country", cc));
		else
			(void)buf_printf(&resp->body, "%s\n", s);
	}
	free(ips);
	if (list)
		http_response_json(resp, 200, arr);
}

static void
api_brightdata(struct lab *lab, const struct httpreq *req, const char *path,
    const char *body, size_t len, const char *peer,
    const struct fault_decision *d, struct http_response *resp)
{
	const char	*m = req->method;

	if (!api_authorized(lab, req, resp))
		return;
	if (strcmp(path, "/status") == 0 && strcmp(m, "GET") == 0)
		api_status(lab, peer, resp);
	else if (strcmp(path, "/zone/get_active_zones") == 0 &&
	    strcmp(m, "GET") == 0)
		api_active_zones(lab, resp);
	else if (strcmp(path, "/zone/ips") == 0 && strcmp(m, "POST") == 0)
		api_ips_add(lab, body, len, d, resp);
	else if (strcmp(path, "/zone/ips") == 0 && strcmp(m, "GET") == 0)
		api_ips_list(lab, req->query, d, resp);
	else if (strcmp(path, "/zone/ips") == 0 && strcmp(m, "DELETE") == 0)
		api_ips_delete(lab, body, len, d, resp);
	else if (strcmp(path, "/zone/ips/refresh") == 0 &&
	    strcmp(m, "POST") == 0)
		api_ips_refresh(lab, body, len, resp);
	else if ((strcmp(path, "/zone/count_available_ips") == 0 ||
	    strcmp(path, "/count_available_ips") == 0) && strcmp(m, "GET") == 0)
		api_count_available(lab, req->query, resp);
	else if (strcmp(path, "/zone/route_ips") == 0 && strcmp(m, "GET") == 0)
		api_route_ips(lab, req->query, resp);
	else
		http_response_text(resp, 404, "Not found");
}

/* Applies a 429 or error decision; true when the request is answered. */
static bool
api_fault_status(struct lab *lab, const struct fault_decision *d,
    struct http_response *resp)
{
	char		date[64];
	struct tm	tm;
	time_t		t;

	if (d->status == 0)
		return false;
	if (d->status == 429) {
		http_response_text(resp, 429, "Too many requests");
		http_response_header(resp, "x-brd-error-code", "client_10110");
		if (d->retry_as_date) {
			t = (time_t)(lab_now(lab) / 1000 + d->retry_after_s);
			(void)gmtime_r(&t, &tm);
			(void)strftime(date, sizeof(date),
			    "%a, %d %b %Y %H:%M:%S GMT", &tm);
			http_response_header(resp, "Retry-After", "%s", date);
		} else
			http_response_header(resp, "Retry-After", "%lld",
			    (long long)d->retry_after_s);
	} else
		http_response_text(resp, d->status, "Injected error");
	return true;
}

void
api_handle(void *arg, const struct httpreq *req, const char *body,
    size_t bodylen, const char *peer, struct http_response *resp)
{
	struct lab		*lab = arg;
	struct fault_decision	 d;
	const char		*path = req->path;
	size_t			 half;

	lab->requests++;
	if (strcmp(path, "/lab") == 0 || strncmp(path, "/lab/", 5) == 0) {
		admin_handle(lab, req, body, bodylen, resp);
		return;
	}
	if (strncmp(path, "/api/", 5) == 0)
		path += 4;		/* the legacy prefix */
	fault_decide(lab->faults, req->method, path, &lab->rng, &d);
	if (d.delay_ms > 0 || d.status != 0 || d.hang || d.commit_drop ||
	    d.malformed || d.answer)
		log_info("fault.injected", LOGF_S("method", req->method),
		    LOGF_S("path", path), LOGF_I("delay_ms", d.delay_ms),
		    LOGF_I("status", d.status), LOGF_B("hang", d.hang),
		    LOGF_B("commit_drop", d.commit_drop),
		    LOGF_B("malformed", d.malformed), LOGF_S("answer",
		    d.answer ? fault_kind_name(d.answer_kind) : "none"));
	resp->delay_ms = d.delay_ms;
	if (d.hang) {
		resp->delay_ms += d.hang_ms;
		resp->drop = true;
		return;
	}
	if (api_fault_status(lab, &d, resp))
		return;
	if (gsm_owns(path))
		gsm_handle(lab, req, path, resp);
	else
		api_brightdata(lab, req, path, body, bodylen, peer, &d, resp);
	if (d.commit_drop)
		resp->drop = true;
	if (d.malformed) {
		/* Cut the JSON in half: a truncated body is not valid JSON. */
		if (resp->body.len > 0) {
			half = resp->body.len / 2;
			resp->body.len = half;
			resp->body.data[half] = '\0';
		}
		(void)buf_puts(&resp->body, "\x01<");
		resp->status = 200;
		resp->content_type = "application/json; charset=utf-8";
	}
}
