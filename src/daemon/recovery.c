/*
 * The start-up recovery: see recovery.h.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "core/billing.h"
#include "daemon/ctx.h"
#include "daemon/record.h"
#include "daemon/recovery.h"
#include "daemon/sessions.h"
#include "store/store.h"
#include "sys/procinfo.h"
#include "sys/sdnotify.h"

/* One session's recovery: from queued to READY=1. */
static const double recovery_session_buckets[] = { 0.1, 0.25, 0.5, 1, 2.5,
    5, 10, 30, 60, 120, 300, 600 };
/* A whole start-up recovery. */
static const double recovery_run_buckets[] = { 1, 5, 10, 30, 60, 120, 300,
    600, 1800, 3600 };

struct recovery {
	struct dctx		*c;
	struct record		*rec;
	struct recovery_run	 run;
	int64_t			 pending;	/* sessions yet to answer */
	bool			 open;
	bool			 opened;	/* recovery_open was called */
	int			 crashed, graceful;
	char			 crashed_ids[RECOVERY_CRASHED_MAX][STORE_ID_LEN];
	int			 ncrashed;
	struct metrics_hist	 session_hist;
	struct metrics_hist	 run_hist;
};

struct recovery *
recovery_new(struct dctx *c, struct record *rec)
{
	struct recovery	*r = xcalloc(1, sizeof *r);

	r->c = c;
	r->rec = rec;
	metrics_hist_init(&r->session_hist, recovery_session_buckets,
	    nitems(recovery_session_buckets));
	metrics_hist_init(&r->run_hist, recovery_run_buckets,
	    nitems(recovery_run_buckets));
	return r;
}

void
recovery_free(struct recovery *r)
{
	free(r);
}

/*
 * Instances of this host that claim to run but whose process is gone died
 * without a goodbye: a crash.  (Instances of other hosts are judged by
 * their heartbeat alone, in store_instance_reap.)
 */
static int
recovery_instance_cb(const struct instance *i, void *arg)
{
	struct recovery	*r = arg;

	if (strcmp(i->hostname, r->c->hostname) != 0)
		return 0;
	if (i->status == INSTANCE_STOPPED)
		r->graceful++;
	if (i->status != INSTANCE_STARTING && i->status != INSTANCE_RUNNING &&
	    i->status != INSTANCE_STOPPING)
		return 0;
	if (i->pid != getpid() && procinfo_alive((pid_t)i->pid))
		return 0;	/* still alive: another daemon on this host */
	if (r->ncrashed < RECOVERY_CRASHED_MAX)
		(void)util_strlcpy(r->crashed_ids[r->ncrashed++], i->id,
		    STORE_ID_LEN);
	r->crashed++;
	return 0;
}

int
recovery_detect(struct recovery *r, int64_t stale_ms,
    const char (*heirs)[STORE_ID_LEN], size_t n)
{
	struct store	*st = r->c->store;
	size_t		 k;
	int		 i, dead = 0, deleted = 0, rc;
	bool		 heir;

	/* Counted afresh: a start that failed is tried again. */
	r->crashed = r->graceful = r->ncrashed = 0;
	if ((rc = store_instance_list(st, recovery_instance_cb, r)) < 0)
		return rc;
	for (i = 0; i < r->ncrashed; i++) {
		for (heir = false, k = 0; k < n && !heir; k++)
			heir = strcmp(heirs[k], r->crashed_ids[i]) == 0;
		log_warn("instance.crashed", LOGF_S("instance",
		    r->crashed_ids[i]), LOGF_B("succeeded", heir),
		    LOGF_S("msg", "previous instance on this host stopped "
		    "without a graceful shutdown"));
		/*
		 * A predecessor stays as it is until this daemon's
		 * registration takes its place and its sessions at once:
		 * marked dead first, it would wake the peers for nothing.
		 */
		if (!heir)
			(void)store_instance_set_status(st,
			    r->crashed_ids[i], INSTANCE_DEAD, util_now_ms());
	}
	if (store_instance_reap(st, r->c->instance_id, util_now_ms(),
	    stale_ms, RECORD_DEAD_KEEP_MS, &dead, &deleted) == 0 &&
	    (dead > 0 || deleted > 0))
		log_info("instance.cleanup", LOGF_I("marked_dead", dead),
		    LOGF_I("deleted", deleted));
	return 0;
}

bool
recovery_crashed(const struct recovery *r, const char *id)
{
	int	i;

	for (i = 0; i < r->ncrashed; i++)
		if (strcmp(r->crashed_ids[i], id) == 0)
			return true;
	return false;
}

void
recovery_begin(struct recovery *r)
{
	(void)util_strlcpy(r->run.instance_id, r->c->instance_id,
	    sizeof r->run.instance_id);
	r->run.started_at = util_now_ms();
	/*
	 * A crash of this host's previous daemon, or its graceful stop; with
	 * neither, nothing of this host ever ran on this database.
	 */
	(void)util_strlcpy(r->run.cause, r->crashed > 0 ? "crash" :
	    r->graceful > 0 ? "graceful" : "first_start", sizeof r->run.cause);
	log_info("recovery.starting", LOGF_S("msg",
	    "starting session recovery after server restart"),
	    LOGF_S("cause", r->run.cause));
}

