/*
 * Reading an existing fleet: see import_parse.h.  The forms are read
 * here; each document (or line) goes to import_doc.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "store/import_impl.h"

#define IMPORT_CSV_FIELDS	8

static const char *const import_coll_names[COLL_N] = {
	[COLL_PHONES] = "whatsapp_phone_numbers",
	[COLL_ASSIGNMENTS] = "proxy_assignments",
	[COLL_RECOVERY] = "session_recovery",
	[COLL_INSTANCES] = "server_instances",
	[COLL_LINE] = "",
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

static enum import_coll
import_parse_coll_of(const char *name)
{
	int	k;

	for (k = 0; k < COLL_LINE; k++)
		if (strcmp(name, import_coll_names[k]) == 0)
			return (enum import_coll)k;
	return COLL_N;
}

/* A document's id in an array: its "id" (or REST "name"'s last part). */
static void
import_parse_doc_id(json_t *doc, size_t i, char *out, size_t size)
{
	const char	*s = NULL, *slash;

	if (import_value_str(doc, "name", &s) > 0 &&
	    (slash = strrchr(s, '/')) != NULL &&
	    json_is_object(json_object_get(doc, "fields")))
		s = slash + 1;
	else if (import_value_str(doc, "id", &s) <= 0 &&
	    import_value_str(doc, "__id__", &s) <= 0 &&
	    import_value_str(doc, "_id", &s) <= 0)
		s = NULL;
	if (s != NULL)
		snprintf(out, size, "%.64s", s);
	else
		snprintf(out, size, "[%zu]", i);
}

static int
import_parse_collection(struct import_ctx *c, enum import_coll k, json_t *coll,
    char err[IMPORT_ERR_LEN])
{
	const char	*id;
	json_t		*doc;
	char		 where[IMPORT_WHERE_LEN], did[80];
	size_t		 i;

	if (json_is_array(coll)) {
		json_array_foreach(coll, i, doc) {
			import_parse_doc_id(doc, i, did, sizeof did);
			snprintf(where, sizeof where, "%s/%s",
			    import_coll_names[k], did);
			import_doc_add(c, k, doc, where, 0);
			if (c->full)
				break;
		}
	} else if (json_is_object(coll)) {
		json_object_foreach(coll, id, doc) {
			snprintf(where, sizeof where, "%s/%.64s",
			    import_coll_names[k], id);
			import_doc_add(c, k, doc, where, 0);
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
import_parse_firestore(struct import_ctx *c, json_t *root,
    char err[IMPORT_ERR_LEN])
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
		if (import_parse_coll_of(key) == COLL_N)
			c->set->fields_ignored++;
	}
	for (i = 0; i < nitems(order); i++) {
		if ((v = json_object_get(colls, import_coll_names[order[i]])) ==
		    NULL)
			continue;
		if ((r = import_parse_collection(c, order[i], v, err)) < 0)
			return r;
		if (c->full)
			break;
	}
	return 0;
}

static bool
import_parse_is_export(json_t *root)
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
import_parse_next_line(const char *text, size_t len, size_t *pos,
    const char **ret, size_t *ret_len)
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
import_parse_blank(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return s[i] == '#';
	return true;
}

static void
import_parse_jsonl(struct import_ctx *c, const char *text, size_t len)
{
	json_error_t	 je;
	json_t		*o;
	struct import_row *row;
	const char	*l;
	char		 where[IMPORT_WHERE_LEN];
	size_t		 pos = 0, n, line = 0;

	while (!c->full && import_parse_next_line(text, len, &pos, &l, &n)) {
		line++;
		if (import_parse_blank(l, n))
			continue;
		snprintf(where, sizeof where, "line %zu", line);
		if (n > IMPORT_LINE_MAX) {
			if ((row = import_doc_row_new(c, where, line)) != NULL)
				import_doc_fail(row, "line longer than %d "
				    "bytes", IMPORT_LINE_MAX);
			continue;
		}
		o = json_loadb(l, n, JSON_REJECT_DUPLICATES, &je);
		if (o == NULL || !json_is_object(o)) {
			if ((row = import_doc_row_new(c, where, line)) != NULL)
				import_doc_fail(row, "not a JSON object: %s",
				    o == NULL ? je.text : "another value");
			json_decref(o);
			continue;
		}
		import_doc_add(c, COLL_LINE, o, where, line);
		json_decref(o);
	}
}

/* One csv line split at commas, each field trimmed and unquoted. */
static int
import_parse_csv_split(char *s, char **f, size_t max, size_t *ret_n)
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
import_parse_csv_column(const char *name)
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
import_parse_csv(struct import_ctx *c, const char *text, size_t len)
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

	while (!c->full && import_parse_next_line(text, len, &pos, &l, &n)) {
		line++;
		if (import_parse_blank(l, n))
			continue;
		snprintf(where, sizeof where, "line %zu", line);
		if (n > IMPORT_LINE_MAX || memchr(l, '\0', n) != NULL) {
			if ((row = import_doc_row_new(c, where, line)) != NULL)
				import_doc_fail(row, n > IMPORT_LINE_MAX ?
				    "line longer than 4096 bytes" :
				    "line holds a NUL byte");
			continue;
		}
		memcpy(buf, l, n);
		buf[n] = '\0';
		if (import_parse_csv_split(buf, f, nitems(f), &nf) < 0) {
			if ((row = import_doc_row_new(c, where, line)) != NULL)
				import_doc_fail(row, "more than %d fields",
				    IMPORT_CSV_FIELDS);
			continue;
		}
		if (first) {
			first = false;
			/* A header names the columns: then any order goes. */
			for (i = 0; i < nf; i++)
				if (import_parse_csv_column(f[i]) == COL_PHONE)
					break;
			if (i < nf) {
				for (i = 0; i < nitems(map); i++)
					map[i] = i < nf ?
					    import_parse_csv_column(f[i]) : -1;
				want = nf;
				continue;
			}
		}
		if (nf < 3 || nf > want) {
			if ((row = import_doc_row_new(c, where, line)) != NULL)
				import_doc_fail(row, "want USER,PHONE,COUNTRY"
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
		import_doc_add(c, COLL_LINE, o, where, line);
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
import_parse_sniff(const char *text, size_t len, json_t **whole)
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
	(void)import_parse_next_line(text, len, &pos, &l, &n);
	o = json_loadb(l, n, JSON_REJECT_DUPLICATES, NULL);
	if (o != NULL && !import_parse_is_export(o)) {
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
		format = import_parse_sniff(text, len, &root);
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
		r = import_parse_firestore(&c, root, err);
		break;
	case IMPORT_FORMAT_JSONL:
		import_parse_jsonl(&c, text, len);
		break;
	default:
		import_parse_csv(&c, text, len);
		break;
	}
	json_decref(root);
	if (r == 0 && c.full) {
		snprintf(err, IMPORT_ERR_LEN, "more than %d rows in one file",
		    IMPORT_ROWS_MAX);
		r = -E2BIG;
	}
	if (r == 0)
		import_doc_finish(&c);
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
