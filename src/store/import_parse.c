/*
 * Reading an existing fleet: see import_parse.h.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "base/validate.h"
#include "base/xmalloc.h"
#include "store/import_parse.h"

#define IMPORT_MAP_SIZE		32768	/* > 2 * IMPORT_ROWS_MAX, a 2^k */
#define IMPORT_TYPED_DEPTH	32	/* nesting of typed values unwrapped */
#define IMPORT_CSV_FIELDS	8
#define IMPORT_ECHO		48	/* bytes of a bad value quoted back */
/* Times accepted: after 1970 and before the year 9999. */
#define IMPORT_TIME_MAX		253402300799999LL

_Static_assert(IMPORT_MAP_SIZE > 2 * IMPORT_ROWS_MAX, "map too small");

enum import_coll {
	COLL_PHONES,
	COLL_ASSIGNMENTS,
	COLL_RECOVERY,
	COLL_INSTANCES,
	COLL_LINE,	/* a jsonl line: the fields of any of them */
	COLL_N
};

static const char *const import_coll_names[COLL_N] = {
	[COLL_PHONES] = "whatsapp_phone_numbers",
	[COLL_ASSIGNMENTS] = "proxy_assignments",
	[COLL_RECOVERY] = "session_recovery",
	[COLL_INSTANCES] = "server_instances",
	[COLL_LINE] = "",
};

/* The fields each collection's documents have (the seed's names). */
static const char *const import_known[COLL_N][16] = {
	[COLL_PHONES] = { "userId", "phoneNumber", "country", "status",
	    "priority", "proxyType", "lastUpdated", NULL },
	[COLL_ASSIGNMENTS] = { "userId", "phoneNumber", "proxyIp", "country",
	    "requestedCountry", "fallbackUsed", "assignedAt",
	    "gracefulShutdown", "shutdownAt", NULL },
	[COLL_RECOVERY] = { "userId", "phoneNumber", "status", "instanceId",
	    "lastUpdated", NULL },
	[COLL_INSTANCES] = { "instanceId", "startedAt", "status",
	    "recoveryInProgress", "recoveryCompletedAt", "hostname", "pid",
	    NULL },
	[COLL_LINE] = { "userId", "phoneNumber", "proxyIp", "country",
	    "requestedCountry", "fallbackUsed", "assignedAt",
	    "gracefulShutdown", "shutdownAt", "status", "instanceId",
	    "lastUpdated", "priority", "proxyType", NULL },
};

/* What the documents of one phone said, before it becomes a row. */
struct import_acc {
	bool	have_assignment;
	bool	have_status;
	bool	have_type;
	char	doc_country[COUNTRY_CODE_LEN];	/* a phone document's */
	char	requested[COUNTRY_CODE_LEN];
};

struct import_ctx {
	struct import_set	*set;
	struct import_acc	*acc;		/* parallel to set->rows */
	size_t			 cap;
	uint32_t		*map;		/* phone -> row index + 1 */
	enum proxy_type		 default_type;
	bool			 full;		/* IMPORT_ROWS_MAX reached */
};

const char *
import_format_name(enum import_format f)
{
	switch (f) {
	case IMPORT_FORMAT_FIRESTORE:
		return "firestore";
	case IMPORT_FORMAT_CSV:
		return "csv";
	case IMPORT_FORMAT_JSONL:
		return "jsonl";
	default:
		return "auto";
	}
}

