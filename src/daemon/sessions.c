/*
 * The registry of supervised sessions: see sessions.h.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/intmap.h"
#include "base/xmalloc.h"
#include "daemon/sessions.h"

#define SESSIONS_QUEUE_MIN	256	/* the admission ring's first size */

struct sessions {
	struct event_base	*base;
	sessions_timer_fn	 timer_cb;
	void			*timer_arg;
	TAILQ_HEAD(, dsession)	 all;
	struct intmap		*by_id;
	struct intmap		*by_pid;
	size_t			 n;
	uint64_t		 serial;
	int64_t			 in_state[SV_NSTATES];
	int64_t			 in_status[SESSION_STATUS_DORMANT + 1];
	/* The admission queue: a ring of session ids. */
	int64_t			*queue;
	size_t			 qhead, qlen, qcap;
};

static void
sessions_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dsession	*ds = arg;

	(void)fd;
	(void)what;
	ds->reg->timer_cb(ds, ds->reg->timer_arg);
}

struct sessions *
sessions_new(struct event_base *base, sessions_timer_fn cb, void *arg)
{
	struct sessions	*r = xcalloc(1, sizeof *r);

	r->base = base;
	r->timer_cb = cb;
	r->timer_arg = arg;
	TAILQ_INIT(&r->all);
	r->by_id = intmap_new();
	r->by_pid = intmap_new();
	return r;
}

static void
sessions_record_free(struct dsession *ds)
{
	if (ds->timer != NULL)
		event_free(ds->timer);
	if (ds->pidfd_ev != NULL)
		event_free(ds->pidfd_ev);
	if (ds->pidfd >= 0)
		close(ds->pidfd);
	free(ds);
}

void
sessions_free(struct sessions *r)
{
	struct dsession	*ds;

	if (r == NULL)
		return;
	while ((ds = TAILQ_FIRST(&r->all)) != NULL) {
		TAILQ_REMOVE(&r->all, ds, link);
		sessions_record_free(ds);
	}
	intmap_free(r->by_id);
	intmap_free(r->by_pid);
	free(r->queue);
	free(r);
}

struct dsession *
sessions_add(struct sessions *r, const struct session *s)
{
	struct dsession	*ds = xcalloc(1, sizeof *ds);

	ds->serial = ++r->serial;
	ds->reg = r;
	ds->id = s->id;
	ds->epoch = s->epoch;
	memcpy(ds->user_id, s->user_id, sizeof ds->user_id);
	memcpy(ds->phone, s->phone, sizeof ds->phone);
	memcpy(ds->country, s->country, sizeof ds->country);
	ds->priority = s->priority;
	ds->last_activity = s->last_activity_at ? s->last_activity_at :
	    s->created_at;
	ds->desired = s->desired;
	ds->ptype = s->proxy_type;
	ds->pidfd = -1;
	if (r->base != NULL)
		ds->timer = evtimer_new(r->base, sessions_timer_cb, ds);
	r->in_state[ds->sv.state]++;
	ds->status = (unsigned)s->status <= SESSION_STATUS_DORMANT ? s->status :
	    SESSION_STATUS_NEW;
	r->in_status[ds->status]++;
	intmap_put(r->by_id, ds->id, ds);
	TAILQ_INSERT_TAIL(&r->all, ds, link);
	r->n++;
	return ds;
}

void
sessions_drop(struct sessions *r, struct dsession *ds)
{
	if (ds == NULL)
		return;
	r->in_state[ds->sv.state]--;
	r->in_status[ds->status]--;
	if (intmap_get(r->by_id, ds->id) == ds)
		(void)intmap_del(r->by_id, ds->id);
	if (ds->pid > 0 && intmap_get(r->by_pid, ds->pid) == ds)
		(void)intmap_del(r->by_pid, ds->pid);
	TAILQ_REMOVE(&r->all, ds, link);
	r->n--;
	sessions_record_free(ds);
}

