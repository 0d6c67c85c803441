/*
 * Fleet mode (PostgreSQL, docs/FLEET.md), the daemon's side: fencing when
 * the lease is lost, giving sessions up to rebalance, the heartbeat's
 * claims, wake-ups from peers, and the connectors a crashed daemon of this
 * host left behind.  The lease itself is renewed by src/lease.c; claims
 * and the fair share come with a sync (daemon.c).
 */
#include <sys/queue.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "daemon/daemon_impl.h"
#include "store/storeq.h"
#include "sys/child.h"
#include "sys/procinfo.h"
#include "sys/sdnotify.h"

static void	daemon_wake_cb(evutil_socket_t fd, short what, void *arg);

/*
 * At start, in fleet mode: a session that a crashed daemon of this host
 * ran and that this instance did not claim goes to a peer, which starts
 * its own connector; the crashed daemon's connector must not stay
 * connected beside it.  It is ours to stop only if it is provably that
 * connector (pid, start time, session leader).
 */
void
daemon_orphan(struct daemon *d, const struct session *s)
{
	pid_t	pid = (pid_t)s->connector_pid;
	int	i;

	if (!d->fleet || pid <= 1)
		return;
	for (i = 0; i < d->ncrashed; i++)
		if (strcmp(s->owner, d->crashed[i]) == 0)
			break;
	if (i == d->ncrashed ||
	    !procinfo_same(pid, (uint64_t)s->connector_started_at) ||
	    getsid(pid) != pid)
		return;
	log_warn("connector.orphan_stopped", LOGF_I("session", s->id),
	    LOGF_S("phone", s->phone), LOGF_I("pid", pid), LOGF_S("msg",
	    "a crashed daemon's connector for a session a peer will run"));
	(void)child_signal_group(pid, SIGKILL);
}

/*
 * The lease is lost (not renewed in time, or a peer declared us dead):
 * stop every connector at once and buy nothing more, then exit so the
 * service manager starts a fresh instance that claims its share anew.
 * Nothing is written for the sessions: they are, or will be, a peer's.
 */
void
daemon_fence(struct daemon *d, const char *why)
{
	struct dsession	*ds;
	int64_t		 n = 0;

	if (d->fenced)
		return;
	d->fenced = true;
	d->stopping = true;
	TAILQ_FOREACH(ds, &d->all, link) {
		if (ds->pid > 0) {
			(void)child_signal_group(ds->pid, SIGKILL);
			n++;
		}
	}
	log_error("lease.lost", LOGF_S("why", why), LOGF_I("connectors", n),
	    LOGF_I("silent_ms", util_mono_ms() - d->lease_ok_mono),
	    LOGF_S("msg", "fencing: connectors and purchases stopped"));
	sdnotify_send("STATUS=fenced: lease lost");
	event_base_loopexit(d->base, NULL);
}

/* A session given up for rebalancing, released by the store's worker. */
struct daemon_shed {
	struct daemon	*d;
	int64_t		 session;
	int64_t		 epoch;
	char		 self[STORE_ID_LEN];
	int64_t		 now;
	uint64_t	 sync_sent;	/* syncs sent before the release */
	char		 err[STORE_ERROR_LEN];
};

static int
daemon_shed_run(struct store *st, void *arg)
{
	struct daemon_shed	*sh = arg;
	int			 r;

	if ((r = store_session_release(st, sh->session, sh->self, sh->epoch,
	    sh->now)) < 0)
		(void)util_strlcpy(sh->err, store_errmsg(st), sizeof sh->err);
	return r;
}

static void
daemon_shed_released(int r, void *arg)
{
	struct daemon_shed	*sh = arg;
	struct daemon		*d = sh->d;
	struct dsession		*ds;

	if (d->tearing_down ||
	    (ds = intmap_get(d->by_id, sh->session)) == NULL ||
	    ds->epoch != sh->epoch) {
		free(sh);
		return;
	}
	if (r < 0 && r != -ESTALE) {
		log_error("fleet.release_failed", LOGF_I("session", ds->id),
		    LOGF_S("error", sh->err));
		free(sh);
		/* Still ours: it runs again. */
		if (ds->desired == SESSION_DESIRED_RUNNING && !d->stopping) {
			daemon_enqueue(d, ds);
			daemon_admit(d);
		}
		return;
	}
	ds->lost = true;
	ds->removed = true;
	/*
	 * A sync sent before the release still shows the session as ours:
	 * it stays in memory, stopped, until a later one has been applied.
	 */
	ds->released_after = sh->sync_sent;
	d->shed++;
	log_info("fleet.shed", LOGF_I("session", ds->id),
	    LOGF_S("phone", ds->phone));
	free(sh);
}

/* A session given up for rebalancing has stopped: release it. */
void
daemon_shed_done(struct dsession *ds)
{
	struct daemon		*d = ds->d;
	struct daemon_shed	*sh = xcalloc(1, sizeof *sh);

	ds->shedding = false;
	sh->d = d;
	sh->session = ds->id;
	sh->epoch = ds->epoch;
	(void)util_strlcpy(sh->self, d->instance_id, sizeof sh->self);
	sh->now = util_now_ms();
	sh->sync_sent = d->sync_sent;
	if (daemon_submit(d, daemon_shed_run, daemon_shed_released, sh,
	    "session_release") < 0) {
		free(sh);
		if (ds->desired == SESSION_DESIRED_RUNNING && !d->stopping)
			daemon_enqueue(d, ds);
	}
}