int
import_format_parse(const char *s, enum import_format *ret)
{
	static const enum import_format all[] = { IMPORT_FORMAT_AUTO,
	    IMPORT_FORMAT_FIRESTORE, IMPORT_FORMAT_CSV, IMPORT_FORMAT_JSONL };
	size_t	i;

	for (i = 0; i < nitems(all); i++) {
		if (strcmp(s, import_format_name(all[i])) == 0) {
			*ret = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* A value quoted back in a message: bounded, and cut at a NUL. */
static void
import_echo(const char *s, char out[IMPORT_ECHO + 4])
{
	size_t	n = strnlen(s, IMPORT_ECHO + 1);

	if (n > IMPORT_ECHO) {
		memcpy(out, s, IMPORT_ECHO);
		memcpy(out + IMPORT_ECHO, "...", 4);
	} else {
		memcpy(out, s, n);
		out[n] = '\0';
	}
}

static void
import_fail(struct import_row *row, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The first reason a row cannot be mapped is the one reported. */
static void
import_fail(struct import_row *row, const char *fmt, ...)
{
	va_list	ap;

	if (row->error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(row->error, sizeof row->error, fmt, ap);
	va_end(ap);
}

static uint32_t
import_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* A new row (where filled in), or NULL when the file has too many. */
static struct import_row *
import_row_new(struct import_ctx *c, const char *where, size_t line)
{
	struct import_set	*set = c->set;
	struct import_row	*row;

	if (set->n >= IMPORT_ROWS_MAX) {
		c->full = true;
		return NULL;
	}
	if (set->n == c->cap) {
		c->cap = c->cap == 0 ? 64 : c->cap * 2;
		set->rows = xreallocarray(set->rows, c->cap, sizeof *set->rows);
		c->acc = xreallocarray(c->acc, c->cap, sizeof *c->acc);
	}
	row = &set->rows[set->n];
	memset(row, 0, sizeof *row);
	memset(&c->acc[set->n], 0, sizeof c->acc[set->n]);
	set->n++;
	row->line = line;
	(void)util_strlcpy(row->where, where, sizeof row->where);
	row->s.desired = SESSION_DESIRED_RUNNING;
	row->s.proxy_type = c->default_type;
	return row;
}

/* The row of a (valid) phone: found, or made. */
static struct import_row *
import_row_of(struct import_ctx *c, const char *phone, const char *where,
    size_t line)
{
	struct import_row	*row;
	uint32_t		 i = import_hash(phone) & (IMPORT_MAP_SIZE - 1);

	while (c->map[i] != 0) {
		row = &c->set->rows[c->map[i] - 1];
		if (strcmp(row->s.phone, phone) == 0)
			return row;
		i = (i + 1) & (IMPORT_MAP_SIZE - 1);
	}
	if ((row = import_row_new(c, where, line)) == NULL)
		return NULL;
	(void)util_strlcpy(row->s.phone, phone, sizeof row->s.phone);
	c->map[i] = (uint32_t)c->set->n;
	return row;
}

static struct import_acc *
import_acc_of(struct import_ctx *c, const struct import_row *row)
{
	return &c->acc[row - c->set->rows];
}

/*
 * A Firestore REST value ({"stringValue": "x"}, {"mapValue": {"fields":
 * {...}}}...) as a plain JSON value: a new reference, or NULL for a shape
 * that is not one.
 */
static json_t *import_untype_fields(json_t *fields, int depth);

static json_t *
import_untype(json_t *v, int depth)
{
	const char	*key;
	json_t		*x, *arr, *out;
	size_t		 i;

	if (depth > IMPORT_TYPED_DEPTH || !json_is_object(v) ||
	    json_object_size(v) != 1)
		return NULL;
	json_object_foreach(v, key, x) {
		if (strcmp(key, "nullValue") == 0)
			return json_null();
		if (strcmp(key, "booleanValue") == 0 && json_is_boolean(x))
			return json_incref(x);
		if ((strcmp(key, "stringValue") == 0 ||
		    strcmp(key, "timestampValue") == 0 ||
		    strcmp(key, "referenceValue") == 0) && json_is_string(x))
			return json_incref(x);
		if (strcmp(key, "integerValue") == 0) {
			int64_t	n;

			if (json_is_integer(x))
				return json_incref(x);
			if (json_is_string(x) &&
			    util_parse_i64(json_string_value(x), INT64_MIN,
			    INT64_MAX, &n) == 0)
				return json_integer(n);
			return NULL;
		}
		if (strcmp(key, "doubleValue") == 0 && json_is_number(x))
			return json_incref(x);
		if (strcmp(key, "mapValue") == 0 && json_is_object(x)) {
			json_t	*f = json_object_get(x, "fields");

			return f != NULL ? import_untype_fields(f, depth + 1) :
			    json_object();
		}
		if (strcmp(key, "arrayValue") == 0 && json_is_object(x)) {
			arr = json_object_get(x, "values");
			out = json_array();
			if (arr == NULL)
				return out;
			if (!json_is_array(arr)) {
				json_decref(out);
				return NULL;
			}
			for (i = 0; i < json_array_size(arr); i++) {
				json_t	*e = import_untype(json_array_get(arr,
					    i), depth + 1);

				if (e == NULL) {
					json_decref(out);
					return NULL;
				}
				json_array_append_new(out, e);
			}
			return out;
		}
	}
	return NULL;
}

static json_t *
import_untype_fields(json_t *fields, int depth)
{
	const char	*key;
	json_t		*x, *out, *e;

	if (!json_is_object(fields))
		return NULL;
	out = json_object();
	json_object_foreach(fields, key, x) {
		if ((e = import_untype(x, depth)) == NULL) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, key, e);
	}
	return out;
}

/*
 * A document's fields as a plain object (a new reference): as they are,
 * or unwrapped from Firestore's REST form ({"name", "fields"}).  NULL: not
 * a document.
 */
static json_t *
import_doc_fields(json_t *doc)
{
	json_t	*f = json_object_get(doc, "fields");

	if (!json_is_object(doc))
		return NULL;
	if (json_is_object(f) && (json_object_get(doc, "name") != NULL ||
	    json_object_size(doc) == 1))
		return import_untype_fields(f, 0);
	return json_incref(doc);
}

/* A string field: 1 and *ret, 0 absent or null, -1 another type. */
static int
import_str(json_t *o, const char *name, const char **ret)
{
	json_t	*v = json_object_get(o, name);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*ret = json_string_value(v);
	return 1;
}

/* "2026-11-28T21:30:00.123456+00:00" into what util_parse_time_ms takes. */
static int
import_time_text(const char *s, int64_t *ret)
{
	char		 buf[64];
	const char	*dot, *end;
	size_t		 n, digits;

	n = strlen(s);
	if (n >= sizeof buf || n < 20)
		return util_parse_time_ms(s, ret);
	memcpy(buf, s, n + 1);
	if (n > 6 && strcmp(buf + n - 6, "+00:00") == 0) {
		buf[n - 6] = 'Z';
		buf[n - 5] = '\0';
		n -= 5;
	}
	/* More than three fraction digits: the milliseconds are enough. */
	if ((dot = strchr(buf, '.')) != NULL) {
		end = dot + 1;
		digits = strspn(end, "0123456789");
		if (digits > 3 && strcmp(end + digits, "Z") == 0) {
			memmove(buf + (dot - buf) + 4, end + digits, 2);
		}
	}
	return util_parse_time_ms(buf, ret);
}

/* A time field: 1 and *ret, 0 absent or null, -1 not a time. */
static int
import_time(json_t *o, const char *name, int64_t *ret)
{
	json_t		*v = json_object_get(o, name), *s, *ns, *inner;
	double		 d;
	int64_t		 t;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_object(v) && (inner = json_object_get(v, "value")) !=
	    NULL && json_is_string(json_object_get(v, "__datatype__")))
		v = inner;
	if (json_is_string(v)) {
		if (import_time_text(json_string_value(v), &t) < 0)
			return -1;
	} else if (json_is_number(v)) {
		d = json_number_value(v);
		if (!isfinite(d) || d <= 0 || d > 9e15)
			return -1;
		/* Seconds or milliseconds: a year past 5138 in seconds. */
		t = d < 1e11 ? (int64_t)(d * 1000) : (int64_t)d;
	} else if (json_is_object(v)) {
		if ((s = json_object_get(v, "_seconds")) == NULL)
			s = json_object_get(v, "seconds");
		if ((ns = json_object_get(v, "_nanoseconds")) == NULL &&
		    (ns = json_object_get(v, "nanos")) == NULL)
			ns = json_object_get(v, "nanoseconds");
		if (!json_is_integer(s) || json_integer_value(s) <= 0 ||
		    json_integer_value(s) > IMPORT_TIME_MAX / 1000 ||
		    (ns != NULL && (!json_is_integer(ns) ||
		    json_integer_value(ns) < 0 ||
		    json_integer_value(ns) > 999999999)))
			return -1;
		t = json_integer_value(s) * 1000 + (ns != NULL ?
		    json_integer_value(ns) / 1000000 : 0);
	} else
		return -1;
	if (t <= 0 || t > IMPORT_TIME_MAX)
		return -1;
	*ret = t;
	return 1;
}

/* A boolean field: 1 and *ret, 0 absent or null, -1 another type. */
static int
import_bool(json_t *o, const char *name, bool *ret)
{
	json_t	*v = json_object_get(o, name);

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_boolean(v)) {
		*ret = json_is_true(v);
		return 1;
	}
	if (json_is_string(v) && util_parse_bool(json_string_value(v),
	    ret) == 0)
		return 1;
	return -1;
}

/* What a status says of the session: running (1), stopped (0), or -1. */
static int
import_status(const char *s)
{
	static const char *const running[] = { "active", "recovering",
	    "recovered", "connected", "ready", "running", "starting",
	    "pending", "reconnecting" };
	static const char *const stopped[] = { "stopped", "inactive",
	    "disconnected", "logged_out", "loggedout", "failed", "paused",
	    "shutdown", "closed" };
	size_t	i;

	for (i = 0; i < nitems(running); i++)
		if (strcasecmp(s, running[i]) == 0)
			return 1;
	for (i = 0; i < nitems(stopped); i++)
		if (strcasecmp(s, stopped[i]) == 0)
			return 0;
	return -1;
}

/* An IP (or a static provider's key) as the store keeps it. */
static int
import_check_ip(const char *s, const char **why)
{
	size_t	i, n = strlen(s);

	if (n == 0 || n >= STORE_IP_LEN) {
		*why = "1 to 63 characters";
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) &&
		    strchr(".:-_[]", s[i]) == NULL) {
			*why = "letters, digits and . : - _ [ ] only";
			return -EINVAL;
		}
	}
	return 0;
}