struct dsession *
sessions_get(const struct sessions *r, int64_t id)
{
	return intmap_get(r->by_id, id);
}

size_t
sessions_count(const struct sessions *r)
{
	return r->n;
}

struct dsession *
sessions_first(const struct sessions *r)
{
	return TAILQ_FIRST(&r->all);
}

struct dsession *
sessions_next(const struct dsession *ds)
{
	return TAILQ_NEXT(ds, link);
}

void
sessions_pid_put(struct sessions *r, pid_t pid, struct dsession *ds)
{
	intmap_put(r->by_pid, pid, ds);
}

struct dsession *
sessions_pid_get(const struct sessions *r, pid_t pid)
{
	return intmap_get(r->by_pid, pid);
}

struct dsession *
sessions_pid_take(struct sessions *r, pid_t pid)
{
	return intmap_del(r->by_pid, pid);
}

size_t
sessions_pids(const struct sessions *r)
{
	return intmap_count(r->by_pid);
}

void
sessions_moved(struct sessions *r, enum supervise_state from,
    enum supervise_state to)
{
	if (from == to)
		return;
	r->in_state[from]--;
	r->in_state[to]++;
}

void
sessions_set_status(struct sessions *r, struct dsession *ds,
    enum session_status st)
{
	if ((unsigned)st > SESSION_STATUS_DORMANT || st == ds->status)
		return;
	r->in_status[ds->status]--;
	r->in_status[st]++;
	ds->status = st;
}

int64_t
sessions_in_status(const struct sessions *r, enum session_status st)
{
	return (unsigned)st <= SESSION_STATUS_DORMANT ? r->in_status[st] : 0;
}

int64_t
sessions_in_state(const struct sessions *r, enum supervise_state s)
{
	return (unsigned)s < SV_NSTATES ? r->in_state[s] : 0;
}

void
sessions_enqueue(struct sessions *r, struct dsession *ds)
{
	int64_t	*grown;
	size_t	 i, cap;

	if (ds->queued)
		return;
	if (r->qlen == r->qcap) {
		/* Grow, and unroll the ring into the new array. */
		cap = r->qcap ? r->qcap * 2 : SESSIONS_QUEUE_MIN;
		grown = xreallocarray(NULL, cap, sizeof *grown);
		for (i = 0; i < r->qlen; i++)
			grown[i] = r->queue[(r->qhead + i) % r->qcap];
		free(r->queue);
		r->queue = grown;
		r->qcap = cap;
		r->qhead = 0;
	}
	r->queue[(r->qhead + r->qlen++) % r->qcap] = ds->id;
	ds->queued = true;
}

struct dsession *
sessions_dequeue(struct sessions *r)
{
	struct dsession	*ds;
	int64_t		 id;

	while (r->qlen > 0) {
		id = r->queue[r->qhead];
		r->qhead = (r->qhead + 1) % r->qcap;
		r->qlen--;
		/* Dropped, or taken out of the queue meanwhile: skipped. */
		if ((ds = intmap_get(r->by_id, id)) == NULL || !ds->queued)
			continue;
		ds->queued = false;
		return ds;
	}
	return NULL;
}

size_t
sessions_waiting(const struct sessions *r)
{
	return r->qlen;
}

enum session_status
sessions_status_of(enum supervise_state s)
{
	switch (s) {
	case SV_STOPPED:
		return SESSION_STATUS_STOPPED;
	case SV_STARTING:
		return SESSION_STATUS_STARTING;
	case SV_READY:
		return SESSION_STATUS_READY;
	case SV_BACKOFF:
		return SESSION_STATUS_BACKOFF;
	case SV_STOPPING:
		return SESSION_STATUS_STOPPING;
	case SV_FAILED:
		return SESSION_STATUS_FAILED;
	case SV_NEEDS_AUTH:
		return SESSION_STATUS_NEEDS_AUTH;
	default:
		return SESSION_STATUS_NEW;
	}
}
