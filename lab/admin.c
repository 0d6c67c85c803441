/*
 * The /lab/ admin API (see admin.h and docs/LAB.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "base/log.h"
#include "base/util.h"
#include "gsm.h"
#include "lab.h"
#include "state.h"
#include "superproxy.h"
#include "wa.h"
#include "webhooks.h"

static bool
admin_is(const struct httpreq *req, const char *method, const char *path)
{
	return strcmp(req->method, method) == 0 && strcmp(req->path, path) == 0;
}

static json_t *
admin_clock_json(const struct lab *lab)
{
	char	ts[UTIL_TIME_LEN];
	int64_t	now = lab_now(lab);

	util_fmt_time(now, ts);
	return json_pack("{s:s,s:I,s:f}", "now", ts, "now_ms",
	    (json_int_t)now, "speed", labclock_speed(lab->clock));
}

static void
admin_overview(struct lab *lab, struct http_response *resp)
{
	json_t		*zones, *inv, *root;
	const char	*cc;
	size_t		 i;

	zones = json_array();
	for (i = 0; i < world_nzones(lab->world); i++)
		json_array_append_new(zones, json_pack("{s:s,s:s,s:s,s:I,s:I}",
		    "name", world_zone_name(lab->world, (int)i), "type",
		    world_zone_type(lab->world, (int)i) == ZONE_ISP ? "isp" :
		    "residential", "password", world_zone_password(lab->world,
		    (int)i), "price_micro_usd", (json_int_t)world_zone_price(
		    lab->world, (int)i), "ips", (json_int_t)world_zone_count(
		    lab->world, (int)i)));
	inv = json_object();
	for (i = 0; i < world_ncountries(lab->world); i++) {
		cc = world_country_cc(lab->world, i);
		json_object_set_new(inv, cc, json_pack("{s:I,s:I}",
		    "inventory", (json_int_t)world_inventory(lab->world, cc),
		    "available", (json_int_t)world_available(lab->world, cc)));
	}
	root = json_pack("{s:{s:i,s:i,s:i},s:s,s:o,s:o,s:o,s:I,s:o}",
	    "ports", "api", lab->api_port, "proxy", lab->proxy_port, "wa",
	    lab->wa_port, "customer", lab->conf->customer, "clock",
	    admin_clock_json(lab), "zones", zones, "inventory", inv,
	    "requests", (json_int_t)lab->requests, "proxy",
	    superproxy_json(lab->proxy));
	http_response_json(resp, 200, root);
}

static void
admin_faults_add(struct lab *lab, const char *body, size_t len,
    struct http_response *resp)
{
	struct fault_rule	 r;
	json_t			*j, *arr, *ids, *v;
	char			 err[128];
	size_t			 i;
	int			 id;

	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL) {
		http_response_text(resp, 400, "Invalid JSON body\n");
		return;
	}
	/* One rule or an array of rules; all are checked before any is added. */
	if (json_is_array(j))
		arr = json_incref(j);
	else
		arr = json_pack("[O]", j);
	json_array_foreach(arr, i, v) {
		if (fault_rule_parse(v, &r, err, sizeof(err)) != 0) {
			http_response_json(resp, 400, json_pack("{s:s}",
			    "error", err));
			goto out;
		}
	}
	ids = json_array();
	json_array_foreach(arr, i, v) {
		(void)fault_rule_parse(v, &r, err, sizeof(err));
		if ((id = fault_set_add(lab->faults, &r)) < 0) {
			json_decref(ids);
			http_response_json(resp, 409, json_pack("{s:s}",
			    "error", "too many fault rules (max 64)"));
			goto out;
		}
		log_info("fault.added", LOGF_S("endpoint", r.endpoint),
		    LOGF_I("id", id));
		json_array_append_new(ids, json_integer(id));
	}
	http_response_json(resp, 200, json_pack("{s:o}", "ids", ids));
out:
	json_decref(arr);
	json_decref(j);
}

static void
admin_revoke(struct lab *lab, const char *body, size_t len,
    struct http_response *resp)
{
	json_t		*j;
	const char	*zone, *ipstr;
	uint32_t	 ip;
	size_t		 closed;
	int		 z;

	if ((j = api_body_object(body, len, resp)) == NULL)
		return;
	zone = json_string_value(json_object_get(j, "zone"));
	ipstr = json_string_value(json_object_get(j, "ip"));
	if (zone == NULL || ipstr == NULL || world_ip_parse(ipstr, &ip) != 0) {
		http_response_text(resp, 400, "zone and ip are required\n");
		goto out;
	}
	if ((z = world_zone_find(lab->world, zone)) < 0) {
		http_response_text(resp, 422, "Zone not found\n");
		goto out;
	}
	if (world_revoke(lab->world, z, ip, lab_now(lab)) != 0) {
		http_response_text(resp, 404, "IP is not allocated to this "
		    "zone\n");
		goto out;
	}
	closed = superproxy_close_ip(lab->proxy, ip);
	log_info("lab.revoked", LOGF_S("zone", zone), LOGF_S("ip", ipstr),
	    LOGF_I("tunnels_closed", closed));
	http_response_json(resp, 200, json_pack("{s:s,s:s,s:I}", "zone", zone,
	    "ip", ipstr, "tunnels_closed", (json_int_t)closed));
out:
	json_decref(j);
}