static void
import_count_unknown(struct import_ctx *c, json_t *doc, enum import_coll k)
{
	const char	*key;
	json_t		*v;
	size_t		 i;

	json_object_foreach(doc, key, v) {
		for (i = 0; import_known[k][i] != NULL; i++)
			if (strcmp(key, import_known[k][i]) == 0)
				break;
		/* A nested collection is no field of this document. */
		if (import_known[k][i] == NULL &&
		    strcmp(key, "__collections__") != 0)
			c->set->fields_ignored++;
	}
	(void)v;
}

static void
import_set_user(struct import_row *row, json_t *doc)
{
	const char	*u, *why;
	char		 e[IMPORT_ECHO + 4];
	int		 r;

	if ((r = import_str(doc, "userId", &u)) < 0) {
		import_fail(row, "userId: not a string");
		return;
	}
	if (r == 0)
		return;
	if (validate_user_id(u, &why) < 0) {
		import_echo(u, e);
		import_fail(row, "bad userId '%s': %s", e, why);
		return;
	}
	if (row->s.user_id[0] != '\0' && strcmp(row->s.user_id, u) != 0) {
		import_echo(u, e);
		import_fail(row, "userId '%s' differs from '%s' of another "
		    "document of this phone", e, row->s.user_id);
		return;
	}
	(void)util_strlcpy(row->s.user_id, u, sizeof row->s.user_id);
}

