/*
 * respawn's own readiness reports to its supervisor (systemd, or anything
 * speaking the sd_notify protocol through $NOTIFY_SOCKET): READY=1 once
 * serving, STATUS= lines with recovery progress, WATCHDOG=1 from the
 * housekeeping tick, STOPPING=1 on the way out.  Without $NOTIFY_SOCKET
 * every call does nothing.
 */
#ifndef RESPAWN_SDNOTIFY_H
#define RESPAWN_SDNOTIFY_H

#include <stdint.h>

/* Read $NOTIFY_SOCKET and $WATCHDOG_USEC; call once at start. */
void	sdnotify_init(void);
int	sdnotify_send(const char *msg);
/* How often to send WATCHDOG=1 (half the supervisor's timeout), or 0. */
int64_t	sdnotify_watchdog_interval_ms(void);

#endif
