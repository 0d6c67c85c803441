/*
 * The lab connector's fence (docs/CONNECTORS.md): with RESPAWN_FENCE_USEC
 * set (fleet mode), a message goes to the daemon at least every quarter
 * of it, and the connector exits once none has been taken for all of it:
 * its daemon is gone (or stopped), and in fleet mode a peer may soon run
 * the session.
 */
#include "base/util.h"
#include "connector_impl.h"

#define FENCE_RETRY_MS	200	/* pings while none is taken, at most */

/* When the daemon last took a message of ours (monotonic ms): fencing. */
static int64_t	notify_taken_ms;

/* A message was taken at now (or the daemon started us then). */
void
connector_fence_taken(int64_t now)
{
	notify_taken_ms = now;
}

void
connector_fence_tick(struct connector *c, int64_t now)
{
	int64_t	retry;

	if (c->fence_ms <= 0)
		return;
	if (now >= c->fence_next) {
		retry = c->fence_ms / 8 < FENCE_RETRY_MS ? c->fence_ms / 8 :
		    FENCE_RETRY_MS;
		c->fence_next = now + (connector_notify("X_RESPAWN_PING=1") ?
		    c->fence_ms / 4 : (retry > 0 ? retry : 1));
	}
	if (now - notify_taken_ms >= c->fence_ms)
		connector_finish(c, EXIT_FAILURE_, "connector.fenced", NULL);
}

/* When connector_fence_tick must run next: a ping, or the fence itself. */
int64_t
connector_fence_deadline(const struct connector *c, int64_t d)
{
	if (c->fence_ms <= 0)
		return d;
	if (c->fence_next < d)
		d = c->fence_next;
	if (notify_taken_ms + c->fence_ms < d)
		d = notify_taken_ms + c->fence_ms;
	return d;
}