/* How eagerly a session is given up: idle ones first, then by priority. */
static int
daemon_shed_rank(const struct dsession *ds)
{
	switch (ds->sv.state) {
	case SV_STOPPED:
	case SV_FAILED:
	case SV_NEEDS_AUTH:
		return 0;
	case SV_BACKOFF:
		return 1;
	case SV_STARTING:
		return 2;
	default:
		return 3;
	}
}

/*
 * Gradual, idle-first rebalancing: above its fair share (a peer joined),
 * an instance gives up to DAEMON_SHED_MAX sessions per heartbeat, the ones
 * with no connector running first, then the lowest priority.  Each is
 * stopped with its proxy kept, then released; the peer claims it and
 * reactivates the same IP.  share and owned come with a sync's answer.
 */
void
daemon_fleet_rebalance(struct daemon *d, int64_t share, int64_t owned)
{
	struct dsession	*ds, *best;
	int64_t		 shedding = 0, excess;
	int		 i;

	TAILQ_FOREACH(ds, &d->all, link)
		if (ds->shedding || ds->released_after != 0)
			shedding++;
	excess = owned - shedding - share;
	for (i = 0; i < DAEMON_SHED_MAX && excess > 0; i++, excess--) {
		best = NULL;
		TAILQ_FOREACH(ds, &d->all, link) {
			if (ds->shedding || ds->removed || ds->lost)
				continue;
			if (best == NULL || daemon_shed_rank(ds) <
			    daemon_shed_rank(best) || (daemon_shed_rank(ds) ==
			    daemon_shed_rank(best) && ds->priority <
			    best->priority))
				best = ds;
		}
		if (best == NULL)
			break;
		best->shedding = true;
		best->queued = false;
		log_info("fleet.shedding", LOGF_I("session", best->id),
		    LOGF_I("share", share), LOGF_I("owned", owned));
		if (best->sv.state == SV_STOPPED || best->sv.state == SV_FAILED ||
		    best->sv.state == SV_NEEDS_AUTH)
			daemon_shed_done(best);
		else
			daemon_feed(best, SV_EV_STOP, 0, true);
	}
}

/*
 * Each heartbeat: dead peers marked, free sessions claimed, share kept
 * (the sync's answer brings the share; daemon_sync_apply rebalances).
 */
void
daemon_fleet_tick(struct daemon *d)
{
	daemon_store_reap(d);
	daemon_sync_request(d, false, true);
	daemon_wake_watch(d);
}

/*
 * Wake-ups from peers (LISTEN/NOTIFY) arrive on the worker's connection;
 * the loop only polls its descriptor.  Draining it (and re-establishing
 * the channel after a lost connection, which may block) is a job of the
 * worker, whose answer also carries the descriptor to watch next.
 */
struct daemon_wake {
	struct daemon	*d;
	bool		 drain;
	int		 n;
	int		 fd;
};

static int
daemon_wake_run(struct store *st, void *arg)
{
	struct daemon_wake	*w = arg;

	if (w->drain)
		w->n = store_wake_drain(st);
	w->fd = store_wake_fd(st);
	return 0;
}

static void
daemon_wake_done(int result, void *arg)
{
	struct daemon_wake	*w = arg;
	struct daemon		*d = w->d;

	(void)result;
	d->wake_busy = false;
	if (d->tearing_down) {
		free(w);
		return;
	}
	if (w->n > 0 && d->setup_done && !d->stopping) {
		log_debug("fleet.woken", LOGF_I("notifications", w->n));
		daemon_sync_now(d);
	}
	/*
	 * Always a new event: after a reconnection on the worker the same
	 * number may name a new socket, which the old registration misses.
	 * Not persistent: armed again only once a drain is done.
	 */
	if (d->ev_wake != NULL) {
		event_free(d->ev_wake);
		d->ev_wake = NULL;
	}
	d->wake_fd = w->fd;
	if (w->fd >= 0 && (d->ev_wake = event_new(d->base, w->fd, EV_READ,
	    daemon_wake_cb, d)) != NULL)
		event_add(d->ev_wake, NULL);
	free(w);
}

static void
daemon_wake_submit(struct daemon *d, bool drain)
{
	struct daemon_wake	*w;

	if (d->wake_busy || !d->fleet)
		return;
	w = xcalloc(1, sizeof *w);
	w->d = d;
	w->drain = drain;
	w->fd = -1;
	if (daemon_submit(d, daemon_wake_run, daemon_wake_done, w,
	    "wake") < 0) {
		free(w);
		return;
	}
	d->wake_busy = true;
}

static void
daemon_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	daemon_wake_submit(arg, true);
}

/* Make sure the wake-up channel is watched (it may have been lost). */
void
daemon_wake_watch(struct daemon *d)
{
	daemon_wake_submit(d, false);
}
