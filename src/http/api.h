/*
 * The HTTP API's routes (docs/api/openapi.yaml describes them): health and
 * readiness, /metrics, the seed's GET /api/proxy/status, sessions (list,
 * add, show, remove, start, stop, restart), proxies, instances, recovery
 * runs and audit events.
 *
 * Reads and writes of durable state go to the store, exactly as the CLI's
 * do, so the API and `respawn session ...` can never disagree; what only
 * the running daemon knows (readiness, the live proxy counts, metrics, a
 * connector restart) it asks the daemon for through struct api_daemon.
 * After a write it tells the daemon, which acts on it at once instead of
 * at its next once-a-second look at the store.
 */
#ifndef RESPAWN_API_H
#define RESPAWN_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "http/httpd.h"
#include "store/store.h"

struct config;
struct event_base;
struct import_set;
struct provider;
struct store;
struct storeq;

#define API_PAGE_MAX		1000	/* sessions or proxies per page */
#define API_PAGE_DEFAULT	100
#define API_EVENTS_MAX		500
#define API_EVENTS_DEFAULT	50
#define API_RUNS_MAX		100
#define API_RUNS_DEFAULT	20
#define API_ACTOR		"api"
#define API_BATCH_MAX		1000	/* sessions in one POST .../batch */
#define API_BATCH_BODY_MAX	(512 * 1024)	/* and its body's bytes */
#define API_PAIRING_CODE_MAX	64	/* bytes of a connector's pairing code */
#define API_LOG_TAIL_DEFAULT	(16 * 1024)	/* bytes of a connector's log */
#define API_LOG_TAIL_MAX	(256 * 1024)
#define API_IMPORT_BODY_MAX	HTTPD_WIRE_BODY_MAX	/* POST /api/import */

/* What the API needs from the running daemon. */
struct api_daemon {
	void	*arg;
	/* The start-up recovery has finished (GET /readyz). */
	bool	(*ready)(void *arg);
	/* The seed's proxy status object, a new reference. */
	json_t	*(*proxy_status)(void *arg);
	/* Render /metrics into out. */
	int	(*metrics)(void *arg, struct buf *out);
	/* The store was changed by the API: act on it now. */
	void	(*changed)(void *arg);
	/* Restart a session's connector; -ENOENT: not supervised here. */
	int	(*restart)(void *arg, int64_t id);
	/*
	 * The provider, asked for its listing by POST /api/import (on the
	 * loop); NULL: none, and an import with IPs needs offline=true.
	 */
	struct provider	*provider;
	/* This instance's id: a session owned by another runs elsewhere. */
	const char	*instance_id;
};

struct api;

/*
 * Serve the API on cfg's RESPAWN_API_LISTEN; the address bound is also
 * written to RESPAWN_STATE_DIR/api.addr.  With q, the routes that use the
 * store run through it, off the loop; q must be freed before api_free.
 */
int	api_new(struct event_base *base, const struct config *cfg,
	    struct store *st, struct storeq *q, const struct api_daemon *d,
	    struct api **ret, char err[HTTPD_ERR_LEN]);
void	api_free(struct api *a);
/* The address listened on, e.g. "127.0.0.1:8787". */
const char *api_address(const struct api *a);
void	api_stats(const struct api *a, struct httpd_stats *ret);

/*
 * The body of POST /api/sessions: a JSON object with userId, phoneNumber
 * and country, optionally priority, proxyType and desiredState.  Unknown
 * fields, wrong types and invalid values are refused with a 400 in rs
 * naming the field; ret is written only on success.  Pure (for tests and
 * fuzzing).
 */
int	api_sessions_parse(const char *body, size_t len, struct session_new *ret,
	    struct httpd_response *rs);

/*
 * The body of POST /api/sessions/batch: {"sessions": [SESSION, ...]}, each
 * SESSION as POST /api/sessions takes it, 1 to API_BATCH_MAX of them.  On
 * success *ret holds *ret_n items, each valid (error NULL) or with the
 * answer a POST /api/sessions of it would have had (an error object with
 * message and field); a body that is not such a list is a 400 in rs.
 * Pure (for tests and fuzzing); api_batch_free frees the items.
 */
struct api_batch_item {
	struct session_new	 n;
	json_t			*error;		/* NULL: valid */
};
int	api_sessions_batch_parse(const char *body, size_t len,
	    struct api_batch_item **ret, size_t *ret_n,
	    struct httpd_response *rs);
void	api_sessions_batch_free(struct api_batch_item *v, size_t n);

/*
 * The body of POST /api/import: a Firestore export (as `respawn import`
 * reads a file); {"rows": [ROW, ...]} with 1 to IMPORT_ROWS_MAX objects
 * of the JSON lines form, each row then named "rows[i]"; or {"text":
 * FILE, "format": FORMAT} (format optional), a file's text read as the
 * command reads it.  Rows that cannot
 * be mapped are in *ret with their reason; a body that is neither form is
 * a 400 in rs.  Pure (for tests and fuzzing).
 */
int	api_import_parse(const char *body, size_t len, enum proxy_type type,
	    struct import_set **ret, struct httpd_response *rs);

/*
 * Does an Accept header ask for GET /api/sessions/{id}/qr as text rather
 * than as a PNG?  text/plain named, and before image/png if both are.
 * Pure (for tests).
 */
bool	api_connector_wants_text(const char *accept);

/* The route table (for tests). */
extern const struct httpd_route api_routes[];

#endif
