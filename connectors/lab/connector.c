/*
 * respawn-lab-connector: a tiny connector that follows respawn's connector
 * contract (docs/CONNECTORS.md, docs/LAB.md) against respawn-lab.  It
 * tunnels through RESPAWN_PROXY_URL with HTTP CONNECT to the lab's
 * WhatsApp stand-in (RESPAWN_LAB_WA_ADDR or argv[1]), keeps its token in
 * RESPAWN_SESSION_DIR (made on first run: the stand-in for a scan made
 * when the session was set up), links the device again after a logout by
 * QR code or pairing code (connector_pair.c; docs/CONNECTORS.md
 * "Pairing"), reports readiness and watchdog pings over NOTIFY_SOCKET, and
 * exits
 *
 *   0  on SIGTERM or SIGINT,
 *   78 when the phone is logged out,
 *   75 when the proxy or the IP is refused (407, 400, 403, 502) or the
 *      phone or IP is blocked,
 *   1  on anything else (connection lost, CONFLICT, a bad environment).
 *
 * Once ready it says READY=1 again every RESPAWN_LAB_READY_REPEAT_MS (5 s;
 * 0: never), and every 200 ms while the daemon does not take the message
 * (it is down or handing over), as docs/CONNECTORS.md asks: a daemon that
 * took the connector over after a crash may not know it is ready.
 *
 * With RESPAWN_FENCE_USEC (fleet mode) it fences itself: a message at
 * least every quarter of it, and an exit once none has been taken for all
 * of it (connector_fence.c; docs/CONNECTORS.md).
 *
 * Test switches (environment): RESPAWN_LAB_READY_DELAY_MS,
 * RESPAWN_LAB_NEVER_READY=1, RESPAWN_LAB_CRASH_AFTER_MS,
 * RESPAWN_LAB_IGNORE_SIGTERM=1.  Plain C and poll(): benchmarks start
 * thousands of these, so it allocates nothing on the heap.
 */
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "base/util.h"
#include "connector_impl.h"

#define HEAD_MAX		4096

#define READY_REPEAT_MS	5000	/* READY=1 again, while ready */
#define READY_RETRY_MS	200	/* ... sooner while nobody takes it */

void
connector_say(const char *event, const char *detail)
{
	char	ts[UTIL_TIME_LEN], msg[1024];
	int	n;

	util_fmt_time(util_now_ms(), ts);
	n = snprintf(msg, sizeof(msg), "time=%s event=%s phone=%s%s%s\n", ts,
	    event, getenv("RESPAWN_PHONE") ? getenv("RESPAWN_PHONE") : "",
	    detail != NULL ? " detail=" : "", detail != NULL ? detail : "");
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ?
		    (size_t)n : sizeof(msg) - 1);
}

/*
 * One sd_notify datagram; a missing NOTIFY_SOCKET is not an error.  Send
 * one message; false when the daemon did not take it.  Never blocks: a
 * daemon that is paused, its queue full, takes nothing either.
 */
bool
connector_notify(const char *msg)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	socklen_t		 len;
	size_t			 plen;
	bool			 ok;
	int			 fd;

	if (path == NULL || path[0] == '\0')
		return true;
	plen = strlen(path);
	if (plen >= sizeof(sun.sun_path))
		return true;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '@' ? 0 : 1));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sun, len) >= 0;
	close(fd);
	if (ok)
		connector_fence_taken(util_mono_ms());
	return ok;
}

void
connector_finish(struct connector *c, int code, const char *event,
    const char *note)
{
	char	msg[256];

	if (note != NULL) {
		(void)snprintf(msg, sizeof(msg), "%s\nSTATUS=%s", note, event);
		(void)connector_notify(msg);
	}
	connector_say(event, NULL);
	if (c->sock >= 0)
		close(c->sock);
	exit(code);
}

int64_t
connector_env_ms(const char *name, int64_t def)
{
	const char	*v = getenv(name);
	int64_t		 n;

	if (v == NULL || v[0] == '\0' ||
	    util_parse_i64(v, 0, INT64_MAX / 2, &n) != 0)
		return def;
	return n;
}

static bool
env_flag(const char *name)
{
	const char	*v = getenv(name);
	bool		 b;

	return v != NULL && util_parse_bool(v, &b) == 0 && b;
}

