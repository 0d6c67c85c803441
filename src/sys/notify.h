/*
 * The readiness channel: an AF_UNIX datagram socket that connectors reach
 * through $NOTIFY_SOCKET with systemd's sd_notify protocol.
 *
 * The receiver follows systemd's own rules: the socket has SO_PASSCRED, so
 * the kernel vouches for each sender's pid; a datagram is read into a
 * NOTIFY_BUFFER_MAX buffer and dropped when truncated, empty, holding a NUL
 * byte or lacking credentials; any file descriptors passed along are closed
 * at once.  The pid is then mapped by the daemon to a connector through its
 * process session, so a message from any process of the connector's
 * session counts (`systemd-notify --ready` from a shell script works).
 *
 * notify_parse() is pure and separate, so it can be fuzzed.
 */
#ifndef RESPAWN_NOTIFY_H
#define RESPAWN_NOTIFY_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#define NOTIFY_BUFFER_MAX	4096	/* PIPE_BUF, as systemd */
#define NOTIFY_STATUS_MAX	256

enum notify_event {
	NOTIFY_EVENT_NONE,
	NOTIFY_EVENT_LOGGED_OUT,
	NOTIFY_EVENT_PROXY_BLOCKED,
	NOTIFY_EVENT_CONFLICT,
	NOTIFY_EVENT_OTHER,		/* an X_RESPAWN_EVENT we do not know */
};

struct notify_msg {
	pid_t			pid;		/* from the kernel, not the payload */
	bool			ready;		/* READY=1 */
	bool			watchdog;	/* WATCHDOG=1 */
	bool			stopping;	/* STOPPING=1 */
	bool			has_status;
	char			status[NOTIFY_STATUS_MAX];	/* STATUS= */
	int			errno_value;	/* ERRNO=, 0 if none */
	enum notify_event	event;		/* X_RESPAWN_EVENT= */
};

struct notify;

/* Bind a new socket at path (a leading '@' means the abstract namespace). */
int	notify_open(const char *path, struct notify **ret);
void	notify_close(struct notify *n);
int	notify_fd(const struct notify *n);
const char *notify_path(const struct notify *n);
/*
 * Receive one datagram.  0: *ret is filled; -EAGAIN: nothing waiting;
 * -EBADMSG: a datagram was dropped (the caller counts it).
 */
int	notify_recv(struct notify *n, struct notify_msg *ret);
/* Parse a payload (no NUL inside); unknown keys are ignored. */
int	notify_parse(const char *buf, size_t len, struct notify_msg *ret);

#endif
