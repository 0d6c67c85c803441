/*
 * The daemon's writes whose outcome it does not wait for: a session's
 * report, a proxy given back or marked, an IP a phone refused, an audit
 * event, a purchase intent settled, a recovery run, the instance's status,
 * dead peers marked.
 *
 * Each becomes a job of the store's worker: the arguments are copied into
 * it, so the caller's memory may change or go at once; the jobs run in the
 * order they were submitted, so a later read, or a later write of the same
 * row, sees this one.  No write is dropped: one the store did not take (a
 * full disk, a batch that did not commit, a lost connection) is kept,
 * with every write made after it, and retried in order until the store
 * takes it.  Meanwhile the journal is blocked (record_blocked): the daemon
 * says it is not ready and starts nothing new it could not record.
 */
#ifndef RESPAWN_DAEMON_RECORD_H
#define RESPAWN_DAEMON_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct dctx;
struct dsession;
struct jobs;
struct record;

#define RECORD_DEAD_KEEP_MS	(7LL * 86400000)	/* dead instances kept */
/* Writes kept at most; past it the oldest waiting append goes. */
#define RECORD_JOURNAL_MAX	1000000

struct record_stats {
	uint64_t	writes;		/* made */
	uint64_t	failures;	/* attempts the store refused */
	uint64_t	superseded;	/* not retried: a newer one of the row */
	uint64_t	dropped;	/* past RECORD_JOURNAL_MAX */
	size_t		waiting;	/* in the journal, not yet written */
	int64_t		blocked_ms;	/* 0: the store takes writes */
};

struct record	*record_new(struct dctx *c, struct jobs *jobs);
void		 record_free(struct record *rec);

/* The session's state, conditioned on its owner and epoch. */
void	record_report(struct record *rec, struct dsession *ds,
	    const struct session_report *rep);
/*
 * The session stops using the proxy; keep: reserved for it still, else
 * idle and held for session held_for until held_until (0, 0: not held).
 */
void	record_unassign(struct record *rec, int64_t proxy_id, bool keep,
	    int64_t held_for, int64_t held_until);
void	record_proxy_state(struct record *rec, int64_t proxy_id,
	    enum proxy_state state);
void	record_event(struct record *rec, int64_t session, const char *kind);
/* The phone's connector refused ip: it is never offered to it again. */
void	record_refused(struct record *rec, int64_t session, const char *phone,
	    const char *ip);
void	record_intent_settle(struct record *rec, int64_t intent_id,
	    enum intent_state state, const char *error);
void	record_recovery_run(struct record *rec, const struct recovery_run *run);
void	record_instance_status(struct record *rec,
	    enum instance_status status);
/* Peers silent past stale_ms marked dead, old ones deleted. */
void	record_reap(struct record *rec, int64_t stale_ms);
/*
 * The last writes of a stop, after everything queued (blocking: the loop
 * has stopped): every session of this instance given up (graceful: marked
 * gracefully stopped; not after a handover) and the instance stopped.
 * -ETIMEDOUT after timeout_ms: the worker is abandoned (c->q freed, NULL).
 */
int	record_goodbye(struct record *rec, bool graceful, int64_t timeout_ms);

/* A write failed and is not written yet: the store is not taking them. */
bool	record_blocked(const struct record *rec);
/* Every report of session written, and the store taking writes. */
bool	record_durable(const struct record *rec, int64_t session);
void	record_stats(const struct record *rec, struct record_stats *ret);

#endif
