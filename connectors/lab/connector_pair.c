/*
 * The lab connector's pairing: the stand-in for a QR scan or a pairing
 * code (docs/CONNECTORS.md "Pairing").  After a logout, or when a pairing
 * code is asked for, the device is linked again before it connects; the
 * files of the session directory say which, and hold what the operator
 * shows the phone.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "connector_impl.h"

#define QR_ROTATE_MS		20000	/* a new QR code then */
#define PAIR_LINE_MAX		64

static int
session_file(const struct connector *c, const char *name, char *path,
    size_t len)
{
	int	n = snprintf(path, len, "%s/%s", c->session_dir, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static bool
session_file_exists(const struct connector *c, const char *name)
{
	char	path[4096];

	return session_file(c, name, path, sizeof(path)) == 0 &&
	    access(path, F_OK) == 0;
}

static void
session_file_remove(const struct connector *c, const char *name)
{
	char	path[4096];

	if (session_file(c, name, path, sizeof(path)) == 0)
		(void)unlink(path);
}

/* Replace a file of the session directory atomically. */
static int
session_file_write(const struct connector *c, const char *name,
    const char *data)
{
	char	path[4096], tmp[4200];
	size_t	len = strlen(data);
	int	fd, ok;

	if (session_file(c, name, path, sizeof(path)) != 0)
		return -1;
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		return -1;
	ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * Logged out: the token is worthless and the next start must be paired
 * again, as a real client's keys are.  It is moved aside, not deleted.
 */
void
connector_pair_retire_token(const struct connector *c)
{
	char	from[4096], to[4096];

	if (session_file(c, "token", from, sizeof(from)) == 0 &&
	    session_file(c, "token.logged-out", to, sizeof(to)) == 0)
		(void)rename(from, to);
}

/*
 * A start must pair when the token was retired by a logout, or when a
 * pairing code is asked for (RESPAWN_SESSION_DIR/pairing-code.request,
 * written by respawn's POST /api/sessions/{id}/pairing-code) and there is
 * no token.  A first start in an empty directory pairs at once, as
 * before: the stand-in for a scan made when the session was set up.
 */
bool
connector_pair_needed(const struct connector *c)
{
	if (session_file_exists(c, "token"))
		return false;
	return session_file_exists(c, "token.logged-out") ||
	    session_file_exists(c, "pairing-code.request");
}

/* One line from the stand-in before deadline: 1, 0 on timeout. */
static int
pair_read_line(struct connector *c, char *out, size_t outlen,
    int64_t deadline)
{
	const char	*l;
	size_t		 used;
	int64_t		 now;

	for (;;) {
		if ((l = connector_line_next(c, &used)) != NULL) {
			(void)util_strlcpy(out, l, outlen);
			connector_line_drop(c, used);
			return 1;
		}
		if (c->linelen == sizeof(c->line))
			connector_finish(c, EXIT_FAILURE_,
			    "connector.protocol_error", NULL);
		now = util_mono_ms();
		if (now >= deadline)
			return 0;
		if (connector_line_recv(c, (int)(deadline - now)) == 0)
			return 0;
	}
}

/*
 * Link this device to the phone, as a new WhatsApp Web client does: ask
 * the stand-in (through the proxy) with PAIR and show a QR code
 * (qr.txt, STATUS=qr; a new one every RESPAWN_LAB_QR_ROTATE_MS), or with
 * PAIRCODE when a pairing code was asked for (pairing-code.txt,
 * STATUS=pairing-code), and wait until the phone scans it or the code is
 * typed (respawn-lab's POST /lab/wa/link).  Then the token is written
 * and the connector goes on as usual.  WATCHDOG=1 goes on meanwhile;
 * READY=1 waits for the connection.
 */
void
connector_pair_device(struct connector *c)
{
	unsigned char	 raw[TOKEN_BYTES];
	char		 token[TOKEN_BYTES * 2 + 1], line[PAIR_LINE_MAX];
	char		 msg[512], text[256];
	int64_t		 rotate_ms, deadline, next_wd, now, wait_until;
	bool		 by_code;
	size_t		 i;
	int		 status, r;

	rotate_ms = connector_env_ms("RESPAWN_LAB_QR_ROTATE_MS", QR_ROTATE_MS);
	if (mkdir(c->session_dir, 0700) != 0 && errno != EEXIST)
		connector_finish(c, EXIT_FAILURE_,
		    "connector.session_dir_failed", NULL);
	for (;;) {
		by_code = session_file_exists(c, "pairing-code.request");
		if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
			connector_finish(c, EXIT_FAILURE_,
			    "connector.no_random", NULL);
		for (i = 0; i < TOKEN_BYTES; i++)
			(void)snprintf(token + 2 * i, 3, "%02x", raw[i]);
		c->linelen = 0;
		connector_connect_proxy(c);
		if ((status = connector_proxy_handshake(c)) != 200) {
			(void)snprintf(text, sizeof(text), "proxy answered %d",
			    status);
			connector_say("connector.proxy_refused", text);
			connector_finish(c, status == 407 || status == 400 ||
			    status == 403 || status == 502 ? EXIT_TEMPFAIL :
			    EXIT_FAILURE_, "connector.proxy_refused", status ==
			    407 || status == 400 || status == 403 ||
			    status == 502 ? "X_RESPAWN_EVENT=proxy_blocked" :
			    NULL);
		}
		(void)snprintf(msg, sizeof(msg), "%s %s %s\n", by_code ?
		    "PAIRCODE" : "PAIR", c->phone, token);
		connector_send_all(c, msg, strlen(msg));
		if (pair_read_line(c, line, sizeof(line), util_mono_ms() +
		    CONN_TIMEOUT_MS) != 1)
			connector_finish(c, EXIT_FAILURE_,
			    "connector.pair_timeout", NULL);
		if (by_code && strncmp(line, "CODE ", 5) == 0) {
			(void)snprintf(text, sizeof(text), "%s\n", line + 5);
			if (session_file_write(c, "pairing-code.txt",
			    text) != 0)
				connector_finish(c, EXIT_FAILURE_,
				    "connector.session_dir_failed", NULL);
			session_file_remove(c, "qr.txt");
			connector_say("connector.pairing_code",
			    "pairing-code.txt");
			(void)connector_notify("STATUS=pairing-code");
		} else if (!by_code && strcmp(line, "WAIT") == 0) {
			(void)snprintf(text, sizeof(text),
			    "respawn-lab:%s:%s\n", c->phone, token);
			if (session_file_write(c, "qr.txt", text) != 0)
				connector_finish(c, EXIT_FAILURE_,
				    "connector.session_dir_failed", NULL);
			connector_say("connector.qr", "qr.txt");
			(void)connector_notify("STATUS=qr");
		} else
			connector_finish(c, EXIT_FAILURE_,
			    "connector.protocol_error", NULL);
		/* A pairing code stays; a QR code is replaced in time. */
		deadline = by_code || rotate_ms == 0 ? INT64_MAX :
		    util_mono_ms() + rotate_ms;
		next_wd = c->watchdog_ms > 0 ? util_mono_ms() +
		    c->watchdog_ms : INT64_MAX;
		for (;;) {
			now = util_mono_ms();
			if (now >= next_wd) {
				(void)connector_notify("WATCHDOG=1");
				next_wd = now + c->watchdog_ms;
			}
			if (now >= deadline)
				break;
			wait_until = deadline < next_wd ? deadline : next_wd;
			if (wait_until - now > 60000)
				wait_until = now + 60000;
			r = pair_read_line(c, line, sizeof(line), wait_until);
			if (r == 0)
				continue;
			if (strcmp(line, "PAIRED") != 0)
				connector_finish(c, EXIT_FAILURE_,
				    "connector.protocol_error", NULL);
			if (session_file_write(c, "token", token) != 0)
				connector_finish(c, EXIT_FAILURE_,
				    "connector.session_dir_failed", NULL);
			session_file_remove(c, "qr.txt");
			session_file_remove(c, "pairing-code.txt");
			session_file_remove(c, "pairing-code.request");
			connector_say("connector.paired", by_code ?
			    "by pairing code" : "by QR code");
			close(c->sock);
			c->sock = -1;
			c->linelen = 0;
			return;
		}
		/* The QR code expired: a new one. */
		close(c->sock);
		c->sock = -1;
	}
}