static int
urldecode(const char *in, size_t len, char *out, size_t outlen)
{
	size_t		 i, o = 0;
	unsigned int	 v;
	char		 hex[3];

	for (i = 0; i < len; i++) {
		if (o + 1 >= outlen)
			return -1;
		if (in[i] == '%' && i + 2 < len) {
			hex[0] = in[i + 1];
			hex[1] = in[i + 2];
			hex[2] = '\0';
			if (sscanf(hex, "%2x", &v) != 1 || v == 0)
				return -1;
			out[o++] = (char)v;
			i += 2;
		} else
			out[o++] = in[i];
	}
	out[o] = '\0';
	return 0;
}

/* http://user:pass@host:port */
static int
parse_proxy_url(struct connector *c, const char *url)
{
	const char	*p, *at, *colon, *hp, *pc;
	int64_t		 port;
	char		 portbuf[8];

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	p = url + 7;
	if ((at = strrchr(p, '@')) == NULL ||
	    (colon = memchr(p, ':', (size_t)(at - p))) == NULL)
		return -1;
	if (urldecode(p, (size_t)(colon - p), c->proxy_user,
	    sizeof(c->proxy_user)) != 0 || urldecode(colon + 1,
	    (size_t)(at - colon - 1), c->proxy_pass,
	    sizeof(c->proxy_pass)) != 0)
		return -1;
	hp = at + 1;
	if ((pc = strrchr(hp, ':')) == NULL ||
	    (size_t)(pc - hp) >= sizeof(c->proxy_host))
		return -1;
	memcpy(c->proxy_host, hp, (size_t)(pc - hp));
	c->proxy_host[pc - hp] = '\0';
	if (util_strlcpy(portbuf, pc + 1, sizeof(portbuf)) != 0)
		return -1;
	if (portbuf[0] != '\0' && portbuf[strlen(portbuf) - 1] == '/')
		portbuf[strlen(portbuf) - 1] = '\0';
	if (util_parse_i64(portbuf, 1, 65535, &port) != 0)
		return -1;
	c->proxy_port = (int)port;
	if (strcmp(c->proxy_host, "localhost") == 0)
		(void)util_strlcpy(c->proxy_host, "127.0.0.1",
		    sizeof(c->proxy_host));
	return 0;
}

/* The token from the session directory, made on the first run. */
static int
load_token(struct connector *c)
{
	unsigned char	 raw[TOKEN_BYTES];
	char		 path[4096], tmp[4200];
	ssize_t		 n;
	size_t		 i;
	int		 fd;

	if (snprintf(path, sizeof(path), "%s/token", c->session_dir) >=
	    (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, c->token, sizeof(c->token) - 1);
		close(fd);
		if (n == TOKEN_BYTES * 2) {
			c->token[n] = '\0';
			return 0;
		}
	}
	if (mkdir(c->session_dir, 0700) != 0 && errno != EEXIST)
		return -1;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	for (i = 0; i < TOKEN_BYTES; i++)
		(void)snprintf(c->token + 2 * i, 3, "%02x", raw[i]);
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, c->token, TOKEN_BYTES * 2) != TOKEN_BYTES * 2 ||
	    fsync(fd) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0)
		return -1;
	connector_say("connector.paired",
	    "new token written to the session dir");
	return 0;
}

