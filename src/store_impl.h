/*
 * The contract between store.c and a backend (store_sqlite.c, later
 * store_pg.c).  Only store.c and backends include this file.
 */
#ifndef RESPAWN_STORE_IMPL_H
#define RESPAWN_STORE_IMPL_H

#include "store.h"

struct store_ops {
	const char	*name;
	int	(*open)(const char *url, void **ret, char *err);
	void	(*close)(void *b);
	const char *(*errmsg)(const void *b);
	int	(*schema_version)(void *b, int *ret);
	int	(*session_add)(void *b, const struct session_new *n,
		    const char *actor, int64_t now, int64_t *ret_id);
	int	(*session_get)(void *b, int64_t id, const char *phone,
		    struct session *ret);
	int	(*session_list)(void *b, store_session_cb cb, void *arg);
	int	(*session_set_desired)(void *b, int64_t id,
		    enum session_desired desired, const char *actor,
		    int64_t now);
	int	(*session_remove)(void *b, int64_t id, const char *actor,
		    int64_t now);
	int	(*event_add)(void *b, int64_t now, const char *actor,
		    int64_t session_id, const char *kind, const char *detail);
};

extern const struct store_ops store_sqlite_ops;

#endif