/* A country field into cc: 1, 0 absent, -1 (the row failed). */
static int
import_country(struct import_row *row, json_t *doc, const char *name,
    char cc[COUNTRY_CODE_LEN])
{
	const char	*s, *why;
	char		 e[IMPORT_ECHO + 4];
	int		 r;

	if ((r = import_str(doc, name, &s)) < 0) {
		import_fail(row, "%s: not a string", name);
		return -1;
	}
	if (r == 0 || s[0] == '\0')
		return 0;
	if (validate_country(s, cc, &why) < 0) {
		import_echo(s, e);
		import_fail(row, "unknown country '%s' (%s)", e, why);
		return -1;
	}
	return 1;
}

static void
import_set_status(struct import_row *row, struct import_acc *acc,
    json_t *doc, bool overrides)
{
	const char	*s;
	char		 e[IMPORT_ECHO + 4];
	int		 r;

	if ((r = import_str(doc, "status", &s)) < 0) {
		import_fail(row, "status: not a string");
		return;
	}
	if (r == 0 || (acc->have_status && !overrides))
		return;
	if ((r = import_status(s)) < 0) {
		import_echo(s, e);
		import_fail(row, "unknown status '%s' (active, recovering, "
		    "connected... run; stopped, inactive, disconnected, "
		    "logged_out, failed... stay stopped)", e);
		return;
	}
	row->s.desired = r ? SESSION_DESIRED_RUNNING : SESSION_DESIRED_STOPPED;
	acc->have_status = true;
}

static void
import_set_time(struct import_row *row, json_t *doc, const char *name,
    int64_t *field)
{
	int64_t	t;
	int	r;

	if ((r = import_time(doc, name, &t)) < 0)
		import_fail(row, "%s: not a time (RFC 3339, seconds or "
		    "milliseconds since the epoch, or a Timestamp)", name);
	else if (r > 0)
		*field = t;
}

/*
 * A phone document's own fields: priority, proxyType and (with_country:
 * in a jsonl line "country" is the proxy's, as in a proxy assignment)
 * its country.
 */
static void
import_phone_fields(struct import_ctx *c, struct import_row *row,
    json_t *doc, bool with_country)
{
	struct import_acc	*acc = import_acc_of(c, row);
	json_t			*v;
	const char		*s;
	char			 cc[COUNTRY_CODE_LEN], e[IMPORT_ECHO + 4];
	int			 r;

	if ((v = json_object_get(doc, "priority")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < -1000000 ||
		    json_integer_value(v) > 1000000)
			import_fail(row, "priority: want an integer from "
			    "-1000000 to 1000000");
		else
			row->s.priority = json_integer_value(v);
	}
	if ((r = import_str(doc, "proxyType", &s)) < 0)
		import_fail(row, "proxyType: not a string");
	else if (r > 0) {
		if (strcmp(s, "isp") == 0)
			row->s.proxy_type = PROXY_TYPE_ISP;
		else if (strcmp(s, "residential") == 0)
			row->s.proxy_type = PROXY_TYPE_RESIDENTIAL;
		else {
			import_echo(s, e);
			import_fail(row, "proxyType '%s': want isp or "
			    "residential", e);
		}
		acc->have_type = true;
	}
	if (with_country && import_country(row, doc, "country", cc) > 0) {
		if (acc->doc_country[0] != '\0' &&
		    strcmp(acc->doc_country, cc) != 0)
			import_fail(row, "country '%s' differs from '%s' of "
			    "another document of this phone", cc,
			    acc->doc_country);
		memcpy(acc->doc_country, cc, sizeof cc);
	}
}

