/*
 * What the API's route files (api.c, api_sessions.c) share: the API's
 * state, the pieces of a listing page and the store's failure answer.
 * Not for the rest of the daemon, which knows the API through api.h.
 */
#ifndef RESPAWN_API_IMPL_H
#define RESPAWN_API_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/country.h"
#include "http/api.h"
#include "store/store.h"

struct api {
	struct httpd		*httpd;
	struct store		*store;
	struct storeq		*q;		/* NULL: routes run inline */
	const struct config	*cfg;
	struct api_daemon	 d;
	char			 addr[HTTPD_ADDR_LEN];
};

/* A page of a listing, and its filters. */
struct api_page {
	json_t		*items;
	int64_t		 after;
	size_t		 limit;
	int64_t		 last;		/* id of the last item taken */
	bool		 more;
	bool		 status_set;
	enum session_status status;
	char		 country[COUNTRY_CODE_LEN];
	bool		 state_set;
	enum proxy_state state;
};

/* A time stamp, or null for "never" (stored as 0). */
json_t	*api_time(int64_t ms);
/*
 * The store a handler uses: the worker's connection when the route runs
 * off the loop, else the daemon's.
 */
struct store *api_st(const struct api *a, const struct httpd_request *rq);
/* A store failure the client cannot fix: 503 or 500, logged. */
void	 api_store_error(struct store *st, struct httpd_response *rs, int r);
/* The optional ?country= filter into pg; a 400 in rs when it is invalid. */
int	 api_country_filter(const struct httpd_request *rq,
	    struct api_page *pg, struct httpd_response *rs);
/*
 * The optional ?state= filter: one of the nvalues names name(i) gives,
 * into *ret and *set.  alias (NULL: none) is a deprecated name of the
 * same parameter, taken alone; both at once are a 400.
 */
typedef const char	*(*api_name_fn)(int value);
int	 api_state_filter(const struct httpd_request *rq, const char *alias,
	    api_name_fn name, int nvalues, int *ret, bool *set,
	    struct httpd_response *rs);
/* {key: items, nextAfter}, taking pg's items. */
json_t	*api_page_answer(struct api_page *pg, const char *key);

/* api_sessions.c: the session routes (handlers of api_routes). */
/* The session of the path's {id}: 0, or a 404 or store error in rs. */
int	 api_sessions_of(struct api *a, const struct httpd_request *rq,
	    struct session *s, struct httpd_response *rs);
void	api_sessions_list(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);
void	api_sessions_add(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);
void	api_sessions_batch(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);
void	api_sessions_show(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);
void	api_sessions_delete(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);
void	api_sessions_start(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);
void	api_sessions_stop(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);

/* api_import.c: POST /api/import, its before hook then its handler. */
void	api_import_before(void *arg, struct httpd_call *c,
	    const struct httpd_request *rq, struct httpd_response *rs);
void	api_import(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);

/* api_connector.c: what a connector keeps on disk (handlers). */
void	api_connector_qr(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);
void	api_connector_pair(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);
void	api_connector_pairing_code(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);
void	api_connector_log(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);

#endif
