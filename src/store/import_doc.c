/*
 * A document's fields into its phone's row: see import_impl.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/util.h"
#include "base/validate.h"
#include "base/xmalloc.h"
#include "store/import_impl.h"

#define IMPORT_ECHO		48	/* bytes of a bad value quoted back */

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

/* A value quoted back in a message: bounded, and cut at a NUL. */
static void
import_doc_echo(const char *s, char out[IMPORT_ECHO + 4])
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

/* The first reason a row cannot be mapped is the one reported. */
void
import_doc_fail(struct import_row *row, const char *fmt, ...)
{
	va_list	ap;

	if (row->error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(row->error, sizeof row->error, fmt, ap);
	va_end(ap);
}

static uint32_t
import_doc_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* A new row (where filled in), or NULL when the file has too many. */
struct import_row *
import_doc_row_new(struct import_ctx *c, const char *where, size_t line)
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
import_doc_row_of(struct import_ctx *c, const char *phone, const char *where,
    size_t line)
{
	struct import_row	*row;
	uint32_t		 i;

	i = import_doc_hash(phone) & (IMPORT_MAP_SIZE - 1);

	while (c->map[i] != 0) {
		row = &c->set->rows[c->map[i] - 1];
		if (strcmp(row->s.phone, phone) == 0)
			return row;
		i = (i + 1) & (IMPORT_MAP_SIZE - 1);
	}
	if ((row = import_doc_row_new(c, where, line)) == NULL)
		return NULL;
	(void)util_strlcpy(row->s.phone, phone, sizeof row->s.phone);
	c->map[i] = (uint32_t)c->set->n;
	return row;
}

static struct import_acc *
import_doc_acc(struct import_ctx *c, const struct import_row *row)
{
	return &c->acc[row - c->set->rows];
}

/* What a status says of the session: running (1), stopped (0), or -1. */
static int
import_doc_status(const char *s)
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
import_doc_check_ip(const char *s, const char **why)
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
import_doc_count_unknown(struct import_ctx *c, json_t *doc, enum import_coll k)
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
import_doc_user(struct import_row *row, json_t *doc)
{
	const char	*u, *why;
	char		 e[IMPORT_ECHO + 4];
	int		 r;

	if ((r = import_value_str(doc, "userId", &u)) < 0) {
		import_doc_fail(row, "userId: not a string");
		return;
	}
	if (r == 0)
		return;
	if (validate_user_id(u, &why) < 0) {
		import_doc_echo(u, e);
		import_doc_fail(row, "bad userId '%s': %s", e, why);
		return;
	}
	if (row->s.user_id[0] != '\0' && strcmp(row->s.user_id, u) != 0) {
		import_doc_echo(u, e);
		import_doc_fail(row, "userId '%s' differs from '%s' of another "
		    "document of this phone", e, row->s.user_id);
		return;
	}
	(void)util_strlcpy(row->s.user_id, u, sizeof row->s.user_id);
}

/* A country field into cc: 1, 0 absent, -1 (the row failed). */
static int
import_doc_country(struct import_row *row, json_t *doc, const char *name,
    char cc[COUNTRY_CODE_LEN])
{
	const char	*s, *why;
	char		 e[IMPORT_ECHO + 4];
	int		 r;

	if ((r = import_value_str(doc, name, &s)) < 0) {
		import_doc_fail(row, "%s: not a string", name);
		return -1;
	}
	if (r == 0 || s[0] == '\0')
		return 0;
	if (validate_country(s, cc, &why) < 0) {
		import_doc_echo(s, e);
		import_doc_fail(row, "unknown country '%s' (%s)", e, why);
		return -1;
	}
	return 1;
}

static void
import_doc_set_status(struct import_row *row, struct import_acc *acc,
    json_t *doc, bool overrides)
{
	const char	*s;
	char		 e[IMPORT_ECHO + 4];
	int		 r;

	if ((r = import_value_str(doc, "status", &s)) < 0) {
		import_doc_fail(row, "status: not a string");
		return;
	}
	if (r == 0 || (acc->have_status && !overrides))
		return;
	if ((r = import_doc_status(s)) < 0) {
		import_doc_echo(s, e);
		import_doc_fail(row, "unknown status '%s' (active, recovering, "
		    "connected... run; stopped, inactive, disconnected, "
		    "logged_out, failed... stay stopped)", e);
		return;
	}
	row->s.desired = r ? SESSION_DESIRED_RUNNING : SESSION_DESIRED_STOPPED;
	acc->have_status = true;
}

static void
import_doc_time(struct import_row *row, json_t *doc, const char *name,
    int64_t *field)
{
	int64_t	t;
	int	r;

	if ((r = import_value_time(doc, name, &t)) < 0)
		import_doc_fail(row, "%s: not a time (RFC 3339, seconds or "
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
import_doc_phone(struct import_ctx *c, struct import_row *row,
    json_t *doc, bool with_country)
{
	struct import_acc	*acc = import_doc_acc(c, row);
	json_t			*v;
	const char		*s;
	char			 cc[COUNTRY_CODE_LEN], e[IMPORT_ECHO + 4];
	int			 r;

	if ((v = json_object_get(doc, "priority")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < -1000000 ||
		    json_integer_value(v) > 1000000)
			import_doc_fail(row, "priority: want an integer from "
			    "-1000000 to 1000000");
		else
			row->s.priority = json_integer_value(v);
	}
	if ((r = import_value_str(doc, "proxyType", &s)) < 0)
		import_doc_fail(row, "proxyType: not a string");
	else if (r > 0) {
		if (strcmp(s, "isp") == 0)
			row->s.proxy_type = PROXY_TYPE_ISP;
		else if (strcmp(s, "residential") == 0)
			row->s.proxy_type = PROXY_TYPE_RESIDENTIAL;
		else {
			import_doc_echo(s, e);
			import_doc_fail(row, "proxyType '%s': want isp or "
			    "residential", e);
		}
		acc->have_type = true;
	}
	if (with_country && import_doc_country(row, doc, "country", cc) > 0) {
		if (acc->doc_country[0] != '\0' &&
		    strcmp(acc->doc_country, cc) != 0)
			import_doc_fail(row, "country '%s' differs from "
			    "'%s' of another document of this phone", cc,
			    acc->doc_country);
		memcpy(acc->doc_country, cc, sizeof cc);
	}
}

/* A proxy assignment's fields; an older one of the same phone is skipped. */
static void
import_doc_assignment(struct import_ctx *c, struct import_row *row,
    json_t *doc, const char *where)
{
	struct import_acc	*acc = import_doc_acc(c, row);
	struct import_row	 t;
	const char		*ip, *why;
	char			 e[IMPORT_ECHO + 4];
	int			 r;

	/* Read into a copy: only the newest assignment is kept. */
	memset(&t, 0, sizeof t);
	import_doc_time(&t, doc, "assignedAt", &t.assigned_at);
	if (t.error[0] == '\0' && acc->have_assignment) {
		c->set->superseded++;
		if (t.assigned_at <= row->assigned_at)
			return;
	}
	if ((r = import_value_str(doc, "proxyIp", &ip)) < 0)
		import_doc_fail(&t, "proxyIp: not a string");
	else if (r > 0 && ip[0] != '\0') {
		if (import_doc_check_ip(ip, &why) < 0) {
			import_doc_echo(ip, e);
			import_doc_fail(&t, "bad proxyIp '%s': %s", e, why);
		} else
			(void)util_strlcpy(t.proxy_ip, ip, sizeof t.proxy_ip);
	}
	(void)import_doc_country(&t, doc, "country", t.proxy_country);
	(void)import_doc_country(&t, doc, "requestedCountry", acc->requested);
	if (import_value_bool(doc, "fallbackUsed", &t.fallback_used) < 0)
		import_doc_fail(&t, "fallbackUsed: not a boolean");
	if (import_value_bool(doc, "gracefulShutdown",
	    &t.s.graceful_shutdown) < 0)
		import_doc_fail(&t, "gracefulShutdown: not a boolean");
	import_doc_time(&t, doc, "shutdownAt", &t.s.shutdown_at);
	if (t.error[0] != '\0') {
		import_doc_fail(row, "%s", t.error);
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
import_doc_recovery(struct import_row *row, json_t *doc)
{
	const char	*s;
	int		 r;

	if ((r = import_value_str(doc, "instanceId", &s)) < 0)
		import_doc_fail(row, "instanceId: not a string");
	else if (r > 0)
		(void)util_strlcpy(row->instance_id, s,
		    sizeof row->instance_id);
	import_doc_time(row, doc, "lastUpdated", &row->s.last_activity_at);
}

/* A server_instances document: counted, and noticed when still running. */
static void
import_doc_instance(struct import_ctx *c, json_t *doc, const char *id)
{
	const char	*s, *st;

	c->set->instances++;
	if (import_value_str(doc, "status", &st) <= 0)
		return;
	if (strcasecmp(st, "running") != 0 && strcasecmp(st, "starting") != 0)
		return;
	if (c->set->instances_running++ == 0)
		(void)util_strlcpy(c->set->running, import_value_str(doc,
		    "instanceId", &s) > 0 ? s : id, sizeof c->set->running);
}

/*
 * One document of a collection (or one jsonl line): its phone's row gets
 * what it says.  where names it in messages.
 */
void
import_doc_add(struct import_ctx *c, enum import_coll k, json_t *raw,
    const char *where, size_t line)
{
	struct import_row	*row;
	json_t			*doc;
	const char		*phone, *why;
	char			 e[IMPORT_ECHO + 4];
	bool			 had_error;
	int			 r;

	c->set->documents++;
	if ((doc = import_value_doc(raw)) == NULL) {
		if ((row = import_doc_row_new(c, where, line)) != NULL)
			import_doc_fail(row, "not a document (want a JSON "
			    "object of fields)");
		return;
	}
	import_doc_count_unknown(c, doc, k);
	if (k == COLL_INSTANCES) {
		import_doc_instance(c, doc, where);
		json_decref(doc);
		return;
	}
	r = import_value_str(doc, "phoneNumber", &phone);
	if (r <= 0 || validate_phone(phone, &why) < 0) {
		if ((row = import_doc_row_new(c, where, line)) == NULL)
			goto out;
		if (r < 0)
			import_doc_fail(row, "phoneNumber: not a string");
		else if (r == 0)
			import_doc_fail(row, "no phoneNumber");
		else {
			import_doc_echo(phone, e);
			import_doc_fail(row, "bad phone number '%s': %s", e,
			    why);
		}
		goto out;
	}
	if ((row = import_doc_row_of(c, phone, where, line)) == NULL)
		goto out;
	if (line != 0 && row->line != line) {
		/* A phone on two lines: the second is refused. */
		r = (int)row->line;
		if ((row = import_doc_row_new(c, where, line)) == NULL)
			goto out;
		(void)util_strlcpy(row->s.phone, phone, sizeof row->s.phone);
		import_doc_fail(row, "phone number %s repeats line %d", phone,
		    r);
		goto out;
	}
	had_error = row->error[0] != '\0';
	import_doc_user(row, doc);
	switch (k) {
	case COLL_PHONES:
		import_doc_phone(c, row, doc, true);
		import_doc_set_status(row, import_doc_acc(c, row), doc, false);
		if (row->s.last_activity_at == 0)
			import_doc_time(row, doc, "lastUpdated",
			    &row->s.last_activity_at);
		break;
	case COLL_ASSIGNMENTS:
		import_doc_assignment(c, row, doc, where);
		break;
	case COLL_RECOVERY:
		/* The recovery state is the newer word on a session. */
		import_doc_set_status(row, import_doc_acc(c, row), doc, true);
		import_doc_recovery(row, doc);
		break;
	case COLL_LINE:
		import_doc_phone(c, row, doc, false);
		import_doc_assignment(c, row, doc, where);
		import_doc_set_status(row, import_doc_acc(c, row), doc, true);
		import_doc_recovery(row, doc);
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
void
import_doc_finish(struct import_ctx *c)
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
			import_doc_fail(row, "country '%s' of the phone "
			    "differs from the requested country '%s' of its "
			    "proxy",
			    acc->doc_country, row->s.country);
		if (row->s.user_id[0] == '\0')
			import_doc_fail(row, "%s: no userId", row->s.phone);
		else if (row->s.country[0] == '\0')
			import_doc_fail(row, "%s: no country (no "
			    "requestedCountry, proxy country or phone "
			    "document's country)",
			    row->s.phone);
	}
}