static void
admin_inventory(struct lab *lab, const char *body, size_t len,
    struct http_response *resp)
{
	json_t		*j, *v;
	const char	*cc;

	if ((j = api_body_object(body, len, resp)) == NULL)
		return;
	/* {"country": "de", "count": 5} or {"de": 5, "fr": 0} */
	if ((cc = json_string_value(json_object_get(j, "country"))) != NULL) {
		v = json_object_get(j, "count");
		if (!json_is_integer(v) || world_set_inventory(lab->world, cc,
		    json_integer_value(v)) != 0) {
			http_response_text(resp, 400, "country must be a "
			    "lower-case code and count 0..32512\n");
			goto out;
		}
	} else {
		json_object_foreach(j, cc, v) {
			if (!world_cc_valid(cc) || !json_is_integer(v) ||
			    json_integer_value(v) < 0 ||
			    json_integer_value(v) > WORLD_MAX_SLOTS) {
				http_response_text(resp, 400, "expected "
				    "{\"cc\": count, ...}\n");
				goto out;
			}
		}
		json_object_foreach(j, cc, v)
			(void)world_set_inventory(lab->world, cc,
			    json_integer_value(v));
	}
	log_info("lab.inventory_changed");
	admin_overview(lab, resp);
out:
	json_decref(j);
}

static void
admin_clock(struct lab *lab, const char *body, size_t len,
    struct http_response *resp)
{
	json_t	*j, *v;
	int64_t	 ms;

	if ((j = api_body_object(body, len, resp)) == NULL)
		return;
	if ((v = json_object_get(j, "set")) != NULL) {
		if (json_is_integer(v))
			ms = json_integer_value(v);
		else if (!json_is_string(v) ||
		    conf_parse_time(json_string_value(v), &ms) != 0) {
			http_response_text(resp, 400, "set: RFC 3339 UTC time "
			    "or epoch milliseconds\n");
			goto out;
		}
		labclock_set(lab->clock, ms, util_mono_ms());
	}
	if ((v = json_object_get(j, "advance_ms")) != NULL &&
	    (!json_is_integer(v) || labclock_advance(lab->clock,
	    json_integer_value(v), util_mono_ms()) != 0)) {
		http_response_text(resp, 400, "advance_ms: a non-negative "
		    "integer\n");
		goto out;
	}
	if ((v = json_object_get(j, "speed")) != NULL &&
	    (!json_is_number(v) || labclock_set_speed(lab->clock,
	    json_number_value(v), util_mono_ms()) != 0)) {
		http_response_text(resp, 400, "speed: a number in (0, 1e6]\n");
		goto out;
	}
	http_response_json(resp, 200, admin_clock_json(lab));
out:
	json_decref(j);
}

static void
admin_wa_phone(struct lab *lab, const char *body, size_t len,
    struct http_response *resp)
{
	enum wa_phone_state	 st;
	json_t			*j;
	const char		*phone, *state;

	if ((j = api_body_object(body, len, resp)) == NULL)
		return;
	phone = json_string_value(json_object_get(j, "phone"));
	state = json_string_value(json_object_get(j, "state"));
	if (phone == NULL || state == NULL || wa_state_parse(state, &st) != 0 ||
	    wa_set_phone(lab->wa, phone, st) != 0)
		http_response_text(resp, 400, "phone (E.164) and state "
		    "(ok|logged_out|blocked) are required\n");
	else
		http_response_json(resp, 200, wa_json(lab->wa));
	json_decref(j);
}

/* The phone scans a QR code or has a pairing code typed: wa_link. */
static void
admin_wa_link(struct lab *lab, const char *body, size_t len,
    struct http_response *resp)
{
	json_t		*j;
	const char	*phone, *qr, *code;
	int		 r;

	if ((j = api_body_object(body, len, resp)) == NULL)
		return;
	phone = json_string_value(json_object_get(j, "phone"));
	qr = json_string_value(json_object_get(j, "qr"));
	code = json_string_value(json_object_get(j, "code"));
	if (phone == NULL || (r = wa_link(lab->wa, phone, qr, code)) ==
	    -EINVAL)
		http_response_text(resp, 400, "phone (E.164) and one of qr "
		    "and code are required\n");
	else if (r == -ENOENT)
		http_response_text(resp, 404, "no device waits to be linked "
		    "to this phone\n");
	else if (r == -EACCES)
		http_response_text(resp, 403, "not the QR code or the code "
		    "the waiting device shows\n");
	else if (r < 0)
		http_response_text(resp, 500, "too many phones\n");
	else
		http_response_json(resp, 200, json_pack("{s:s,s:b}", "phone",
		    phone, "linked", 1));
	json_decref(j);
}

static void
admin_wa_ip(struct lab *lab, const char *body, size_t len,
    struct http_response *resp)
{
	json_t		*j;
	const char	*ipstr;
	uint32_t	 ip;

