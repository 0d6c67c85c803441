/*
 * Sessions as JSON: see session_json.h.
 */
#include "base/util.h"
#include "store/session_json.h"

/* A time stamp, or null for "never" (stored as 0). */
static json_t *
session_json_time(int64_t ms)
{
	char	buf[UTIL_TIME_LEN];

	if (ms == 0)
		return json_null();
	util_fmt_time(ms, buf);
	return json_string(buf);
}

/* A string, or null when empty. */
static json_t *
session_json_opt(const char *s)
{
	return s[0] == '\0' ? json_null() : json_string(s);
}

json_t *
session_json_new(const struct session *s)
{
	json_t	*o = json_object();

	json_object_set_new(o, "id", json_integer(s->id));
	json_object_set_new(o, "userId", json_string(s->user_id));
	json_object_set_new(o, "phoneNumber", json_string(s->phone));
	json_object_set_new(o, "country", json_string(s->country));
	json_object_set_new(o, "priority", json_integer(s->priority));
	json_object_set_new(o, "proxyType",
	    json_string(config_proxy_type_name(s->proxy_type)));
	json_object_set_new(o, "desiredState",
	    json_string(store_session_desired_name(s->desired)));
	json_object_set_new(o, "state",
	    json_string(store_session_status_name(s->status)));
	/* Deprecated (0.1's name): the same as state, for one release. */
	json_object_set_new(o, "status",
	    json_string(store_session_status_name(s->status)));
	json_object_set_new(o, "proxyIp", session_json_opt(s->proxy_ip));
	json_object_set_new(o, "proxyCountry",
	    session_json_opt(s->proxy_country));
	json_object_set_new(o, "requestedCountry",
	    session_json_opt(s->requested_country));
	json_object_set_new(o, "fallbackUsed", json_boolean(s->fallback_used));
	json_object_set_new(o, "instanceId", session_json_opt(s->owner));
	json_object_set_new(o, "epoch", json_integer(s->epoch));
	json_object_set_new(o, "lastActivityAt",
	    session_json_time(s->last_activity_at));
	/* Deprecated (0.1's name): the same as lastActivityAt. */
	json_object_set_new(o, "lastActivity",
	    session_json_time(s->last_activity_at));
	json_object_set_new(o, "gracefulShutdown",
	    json_boolean(s->graceful_shutdown));
	json_object_set_new(o, "shutdownAt", session_json_time(s->shutdown_at));
	json_object_set_new(o, "attempts", json_integer(s->attempts));
	json_object_set_new(o, "lastError", session_json_opt(s->last_error));
	json_object_set_new(o, "createdAt", session_json_time(s->created_at));
	json_object_set_new(o, "updatedAt", session_json_time(s->updated_at));
	return o;
}
