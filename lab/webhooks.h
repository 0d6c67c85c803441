/*
 * A webhook receiver for tests: POST /lab/webhooks records each delivery
 * (lab time, every X-Respawn-* header, the body) in a bounded list that
 * GET /lab/webhooks shows, verifying the X-Respawn-Signature itself when it
 * knows the secret (--webhook-secret, or POST /lab/webhooks/config).  It
 * can be told to answer 500 to the next N deliveries, so retries can be
 * tested.  docs/LAB.md lists the calls; docs/WEBHOOKS.md the format.
 */
#ifndef LAB_WEBHOOKS_H
#define LAB_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "httpreq.h"

/* Deliveries kept; past it the oldest is forgotten. */
#define WEBHOOKS_MAX		256
/* A delivery's body; larger ones are answered 413 and not recorded. */
#define WEBHOOKS_BODY_MAX	(64 * 1024)
#define WEBHOOKS_SECRET_MAX	1024
/* The largest fail_next. */
#define WEBHOOKS_FAIL_MAX	1000000

struct webhooks;

/* secret: "" when the sink should not verify signatures. */
int	webhooks_new(const char *secret, struct webhooks **ret);
void	webhooks_free(struct webhooks *s);
/* Whether a path is the sink's: /lab/webhooks and below. */
bool	webhooks_owns(const char *path);
/* Serves the sink's paths; now_ms is the lab clock. */
void	webhooks_handle(struct webhooks *s, int64_t now_ms,
	    const struct httpreq *req, const char *body, size_t bodylen,
	    struct http_response *resp);

#endif