static void
check_signal(struct connector *c)
{
	struct signalfd_siginfo	si;

	if (read(c->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		connector_finish(c, EXIT_STOPPED, "connector.stopped",
		    "STOPPING=1");
}

/* Waits for events on the socket, handling signals; 0 on timeout. */
static int
wait_sock(struct connector *c, short events, int timeout_ms)
{
	struct pollfd	pfd[2];
	int		n;

	pfd[0].fd = c->sock;
	pfd[0].events = events;
	pfd[1].fd = c->sigfd;
	pfd[1].events = POLLIN;
	for (;;) {
		n = poll(pfd, c->sigfd >= 0 ? 2 : 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n > 0 && c->sigfd >= 0 && (pfd[1].revents & POLLIN))
			check_signal(c);
		if (n > 0 && pfd[0].revents != 0)
			return 1;
		if (n == 0)
			return 0;
	}
}

void
connector_send_all(struct connector *c, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = send(c->sock, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (errno == EAGAIN &&
			    wait_sock(c, POLLOUT, CONN_TIMEOUT_MS) <= 0)
				connector_finish(c, EXIT_FAILURE_,
				    "connector.send_failed", NULL);
			continue;
		}
		if (w <= 0)
			connector_finish(c, EXIT_FAILURE_,
			    "connector.connection_lost", NULL);
		p += w;
		n -= (size_t)w;
	}
}

void
connector_connect_proxy(struct connector *c)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(int);
	int			err = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)c->proxy_port);
	if (inet_pton(AF_INET, c->proxy_host, &sin.sin_addr) != 1)
		connector_finish(c, EXIT_USAGE, "connector.bad_proxy_host",
		    NULL);
	c->sock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (c->sock < 0)
		connector_finish(c, EXIT_FAILURE_, "connector.socket_failed",
		    NULL);
	if (connect(c->sock, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
	    errno != EINPROGRESS)
		connector_finish(c, EXIT_FAILURE_,
		    "connector.proxy_unreachable", NULL);
	if (wait_sock(c, POLLOUT, CONN_TIMEOUT_MS) <= 0 ||
	    getsockopt(c->sock, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
	    err != 0)
		connector_finish(c, EXIT_FAILURE_,
		    "connector.proxy_unreachable", NULL);
}

/* Reads until "\r\n\r\n"; leftover bytes stay in the line buffer. */
int
connector_proxy_handshake(struct connector *c)
{
	char		 head[HEAD_MAX + 1], cred[FIELD_MAX * 2 + 2];
	char		 enc[B64_ENCODED_SIZE(FIELD_MAX * 2 + 2)];
	char		 req[HEAD_MAX];
	const char	*end;
	size_t		 len = 0, hl;
	ssize_t		 n;
	int		 status, k;

	(void)snprintf(cred, sizeof(cred), "%s:%s", c->proxy_user,
	    c->proxy_pass);
	(void)b64_encode(cred, strlen(cred), enc, sizeof(enc));
	k = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "Proxy-Authorization: Basic %s\r\n\r\n", c->wa_addr, c->wa_addr,
	    enc);
	if (k <= 0 || (size_t)k >= sizeof(req))
		connector_finish(c, EXIT_USAGE, "connector.bad_environment",
		    NULL);
	connector_send_all(c, req, (size_t)k);
	for (;;) {
		if (wait_sock(c, POLLIN, CONN_TIMEOUT_MS) <= 0)
			connector_finish(c, EXIT_FAILURE_,
			    "connector.proxy_timeout", NULL);
		n = recv(c->sock, head + len, HEAD_MAX - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			connector_finish(c, EXIT_FAILURE_,
			    "connector.proxy_closed", NULL);
		len += (size_t)n;
		head[len] = '\0';
		if ((end = strstr(head, "\r\n\r\n")) != NULL)
			break;
		if (len == HEAD_MAX)
			connector_finish(c, EXIT_FAILURE_,
			    "connector.proxy_garbled", NULL);
	}
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1)
		connector_finish(c, EXIT_FAILURE_, "connector.proxy_garbled",
		    NULL);
	hl = (size_t)(end - head) + 4;
	if (len > hl && len - hl < sizeof(c->line)) {
		memcpy(c->line, head + hl, len - hl);
		c->linelen = len - hl;
	}
	return status;
}

/*
 * The stand-in's socket, read line by line: what arrives is appended to
 * c->line, and whole lines are taken from its front.  Pairing and the
 * connected session both read it this way.
 *
 * Waits up to timeout_ms for the socket to be readable and appends what
 * can be read.  Returns 0 when the wait timed out, 1 when it did not
 * (bytes may have arrived, or a signal or a spurious wake-up ended it); a
 * failed poll or a lost connection ends the connector.
 */
