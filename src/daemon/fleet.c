/*
 * Fleet mode, the daemon's side: see fleet.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/failpoint.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "daemon/ctx.h"
#include "daemon/fleet.h"
#include "daemon/jobs.h"
#include "daemon/record.h"
#include "daemon/recovery.h"
#include "daemon/sessions.h"
#include "daemon/supervisor.h"
#include "daemon/sync.h"
#include "store/store.h"
#include "sys/child.h"
#include "sys/procinfo.h"
#include "sys/sdnotify.h"

struct fleet {
	struct dctx		*c;
	struct sessions		*reg;
	struct supervisor	*sup;
	struct jobs		*jobs;
	struct record		*rec;
	struct recovery		*recovery;
	struct sync		*sync;
	struct event		*ev_wake;	/* peers released sessions */
	bool			 wake_busy;	/* a drain in flight */
	struct fleet_stats	 stats;
};

struct fleet *
fleet_new(struct dctx *c, struct sessions *reg, struct supervisor *sup,
    struct jobs *jobs, struct record *rec, struct recovery *recovery,
    struct sync *sync)
{
	struct fleet	*f = xcalloc(1, sizeof *f);

	f->c = c;
	f->reg = reg;
	f->sup = sup;
	f->jobs = jobs;
	f->rec = rec;
	f->recovery = recovery;
	f->sync = sync;
	return f;
}

void
fleet_free(struct fleet *f)
{
	if (f == NULL)
		return;
	if (f->ev_wake != NULL)
		event_free(f->ev_wake);
	free(f);
}

void
fleet_stats(const struct fleet *f, struct fleet_stats *ret)
{
	*ret = f->stats;
}

/*
 * At start, in fleet mode: a session that a crashed daemon of this host
 * ran and that this instance did not claim goes to a peer, which starts
 * its own connector; the crashed daemon's connector must not stay
 * connected beside it.  It is ours to stop only if it is provably that
 * connector (pid, start time, session leader).
 */
void
fleet_orphan(struct fleet *f, const struct session *s)
{
	pid_t	pid = (pid_t)s->connector_pid;

	if (!f->c->fleet || pid <= 1 || !recovery_crashed(f->recovery,
	    s->owner) || !procinfo_same(pid,
	    (uint64_t)s->connector_started_at) || getsid(pid) != pid)
		return;
	log_warn("connector.orphan_stopped", LOGF_I("session", s->id),
	    LOGF_S("phone", s->phone), LOGF_I("pid", pid), LOGF_S("msg",
	    "a crashed daemon's connector for a session a peer will run"));
	(void)child_signal_group(pid, SIGKILL);
}

/*
 * Nothing is written for the sessions: they are, or will be, a peer's.
 * The service manager starts a fresh instance that claims its share anew.
 */
void
fleet_fence(struct fleet *f, const char *why, int64_t silent_ms)
{
	struct dsession	*ds;
	int64_t		 n = 0;

	if (f->c->fenced)
		return;
	f->c->fenced = true;
	f->c->stopping = true;
	for (ds = sessions_first(f->reg); ds != NULL; ds = sessions_next(ds)) {
		if (ds->pid > 0) {
			(void)child_signal_group(ds->pid, SIGKILL);
			n++;
		}
	}
	log_error("lease.lost", LOGF_S("why", why), LOGF_I("connectors", n),
	    LOGF_I("silent_ms", silent_ms), LOGF_S("msg",
	    "fencing: connectors and purchases stopped"));
	sdnotify_send("STATUS=fenced: lease lost");
	event_base_loopexit(f->c->base, NULL);
}

/* --- rebalancing -------------------------------------------------------- */

/* A session given up for rebalancing, released by the store's worker. */
struct fleet_shed {
	struct fleet	*f;
	int64_t		 session;
	int64_t		 epoch;
	char		 self[STORE_ID_LEN];
	int64_t		 now;
	uint64_t	 sync_sent;	/* syncs sent before the release */
	char		 err[STORE_ERROR_LEN];
};

static int
fleet_shed_run(struct store *st, void *arg)
{
	struct fleet_shed	*sh = arg;
	int			 r;

	if ((r = store_session_release(st, sh->session, sh->self, sh->epoch,
	    sh->now)) < 0)
		(void)util_strlcpy(sh->err, store_errmsg(st), sizeof sh->err);
	return r;
}

static void
fleet_shed_released(struct dsession *unused, enum job_fate fate, int r,
    void *arg)
{
	struct fleet_shed	*sh = arg;
	struct fleet		*f = sh->f;
	struct dsession		*ds;

	(void)unused;
	if (fate != JOB_CURRENT ||
	    (ds = sessions_get(f->reg, sh->session)) == NULL ||
	    ds->epoch != sh->epoch) {
		free(sh);
		return;
	}
	if (r < 0 && r != -ESTALE) {
		log_error("fleet.release_failed", LOGF_I("session", ds->id),
		    LOGF_S("error", sh->err));
		free(sh);
		/* Still ours: it runs again. */
		supervisor_feed(f->sup, ds, SV_EV_KEEP, 0, false);
		if (ds->desired == SESSION_DESIRED_RUNNING && !f->c->stopping)
			supervisor_start(f->sup, ds);
		supervisor_drain(f->sup);
		return;
	}
	/*
	 * A sync sent before the release still shows the session as ours:
	 * it stays in memory, stopped, until a later one has been applied.
	 */
	ds->released_after = sh->sync_sent;
	supervisor_feed(f->sup, ds, SV_EV_LOSE, 0, true);
	supervisor_drain(f->sup);
	f->stats.shed++;
	log_info("fleet.shed", LOGF_I("session", ds->id),
	    LOGF_S("phone", ds->phone));
	(void)failpoint("fleet.released");
	free(sh);
}