/* A proxy assignment's fields; an older one of the same phone is skipped. */
static void
import_assignment_fields(struct import_ctx *c, struct import_row *row,
    json_t *doc, const char *where)
{
	struct import_acc	*acc = import_acc_of(c, row);
	struct import_row	 t;
	const char		*ip, *why;
	char			 e[IMPORT_ECHO + 4];
	int			 r;

	/* Read into a copy: only the newest assignment is kept. */
	memset(&t, 0, sizeof t);
	import_set_time(&t, doc, "assignedAt", &t.assigned_at);
	if (t.error[0] == '\0' && acc->have_assignment) {
		c->set->superseded++;
		if (t.assigned_at <= row->assigned_at)
			return;
	}
	if ((r = import_str(doc, "proxyIp", &ip)) < 0)
		import_fail(&t, "proxyIp: not a string");
	else if (r > 0 && ip[0] != '\0') {
		if (import_check_ip(ip, &why) < 0) {
			import_echo(ip, e);
			import_fail(&t, "bad proxyIp '%s': %s", e, why);
		} else
			(void)util_strlcpy(t.proxy_ip, ip, sizeof t.proxy_ip);
	}
	(void)import_country(&t, doc, "country", t.proxy_country);
	(void)import_country(&t, doc, "requestedCountry", acc->requested);
	if (import_bool(doc, "fallbackUsed", &t.fallback_used) < 0)
		import_fail(&t, "fallbackUsed: not a boolean");
	if (import_bool(doc, "gracefulShutdown", &t.s.graceful_shutdown) < 0)
		import_fail(&t, "gracefulShutdown: not a boolean");
	import_set_time(&t, doc, "shutdownAt", &t.s.shutdown_at);
	if (t.error[0] != '\0') {
		import_fail(row, "%s", t.error);
		return;
	}
	acc->have_assignment = true;
	memcpy(row->proxy_ip, t.proxy_ip, sizeof row->proxy_ip);
	memcpy(row->proxy_country, t.proxy_country, sizeof row->proxy_country);
	row->fallback_used = t.fallback_used;
	row->assigned_at = t.assigned_at;
	row->s.graceful_shutdown = t.s.graceful_shutdown;
	row->s.shutdown_at = t.s.shutdown_at;
	/* The row is reported where its proxy came from. */
	if (row->line == 0)
		(void)util_strlcpy(row->where, where, sizeof row->where);
}

static void
import_recovery_fields(struct import_row *row, json_t *doc)
{
	const char	*s;
	int		 r;

	if ((r = import_str(doc, "instanceId", &s)) < 0)
		import_fail(row, "instanceId: not a string");
	else if (r > 0)
		(void)util_strlcpy(row->instance_id, s,
		    sizeof row->instance_id);
	import_set_time(row, doc, "lastUpdated", &row->s.last_activity_at);
}

/* A server_instances document: counted, and noticed when still running. */
static void
import_instance(struct import_ctx *c, json_t *doc, const char *id)
{
	const char	*s, *st;

	c->set->instances++;
	if (import_str(doc, "status", &st) <= 0)
		return;
	if (strcasecmp(st, "running") != 0 && strcasecmp(st, "starting") != 0)
		return;
	if (c->set->instances_running++ == 0)
		(void)util_strlcpy(c->set->running, import_str(doc,
		    "instanceId", &s) > 0 ? s : id, sizeof c->set->running);
}

/*
 * One document of a collection (or one jsonl line): its phone's row gets
 * what it says.  where names it in messages.
 */
static void
import_document(struct import_ctx *c, enum import_coll k, json_t *raw,
    const char *where, size_t line)
{
	struct import_row	*row;
	json_t			*doc;
	const char		*phone, *why;
	char			 e[IMPORT_ECHO + 4];
	bool			 had_error;
	int			 r;

	c->set->documents++;
	if ((doc = import_doc_fields(raw)) == NULL) {
		if ((row = import_row_new(c, where, line)) != NULL)
			import_fail(row, "not a document (want a JSON object "
			    "of fields)");
		return;
	}
	import_count_unknown(c, doc, k);
	if (k == COLL_INSTANCES) {
		import_instance(c, doc, where);
		json_decref(doc);
		return;
	}
	r = import_str(doc, "phoneNumber", &phone);
	if (r <= 0 || validate_phone(phone, &why) < 0) {
		if ((row = import_row_new(c, where, line)) == NULL)
			goto out;
		if (r < 0)
			import_fail(row, "phoneNumber: not a string");
		else if (r == 0)
			import_fail(row, "no phoneNumber");
		else {
			import_echo(phone, e);
			import_fail(row, "bad phone number '%s': %s", e, why);
		}
		goto out;
	}
	if ((row = import_row_of(c, phone, where, line)) == NULL)
		goto out;
	if (line != 0 && row->line != line) {
		/* A phone on two lines: the second is refused. */
		r = (int)row->line;
		if ((row = import_row_new(c, where, line)) == NULL)
			goto out;
		(void)util_strlcpy(row->s.phone, phone, sizeof row->s.phone);
		import_fail(row, "phone number %s repeats line %d", phone, r);
		goto out;
	}
	had_error = row->error[0] != '\0';
	import_set_user(row, doc);
	switch (k) {
	case COLL_PHONES:
		import_phone_fields(c, row, doc, true);
		import_set_status(row, import_acc_of(c, row), doc, false);
		if (row->s.last_activity_at == 0)
			import_set_time(row, doc, "lastUpdated",
			    &row->s.last_activity_at);
		break;
	case COLL_ASSIGNMENTS:
		import_assignment_fields(c, row, doc, where);
		break;
	case COLL_RECOVERY:
		/* The recovery state is the newer word on a session. */
		import_set_status(row, import_acc_of(c, row), doc, true);
		import_recovery_fields(row, doc);
		break;
	case COLL_LINE:
		import_phone_fields(c, row, doc, false);
		import_assignment_fields(c, row, doc, where);
		import_set_status(row, import_acc_of(c, row), doc, true);
		import_recovery_fields(row, doc);
		break;
	default:
		break;
	}
	/* A row is reported where its first problem is. */
	if (!had_error && row->error[0] != '\0')
		(void)util_strlcpy(row->where, where, sizeof row->where);
out:
	json_decref(doc);
}

