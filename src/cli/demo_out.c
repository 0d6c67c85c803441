/*
 * What `respawn demo` says (see cmd_demo.c and demo_impl.h): the
 * narrative with its headings and progress bar, the checks and fatal
 * errors (kept for the JSON summary too), a log's last lines on a failure,
 * and the summary at the end, as text or JSON.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/util.h"
#include "cli/cli.h"
#include "cli/demo_impl.h"

#define DEMO_PLAIN_EVERY_MS	1000	/* progress lines off a terminal */
#define DEMO_TAIL_LINES		12	/* of a log, shown on a failure */
#define DEMO_TAIL_MAX		(64 * 1024)

/* --- output ------------------------------------------------------------- */

void
demo_say(struct demo *d, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	fflush(d->out);
}

/* A phase's heading, in bold on a terminal. */
void
demo_heading(struct demo *d, const char *text)
{
	if (d->tty)
		fprintf(d->out, "\033[1m== %s\033[0m\n", text);
	else
		fprintf(d->out, "== %s\n", text);
	fflush(d->out);
}

/* The last lines of a log, to show why something did not start. */
void
demo_tail(const char *path)
{
	char		 buf[DEMO_TAIL_MAX + 1], *p;
	ssize_t		 n;
	off_t		 size;
	int		 fd, lines = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > DEMO_TAIL_MAX)
		(void)lseek(fd, size - DEMO_TAIL_MAX, SEEK_SET);
	else
		(void)lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, DEMO_TAIL_MAX);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (p = buf + n - 1; p > buf; p--)
		if (*p == '\n' && p[1] != '\0' && ++lines > DEMO_TAIL_LINES) {
			p++;
			break;
		}
	cli_say("demo: the last lines of %s:", path);
	cli_print_lines(p);
	if (buf[n - 1] != '\n')
		fputc('\n', stderr);
}

/* A fatal error of the demo itself: printed once, on stderr. */
int
demo_fail(struct demo *d, int ex, const char *fmt, ...)
{
	char	msg[DEMO_MSG_LEN];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cli_error("demo", "%s", msg);
	if (d->failures != NULL)
		json_array_append_new(d->failures, json_string(msg));
	return ex;
}

/* Where a log named in an error goes at exit. */
const char *
demo_keep_hint(const struct demo *d)
{
	return d->keep ? "" : " (the logs are removed at exit; --keep keeps "
	    "them)";
}

/* A check of what the demo shows; a failed one fails the demo. */
bool
demo_check(struct demo *d, bool ok, const char *fmt, ...)
{
	char	msg[DEMO_MSG_LEN];
	va_list	ap;

	if (ok)
		return true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cli_error("demo", "check failed: %s", msg);
	json_array_append_new(d->failures, json_string(msg));
	return false;
}

void
demo_progress(struct demo *d, int64_t ready, int64_t ms, bool done)
{
	static int64_t	last_ms = -DEMO_PLAIN_EVERY_MS, last_ready;
	int		width = 40, fill, i;

	if (d->tty) {
		fill = (int)(ready * width / d->sessions);
		fputs("\r  [", d->out);
		for (i = 0; i < width; i++)
			fputc(i < fill ? '#' : '.', d->out);
		fprintf(d->out, "] %lld/%lld ready  %.1f s", (long long)ready,
		    (long long)d->sessions, (double)ms / 1000.0);
		if (done)
			fputc('\n', d->out);
	} else if (done || (ready != last_ready &&
	    ms - last_ms >= DEMO_PLAIN_EVERY_MS)) {
		/* Plain lines, at most one a second, for logs and pipes. */
		fprintf(d->out, "  ready %lld/%lld  %.1f s\n", (long long)ready,
		    (long long)d->sessions, (double)ms / 1000.0);
		last_ms = ms;
		last_ready = ready;
	}
	if (done) {
		last_ms = -DEMO_PLAIN_EVERY_MS;
		last_ready = 0;
	}
	fflush(d->out);
}

/* --- the summary ------------------------------------------------------ */

void
demo_fallback_text(json_t *pairs, char *buf, size_t size)
{
	json_t	*o;
	size_t	 i, len = 0;

	buf[0] = '\0';
	json_array_foreach(pairs, i, o) {
		if (len >= size)
			break;
		len += (size_t)snprintf(buf + len, size - len, "%s%s->%s",
		    i ? ", " : "", json_string_value(json_object_get(o,
		    "requested")), json_string_value(json_object_get(o,
		    "country")));
	}
}

void
demo_summary(struct demo *d, bool ok)
{
	json_t	*s = d->sum;
	char	 text[DEMO_MSG_LEN];

	json_object_set_new(s, "ok", json_boolean(ok));
	json_object_set_new(s, "leftoverProcesses", json_integer(d->leftover));
	json_object_set_new(s, "elapsedMs", json_integer(util_mono_ms() -
	    d->t0));
	json_object_set_new(s, "failures", json_incref(d->failures));
	if (d->json) {
		json_dumpf(s, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		fflush(stdout);
		return;
	}
	if (json_object_get(s, "recovered") == NULL) {
		demo_say(d, "demo FAILED after %.1f s",
		    (double)(util_mono_ms() - d->t0) / 1000.0);
		return;
	}
	demo_fallback_text(json_object_get(s, "fallbacks"), text, sizeof text);
	demo_heading(d, "summary");
	demo_say(d, "  recovered after the host crash   %lld / %lld",
	    json_integer_value(json_object_get(s, "recovered")),
	    (long long)d->sessions);
	demo_say(d, "  proxies reactivated (same IP)    %lld",
	    json_integer_value(json_object_get(s, "reactivated")));
	demo_say(d, "  IPs bought for the recoveries    %lld",
	    json_integer_value(json_object_get(s, "bought")));
	demo_say(d, "  sessions on a fallback country   %lld (%s)",
	    json_integer_value(json_object_get(s, "fallback")), text);
	demo_say(d, "  phones whose IP changed          %lld",
	    json_integer_value(json_object_get(s, "ipsChanged")));
	demo_say(d, "  conflicts seen by WhatsApp       %lld",
	    json_integer_value(json_object_get(s, "conflicts")));
	demo_say(d, "  spend at the provider            $%.2f (%lld IPs, "
	    "first day)", json_real_value(json_object_get(s, "spendUsd")),
	    json_integer_value(json_object_get(s, "ipsSold")));
	demo_say(d, "demo %s in %.1f s; its processes stopped; %s %s",
	    ok ? "succeeded" : "FAILED", (double)(util_mono_ms() - d->t0) /
	    1000.0, d->keep ? "kept" : "removed", d->dir);
}