void
fleet_give_up(struct fleet *f, struct dsession *ds)
{
	struct fleet_shed	*sh = xcalloc(1, sizeof *sh);

	sh->f = f;
	sh->session = ds->id;
	sh->epoch = ds->epoch;
	(void)util_strlcpy(sh->self, f->c->instance_id, sizeof sh->self);
	sh->now = util_now_ms();
	sh->sync_sent = sync_sent(f->sync);
	if (jobs_submit(f->jobs, f->c->q, NULL, 0, fleet_shed_run,
	    fleet_shed_released, sh, "session_release") < 0) {
		free(sh);
		supervisor_feed(f->sup, ds, SV_EV_KEEP, 0, false);
		if (ds->desired == SESSION_DESIRED_RUNNING && !f->c->stopping)
			sessions_enqueue(f->reg, ds);
	}
}

/* How eagerly a session is given up: idle ones first, then by priority. */
static int
fleet_shed_rank(const struct dsession *ds)
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
 * an instance gives up to FLEET_SHED_MAX sessions per heartbeat, the ones
 * with no connector running first, then the lowest priority.  Each is
 * stopped with its proxy kept, then released; the peer claims it and
 * reactivates the same IP.  share and owned come with a sync's answer.
 */
void
fleet_rebalance(struct fleet *f, int64_t share, int64_t owned)
{
	struct dsession	*ds, *best;
	int64_t		 shedding = 0, excess;
	int		 i;

	for (ds = sessions_first(f->reg); ds != NULL; ds = sessions_next(ds))
		if (ds->sv.life == SV_LIFE_SHEDDING ||
		    ds->sv.life == SV_LIFE_GIVING_UP || ds->released_after != 0)
			shedding++;
	excess = owned - shedding - share;
	for (i = 0; i < FLEET_SHED_MAX && excess > 0; i++, excess--) {
		best = NULL;
		for (ds = sessions_first(f->reg); ds != NULL;
		    ds = sessions_next(ds)) {
			if (ds->sv.life != SV_LIFE_OWNED)
				continue;
			if (best == NULL || fleet_shed_rank(ds) <
			    fleet_shed_rank(best) || (fleet_shed_rank(ds) ==
			    fleet_shed_rank(best) && ds->priority <
			    best->priority))
				best = ds;
		}
		if (best == NULL)
			break;
		best->queued = false;
		log_info("fleet.shedding", LOGF_I("session", best->id),
		    LOGF_I("share", share), LOGF_I("owned", owned));
		/*
		 * Stopped with its proxy kept, then given up (the core's
		 * SV_ACT_GIVE_UP, fleet_give_up); the life changes at once,
		 * so the next one chosen here is another.
		 */
		supervisor_feed(f->sup, best, SV_EV_SHED, 0, true);
		supervisor_drain(f->sup);
	}
}

void
fleet_tick(struct fleet *f)
{
	record_reap(f->rec, FLEET_STALE_MS(f->c->cfg));
	sync_request(f->sync, true);
	fleet_wake_watch(f);
}

/* --- wake-ups ----------------------------------------------------------- */

/*
 * Wake-ups from peers (LISTEN/NOTIFY) arrive on the worker's connection;
 * the loop only polls its descriptor.  Draining it (and re-establishing
 * the channel after a lost connection, which may block) is a job of the
 * worker, whose answer also carries the descriptor to watch next.
 */
struct fleet_wake {
	struct fleet	*f;
	bool		 drain;
	int		 n;
	int		 fd;
};

static void	fleet_wake_submit(struct fleet *f, bool drain);

static void
fleet_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fleet_wake_submit(arg, true);
}

static int
fleet_wake_run(struct store *st, void *arg)
{
	struct fleet_wake	*w = arg;

	if (w->drain)
		w->n = store_wake_drain(st);
	w->fd = store_wake_fd(st);
	return 0;
}

static void
fleet_wake_done(struct dsession *ds, enum job_fate fate, int result,
    void *arg)
{
	struct fleet_wake	*w = arg;
	struct fleet		*f = w->f;

	(void)ds;
	(void)result;
	f->wake_busy = false;
	if (fate != JOB_CURRENT) {
		free(w);
		return;
	}
	if (w->n > 0 && f->c->setup_done && !f->c->stopping) {
		log_debug("fleet.woken", LOGF_I("notifications", w->n));
		sync_now(f->sync);
	}
	/*
	 * Always a new event: after a reconnection on the worker the same
	 * number may name a new socket, which the old registration misses.
	 * Not persistent: armed again only once a drain is done.
	 */
	if (f->ev_wake != NULL) {
		event_free(f->ev_wake);
		f->ev_wake = NULL;
	}
	if (w->fd >= 0 && (f->ev_wake = event_new(f->c->base, w->fd, EV_READ,
	    fleet_wake_cb, f)) != NULL)
		event_add(f->ev_wake, NULL);
	free(w);
}

static void
fleet_wake_submit(struct fleet *f, bool drain)
{
	struct fleet_wake	*w;

	if (f->wake_busy || !f->c->fleet)
		return;
	w = xcalloc(1, sizeof *w);
	w->f = f;
	w->drain = drain;
	w->fd = -1;
	if (jobs_submit(f->jobs, f->c->q, NULL, 0, fleet_wake_run,
	    fleet_wake_done, w, "wake") < 0) {
		free(w);
		return;
	}
	f->wake_busy = true;
}

void
fleet_wake_watch(struct fleet *f)
{
	fleet_wake_submit(f, false);
}