/*
 * Once every document is in: the session's country (the requested one,
 * else the proxy's when no fallback was used, else the phone document's),
 * and what is still missing.
 */
static void
import_finish(struct import_ctx *c)
{
	struct import_row	*row;
	struct import_acc	*acc;
	size_t			 i;

	for (i = 0; i < c->set->n; i++) {
		row = &c->set->rows[i];
		acc = &c->acc[i];
		if (row->error[0] != '\0')
			continue;
		if (acc->requested[0] != '\0')
			memcpy(row->s.country, acc->requested,
			    sizeof row->s.country);
		else if (row->proxy_country[0] != '\0' && !row->fallback_used)
			memcpy(row->s.country, row->proxy_country,
			    sizeof row->s.country);
		else if (acc->doc_country[0] != '\0')
			memcpy(row->s.country, acc->doc_country,
			    sizeof row->s.country);
		if (acc->doc_country[0] != '\0' && row->s.country[0] != '\0' &&
		    strcmp(acc->doc_country, row->s.country) != 0)
			import_fail(row, "country '%s' of the phone differs "
			    "from the requested country '%s' of its proxy",
			    acc->doc_country, row->s.country);
		if (row->s.user_id[0] == '\0')
			import_fail(row, "%s: no userId", row->s.phone);
		else if (row->s.country[0] == '\0')
			import_fail(row, "%s: no country (no requestedCountry, "
			    "proxy country or phone document's country)",
			    row->s.phone);
	}
}

static enum import_coll
import_coll_of(const char *name)
{
	int	k;

	for (k = 0; k < COLL_LINE; k++)
		if (strcmp(name, import_coll_names[k]) == 0)
			return (enum import_coll)k;
	return COLL_N;
}

/* A document's id in an array: its "id" (or REST "name"'s last part). */
static void
import_doc_id(json_t *doc, size_t i, char *out, size_t size)
{
	const char	*s = NULL, *slash;

	if (import_str(doc, "name", &s) > 0 && (slash = strrchr(s, '/')) !=
	    NULL && json_is_object(json_object_get(doc, "fields")))
		s = slash + 1;
	else if (import_str(doc, "id", &s) <= 0 &&
	    import_str(doc, "__id__", &s) <= 0 &&
	    import_str(doc, "_id", &s) <= 0)
		s = NULL;
	if (s != NULL)
		snprintf(out, size, "%.64s", s);
	else
		snprintf(out, size, "[%zu]", i);
}

static int
import_collection(struct import_ctx *c, enum import_coll k, json_t *coll,
    char err[IMPORT_ERR_LEN])
{
	const char	*id;
	json_t		*doc;
	char		 where[IMPORT_WHERE_LEN], did[80];
	size_t		 i;

	if (json_is_array(coll)) {
		json_array_foreach(coll, i, doc) {
			import_doc_id(doc, i, did, sizeof did);
			snprintf(where, sizeof where, "%s/%s",
			    import_coll_names[k], did);
			import_document(c, k, doc, where, 0);
			if (c->full)
				break;
		}
	} else if (json_is_object(coll)) {
		json_object_foreach(coll, id, doc) {
			snprintf(where, sizeof where, "%s/%.64s",
			    import_coll_names[k], id);
			import_document(c, k, doc, where, 0);
			if (c->full)
				break;
		}
	} else {
		snprintf(err, IMPORT_ERR_LEN, "%s: want an object of "
		    "documents by id, or an array of documents",
		    import_coll_names[k]);
		return -EINVAL;
	}
	return 0;
}

/* The collections of a Firestore export, phones first. */
static int
import_firestore(struct import_ctx *c, json_t *root, char err[IMPORT_ERR_LEN])
{
	static const enum import_coll order[] = { COLL_PHONES, COLL_RECOVERY,
	    COLL_ASSIGNMENTS, COLL_INSTANCES };
	json_t		*colls = json_object_get(root, "__collections__"), *v;
	const char	*key;
	size_t		 i;
	int		 r;

	if (colls == NULL)
		colls = root;
	if (!json_is_object(colls)) {
		snprintf(err, IMPORT_ERR_LEN, "__collections__: want an "
		    "object");
		return -EINVAL;
	}
	json_object_foreach(colls, key, v) {
		/* Other collections are no part of a fleet: counted. */
		if (import_coll_of(key) == COLL_N)
			c->set->fields_ignored++;
	}
	for (i = 0; i < nitems(order); i++) {
		if ((v = json_object_get(colls, import_coll_names[order[i]])) ==
		    NULL)
			continue;
		if ((r = import_collection(c, order[i], v, err)) < 0)
			return r;
		if (c->full)
			break;
	}
	return 0;
}

