/*
 * The sessions in memory brought in line with the store: see sync.h.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/failpoint.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "daemon/ctx.h"
#include "daemon/inventory.h"
#include "daemon/jobs.h"
#include "daemon/proxy.h"
#include "daemon/purchase.h"
#include "daemon/record.h"
#include "daemon/recovery.h"
#include "daemon/sessions.h"
#include "daemon/spawn.h"
#include "daemon/supervisor.h"
#include "daemon/sync.h"
#include "store/store.h"

struct sync {
	struct dctx		*c;
	struct sync_parts	 p;
	struct sync_hooks	 hooks;
	struct event		*ev_soon;
	bool			 busy;		/* a sync is in flight */
	bool			 again;		/* another was asked meanwhile */
	bool			 again_share;	/* ... with the fleet share */
	uint64_t		 sent;		/* syncs submitted */
	bool			 fp_busy;	/* a fingerprint read in flight */
	int64_t			 fp_count, fp_gen;
	/* The day's charges as last read (-1: not yet), and when. */
	int64_t			 charged_today;
	int64_t			 figures_mono;
};

static void
sync_soon_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sync_now(arg);
}

struct sync *
sync_new(struct dctx *c, const struct sync_parts *parts,
    const struct sync_hooks *hooks)
{
	struct sync	*s = xcalloc(1, sizeof *s);

	s->c = c;
	s->p = *parts;
	s->hooks = *hooks;
	s->ev_soon = evtimer_new(c->base, sync_soon_cb, s);
	s->charged_today = -1;
	return s;
}

void
sync_free(struct sync *s)
{
	if (s == NULL)
		return;
	if (s->ev_soon != NULL)
		event_free(s->ev_soon);
	free(s);
}

uint64_t
sync_sent(const struct sync *s)
{
	return s->sent;
}

/* --- the job: read on the store's worker -------------------------------- */

/* What the start-up reads of a session's past. */
struct sync_hist {
	int64_t	proxy;				/* its newest proxy, or 0 */
	int64_t	gaps[BILLING_HISTORY_MAX];	/* newest first */
	size_t	ngaps;
};

struct sync_job {
	struct sync		*s;
	uint64_t		 seq;
	bool			 startup;
	bool			 share;		/* read the fair share too */
	char			 self[STORE_ID_LEN];
	int64_t			 now;
	int64_t			 window_ms;	/* the recovery window */
	int			 claimed;
	char			 err[STORE_ERROR_LEN];
	struct session		*sessions;
	size_t			 n, cap;
	struct sync_hist	*hist;		/* startup: per session */
	struct proxy_row	*proxies;	/* released ones too, since */
	size_t			 np, pcap;
	int64_t			 since;		/* released at or after */
	int64_t			 charged;	/* the day's, or -1 */
	int64_t			*bought;	/* startup: purchase times */
	size_t			 nbought;
	bool			 share_ok;
	int64_t			 fair, owned;
	bool			 fp_ok;
	int64_t			 fp_count, fp_gen;
};

static int
sync_collect(const struct session *s, void *arg)
{
	struct sync_job	*j = arg;

	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 256;
		j->sessions = xreallocarray(j->sessions, j->cap,
		    sizeof *j->sessions);
	}
	j->sessions[j->n++] = *s;
	return 0;
}

static int
sync_collect_proxy(const struct proxy_row *p, void *arg)
{
	struct sync_job	*j = arg;

	if (j->np == j->pcap) {
		j->pcap = j->pcap ? j->pcap * 2 : 256;
		j->proxies = xreallocarray(j->proxies, j->pcap,
		    sizeof *j->proxies);
	}
	j->proxies[j->np++] = *p;
	return 0;
}

/*
 * From the proxy rows just read: the day's charges (every IP held at any
 * moment of it, released ones included), and at start the times of the
 * purchases the spending limits count.  Off the loop: one pass.
 */
