/*
 * What an import says of itself (see import.h): one document for `respawn
 * import --json` and POST /api/import, so the command and the API can
 * never describe the same import differently.
 */
#include <string.h>

#include <jansson.h>

#include "store/import.h"

const char *
import_action_name(enum import_action a, bool written)
{
	switch (a) {
	case IMPORT_ADD:
		return written ? "added" : "would add";
	case IMPORT_SAME:
		return "unchanged";
	default:
		return "refused";
	}
}

/* One row: where it came from, and what became of it. */
static json_t *
import_report_row(const struct import_row *row, const struct import_step *step,
    bool written)
{
	json_t	*o = json_object();

	json_object_set_new(o, "from", json_string(row->where));
	if (row->line != 0)
		json_object_set_new(o, "line",
		    json_integer((json_int_t)row->line));
	json_object_set_new(o, "action", json_string(
	    import_action_name(step->action, written)));
	if (row->s.phone[0] != '\0')
		json_object_set_new(o, "phoneNumber",
		    json_string(row->s.phone));
	if (step->action == IMPORT_REFUSED) {
		json_object_set_new(o, "error", json_string(step->why));
		return o;
	}
	json_object_set_new(o, "userId", json_string(row->s.user_id));
	json_object_set_new(o, "country", json_string(row->s.country));
	json_object_set_new(o, "desiredState", json_string(
	    store_session_desired_name(row->s.desired)));
	if (step->session_id != 0)
		json_object_set_new(o, "sessionId",
		    json_integer(step->session_id));
	if (row->proxy_ip[0] != '\0') {
		json_object_set_new(o, "proxyIp", json_string(row->proxy_ip));
		if (step->action == IMPORT_ADD) {
			json_object_set_new(o, "proxyCountry",
			    json_string(step->country));
			json_object_set_new(o, "fallbackUsed", json_boolean(
			    strcmp(step->country, row->s.country) != 0));
			json_object_set_new(o, "listed",
			    json_boolean(step->listed));
		}
	}
	return o;
}

json_t *
import_report(const struct import_set *set, const struct import_step *steps,
    const struct import_outcome *o, bool dry_run)
{
	json_t	*rows = json_array();
	size_t	 i;

	for (i = 0; i < set->n; i++)
		json_array_append_new(rows, import_report_row(&set->rows[i],
		    &steps[i], o->written));
	return json_pack("{s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:o}",
	    "format", import_format_name(set->format),
	    "dryRun", dry_run,
	    "written", o->written,
	    "addedCount", (json_int_t)(o->written ? o->count[IMPORT_ADD] : 0),
	    "unchangedCount", (json_int_t)o->count[IMPORT_SAME],
	    "refusedCount", (json_int_t)o->count[IMPORT_REFUSED],
	    "listedCount", (json_int_t)o->listed,
	    "fieldsIgnoredCount", (json_int_t)set->fields_ignored,
	    "supersededCount", (json_int_t)set->superseded,
	    "instancesRunningCount", (json_int_t)set->instances_running,
	    "rows", rows);
}
