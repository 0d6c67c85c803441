/*
 * The start-up recovery: telling a crash from a graceful shutdown, the
 * order sessions come back in, and the run's figures.
 *
 * At start, before the loop runs, the instances of this host that claim to
 * run but whose process is gone died without a goodbye: a crash.  The
 * sessions to recover are then ordered by PRIORITY_COUNTRIES, user
 * priority and recency, and each one's answer (ready, or given up) is
 * counted; when the last has answered, `session recovery completed` is
 * logged and a recovery_runs row written.
 */
#ifndef RESPAWN_DAEMON_RECOVERY_H
#define RESPAWN_DAEMON_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/supervise.h"
#include "store/store.h"

struct dctx;
struct dsession;
struct metrics_hist;
struct record;
struct recovery;
struct recovery_run;

#define RECOVERY_CRASHED_MAX	8	/* same-host instances remembered */

struct recovery	*recovery_new(struct dctx *c, struct record *rec);
void		 recovery_free(struct recovery *r);

/*
 * Before the loop runs, on the loop's own store: mark the same-host
 * instances whose process is gone as dead (a crash), except the n named
 * in heirs (this daemon's predecessors, marked dead by the registration
 * that takes their place), and clean up peers silent for longer than
 * stale_ms.  0, or a negative errno when the instances cannot be read.
 */
int		 recovery_detect(struct recovery *r, int64_t stale_ms,
		    const char (*heirs)[STORE_ID_LEN], size_t n);
/* Did the instance named crash (one of those recovery_detect found)? */
bool		 recovery_crashed(const struct recovery *r, const char *id);
/* Log that the recovery starts, with its cause. */
void		 recovery_begin(struct recovery *r);
/* Sort sessions into the order they are recovered in. */
void		 recovery_order(struct recovery *r, struct dsession **list,
		    size_t n);
/* ds is part of the run (it was queued by the start-up sync). */
void		 recovery_include(struct recovery *r, struct dsession *ds);
/* The start-up sync is applied: the run is open (or there is nothing). */
void		 recovery_open(struct recovery *r);
/* A session moved: its final answer (ready, failed, stopped) counts. */
void		 recovery_moved(struct recovery *r, struct dsession *ds,
		    const struct supervise_output *out);

bool		 recovery_in_progress(const struct recovery *r);
const struct recovery_run *recovery_run(const struct recovery *r);
/*
 * From the start until the run has completed (or found nothing to do):
 * what the instance's row says as recoveryInProgress, so a peer or the
 * API never reads an instance still starting as done.
 */
bool		 recovery_pending(const struct recovery *r);
/* One session's recovery time, and a whole run's, in seconds. */
const struct metrics_hist *recovery_session_hist(const struct recovery *r);
const struct metrics_hist *recovery_run_hist(const struct recovery *r);

#endif