static void
sync_figures(struct sync_job *j)
{
	const struct billing_model	*m = &j->s->c->billing;
	struct billing_span		*spans;
	int64_t				 day;
	size_t				 i;

	spans = xcalloc(j->np ? j->np : 1, sizeof *spans);
	for (i = 0; i < j->np; i++) {
		spans[i].allocated_at = j->proxies[i].purchased_at;
		spans[i].released_at = j->proxies[i].state == PROXY_RELEASED ?
		    j->proxies[i].released_at : 0;
	}
	if (billing_day_charged(m, spans, j->np, j->now, &j->charged) < 0)
		j->charged = -1;
	free(spans);
	if (!j->startup || billing_day_start(m, j->now, &day) < 0)
		return;
	j->bought = xcalloc(j->np ? j->np : 1, sizeof *j->bought);
	for (i = 0; i < j->np; i++)
		if (j->proxies[i].intent_id != 0 &&
		    j->proxies[i].purchased_at >= j->since)
			j->bought[j->nbought++] = j->proxies[i].purchased_at;
}

static int
sync_run(struct store *st, void *arg)
{
	struct sync_job		*j = arg;
	const struct session	*s;
	size_t			 i, n;
	int			 r;

	if ((r = store_session_claim(st, j->self, j->now, &j->claimed)) < 0 ||
	    (r = store_session_list(st, sync_collect, j)) < 0 ||
	    (r = store_proxy_list_since(st, j->since, sync_collect_proxy,
	    j)) < 0) {
		(void)util_strlcpy(j->err, store_errmsg(st), sizeof j->err);
		return r;
	}
	sync_figures(j);
	/*
	 * At start, the sessions whose connector may be adopted, which turn
	 * dormant or which were stopped while no daemon ran need their
	 * newest proxy: read it now, not per session from the loop.
	 */
	if (j->startup && j->n > 0) {
		j->hist = xcalloc(j->n, sizeof *j->hist);
		for (i = 0; i < j->n; i++) {
			s = &j->sessions[i];
			if (strcmp(s->owner, j->self) != 0 ||
			    (s->connector_pid <= 0 && s->desired ==
			    SESSION_DESIRED_RUNNING && (s->last_activity_at ==
			    0 || j->now - s->last_activity_at <= j->window_ms)))
				continue;
			if (store_proxy_history(st, s->phone, &j->hist[i].proxy,
			    1, &n) < 0 || n != 1)
				j->hist[i].proxy = 0;
			/*
			 * Its reconnect gaps, for the hold of its IP when it
			 * stops (no gap is in progress: now is 0).  None known
			 * is no reason not to go on: the shortest hold then.
			 */
			if (store_phone_gaps(st, s->phone, 0, j->hist[i].gaps,
			    BILLING_HISTORY_MAX, &n) == 0)
				j->hist[i].ngaps = n;
		}
	}
	j->fp_ok = store_session_fingerprint(st, &j->fp_count,
	    &j->fp_gen) == 0;
	if (j->share)
		j->share_ok = store_fleet_share(st, j->self, &j->fair,
		    &j->owned) == 0;
	return 0;
}

static void
sync_job_free(struct sync_job *j)
{
	free(j->sessions);
	free(j->hist);
	free(j->proxies);
	free(j->bought);
	free(j);
}

/* --- the answer: applied on the loop ------------------------------------ */

struct sync_load {
	struct sync	 *s;
	struct dsession	**list;		/* to queue, in recovery order */
	size_t		  n, cap;
	int64_t		  dormant;
	bool		  startup;
};

/* A new session of ours, taken up by the start-up sync. */
static void
sync_take_up(struct sync_load *ld, struct dsession *ds,
    const struct session *s, int64_t hist0)
{
	struct sync	*sy = ld->s;
	int64_t		 now = util_now_ms();

	if (ld->startup && spawn_adopt(sy->p.sp, ds, s, hist0)) {
		if (s->desired != SESSION_DESIRED_RUNNING)
			supervisor_feed(sy->p.sup, ds, SV_EV_STOP, 0, false);
		return;
	}
	/* Nobody runs it now: say so until it is started again. */
	if (ld->startup && s->status != SESSION_STATUS_STOPPED &&
	    s->status != SESSION_STATUS_NEW)
		supervisor_persist(sy->p.sup, ds, false);
	/* Logged out: only the operator's start (after a QR scan) helps. */
	if (s->status == SESSION_STATUS_NEEDS_AUTH) {
		supervisor_hold_needs_auth(sy->p.sup, ds);
		return;
	}
	/*
	 * Stopped while no daemon ran: its IP is no longer kept for it,
	 * as when a running daemon stops a session, so it serves another
	 * phone of its country or goes back per the release policy.
	 */
	if (ld->startup && s->desired != SESSION_DESIRED_RUNNING) {
		proxy_unkeep(sy->p.px, ds, hist0);
		return;
	}
	if (s->desired != SESSION_DESIRED_RUNNING ||
	    !sy->c->cfg->auto_reconnect)
		return;
	/* Idle beyond the window: dormant, not started by itself. */
	if (ld->startup && s->last_activity_at != 0 &&
	    now - s->last_activity_at > sy->c->cfg->recovery_window_ms) {
		struct session_report rep = { .status = SESSION_STATUS_DORMANT };

		ld->dormant++;
		record_report(sy->p.rec, ds, &rep);
		/* Its proxy is no longer kept for it. */
		proxy_unkeep(sy->p.px, ds, hist0);
		return;
	}
	if (ld->n == ld->cap) {
		ld->cap = ld->cap ? ld->cap * 2 : 256;
		ld->list = xreallocarray(ld->list, ld->cap, sizeof *ld->list);
	}
	ld->list[ld->n++] = ds;
}

