/*
 * The fleet lease renewer.  In fleet mode an instance's lease is its
 * heartbeat row, renewed every sixth of RESPAWN_LEASE.  Renewing from the
 * event loop would tie the lease to the loop's load: a loop busy for a
 * while (recovering hundreds of sessions through a synchronous store)
 * would miss its renewals and fence itself while perfectly alive.  So a
 * thread of its own, with its own store connection, renews the lease and
 * publishes what happened; the loop reads that at every tick and fences
 * when the lease is lost.
 *
 * The thread never renews after a gap longer than the fencing deadline
 * (a paused process wakes up fenced, it does not quietly resume), and stops
 * for good once the database says a peer declared the instance dead.
 */
#ifndef RESPAWN_LEASE_H
#define RESPAWN_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define LEASE_STEP_MS	50	/* how often the thread looks at its clock */
#define LEASE_STOP_WAIT_MS 2000	/* lease_stop waits this long for the thread */

struct lease;

struct lease_params {
	const char	*db;		/* the store's URL: a connection of its own */
	const char	*instance_id;
	int64_t		 period_ms;	/* between renewals */
	int64_t		 deadline_ms;	/* no renewal for this long: lost */
	int64_t		 lease_ms;	/* the lease itself (store_set_lease) */
};

enum lease_state {
	LEASE_HELD,
	LEASE_EXPIRED,	/* not renewed within the deadline */
	LEASE_TAKEN,	/* a peer declared this instance dead */
};

/* Start renewing; the first renewal counts from now. */
int	lease_start(const struct lease_params *p, struct lease **ret,
	    char err[STORE_ERROR_LEN]);
/* Stop the thread and close its connection; accepts NULL. */
/*
 * Stop the thread and free.  A thread stuck in a call to a database that
 * answers nothing (its server frozen) is left behind after
 * LEASE_STOP_WAIT_MS, detached with what it uses, so a fenced daemon
 * still exits; the process's exit ends it.
 */
void	lease_stop(struct lease *l);
enum lease_state lease_state(const struct lease *l);
/* The monotonic time (ms) of the last successful renewal. */
int64_t	lease_renewed_mono(const struct lease *l);
/* Renewals that failed (the database unreachable or slow). */
int64_t	lease_failures(const struct lease *l);
/* The recovery progress written with each renewal. */
void	lease_progress(struct lease *l, bool in_progress, int64_t total,
	    int64_t done);

#endif
