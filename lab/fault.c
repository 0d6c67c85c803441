/*
 * Fault rules and decisions (see fault.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "fault.h"

#define FAULT_DEFAULT_HANG_MS	300000

struct fault_set {
	struct fault_rule	rules[FAULT_MAX_RULES];
	size_t			nrules;
};

static const char *const fault_kind_names[] = {
	[FAULT_LATENCY] = "latency",
	[FAULT_ERROR] = "error",
	[FAULT_RATE_LIMIT] = "rate_limit",
	[FAULT_HANG] = "hang",
	[FAULT_COMMIT_DROP] = "commit_drop",
	[FAULT_MALFORMED] = "malformed_json",
	[FAULT_KNOWN_IPS] = "known_ips",
	[FAULT_EXTRA_IPS] = "extra_ips",
	[FAULT_SHORT_IPS] = "short_ips",
	[FAULT_OTHER_IPS] = "other_ips",
	[FAULT_NO_COUNTRY] = "no_country",
};

/*
 * The one endpoint each answer kind falsifies.  A rule of such a kind
 * whose own endpoint pattern is wider (the default "*") is neither drawn
 * nor used up elsewhere, so that a count of 1 reaches the intended call.
 */
static const char *const fault_answer_endpoints[] = {
	[FAULT_KNOWN_IPS] = "POST /zone/ips",
	[FAULT_EXTRA_IPS] = "POST /zone/ips",
	[FAULT_SHORT_IPS] = "POST /zone/ips",
	[FAULT_OTHER_IPS] = "DELETE /zone/ips",
	[FAULT_NO_COUNTRY] = "GET /zone/ips",
};

static const char *const fault_dist_names[] = {
	[FAULT_DIST_FIXED] = "fixed",
	[FAULT_DIST_UNIFORM] = "uniform",
	[FAULT_DIST_EXP] = "exponential",
};

struct fault_set *
fault_set_new(void)
{
	return xcalloc(1, sizeof(struct fault_set));
}

void
fault_set_free(struct fault_set *fs)
{
	free(fs);
}

int
fault_set_add(struct fault_set *fs, const struct fault_rule *r)
{
	if (fs->nrules >= FAULT_MAX_RULES)
		return -ENOSPC;
	fs->rules[fs->nrules] = *r;
	return (int)fs->nrules++;
}

void
fault_set_clear(struct fault_set *fs)
{
	fs->nrules = 0;
}

static int
fault_err(char *err, size_t errlen, const char *msg)
{
	(void)util_strlcpy(err, msg, errlen);
	return -EINVAL;
}

/* An optional integer field in 0..max; def when it is absent. */
static int
fault_get_int(const json_t *j, const char *key, int64_t def, int64_t max,
    int64_t *ret)
{
	json_t	*v = json_object_get(j, key);

	if (v == NULL) {
		*ret = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max)
		return -EINVAL;
	*ret = json_integer_value(v);
	return 0;
}

static int
fault_get_ms(const json_t *j, const char *key, int64_t def, int64_t *ret)
{
	return fault_get_int(j, key, def, FAULT_MAX_DELAY_MS, ret);
}