/* One session of a sync's answer; h: its history (startup), or NULL. */
static void
sync_load(struct sync_load *ld, const struct session *s,
    const struct sync_hist *h)
{
	int64_t		 hist0 = h != NULL ? h->proxy : 0;
	struct sync	*sy = ld->s;
	struct dsession	*ds = sessions_get(sy->p.reg, s->id);

	if (strcmp(s->owner, sy->c->instance_id) != 0) {
		if (ld->startup && ds == NULL)
			sy->hooks.foreign(sy->hooks.arg, s);
		/* Taken by a peer (or given up): stop ours, touch nothing. */
		if (ds != NULL)
			ds->seen = true;	/* accounted for: not removed */
		if (ds != NULL && !supervise_gone(&ds->sv)) {
			if (ds->sv.life != SV_LIFE_GIVING_UP)
				log_warn("session.lost", LOGF_I("session",
				    ds->id), LOGF_S("phone", ds->phone),
				    LOGF_S("owner", s->owner[0] != '\0' ?
				    s->owner : "none"));
			supervisor_feed(sy->p.sup, ds, SV_EV_LOSE, 0, true);
		}
		return;
	}
	/* Still being dropped: taken up again at the next sync. */
	if (ds != NULL && supervise_gone(&ds->sv))
		return;
	if (ds == NULL) {
		ds = sessions_add(sy->p.reg, s);
		ds->seen = true;
		if (h != NULL) {
			memcpy(ds->gaps, h->gaps, sizeof ds->gaps);
			ds->ngaps = h->ngaps;
		}
		sync_take_up(ld, ds, s, hist0);
		return;
	}
	ds->seen = true;
	/* `session start` of a failed, logged-out or dormant session. */
	if (s->status == SESSION_STATUS_NEW && s->desired ==
	    SESSION_DESIRED_RUNNING && !ds->queued && (ds->sv.state ==
	    SV_FAILED || ds->sv.state == SV_NEEDS_AUTH ||
	    ds->sv.state == SV_STOPPED)) {
		log_info("session.start_requested", LOGF_I("session", ds->id));
		sessions_enqueue(sy->p.reg, ds);
	}
	if (ds->desired != s->desired) {
		ds->desired = s->desired;
		if (s->desired == SESSION_DESIRED_RUNNING) {
			log_info("session.start_requested",
			    LOGF_I("session", ds->id));
			sessions_enqueue(sy->p.reg, ds);
		} else {
			log_info("session.stop_requested",
			    LOGF_I("session", ds->id));
			supervisor_feed(sy->p.sup, ds, SV_EV_STOP, 0, false);
		}
	}
}

/* Sessions no longer in the store are stopped, then dropped. */
static void
sync_forget(struct sync *s, uint64_t seq)
{
	struct dsession	*ds, *next;

	for (ds = sessions_first(s->p.reg); ds != NULL; ds = next) {
		next = sessions_next(ds);
		/* Given up before this answer was read: now it can go. */
		if (ds->released_after != 0 && seq > ds->released_after) {
			ds->released_after = 0;
			supervisor_reap(s->p.sup, ds);
			continue;
		}
		if (ds->seen || supervise_gone(&ds->sv))
			continue;
		log_info("session.removed", LOGF_I("session", ds->id),
		    LOGF_S("phone", ds->phone));
		ds->queued = false;
		ds->desired = SESSION_DESIRED_STOPPED;
		supervisor_feed(s->p.sup, ds, SV_EV_REMOVE, 0, false);
	}
}

