/*
 * The JSON values of a document `respawn import` reads: see import_impl.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "store/import_impl.h"

#define IMPORT_TYPED_DEPTH	32	/* nesting of typed values unwrapped */
/* Times accepted: after 1970 and before the year 9999. */
#define IMPORT_TIME_MAX		253402300799999LL

/*
 * A Firestore REST value ({"stringValue": "x"}, {"mapValue": {"fields":
 * {...}}}...) as a plain JSON value: a new reference, or NULL for a shape
 * that is not one.
 */
static json_t *import_value_untype_fields(json_t *fields, int depth);

static json_t *
import_value_untype(json_t *v, int depth)
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

			return f != NULL ? import_value_untype_fields(f,
			    depth + 1) : json_object();
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
				json_t	*e;

				e = import_value_untype(json_array_get(arr, i),
				    depth + 1);

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
import_value_untype_fields(json_t *fields, int depth)
{
	const char	*key;
	json_t		*x, *out, *e;

	if (!json_is_object(fields))
		return NULL;
	out = json_object();
	json_object_foreach(fields, key, x) {
		if ((e = import_value_untype(x, depth)) == NULL) {
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
json_t *
import_value_doc(json_t *doc)
{
	json_t	*f = json_object_get(doc, "fields");

	if (!json_is_object(doc))
		return NULL;
	if (json_is_object(f) && (json_object_get(doc, "name") != NULL ||
	    json_object_size(doc) == 1))
		return import_value_untype_fields(f, 0);
	return json_incref(doc);
}

/* A string field: 1 and *ret, 0 absent or null, -1 another type. */
int
import_value_str(json_t *o, const char *name, const char **ret)
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
import_value_time_text(const char *s, int64_t *ret)
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
int
import_value_time(json_t *o, const char *name, int64_t *ret)
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
		if (import_value_time_text(json_string_value(v), &t) < 0)
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
int
import_value_bool(json_t *o, const char *name, bool *ret)
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