	if ((j = api_body_object(body, len, resp)) == NULL)
		return;
	ipstr = json_string_value(json_object_get(j, "ip"));
	if (ipstr == NULL || world_ip_parse(ipstr, &ip) != 0 ||
	    !json_is_boolean(json_object_get(j, "blocked")) ||
	    wa_set_ip_blocked(lab->wa, ip, json_is_true(json_object_get(j,
	    "blocked"))) != 0)
		http_response_text(resp, 400, "ip and blocked (true|false) "
		    "are required\n");
	else
		http_response_json(resp, 200, wa_json(lab->wa));
	json_decref(j);
}

static void
admin_save(struct lab *lab, const char *body, size_t len,
    struct http_response *resp)
{
	json_t		*j = NULL;
	const char	*path = lab->conf->state_file;
	int		 r;

	if (len > 0) {
		if ((j = api_body_object(body, len, resp)) == NULL)
			return;
		if (json_string_value(json_object_get(j, "path")) != NULL)
			path = json_string_value(json_object_get(j, "path"));
	}
	if (path[0] == '\0')
		http_response_text(resp, 400, "no path: give {\"path\": ...} "
		    "or start the lab with --state\n");
	else if ((r = state_save(lab, path)) != 0)
		http_response_json(resp, 500, json_pack("{s:s,s:s}", "error",
		    strerror(-r), "path", path));
	else
		http_response_json(resp, 200, json_pack("{s:s}", "saved",
		    path));
	json_decref(j);
}

static void
admin_gsm_add(struct lab *lab, const char *body, size_t len,
    struct http_response *resp)
{
	json_t		*j;
	const char	*name, *value;
	int		 v;

	if ((j = api_body_object(body, len, resp)) == NULL)
		return;
	name = json_string_value(json_object_get(j, "name"));
	value = json_string_value(json_object_get(j, "value"));
	if (name == NULL || value == NULL ||
	    (v = gsm_add_version(lab->gsm, name, value)) < 0)
		http_response_text(resp, 400, "name (projects/P/secrets/S) "
		    "and value are required\n");
	else
		http_response_json(resp, 200, json_pack("{s:s,s:i}", "name",
		    name, "version", v));
	json_decref(j);
}

void
admin_handle(struct lab *lab, const struct httpreq *req, const char *body,
    size_t bodylen, struct http_response *resp)
{
	if (admin_is(req, "GET", "/lab") || admin_is(req, "GET", "/lab/"))
		admin_overview(lab, resp);
	else if (admin_is(req, "GET", "/lab/ledger"))
		http_response_json(resp, 200, ledger_report(lab->ledger,
		    lab_now(lab)));
	else if (admin_is(req, "GET", "/lab/wa"))
		http_response_json(resp, 200, wa_json(lab->wa));
	else if (admin_is(req, "POST", "/lab/wa/phone"))
		admin_wa_phone(lab, body, bodylen, resp);
	else if (admin_is(req, "POST", "/lab/wa/link"))
		admin_wa_link(lab, body, bodylen, resp);
	else if (admin_is(req, "POST", "/lab/wa/ip"))
		admin_wa_ip(lab, body, bodylen, resp);
	else if (admin_is(req, "GET", "/lab/proxy"))
		http_response_json(resp, 200, superproxy_json(lab->proxy));
	else if (admin_is(req, "GET", "/lab/proxy/log"))
		http_response_json(resp, 200, json_pack("{s:o}", "connects",
		    superproxy_log_json(lab->proxy)));
	else if (admin_is(req, "GET", "/lab/faults"))
		http_response_json(resp, 200, json_pack("{s:o}", "faults",
		    fault_set_json(lab->faults)));
	else if (admin_is(req, "POST", "/lab/faults"))
		admin_faults_add(lab, body, bodylen, resp);
	else if (admin_is(req, "DELETE", "/lab/faults")) {
		fault_set_clear(lab->faults);
		http_response_json(resp, 200, json_pack("{s:[]}", "faults"));
	} else if (admin_is(req, "POST", "/lab/ips/revoke"))
		admin_revoke(lab, body, bodylen, resp);
	else if (admin_is(req, "POST", "/lab/inventory"))
		admin_inventory(lab, body, bodylen, resp);
	else if (admin_is(req, "GET", "/lab/clock"))
		http_response_json(resp, 200, admin_clock_json(lab));
	else if (admin_is(req, "POST", "/lab/clock"))
		admin_clock(lab, body, bodylen, resp);
	else if (admin_is(req, "POST", "/lab/state/save"))
		admin_save(lab, body, bodylen, resp);
	else if (admin_is(req, "GET", "/lab/gsm"))
		http_response_json(resp, 200, json_pack("{s:o}", "secrets",
		    gsm_json(lab->gsm)));
	else if (admin_is(req, "POST", "/lab/gsm/secrets"))
		admin_gsm_add(lab, body, bodylen, resp);
	else if (webhooks_owns(req->path))
		webhooks_handle(lab->webhooks, lab_now(lab), req, body,
		    bodylen, resp);
	else
		http_response_text(resp, 404, "No such lab endpoint; see "
		    "docs/LAB.md\n");
}
