/*
 * The daemon's start-up (see daemon.h): its state directory, the store
 * and its worker, and this instance's registration in the store, in fleet
 * mode in the place of the daemons that ran in the same state directory
 * before it (succession.h).  A database restarting meanwhile is waited
 * for, for as long as a lease lasts.  daemon.c calls these in order
 * before the loop runs.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "base/failpoint.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "daemon/ctx.h"
#include "daemon/daemon.h"
#include "daemon/daemon_impl.h"
#include "daemon/fleet.h"
#include "daemon/recovery.h"
#include "daemon/succession.h"
#include "store/store.h"
#include "store/storeq.h"

int
daemon_mkdirs(const struct config *cfg)
{
	static const char *const sub[] = { "", "/sessions", "/logs" };
	char		path[DAEMON_PATH_MAX];
	struct stat	sb;
	size_t		i;

	for (i = 0; i < nitems(sub); i++) {
		snprintf(path, sizeof path, "%s%s", cfg->state_dir, sub[i]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			log_error("daemon.state_dir_failed", LOGF_S("dir", path),
			    LOGF_S("error", strerror(errno)));
			return EX_CANTCREAT;
		}
		/*
		 * The notify socket and the connectors' logins live here:
		 * a directory others may enter or write is tightened, so
		 * no other local user reaches them.
		 */
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) &&
		    sb.st_uid == geteuid() && (sb.st_mode & 077) != 0) {
			if (chmod(path, sb.st_mode & 0700) < 0) {
				log_error("daemon.state_dir_failed",
				    LOGF_S("dir", path), LOGF_S("error",
				    strerror(errno)));
				return EX_CANTCREAT;
			}
			log_warn("daemon.state_dir_tightened",
			    LOGF_S("dir", path), LOGF_S("msg", "others could "
			    "reach it: now only its owner can"));
		}
	}
	return 0;
}

/*
 * Whether a start-up step that failed with r is tried again: a lost or
 * refused connection (a database restarting), while the start's time
 * lasts.  Waits a step before saying yes.  The loop does not run yet.
 */
bool
daemon_start_retry(struct daemon *d, const char *step, int r,
    const char *err)
{
	struct timespec	ts = { 0, DAEMON_START_RETRY_STEP_MS * 1000000L };

	if ((r != -EIO && r != -EBUSY) || util_mono_ms() +
	    DAEMON_START_RETRY_STEP_MS - d->start_mono >=
	    DAEMON_START_RETRY_MS(d->c.cfg))
		return false;
	log_warn("daemon.start_retry", LOGF_S("step", step),
	    LOGF_S("error", err));
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return true;
}

/*
 * The store and its worker: 0, or the exit status (a store that cannot be
 * opened says why, store.h).
 */
int
daemon_store_open(struct daemon *d)
{
	struct dctx	*c = &d->c;
	char		 err[STORE_ERROR_LEN];
	int		 r;

	while ((r = store_open(c->cfg->db, &c->store, err)) < 0 &&
	    daemon_start_retry(d, "store_open", r, err))
		;
	if (r < 0) {
		log_error("daemon.store_failed", LOGF_S("error", err));
		return store_exit_status(r);
	}
	c->fleet = strcmp(store_backend(c->store), "postgresql") == 0;
	(void)store_set_lease(c->store, c->cfg->lease_ms);
	/*
	 * In fleet mode the loop never waits for the database: once the
	 * loop runs, every store call goes through a worker thread with a
	 * connection of its own.  On SQLite jobs run inline.
	 */
	while ((r = storeq_new(c->base, c->fleet ? c->cfg->db : NULL,
	    c->store, &c->q, err)) < 0 && daemon_start_retry(d, "store_worker",
	    r, err))
		;
	if (r < 0) {
		log_error("daemon.store_failed", LOGF_S("error", err));
		return store_exit_status(r);
	}
	return 0;
}

/*
 * One attempt at registering, in fleet mode in the place of the
 * predecessors recorded in the state directory (succession.h): 0 or a
 * negative errno.  again: an earlier attempt may have committed.
 */