static bool
import_is_export(json_t *root)
{
	int	k;

	if (!json_is_object(root))
		return false;
	if (json_object_get(root, "__collections__") != NULL)
		return true;
	for (k = 0; k < COLL_LINE; k++)
		if (json_object_get(root, import_coll_names[k]) != NULL)
			return true;
	return false;
}

/* The next line of text (without its newline), and where the one after is. */
static bool
import_next_line(const char *text, size_t len, size_t *pos, const char **ret,
    size_t *ret_len)
{
	const char	*nl;

	if (*pos >= len)
		return false;
	*ret = text + *pos;
	nl = memchr(*ret, '\n', len - *pos);
	*ret_len = nl != NULL ? (size_t)(nl - *ret) : len - *pos;
	*pos += *ret_len + 1;
	if (*ret_len > 0 && (*ret)[*ret_len - 1] == '\r')
		(*ret_len)--;
	return true;
}

static bool
import_blank(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return s[i] == '#';
	return true;
}

static void
import_jsonl(struct import_ctx *c, const char *text, size_t len)
{
	json_error_t	 je;
	json_t		*o;
	struct import_row *row;
	const char	*l;
	char		 where[IMPORT_WHERE_LEN];
	size_t		 pos = 0, n, line = 0;

	while (!c->full && import_next_line(text, len, &pos, &l, &n)) {
		line++;
		if (import_blank(l, n))
			continue;
		snprintf(where, sizeof where, "line %zu", line);
		if (n > IMPORT_LINE_MAX) {
			if ((row = import_row_new(c, where, line)) != NULL)
				import_fail(row, "line longer than %d bytes",
				    IMPORT_LINE_MAX);
			continue;
		}
		o = json_loadb(l, n, JSON_REJECT_DUPLICATES, &je);
		if (o == NULL || !json_is_object(o)) {
			if ((row = import_row_new(c, where, line)) != NULL)
				import_fail(row, "not a JSON object: %s",
				    o == NULL ? je.text : "another value");
			json_decref(o);
			continue;
		}
		import_document(c, COLL_LINE, o, where, line);
		json_decref(o);
	}
}

