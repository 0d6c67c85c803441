/*
 * Fleet mode: a daemon restarted in the same state directory (a crash
 * under systemd's Restart=, or a SIGUSR2 handover) takes its
 * predecessor's place instead of declaring it dead first.  The state
 * directory names the instances that ran in it (STATE_DIR/instances); the
 * new daemon registers and takes their sessions in one transaction
 * (store_instance_succeed), then adopts their connectors, so no peer ever
 * sees those sessions free while the connectors still run.
 */
#ifndef RESPAWN_DAEMON_SUCCESSION_H
#define RESPAWN_DAEMON_SUCCESSION_H

#include <stddef.h>

#include "store/store.h"

#define SUCCESSION_FILE		"instances"
#define SUCCESSION_LINE_MAX	(STORE_ID_LEN + 2)

/*
 * The instances recorded in state_dir, at most max (STORE_SUCCEED_MAX):
 * how many, 0 when there is no file, or a negative errno.
 */
int	succession_load(const char *state_dir, char (*ids)[STORE_ID_LEN],
	    size_t max);
/* Replace the record with ids[0..n), atomically (rename). */
int	succession_save(const char *state_dir, const char (*ids)[STORE_ID_LEN],
	    size_t n);
/*
 * Keep those of ids that the store says may still own sessions (any
 * status but stopped) and whose process is gone: the predecessors to
 * succeed.  Returns how many are left, or a negative errno when the store
 * cannot say (the caller tries again: succeeding none would leave their
 * connectors running beside a peer's).
 */
int	succession_filter(struct store *st, char (*ids)[STORE_ID_LEN],
	    size_t n);

#endif