static int
daemon_register_once(struct daemon *d, bool again)
{
	struct dctx	*c = &d->c;
	struct instance	 inst = { 0 };
	char		 heirs[STORE_SUCCEED_MAX + 1][STORE_ID_LEN];
	int		 n = 0, r, taken = 0;

	if (c->fleet) {
		if ((n = succession_load(c->cfg->state_dir, heirs,
		    STORE_SUCCEED_MAX)) < 0) {
			log_warn("daemon.succession_unreadable",
			    LOGF_S("error", strerror(-n)));
			n = 0;
		}
		if ((n = succession_filter(c->store, heirs, (size_t)n)) < 0)
			return n;
	}
	/* Tell a crash from a graceful shutdown, then clean up old instances. */
	if ((r = recovery_detect(d->recovery, FLEET_STALE_MS(c->cfg),
	    (const char (*)[STORE_ID_LEN])heirs, (size_t)n)) < 0)
		return r;
	inst.pid = getpid();
	inst.started_at = util_now_ms();
	inst.status = INSTANCE_STARTING;
	(void)util_strlcpy(inst.id, c->instance_id, sizeof inst.id);
	(void)util_strlcpy(inst.hostname, c->hostname, sizeof inst.hostname);
	/*
	 * Recorded before the registration, with the predecessors: a crash
	 * right after it leaves a directory that names every instance
	 * whose sessions the connectors here may belong to.
	 */
	(void)util_strlcpy(heirs[n], c->instance_id, STORE_ID_LEN);
	if (c->fleet && (r = succession_save(c->cfg->state_dir,
	    (const char (*)[STORE_ID_LEN])heirs, (size_t)n + 1)) < 0)
		log_warn("daemon.succession_unwritable",
		    LOGF_S("error", strerror(-r)));
	if (c->fleet)
		(void)failpoint("succession.saved");
	r = store_instance_succeed(c->store, &inst,
	    (const char (*)[STORE_ID_LEN])heirs, (size_t)n, &taken);
	/* The answer to an earlier attempt was lost, not its commit. */
	if (r == -EEXIST && again)
		r = 0;
	if (r < 0)
		return r;
	/* Registered, the file still naming the predecessors too. */
	if (c->fleet)
		(void)failpoint("succession.registered");
	if (n > 0)
		log_info("daemon.succeeded", LOGF_I("predecessors", n),
		    LOGF_S("previous", heirs[n - 1]), LOGF_I("sessions", taken),
		    LOGF_S("msg", "took the place and sessions of the crashed "
		    "daemon of this state directory"));
	if (c->fleet && (r = succession_save(c->cfg->state_dir,
	    (const char (*)[STORE_ID_LEN])&heirs[n], 1)) < 0)
		log_warn("daemon.succession_unwritable",
		    LOGF_S("error", strerror(-r)));
	return 0;
}

/* This instance in the store, after a crash or a graceful stop was told. */
int
daemon_register(struct daemon *d)
{
	struct dctx	*c = &d->c;
	char		 dbshown[512];
	bool		 again = false;
	int		 r;

	while ((r = daemon_register_once(d, again)) < 0 &&
	    daemon_start_retry(d, "register", r, store_errmsg(c->store)))
		again = true;
	if (r < 0) {
		log_error("store.register_failed",
		    LOGF_S("error", store_errmsg(c->store)));
		return EX_IOERR;
	}
	d->last_heartbeat = d->heartbeat_ok_at = util_now_ms();
	d->heartbeat_open = true;	/* as the registration wrote */
	d->lease_ok_mono = c->registered_mono = util_mono_ms();
	util_redact_text(c->cfg->db, dbshown, sizeof dbshown);
	log_info("daemon.started", LOGF_S("instance", c->instance_id),
	    LOGF_S("version", RESPAWN_VERSION), LOGF_S("db", dbshown),
	    LOGF_B("fleet", c->fleet));
	return 0;
}
