/*
 * The sessions this instance supervises: one record each (struct
 * dsession), found by session id and by connector pid, counted by
 * supervisor state, and the admission queue of sessions waiting to start.
 *
 * struct dsession is shared by the daemon's modules on purpose, as tmux
 * shares struct window_pane: it is the one record every step of a
 * session's life touches, and reaching each field through a function would
 * hide nothing.  Each group of fields has one writer, named below; the
 * others only read it.  The registry (sessions.c) owns the records: they
 * are created and freed here and nowhere else.
 */
#ifndef RESPAWN_DAEMON_SESSIONS_H
#define RESPAWN_DAEMON_SESSIONS_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/billing.h"
#include "core/pool.h"
#include "core/supervise.h"
#include "store/store.h"

struct event;
struct event_base;
struct purchase_demand;

/* The kinds of asynchronous steps a session can wait for (jobs.h). */
enum job_kind {
	JOB_ACQUIRE,		/* the proxy being acquired */
	JOB_SPAWN,		/* the connector being started */
	JOB_OWNER,		/* the ownership check after a conflict */
	JOB_NKINDS
};

struct dsession {
	TAILQ_ENTRY(dsession)	 link;		/* sessions.c */
	uint64_t		 serial;	/* unique per record, ever */
	struct sessions		*reg;		/* the registry it is in */

	/* What the store says of it: set when it is taken up (sync.c). */
	int64_t			 id;
	int64_t			 epoch;
	char			 user_id[USER_ID_LEN];
	char			 phone[PHONE_LEN];
	char			 country[COUNTRY_CODE_LEN];
	int64_t			 priority;
	int64_t			 last_activity;
	enum session_desired	 desired;	/* and on each sync */
	/*
	 * The status the store holds for it, or is about to (a report is
	 * queued): what every figure of sessions by status counts, so a
	 * session never started is "new" and one idle beyond the recovery
	 * window "dormant", as the store says, not "stopped".  Changed only
	 * through sessions_set_status.
	 */
	enum session_status	 status;
	enum proxy_type		 ptype;

	/* The supervisor's (supervisor.c). */
	struct supervise	 sv;
	struct event		*timer;		/* at sv.deadline */
	bool			 waiting_proxy;	/* backoff: the pool had none */
	bool			 restart;	/* start again once stopped */
	unsigned		 nevents;	/* events queued for it */

	/* Its connector (spawn.c). */
	pid_t			 pid;		/* 0: none known */
	uint64_t		 start_ticks;	/* the connector's, from /proc */
	int			 pidfd;		/* adopted: watches its exit */
	struct event		*pidfd_ev;

	/* Its proxy (proxy.c; demand: purchase.c). */
	int64_t			 proxy_id;	/* 0: none */
	enum pool_choice_kind	 proxy_how;
	bool			 proxy_fallback;
	bool			 bought;	/* its next proxy was bought for it */
	unsigned		 res_generation; /* residential: peers refused */
	/* Its reconnect gaps, newest first, for the hold of its IP. */
	int64_t			 gaps[BILLING_HISTORY_MAX];
	size_t			 ngaps;
	struct purchase_demand	*demand;	/* waiting for a purchase */

	/* Asynchronous steps in flight (jobs.c): 0, or the step's number. */
	int64_t			 gen[JOB_NKINDS];

	/*
	 * Its place in the instance (sessions.c, sync.c, fleet.c); whose it
	 * is (owned, shedding, lost, removed) is the core's: sv.life.
	 */
	bool			 queued;	/* waiting to be admitted */
	bool			 seen;		/* present in the last sync */
	/*
	 * Given up (rebalancing) after the sync numbered this was sent:
	 * kept in memory until a later sync shows it, so an older answer
	 * never brings it back (0: not given up).
	 */
	uint64_t		 released_after;

	/* Part of the start-up recovery (recovery.c). */
	bool			 recovering;
	int64_t			 recovery_t0;	/* monotonic ms, when admitted */
};

struct sessions;

/* Called when a session's timer fires. */
typedef void	(*sessions_timer_fn)(struct dsession *ds, void *arg);

struct sessions	*sessions_new(struct event_base *base, sessions_timer_fn cb,
		    void *arg);
/* Frees every record; accepts NULL. */
void		 sessions_free(struct sessions *r);

/* A new record for the store's session s, stopped. */
struct dsession	*sessions_add(struct sessions *r, const struct session *s);
/* Remove a record and free it (its timer and pidfd with it). */
void		 sessions_drop(struct sessions *r, struct dsession *ds);
struct dsession	*sessions_get(const struct sessions *r, int64_t id);
size_t		 sessions_count(const struct sessions *r);
struct dsession	*sessions_first(const struct sessions *r);
struct dsession	*sessions_next(const struct dsession *ds);

/* Connectors by pid (any process of the connector's session names it). */
void		 sessions_pid_put(struct sessions *r, pid_t pid,
		    struct dsession *ds);
struct dsession	*sessions_pid_get(const struct sessions *r, pid_t pid);
/* Forget a pid; returns its session, if it had one. */
struct dsession	*sessions_pid_take(struct sessions *r, pid_t pid);
/* Connectors known to run. */
size_t		 sessions_pids(const struct sessions *r);

/* Sessions by supervisor state, kept as states change. */
void		 sessions_moved(struct sessions *r, enum supervise_state from,
		    enum supervise_state to);
int64_t		 sessions_in_state(const struct sessions *r,
		    enum supervise_state s);

/*
 * The admission queue: sessions that should start, in the order they are
 * to be admitted.  It holds ids, not records, so a record dropped while
 * queued leaves nothing behind to misread.  A session is in it once
 * (ds->queued); one taken out of it meanwhile (ds->queued cleared) is
 * skipped when its turn comes.
 */
void		 sessions_enqueue(struct sessions *r, struct dsession *ds);
struct dsession	*sessions_dequeue(struct sessions *r);
size_t		 sessions_waiting(const struct sessions *r);

/* Sessions by the status the store holds for them (ds->status). */
void		 sessions_set_status(struct sessions *r, struct dsession *ds,
		    enum session_status st);
int64_t		 sessions_in_status(const struct sessions *r,
		    enum session_status st);

/* A supervisor state as the store's session status. */
enum session_status sessions_status_of(enum supervise_state s);

#endif