int
fault_rule_parse(const json_t *j, struct fault_rule *r, char *err,
    size_t errlen)
{
	struct fault_rule	 n;
	const char		*s;
	json_t			*v, *e;
	size_t			 i, k;

	memset(&n, 0, sizeof(n));
	if (!json_is_object(j))
		return fault_err(err, errlen, "fault must be a JSON object");
	v = json_object_get(j, "endpoint");
	s = v != NULL ? json_string_value(v) : "*";
	if (s == NULL || s[0] == '\0' ||
	    util_strlcpy(n.endpoint, s, sizeof(n.endpoint)) != 0)
		return fault_err(err, errlen, "bad \"endpoint\"");
	if ((s = json_string_value(json_object_get(j, "kind"))) == NULL)
		return fault_err(err, errlen, "missing \"kind\"");
	for (k = 0; k < nitems(fault_kind_names); k++)
		if (strcmp(s, fault_kind_names[k]) == 0)
			break;
	if (k == nitems(fault_kind_names))
		return fault_err(err, errlen, "unknown \"kind\"");
	n.kind = (enum fault_kind)k;
	n.rate = 1.0;
	if ((v = json_object_get(j, "rate")) != NULL) {
		if (!json_is_number(v) || json_number_value(v) < 0 ||
		    json_number_value(v) > 1)
			return fault_err(err, errlen, "\"rate\" must be 0..1");
		n.rate = json_number_value(v);
	}
	n.remaining = -1;
	if ((v = json_object_get(j, "count")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return fault_err(err, errlen, "\"count\" must be >= 1");
		n.remaining = json_integer_value(v);
	}
	if ((s = json_string_value(json_object_get(j, "dist"))) != NULL) {
		for (k = 0; k < nitems(fault_dist_names); k++)
			if (strcmp(s, fault_dist_names[k]) == 0)
				break;
		if (k == nitems(fault_dist_names))
			return fault_err(err, errlen, "unknown \"dist\"");
		n.dist = (enum fault_dist)k;
	}
	if (fault_get_ms(j, "ms", n.kind == FAULT_HANG ?
	    FAULT_DEFAULT_HANG_MS : 0, &n.ms) != 0 ||
	    fault_get_ms(j, "max_ms", n.ms, &n.max_ms) != 0)
		return fault_err(err, errlen, "bad \"ms\" or \"max_ms\"");
	if (n.max_ms < n.ms)
		return fault_err(err, errlen, "\"max_ms\" below \"ms\"");
	if (n.kind == FAULT_ERROR) {
		v = json_object_get(j, "statuses");
		if (v == NULL && (e = json_object_get(j, "status")) != NULL) {
			n.statuses[0] = (int)json_integer_value(e);
			n.nstatuses = 1;
		} else if (json_is_array(v)) {
			json_array_foreach(v, i, e) {
				if (n.nstatuses == FAULT_MAX_STATUSES)
					return fault_err(err, errlen,
					    "too many \"statuses\"");
				n.statuses[n.nstatuses++] =
				    (int)json_integer_value(e);
			}
		}
		if (n.nstatuses == 0)
			n.statuses[n.nstatuses++] = 500;
		for (i = 0; i < n.nstatuses; i++)
			if (n.statuses[i] < 400 || n.statuses[i] > 599)
				return fault_err(err, errlen,
				    "statuses must be 400..599");
	}
	if (n.kind == FAULT_RATE_LIMIT) {
		n.retry_after_s = 1;
		if ((v = json_object_get(j, "retry_after")) != NULL) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 86400)
				return fault_err(err, errlen,
				    "\"retry_after\" must be 0..86400");
			n.retry_after_s = json_integer_value(v);
		}
		n.retry_as_date = json_is_true(json_object_get(j,
		    "retry_as_date"));
	}
	if ((n.kind == FAULT_KNOWN_IPS || n.kind == FAULT_EXTRA_IPS) &&
	    fault_get_int(j, "extra", 1, FAULT_MAX_IPS_DELTA, &n.extra) != 0)
		return fault_err(err, errlen, "\"extra\" must be 0..1000");
	if (n.kind == FAULT_SHORT_IPS &&
	    fault_get_int(j, "fewer", 1, FAULT_MAX_IPS_DELTA, &n.fewer) != 0)
		return fault_err(err, errlen, "\"fewer\" must be 0..1000");
	*r = n;
	return 0;
}

/* A path pattern ending in '*' matches by prefix. */
static bool
fault_path_match(const char *pattern, const char *path)
{
	size_t	n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, path, n - 1) == 0;
	return strcmp(pattern, path) == 0;
}

bool
fault_endpoint_match(const char *pattern, const char *method,
    const char *path)
{
	const char	*sp;
	size_t		 mlen;

	if (strcmp(pattern, "*") == 0)
		return true;
	if ((sp = strchr(pattern, ' ')) == NULL)
		return fault_path_match(pattern, path);
	mlen = (size_t)(sp - pattern);
	if (!(mlen == 1 && pattern[0] == '*') &&
	    (strlen(method) != mlen || strncmp(pattern, method, mlen) != 0))
		return false;
	return fault_path_match(sp + 1, path);
}

const char *
fault_kind_name(enum fault_kind kind)
{
	if ((size_t)kind >= nitems(fault_kind_names))
		return "unknown";
	return fault_kind_names[kind];
}

bool
fault_kind_applies(enum fault_kind kind, const char *method,
    const char *path)
{
	const char	*ep;

	if ((size_t)kind >= nitems(fault_answer_endpoints) ||
	    (ep = fault_answer_endpoints[kind]) == NULL)
		return true;
	return fault_endpoint_match(ep, method, path);
}