/*
 * A reconciliation (`respawn proxy reconcile`, or a peer's) found that the
 * provider no longer lists this IP: the pool stops offering and counting
 * it.  Only the store's lost mark is taken (inventory_apply_row): what
 * the pool knows of its use stands.
 */
static void
sync_lost_row(struct sync *s, const struct proxy_row *row)
{
	const struct pool_proxy	*old;

	if (row->state != PROXY_LOST || s->c->pool == NULL ||
	    (old = pool_get(s->c->pool, row->id)) == NULL ||
	    old->state == POOL_LOST)
		return;
	log_info("proxy.lost_in_store", LOGF_I("proxy", row->id),
	    LOGF_S("ip", row->ip), LOGF_S("country", row->country));
	inventory_apply_row(s->p.inv, row);
}

static void
sync_apply(struct sync *s, struct sync_job *j)
{
	struct sync_load	 ld = { .s = s, .startup = j->startup };
	struct dsession		*ds;
	size_t			 i;

	if (j->claimed > 0 && !j->startup) {
		log_info("fleet.claimed", LOGF_I("sessions", j->claimed));
		(void)failpoint("fleet.claimed");
	}
	/*
	 * Sessions taken over come with their proxies: know them first.
	 * Only then: what this instance changed since the answer was read
	 * is newer in memory than in the answer.
	 */
	if (s->c->pool != NULL && j->claimed > 0 && !j->startup)
		for (i = 0; i < j->np; i++)
			if (j->proxies[i].state != PROXY_RELEASED)
				inventory_refresh_row(s->p.inv,
				    &j->proxies[i]);
	if (j->charged >= 0)
		s->charged_today = j->charged;
	if (j->startup)
		purchase_seed(s->p.pur, j->bought, j->nbought);
	if (j->fp_ok) {
		s->fp_count = j->fp_count;
		s->fp_gen = j->fp_gen;
	}
	for (ds = sessions_first(s->p.reg); ds != NULL; ds = sessions_next(ds))
		ds->seen = false;
	for (i = 0; i < j->n; i++)
		sync_load(&ld, &j->sessions[i], j->hist != NULL ?
		    &j->hist[i] : NULL);
	if (j->startup)
		recovery_order(s->p.recovery, ld.list, ld.n);
	for (i = 0; i < ld.n; i++) {
		if (j->startup)
			recovery_include(s->p.recovery, ld.list[i]);
		sessions_enqueue(s->p.reg, ld.list[i]);
	}
	if (j->startup && ld.dormant > 0)
		log_info("recovery.dormant", LOGF_I("sessions", ld.dormant),
		    LOGF_S("msg", "sessions idle beyond the recovery window "
		    "are not started"));
	free(ld.list);
	for (i = 0; i < j->np; i++) {
		proxy_release_row(s->p.px, &j->proxies[i]);
		sync_lost_row(s, &j->proxies[i]);
	}
	if (j->startup)
		return;
	sync_forget(s, j->seq);
	if (j->share_ok)
		s->hooks.share(s->hooks.arg, j->fair, j->owned);
}

static void	sync_submit(struct sync *s, bool startup, bool share);

static void
sync_done(struct dsession *ds, enum job_fate fate, int result, void *arg)
{
	struct sync_job	*j = arg;
	struct sync	*s = j->s;
	bool		 startup = j->startup;

	(void)ds;
	s->busy = false;
	if (fate != JOB_CURRENT) {
		sync_job_free(j);
		return;
	}
	if (result < 0)
		log_error("store.sync_failed", LOGF_S("error", j->err));
	else if (!s->c->fenced)
		sync_apply(s, j);
	sync_job_free(j);
	if (startup) {
		s->hooks.loaded(s->hooks.arg, result >= 0);
		if (result < 0)
			return;
	} else {
		supervisor_admit(s->p.sup);
	}
	supervisor_drain(s->p.sup);
	if (s->again && !s->c->stopping) {
		bool	share = s->again_share;

		s->again = s->again_share = false;
		sync_submit(s, false, share);
	}
}

