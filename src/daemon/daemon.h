/*
 * `respawn serve`: the daemon.  One thread, one libevent loop: signals,
 * connector exits, the notify socket, per-session timers and a one-second
 * housekeeping tick are all events.  It owns the sessions of this instance,
 * recovers them at start (telling a graceful shutdown from a crash),
 * supervises one connector per session through the pure state table in
 * core/supervise.c, gives each a proxy through core/pool.c, and on SIGTERM
 * stops them with their proxies kept for the restart.
 */
#ifndef RESPAWN_DAEMON_H
#define RESPAWN_DAEMON_H

#include "config/config.h"

/* Runs until SIGTERM or SIGINT; returns an exit status. */
int	daemon_run(const struct config *cfg);

#endif
