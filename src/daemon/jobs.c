/*
 * Asynchronous steps of the daemon, and what their answers are worth when
 * they come: see jobs.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "daemon/ctx.h"
#include "daemon/jobs.h"

struct jobs {
	const struct dctx	*c;
	struct sessions		*reg;
	int64_t			 seq;	/* generations, never reused */
};

/* What travels with a step: the helper's, freed after done. */
struct jobs_step {
	struct jobs	*j;
	int64_t		 session;	/* 0: the daemon's own */
	enum job_kind	 kind;
	int64_t		 gen;
	storeq_run_fn	 run;
	jobs_done_fn	 done;
	void		*arg;
	struct store	*store;		/* the store it ran on, inline */
	uint64_t	 batch;		/* the batch it ran in, inline */
};

struct jobs *
jobs_new(const struct dctx *c, struct sessions *reg)
{
	struct jobs	*j = xcalloc(1, sizeof *j);

	j->c = c;
	j->reg = reg;
	return j;
}

void
jobs_free(struct jobs *j)
{
	free(j);
}

enum job_fate
jobs_fate(const struct jobs *j, int64_t session, enum job_kind kind,
    int64_t gen, struct dsession **ret)
{
	struct dsession	*ds;

	*ret = NULL;
	if (j->c->tearing_down)
		return JOB_TEARDOWN;
	if (session == 0)
		return JOB_CURRENT;
	if ((ds = sessions_get(j->reg, session)) == NULL ||
	    (unsigned)kind >= JOB_NKINDS || ds->gen[kind] != gen ||
	    supervise_gone(&ds->sv))
		return JOB_MOVED_ON;
	*ret = ds;
	return JOB_CURRENT;
}

static int
jobs_run(struct store *st, void *arg)
{
	struct jobs_step	*s = arg;

	/* Inline (SQLite), in the caller's batch: its commit is asked later. */
	if (st != NULL) {
		s->store = st;
		s->batch = store_batch_id(st);
	}
	return s->run(st, s->arg);
}

static void
jobs_done(int result, void *arg)
{
	struct jobs_step	*s = arg;
	struct dsession		*ds;
	enum job_fate		 fate;

	/*
	 * What the job wrote in a batch that did not commit is gone: the
	 * answer is a failure, whatever the job said.  (Threaded jobs commit
	 * on their own: no batch, nothing to ask.)
	 */
	if (result == 0 && s->batch != 0 && !s->j->c->tearing_down &&
	    store_batch_lost(s->store, s->batch))
		result = -EIO;
	fate = jobs_fate(s->j, s->session, s->kind, s->gen, &ds);
	/* Answered: the session waits for no step of this kind now. */
	if (fate == JOB_CURRENT && ds != NULL)
		ds->gen[s->kind] = 0;
	s->done(ds, fate, result, s->arg);
	free(s);
}

int
jobs_submit(struct jobs *j, struct storeq *q, struct dsession *ds,
    enum job_kind kind, storeq_run_fn run, jobs_done_fn done, void *arg,
    const char *what)
{
	struct jobs_step	*s = xcalloc(1, sizeof *s);
	int			 r;

	s->j = j;
	s->run = run;
	s->done = done;
	s->arg = arg;
	if (ds != NULL) {
		s->session = ds->id;
		s->kind = kind;
		s->gen = ++j->seq;
	}
	/* Counted by the queue itself (respawn_store_jobs_refused_total). */
	if ((r = storeq_submit(q, jobs_run, jobs_done, s)) < 0) {
		log_error(q == j->c->q ? "store.queue_full" :
		    "spawn.queue_full", LOGF_S("job", what),
		    LOGF_I("limit", STOREQ_PENDING_MAX));
		free(s);
		return r;
	}
	if (ds != NULL)
		ds->gen[kind] = s->gen;
	return 0;
}

void
jobs_cancel(struct dsession *ds, enum job_kind kind)
{
	if ((unsigned)kind < JOB_NKINDS)
		ds->gen[kind] = 0;
}

bool
jobs_pending(const struct dsession *ds, enum job_kind kind)
{
	return (unsigned)kind < JOB_NKINDS && ds->gen[kind] != 0;
}
