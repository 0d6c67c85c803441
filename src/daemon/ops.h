/*
 * What operators see and steer in a running daemon: the HTTP API's view
 * of it (readiness, the seed's proxy status, restarts), /metrics, and the
 * webhooks of session status changes.  Everything here reads state the
 * daemon's modules keep in memory (their stats), so a status request or a
 * scrape costs one pass over the sessions and the pool and never touches
 * the store.
 */
#ifndef RESPAWN_DAEMON_OPS_H
#define RESPAWN_DAEMON_OPS_H

#include <stdint.h>

#include "core/supervise.h"

struct dctx;
struct dsession;
struct fleet;
struct ops;
struct proxies;
struct purchases;
struct record;
struct recovery;
struct sessions;
struct spawner;
struct supervisor;
struct sync;

/* The modules whose figures and levers ops shows. */
struct ops_parts {
	struct sessions		*reg;
	struct supervisor	*sup;
	struct recovery		*recovery;
	struct proxies		*px;
	struct purchases	*pur;
	struct spawner		*sp;
	struct sync		*sync;
	struct record		*rec;
};

/* The API (RESPAWN_API_LISTEN) and the webhooks; err names what failed. */
int	ops_new(struct dctx *c, const struct ops_parts *parts,
	    struct ops **ret, char *err, size_t errlen);
/* Stop serving; accepts NULL. */
void	ops_free(struct ops *o);

/* A session's supervisor moved (webhooks, restarts asked for, counters). */
void	ops_moved(struct ops *o, struct dsession *ds,
	    const struct supervise_output *out);
/* A proxy was given to a session (webhooks: fallback, replaced). */
void	ops_assigned(struct ops *o, struct dsession *ds,
	    const char *previous_ip, const char *country);
/* A new QR code of a session's connector (webhook session.qr). */
void	ops_qr(struct ops *o, struct dsession *ds, const char *qr);
/* The heartbeat (the lease): when it last succeeded, failures so far. */
void	ops_heartbeat(struct ops *o, int64_t ok_at, int64_t failures);

#endif
