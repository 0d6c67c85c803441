/*
 * The store's front: backend selection and forwarding.  See store.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_impl.h"
#include "util.h"
#include "xmalloc.h"

struct store {
	const struct store_ops	*ops;
	void			*backend;
};

static const char *const store_status_names[] = {
	[SESSION_STATUS_NEW] = "new",
	[SESSION_STATUS_STARTING] = "starting",
	[SESSION_STATUS_READY] = "ready",
	[SESSION_STATUS_BACKOFF] = "backoff",
	[SESSION_STATUS_STOPPING] = "stopping",
	[SESSION_STATUS_STOPPED] = "stopped",
	[SESSION_STATUS_FAILED] = "failed",
	[SESSION_STATUS_NEEDS_AUTH] = "needs_auth",
	[SESSION_STATUS_DORMANT] = "dormant",
};

const char *
store_session_status_name(enum session_status s)
{
	if ((unsigned)s >= nitems(store_status_names))
		return "unknown";
	return store_status_names[s];
}

int
store_session_status_parse(const char *s, enum session_status *ret)
{
	size_t	i;

	for (i = 0; i < nitems(store_status_names); i++) {
		if (strcmp(s, store_status_names[i]) == 0) {
			*ret = (enum session_status)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
store_session_desired_name(enum session_desired d)
{
	return d == SESSION_DESIRED_STOPPED ? "stopped" : "running";
}

int
store_open(const char *url, struct store **ret, char err[STORE_ERROR_LEN])
{
	const struct store_ops	*ops;
	struct store		*st;
	void			*b;
	int			 r;

	if (strncasecmp(url, "postgresql://", 13) == 0 ||
	    strncasecmp(url, "postgres://", 11) == 0) {
		snprintf(err, STORE_ERROR_LEN, "RESPAWN_DB: PostgreSQL is not "
		    "supported by this version yet; use a SQLite file path");
		return -EPROTONOSUPPORT;
	}
	ops = &store_sqlite_ops;
	if ((r = ops->open(url, &b, err)) < 0)
		return r;
	st = xcalloc(1, sizeof *st);
	st->ops = ops;
	st->backend = b;
	*ret = st;
	return 0;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	st->ops->close(st->backend);
	free(st);
}

const char *
store_errmsg(const struct store *st)
{
	return st->ops->errmsg(st->backend);
}

int
store_schema_version(struct store *st, int *ret)
{
	return st->ops->schema_version(st->backend, ret);
}

int
store_session_add(struct store *st, const struct session_new *n,
    const char *actor, int64_t now, int64_t *ret_id)
{
	return st->ops->session_add(st->backend, n, actor, now, ret_id);
}

int
store_session_get(struct store *st, int64_t id, struct session *ret)
{
	return st->ops->session_get(st->backend, id, NULL, ret);
}

int
store_session_get_by_phone(struct store *st, const char *phone,
    struct session *ret)
{
	return st->ops->session_get(st->backend, 0, phone, ret);
}

int
store_session_list(struct store *st, store_session_cb cb, void *arg)
{
	return st->ops->session_list(st->backend, cb, arg);
}

int
store_session_set_desired(struct store *st, int64_t id,
    enum session_desired desired, const char *actor, int64_t now)
{
	return st->ops->session_set_desired(st->backend, id, desired, actor,
	    now);
}

int
store_session_remove(struct store *st, int64_t id, const char *actor,
    int64_t now)
{
	return st->ops->session_remove(st->backend, id, actor, now);
}

int
store_event_add(struct store *st, int64_t now, const char *actor,
    int64_t session_id, const char *kind, const char *detail)
{
	return st->ops->event_add(st->backend, now, actor, session_id, kind,
	    detail);
}