static int64_t
fault_delay(const struct fault_rule *r, double v)
{
	double	d;

	switch (r->dist) {
	case FAULT_DIST_UNIFORM:
		return r->ms + (int64_t)((double)(r->max_ms - r->ms) * v);
	case FAULT_DIST_EXP:
		d = -(double)r->ms * log(1.0 - v);
		if (r->max_ms > r->ms && d > (double)r->max_ms)
			d = (double)r->max_ms;
		return (int64_t)d;
	case FAULT_DIST_FIXED:
	default:
		return r->ms;
	}
}

bool
fault_rule_apply(struct fault_rule *r, double u, double v,
    struct fault_decision *d)
{
	size_t	i;

	if (r->remaining == 0 || u >= r->rate)
		return false;
	if (r->remaining > 0)
		r->remaining--;
	r->fired++;
	switch (r->kind) {
	case FAULT_LATENCY:
		d->delay_ms += fault_delay(r, v);
		break;
	case FAULT_ERROR:
		if (d->status == 0) {
			i = (size_t)(v * (double)r->nstatuses);
			d->status = r->statuses[i < r->nstatuses ? i :
			    r->nstatuses - 1];
		}
		break;
	case FAULT_RATE_LIMIT:
		if (d->status == 0) {
			d->status = 429;
			d->retry_after_s = r->retry_after_s;
			d->retry_as_date = r->retry_as_date;
		}
		break;
	case FAULT_HANG:
		d->hang = true;
		d->hang_ms = r->ms;
		break;
	case FAULT_COMMIT_DROP:
		d->commit_drop = true;
		break;
	case FAULT_MALFORMED:
		d->malformed = true;
		break;
	case FAULT_KNOWN_IPS:
	case FAULT_EXTRA_IPS:
	case FAULT_SHORT_IPS:
	case FAULT_OTHER_IPS:
	case FAULT_NO_COUNTRY:
		/* An answer can only be falsified one way at a time. */
		if (!d->answer) {
			d->answer = true;
			d->answer_kind = r->kind;
			d->extra = r->extra;
			d->fewer = r->fewer;
		}
		break;
	}
	return true;
}

void
fault_decide(struct fault_set *fs, const char *method, const char *path,
    struct rng *rng, struct fault_decision *d)
{
	struct fault_rule	*r;
	double			 u, v;
	size_t			 i;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < fs->nrules; i++) {
		r = &fs->rules[i];
		if (r->remaining == 0 ||
		    !fault_endpoint_match(r->endpoint, method, path) ||
		    !fault_kind_applies(r->kind, method, path))
			continue;
		u = rng_unit(rng);
		v = rng_unit(rng);
		(void)fault_rule_apply(r, u, v, d);
	}
}

json_t *
fault_set_json(const struct fault_set *fs)
{
	const struct fault_rule	*r;
	json_t			*arr, *o, *st;
	size_t			 i, k;

	arr = json_array();
	for (i = 0; i < fs->nrules; i++) {
		r = &fs->rules[i];
		o = json_object();
		json_object_set_new(o, "id", json_integer((json_int_t)i));
		json_object_set_new(o, "endpoint", json_string(r->endpoint));
		json_object_set_new(o, "kind",
		    json_string(fault_kind_names[r->kind]));
		json_object_set_new(o, "rate", json_real(r->rate));
		json_object_set_new(o, "remaining", json_integer(r->remaining));
		json_object_set_new(o, "fired", json_integer(r->fired));
		if (r->kind == FAULT_LATENCY || r->kind == FAULT_HANG) {
			json_object_set_new(o, "dist",
			    json_string(fault_dist_names[r->dist]));
			json_object_set_new(o, "ms", json_integer(r->ms));
			json_object_set_new(o, "max_ms",
			    json_integer(r->max_ms));
		}
		if (r->kind == FAULT_ERROR) {
			st = json_array();
			for (k = 0; k < r->nstatuses; k++)
				json_array_append_new(st,
				    json_integer(r->statuses[k]));
			json_object_set_new(o, "statuses", st);
		}
		if (r->kind == FAULT_RATE_LIMIT) {
			json_object_set_new(o, "retry_after",
			    json_integer(r->retry_after_s));
			json_object_set_new(o, "retry_as_date",
			    json_boolean(r->retry_as_date));
		}
		if (r->kind == FAULT_KNOWN_IPS || r->kind == FAULT_EXTRA_IPS)
			json_object_set_new(o, "extra", json_integer(r->extra));
		if (r->kind == FAULT_SHORT_IPS)
			json_object_set_new(o, "fewer", json_integer(r->fewer));
		json_array_append_new(arr, o);
	}
	return arr;
}