int
connector_line_recv(struct connector *c, int timeout_ms)
{
	ssize_t	n;
	int	r;

	r = wait_sock(c, POLLIN, timeout_ms);
	if (r < 0)
		connector_finish(c, EXIT_FAILURE_, "connector.poll_failed",
		    NULL);
	if (r == 0)
		return 0;
	n = recv(c->sock, c->line + c->linelen, sizeof(c->line) - c->linelen,
	    0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	if (n <= 0)
		connector_finish(c, EXIT_FAILURE_, "connector.connection_lost",
		    NULL);
	c->linelen += (size_t)n;
	return 1;
}

/*
 * The first whole line in c->line, NUL-terminated in place without its
 * "\n" or "\r\n", or NULL when no line is whole yet; *used is what
 * connector_line_drop() then takes off the buffer.
 */
char *
connector_line_next(struct connector *c, size_t *used)
{
	char	*nl;

	if ((nl = memchr(c->line, '\n', c->linelen)) == NULL)
		return NULL;
	*nl = '\0';
	if (nl > c->line && nl[-1] == '\r')
		nl[-1] = '\0';
	*used = (size_t)(nl - c->line) + 1;
	return c->line;
}

void
connector_line_drop(struct connector *c, size_t used)
{
	memmove(c->line, c->line + used, c->linelen - used);
	c->linelen -= used;
}

static int64_t
next_deadline(const struct connector *c, int64_t now, int64_t ready_at,
    int64_t next_wd)
{
	int64_t	d = now + 60000;

	if (ready_at > 0 && ready_at < d)
		d = ready_at;
	if (next_wd > 0 && next_wd < d)
		d = next_wd;
	if (c->crash_after_ms > 0 && c->start_ms + c->crash_after_ms < d)
		d = c->start_ms + c->crash_after_ms;
	return d;
}

/* Handles one line from the endpoint; returns 1 once OK has arrived. */
static int
handle_line(struct connector *c, const char *line, bool live)
{
	if (strcmp(line, "PING") == 0) {
		connector_send_all(c, "PONG\n", 5);
		return 0;
	}
	if (strcmp(line, "OK") == 0 && !live)
		return 1;
	if (strcmp(line, "LOGGED_OUT") == 0) {
		connector_pair_retire_token(c);
		connector_finish(c, EXIT_LOGGED_OUT, "connector.logged_out",
		    "X_RESPAWN_EVENT=logged_out");
	}
	if (strcmp(line, "BLOCKED") == 0)
		connector_finish(c, EXIT_TEMPFAIL, "connector.blocked",
		    "X_RESPAWN_EVENT=proxy_blocked");
	if (strcmp(line, "CONFLICT") == 0)
		connector_finish(c, EXIT_FAILURE_, "connector.conflict",
		    "X_RESPAWN_EVENT=conflict");
	connector_finish(c, EXIT_FAILURE_, "connector.protocol_error", NULL);
	return -1;
}

/* Splits buffered bytes into lines; returns 1 if OK was seen. */
static int
drain_lines(struct connector *c, bool live)
{
	const char	*l;
	size_t		 used;
	int		 ok = 0;

	while ((l = connector_line_next(c, &used)) != NULL) {
		if (handle_line(c, l, live || ok) == 1)
			ok = 1;
		connector_line_drop(c, used);
	}
	if (c->linelen == sizeof(c->line))
		connector_finish(c, EXIT_FAILURE_, "connector.protocol_error",
		    NULL);
	return ok;
}

static void
run(struct connector *c)
{
	char		 hello[512], status[128];
	int64_t		 now, ready_at = 0, next_wd = 0, deadline;
	bool		 live = false, ready_said = false;
	int		 k;

	/* A start that outlived its daemon does not connect. */
	connector_fence_tick(c, util_mono_ms());
	k = snprintf(hello, sizeof(hello), "HELLO %s %s\n", c->phone,
	    c->token);
	connector_send_all(c, hello, (size_t)k);
	if (c->watchdog_ms > 0)
		next_wd = util_mono_ms() + c->watchdog_ms;
	for (;;) {
		if (drain_lines(c, live) == 1 && !live) {
			live = true;
			connector_say("connector.connected", NULL);
			if (!c->never_ready)
				ready_at = util_mono_ms() + c->ready_delay_ms;
		}
		now = util_mono_ms();
		if (ready_at > 0 && now >= ready_at) {
			(void)snprintf(status, sizeof(status), "READY=1\n"
			    "STATUS=connected as %s", c->phone);
			/* Again soon if nobody took it, else at the repeat. */
			if (!connector_notify(status))
				ready_at = now + READY_RETRY_MS;
			else if (c->ready_repeat_ms > 0)
				ready_at = now + c->ready_repeat_ms;
			else
				ready_at = 0;
			if (!ready_said)
				connector_say("connector.ready", NULL);
			ready_said = true;
		}
		if (next_wd > 0 && now >= next_wd) {
			(void)connector_notify("WATCHDOG=1");
			next_wd = now + c->watchdog_ms;
		}
		if (c->crash_after_ms > 0 && now >= c->start_ms +
		    c->crash_after_ms) {
			connector_say("connector.crashing",
			    "RESPAWN_LAB_CRASH_AFTER_MS");
			struct rlimit no_core = { 0, 0 };
			(void)setrlimit(RLIMIT_CORE, &no_core);
			(void)signal(SIGABRT, SIG_DFL);
			abort();
		}
		connector_fence_tick(c, now);
		deadline = connector_fence_deadline(c, next_deadline(c, now,
		    ready_at, next_wd));
		(void)connector_line_recv(c, (int)(deadline - now > 0 ?
		    deadline - now : 0));
	}
}

int
main(int argc, char **argv)
{
	struct connector	 c;
	sigset_t		 mask;
	const char		*url;
	int64_t			 wd_usec;
	int			 status;
	char			 detail[64];

	memset(&c, 0, sizeof(c));
	c.sock = -1;
	c.start_ms = util_mono_ms();
	c.session_id = getenv("RESPAWN_SESSION_ID");
	c.phone = getenv("RESPAWN_PHONE");
	url = getenv("RESPAWN_PROXY_URL");
	c.session_dir = getenv("RESPAWN_SESSION_DIR");
	/*
	 * The endpoint comes from the environment, or from the command line
	 * for a supervisor that passes connectors only the contract's
	 * variables: "respawn-lab-connector 127.0.0.1:5222".
	 */
	c.wa_addr = getenv("RESPAWN_LAB_WA_ADDR");
	if ((c.wa_addr == NULL || c.wa_addr[0] == '\0') && argc > 1)
		c.wa_addr = argv[1];
	if (c.phone == NULL || url == NULL || c.session_dir == NULL ||
	    c.wa_addr == NULL) {
		connector_say("connector.bad_environment",
		    "need RESPAWN_PHONE, RESPAWN_PROXY_URL, "
		    "RESPAWN_SESSION_DIR and RESPAWN_LAB_WA_ADDR (or the "
		    "address as argument)");
		return EXIT_USAGE;
	}
	if (parse_proxy_url(&c, url) != 0) {
		connector_say("connector.bad_environment", "RESPAWN_PROXY_URL");
		return EXIT_USAGE;
	}
	wd_usec = connector_env_ms("WATCHDOG_USEC", 0);
	c.watchdog_ms = wd_usec / 2000;
	if (wd_usec > 0 && c.watchdog_ms == 0)
		c.watchdog_ms = 1;
	if (getenv("WATCHDOG_PID") != NULL &&
	    connector_env_ms("WATCHDOG_PID", 0) != (int64_t)getpid())
		c.watchdog_ms = 0;
	c.ready_delay_ms = connector_env_ms("RESPAWN_LAB_READY_DELAY_MS", 0);
	c.ready_repeat_ms = connector_env_ms("RESPAWN_LAB_READY_REPEAT_MS",
	    READY_REPEAT_MS);
	c.never_ready = env_flag("RESPAWN_LAB_NEVER_READY");
	c.crash_after_ms = connector_env_ms("RESPAWN_LAB_CRASH_AFTER_MS", 0);
	c.fence_ms = connector_env_ms("RESPAWN_FENCE_USEC", 0) / 1000;
	connector_fence_taken(c.start_ms);	/* the daemon started us */

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	if (env_flag("RESPAWN_LAB_IGNORE_SIGTERM"))
		(void)signal(SIGTERM, SIG_IGN);
	else
		sigaddset(&mask, SIGTERM);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	c.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	if (connector_pair_needed(&c))
		connector_pair_device(&c);
	if (load_token(&c) != 0) {
		connector_say("connector.session_dir_failed", c.session_dir);
		return EXIT_FAILURE_;
	}
	connector_connect_proxy(&c);
	status = connector_proxy_handshake(&c);
	if (status != 200) {
		(void)snprintf(detail, sizeof(detail), "proxy answered %d",
		    status);
		connector_say("connector.proxy_refused", detail);
		if (status == 407 || status == 400 || status == 403 ||
		    status == 502)
			connector_finish(&c, EXIT_TEMPFAIL,
			    "connector.proxy_refused",
			    "X_RESPAWN_EVENT=proxy_blocked");
		connector_finish(&c, EXIT_FAILURE_, "connector.proxy_failed",
		    NULL);
	}
	run(&c);
	return EXIT_FAILURE_;
}