/* One csv line split at commas, each field trimmed and unquoted. */
static int
import_csv_split(char *s, char **f, size_t max, size_t *ret_n)
{
	size_t	 n = 0, k;
	char	*p = s, *comma, *b, *e;

	for (;;) {
		if (n == max)
			return -E2BIG;
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		b = p;
		while (*b == ' ' || *b == '\t')
			b++;
		e = b + strlen(b);
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = '\0';
		k = (size_t)(e - b);
		if (k >= 2 && b[0] == '"' && b[k - 1] == '"') {
			b[k - 1] = '\0';
			b++;
		}
		f[n++] = b;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*ret_n = n;
	return 0;
}

enum import_col { COL_USER, COL_PHONE, COL_COUNTRY, COL_PROXY,
	COL_PROXY_COUNTRY, COL_PRIORITY, COL_TYPE, COL_N };

static int
import_csv_column(const char *name)
{
	static const struct { const char *name; int col; } cols[] = {
		{ "user", COL_USER }, { "userid", COL_USER },
		{ "phone", COL_PHONE }, { "phonenumber", COL_PHONE },
		{ "country", COL_COUNTRY }, { "requestedcountry", COL_COUNTRY },
		{ "proxy", COL_PROXY }, { "proxyip", COL_PROXY },
		{ "proxycountry", COL_PROXY_COUNTRY },
		{ "priority", COL_PRIORITY },
		{ "type", COL_TYPE }, { "proxytype", COL_TYPE },
	};
	size_t	i;

	for (i = 0; i < nitems(cols); i++)
		if (strcasecmp(name, cols[i].name) == 0)
			return cols[i].col;
	return -1;
}

/* A csv row as a jsonl document: one mapping for both. */
static void
import_csv(struct import_ctx *c, const char *text, size_t len)
{
	static const char *const json_names[COL_N] = { "userId",
	    "phoneNumber", "requestedCountry", "proxyIp", "country",
	    "priority", "proxyType" };
	struct import_row *row;
	json_t		*o;
	const char	*l;
	char		 buf[IMPORT_LINE_MAX + 1], where[IMPORT_WHERE_LEN];
	char		*f[IMPORT_CSV_FIELDS];
	int		 map[IMPORT_CSV_FIELDS] = { COL_USER, COL_PHONE,
			    COL_COUNTRY, COL_PROXY, -1, -1, -1, -1 };
	size_t		 pos = 0, n, nf, line = 0, i, want = 4;
	bool		 first = true;
	int64_t		 prio;

	while (!c->full && import_next_line(text, len, &pos, &l, &n)) {
		line++;
		if (import_blank(l, n))
			continue;
		snprintf(where, sizeof where, "line %zu", line);
		if (n > IMPORT_LINE_MAX || memchr(l, '\0', n) != NULL) {
			if ((row = import_row_new(c, where, line)) != NULL)
				import_fail(row, n > IMPORT_LINE_MAX ? "line "
				    "longer than 4096 bytes" : "line holds a "
				    "NUL byte");
			continue;
		}
		memcpy(buf, l, n);
		buf[n] = '\0';
		if (import_csv_split(buf, f, nitems(f), &nf) < 0) {
			if ((row = import_row_new(c, where, line)) != NULL)
				import_fail(row, "more than %d fields",
				    IMPORT_CSV_FIELDS);
			continue;
		}
		if (first) {
			first = false;
			/* A header names the columns: then any order goes. */
			for (i = 0; i < nf; i++)
				if (import_csv_column(f[i]) == COL_PHONE)
					break;
			if (i < nf) {
				for (i = 0; i < nitems(map); i++)
					map[i] = i < nf ?
					    import_csv_column(f[i]) : -1;
				want = nf;
				continue;
			}
		}
		if (nf < 3 || nf > want) {
			if ((row = import_row_new(c, where, line)) != NULL)
				import_fail(row, "want USER,PHONE,COUNTRY"
				    "[,PROXY] (or the columns of the header)");
			continue;
		}
		o = json_object();
		for (i = 0; i < nf && i < want; i++) {
			if (map[i] < 0) {
				c->set->fields_ignored++;
				continue;
			}
			if (f[i][0] == '\0')
				continue;
			if (map[i] == COL_PRIORITY) {
				json_object_set_new(o, json_names[map[i]],
				    util_parse_i64(f[i], -1000000, 1000000,
				    &prio) == 0 ? json_integer(prio) :
				    json_string(f[i]));
				continue;
			}
			json_object_set_new(o, json_names[map[i]],
			    json_string(f[i]));
		}
		/* A value that is not UTF-8 is left out by jansson: refused. */
		import_document(c, COLL_LINE, o, where, line);
		json_decref(o);
	}
}

/*
 * What a text looks like, for IMPORT_FORMAT_AUTO: a first line that is a
 * JSON object of its own makes JSON lines (unless the whole text is an
 * export on one line); another text opening with '{' is an export, even
 * a broken one, so that its error is the parser's.
 */
static enum import_format
import_sniff(const char *text, size_t len, json_t **whole)
{
	const char	*l;
	json_t		*o;
	size_t		 i, pos, n;

	*whole = NULL;
	for (i = 0; i < len && isspace((unsigned char)text[i]); i++)
		;
	if (i == len || text[i] != '{')
		return IMPORT_FORMAT_CSV;
	pos = i;
	(void)import_next_line(text, len, &pos, &l, &n);
	o = json_loadb(l, n, JSON_REJECT_DUPLICATES, NULL);
	if (o != NULL && !import_is_export(o)) {
		json_decref(o);
		return IMPORT_FORMAT_JSONL;
	}
	json_decref(o);
	return IMPORT_FORMAT_FIRESTORE;
}

int
import_parse(const char *text, size_t len, enum import_format format,
    enum proxy_type default_type, struct import_set **ret,
    char err[IMPORT_ERR_LEN])
{
	struct import_ctx	 c;
	json_error_t		 je;
	json_t			*root = NULL;
	int			 r = 0;

	if (len > IMPORT_FILE_MAX) {
		snprintf(err, IMPORT_ERR_LEN, "more than %u bytes",
		    IMPORT_FILE_MAX);
		return -E2BIG;
	}
	memset(&c, 0, sizeof c);
	c.set = xcalloc(1, sizeof *c.set);
	c.map = xcalloc(IMPORT_MAP_SIZE, sizeof *c.map);
	c.default_type = default_type;
	if (format == IMPORT_FORMAT_AUTO)
		format = import_sniff(text, len, &root);
	c.set->format = format;
	switch (format) {
	case IMPORT_FORMAT_FIRESTORE:
		if (root == NULL && (root = json_loadb(text, len,
		    JSON_REJECT_DUPLICATES, &je)) == NULL) {
			snprintf(err, IMPORT_ERR_LEN, "not JSON: line %d: %s",
			    je.line, je.text);
			r = -EINVAL;
			break;
		}
		if (!json_is_object(root)) {
			snprintf(err, IMPORT_ERR_LEN, "want a JSON object of "
			    "collections");
			r = -EINVAL;
			break;
		}
		r = import_firestore(&c, root, err);
		break;
	case IMPORT_FORMAT_JSONL:
		import_jsonl(&c, text, len);
		break;
	default:
		import_csv(&c, text, len);
		break;
	}
	json_decref(root);
	if (r == 0 && c.full) {
		snprintf(err, IMPORT_ERR_LEN, "more than %d rows in one file",
		    IMPORT_ROWS_MAX);
		r = -E2BIG;
	}
	if (r == 0)
		import_finish(&c);
	free(c.acc);
	free(c.map);
	if (r < 0) {
		import_set_free(c.set);
		return r;
	}
	*ret = c.set;
	return 0;
}

void
import_set_free(struct import_set *set)
{
	if (set == NULL)
		return;
	free(set->rows);
	free(set);
}