static void
sync_submit(struct sync *s, bool startup, bool share)
{
	struct sync_job	*j;

	if (s->busy) {
		s->again = true;
		s->again_share |= share;
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->s = s;
	j->seq = ++s->sent;
	j->startup = startup;
	j->share = share;
	(void)util_strlcpy(j->self, s->c->instance_id, sizeof j->self);
	j->now = util_now_ms();
	j->window_ms = s->c->cfg->recovery_window_ms;
	/*
	 * Released rows matter from the spending day's start (its charges)
	 * or the purchase window's, whichever is earlier.
	 */
	if (billing_day_start(&s->c->billing, j->now, &j->since) < 0)
		j->since = j->now;
	if (j->now - s->c->cfg->purchase_window_ms < j->since)
		j->since = j->now - s->c->cfg->purchase_window_ms;
	if (jobs_submit(s->p.jobs, s->c->q, NULL, 0, sync_run, sync_done, j,
	    "sync") < 0) {
		sync_job_free(j);
		if (startup)
			s->hooks.loaded(s->hooks.arg, false);
		return;
	}
	s->busy = true;
}

void
sync_startup(struct sync *s)
{
	sync_submit(s, true, false);
}

void
sync_request(struct sync *s, bool share)
{
	sync_submit(s, false, share);
}

void
sync_now(struct sync *s)
{
	if (s->c->stopping || !s->c->setup_done)
		return;
	sync_submit(s, false, false);
}

void
sync_soon(struct sync *s)
{
	struct timeval	tv = { 0, SYNC_DELAY_MS * 1000 };

	if (s->c->setup_done && !s->c->stopping &&
	    !evtimer_pending(s->ev_soon, NULL))
		evtimer_add(s->ev_soon, &tv);
}

/* --- the fingerprint ---------------------------------------------------- */

struct sync_fp {
	struct sync		*s;
	int64_t			 count, gen;
	/* Every SYNC_FIGURES_MS: the day's charges read again. */
	bool			 figures;
	int64_t			 now, since, charged;
	struct billing_span	*spans;
	size_t			 n, cap;
};

static int
sync_fp_span(const struct proxy_row *p, void *arg)
{
	struct sync_fp	*f = arg;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 256;
		f->spans = xreallocarray(f->spans, f->cap, sizeof *f->spans);
	}
	f->spans[f->n].allocated_at = p->purchased_at;
	f->spans[f->n++].released_at = p->state == PROXY_RELEASED ?
	    p->released_at : 0;
	return 0;
}

static int
sync_fp_run(struct store *st, void *arg)
{
	struct sync_fp	*f = arg;
	int		 r;

	if ((r = store_session_fingerprint(st, &f->count, &f->gen)) < 0)
		return r;
	f->charged = -1;
	/* A failed read of the figures keeps the last ones: no error. */
	if (f->figures && store_proxy_list_since(st, f->since, sync_fp_span,
	    f) == 0 && billing_day_charged(&f->s->c->billing, f->spans, f->n,
	    f->now, &f->charged) < 0)
		f->charged = -1;
	return 0;
}

static void
sync_fp_done(struct dsession *ds, enum job_fate fate, int result, void *arg)
{
	struct sync_fp	*f = arg;
	struct sync	*s = f->s;

	(void)ds;
	s->fp_busy = false;
	if (fate == JOB_CURRENT && result == 0 && f->charged >= 0)
		s->charged_today = f->charged;
	if (fate == JOB_CURRENT && !s->c->stopping && result == 0 &&
	    (f->count != s->fp_count || f->gen != s->fp_gen)) {
		s->fp_count = f->count;
		s->fp_gen = f->gen;
		sync_submit(s, false, false);
	}
	free(f->spans);
	free(f);
}

int64_t
sync_charged_today(const struct sync *s)
{
	return s->charged_today;
}

void
sync_tick(struct sync *s)
{
	struct sync_fp	*f;

	/*
	 * Not before the start-up recovery has begun (it does the first
	 * sync itself); a sync in flight reads the fingerprint itself.
	 */
	if (!s->c->setup_done || s->fp_busy || s->busy)
		return;
	f = xcalloc(1, sizeof *f);
	f->s = s;
	if (util_mono_ms() - s->figures_mono >= SYNC_FIGURES_MS) {
		s->figures_mono = util_mono_ms();
		f->figures = true;
		f->now = util_now_ms();
		if (billing_day_start(&s->c->billing, f->now, &f->since) < 0)
			f->since = f->now;
	}
	if (jobs_submit(s->p.jobs, s->c->q, NULL, 0, sync_fp_run, sync_fp_done,
	    f, "fingerprint") < 0) {
		free(f);
		return;
	}
	s->fp_busy = true;
}