/* Where a session ranks in recovery: priority countries, user, recency. */
static int
recovery_country_rank(const struct config *cfg, const char *cc)
{
	size_t	i;

	for (i = 0; i < cfg->n_priority_countries; i++)
		if (strcmp(cfg->priority_countries[i], cc) == 0)
			return (int)i;
	return (int)CONFIG_MAX_COUNTRIES;
}

static int
recovery_cmp(const void *a, const void *b, void *arg)
{
	const struct config	*cfg = arg;
	const struct dsession	*x = *(struct dsession *const *)a;
	const struct dsession	*y = *(struct dsession *const *)b;
	int			 rx = recovery_country_rank(cfg, x->country);
	int			 ry = recovery_country_rank(cfg, y->country);

	if (rx != ry)
		return rx < ry ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->last_activity != y->last_activity)
		return x->last_activity > y->last_activity ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

void
recovery_order(struct recovery *r, struct dsession **list, size_t n)
{
	if (n > 1)
		qsort_r(list, n, sizeof *list, recovery_cmp,
		    (void *)r->c->cfg);
}

void
recovery_include(struct recovery *r, struct dsession *ds)
{
	ds->recovering = true;
	r->pending++;
	r->run.sessions_total++;
}

void
recovery_open(struct recovery *r)
{
	r->opened = true;
	if (r->run.sessions_total == 0)
		log_info("recovery.nothing", LOGF_S("msg",
		    "no active sessions to recover"));
	else
		r->open = r->pending > 0;
}

/* A session of the start-up recovery reached a final answer. */
static void
recovery_settle(struct recovery *r, struct dsession *ds, bool ok)
{
	struct recovery_run	*run = &r->run;

	ds->recovering = false;
	if (ok) {
		int64_t	ms = util_mono_ms() - ds->recovery_t0;

		run->recovered++;
		run->total_recovery_ms += ms;
		metrics_hist_observe(&r->session_hist, (double)ms / 1000.0);
		if (ds->proxy_how == POOL_REACTIVATE)
			run->reactivated++;
		else if (ds->proxy_how == POOL_REUSE)
			run->reused++;
		else if (ds->proxy_how == POOL_PURCHASE) {
			/* A bought IP's first billing unit is the cost. */
			run->purchased++;
			run->cost_micros += billing_unit_price(&r->c->billing);
		}
		if (ds->proxy_fallback)
			run->fallbacks++;
	} else {
		run->failed++;
	}
	if (--r->pending > 0 || !r->open)
		return;
	r->open = false;
	run->finished_at = util_now_ms();
	metrics_hist_observe(&r->run_hist, (double)(run->finished_at -
	    run->started_at) / 1000.0);
	record_recovery_run(r->rec, run);
	log_info("recovery.completed", LOGF_S("msg",
	    "session recovery completed"), LOGF_S("cause", run->cause),
	    LOGF_I("sessions", run->sessions_total),
	    LOGF_I("recovered", run->recovered),
	    LOGF_I("failed", run->failed),
	    LOGF_I("reactivated", run->reactivated),
	    LOGF_I("reused", run->reused),
	    LOGF_I("fallbacks", run->fallbacks),
	    LOGF_I("duration_ms", run->finished_at - run->started_at),
	    LOGF_I("avg_recovery_ms", run->recovered ?
	    run->total_recovery_ms / run->recovered : 0));
	sdnotify_send("STATUS=recovery completed");
	/*
	 * The start's burst (environments, jobs, answers in flight) is over:
	 * the heap pages it grew and freed go back to the system, so the
	 * daemon keeps what its sessions need (docs/BENCHMARKS.md).
	 */
	(void)malloc_trim(0);
}

void
recovery_moved(struct recovery *r, struct dsession *ds,
    const struct supervise_output *out)
{
	if (!ds->recovering)
		return;
	if (out->to == SV_READY && out->from != SV_READY)
		recovery_settle(r, ds, true);
	else if (out->to == SV_FAILED || out->to == SV_NEEDS_AUTH ||
	    (out->to == SV_STOPPED && out->from != SV_STOPPED))
		recovery_settle(r, ds, false);
}

bool
recovery_in_progress(const struct recovery *r)
{
	return r->open;
}

bool
recovery_pending(const struct recovery *r)
{
	return !r->opened || r->open;
}

const struct recovery_run *
recovery_run(const struct recovery *r)
{
	return &r->run;
}

const struct metrics_hist *
recovery_session_hist(const struct recovery *r)
{
	return &r->session_hist;
}

const struct metrics_hist *
recovery_run_hist(const struct recovery *r)
{
	return &r->run_hist;
}
