/*
 * Fuzz target for notify_parse, which reads the sd_notify datagrams any
 * process of a connector's session may send.  Besides memory errors it
 * checks the parser's promises: an empty datagram or one holding a NUL is
 * refused with -EBADMSG and leaves the message untouched; any other is
 * taken, and the message is what the protocol says, line by line, the
 * last line of a key winning: READY, WATCHDOG and STOPPING only for the
 * value "1", a STATUS cut to fit NOTIFY_STATUS_MAX (NUL-terminated, no
 * newline), an ERRNO only from 0 to 4095, the event named or "other";
 * the pid is never taken from the payload.  Writing the message back as
 * a datagram and parsing that gives the same message again.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys/notify.h"
#include "fuzz.h"

/* Does the line start with key (with its '=')?  Sets the value. */
static bool
ref_key(const char *line, size_t len, const char *key, const char **v,
    size_t *vlen)
{
	size_t	klen = strlen(key);

	if (len < klen || memcmp(line, key, klen) != 0)
		return false;
	*v = line + klen;
	*vlen = len - klen;
	return true;
}

/* The message as the protocol describes it, written independently. */
static void
ref_parse(const char *buf, size_t len, struct notify_msg *m)
{
	static const struct {
		const char		*name;
		enum notify_event	 ev;
	} events[] = {
		{ "logged_out", NOTIFY_EVENT_LOGGED_OUT },
		{ "proxy_blocked", NOTIFY_EVENT_PROXY_BLOCKED },
		{ "conflict", NOTIFY_EVENT_CONFLICT },
	};
	const char	*p = buf, *end = buf + len, *nl, *v;
	size_t		 llen, vlen, i;
	int		 e;

	memset(m, 0, sizeof *m);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (ref_key(p, llen, "READY=", &v, &vlen))
			m->ready = vlen == 1 && *v == '1';
		else if (ref_key(p, llen, "WATCHDOG=", &v, &vlen))
			m->watchdog = vlen == 1 && *v == '1';
		else if (ref_key(p, llen, "STOPPING=", &v, &vlen))
			m->stopping = vlen == 1 && *v == '1';
		else if (ref_key(p, llen, "STATUS=", &v, &vlen)) {
			memset(m->status, 0, sizeof m->status);
			memcpy(m->status, v, vlen < NOTIFY_STATUS_MAX ? vlen :
			    NOTIFY_STATUS_MAX - 1);
			m->has_status = true;
		} else if (ref_key(p, llen, "ERRNO=", &v, &vlen)) {
			/*
			 * Decimal with an optional sign, at most 15 bytes,
			 * from 0 to 4095 ("-0" is 0).
			 */
			i = vlen > 0 && (*v == '+' || *v == '-') ? 1 : 0;
			if (vlen <= 15 && i < vlen) {
				for (e = 0; i < vlen && v[i] >= '0' &&
				    v[i] <= '9' && e <= 4095; i++)
					e = e * 10 + (v[i] - '0');
				if (i == vlen && e <= 4095 &&
				    (*v != '-' || e == 0))
					m->errno_value = e;
			}
		} else if (ref_key(p, llen, "X_RESPAWN_EVENT=", &v, &vlen)) {
			m->event = NOTIFY_EVENT_OTHER;
			for (i = 0; i < sizeof events / sizeof events[0]; i++)
				if (vlen == strlen(events[i].name) &&
				    memcmp(v, events[i].name, vlen) == 0)
					m->event = events[i].ev;
		}
		p += llen + (nl != NULL ? 1 : 0);
	}
}

static void
check_same(const struct notify_msg *a, const struct notify_msg *b)
{
	FUZZ_CHECK(a->pid == b->pid);
	FUZZ_CHECK(a->ready == b->ready);
	FUZZ_CHECK(a->watchdog == b->watchdog);
	FUZZ_CHECK(a->stopping == b->stopping);
	FUZZ_CHECK(a->has_status == b->has_status);
	FUZZ_CHECK(strcmp(a->status, b->status) == 0);
	FUZZ_CHECK(a->errno_value == b->errno_value);
	FUZZ_CHECK(a->event == b->event);
}

/* The message as a datagram, one line per key that is set. */
static size_t
write_back(const struct notify_msg *m, char *out, size_t size)
{
	static const char *const names[] = {
		[NOTIFY_EVENT_LOGGED_OUT] = "logged_out",
		[NOTIFY_EVENT_PROXY_BLOCKED] = "proxy_blocked",
		[NOTIFY_EVENT_CONFLICT] = "conflict",
		[NOTIFY_EVENT_OTHER] = "something_else",
	};
	int	n;

	n = snprintf(out, size, "READY=%d\nWATCHDOG=%d\nSTOPPING=%d\n"
	    "ERRNO=%d\n%s%s%s%s%s", m->ready, m->watchdog, m->stopping,
	    m->errno_value, m->has_status ? "STATUS=" : "", m->has_status ?
	    m->status : "", m->has_status ? "\n" : "",
	    m->event != NOTIFY_EVENT_NONE ? "X_RESPAWN_EVENT=" : "",
	    m->event != NOTIFY_EVENT_NONE ? names[m->event] : "");
	FUZZ_CHECK(n > 0 && (size_t)n < size);
	return (size_t)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notify_msg	 m, poison, want, again;
	const char		*buf = (const char *)data;
	char			 out[NOTIFY_STATUS_MAX + 256];
	int			 r;

	memset(&poison, 0xa5, sizeof poison);
	m = poison;
	r = notify_parse(buf, size, &m);
	if (size == 0 || memchr(buf, '\0', size) != NULL) {
		FUZZ_CHECK(r == -EBADMSG);
		FUZZ_CHECK(memcmp(&m, &poison, sizeof m) == 0);
		return 0;
	}
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(m.pid == 0);
	FUZZ_CHECK(memchr(m.status, '\0', sizeof m.status) != NULL);
	FUZZ_CHECK(strchr(m.status, '\n') == NULL);
	FUZZ_CHECK(m.has_status || m.status[0] == '\0');
	FUZZ_CHECK(m.errno_value >= 0 && m.errno_value <= 4095);
	FUZZ_CHECK(m.event >= NOTIFY_EVENT_NONE &&
	    m.event <= NOTIFY_EVENT_OTHER);
	ref_parse(buf, size, &want);
	check_same(&m, &want);

	/* Written back and read again, the message is the same. */
	again = poison;
	FUZZ_CHECK(notify_parse(out, write_back(&m, out, sizeof out),
	    &again) == 0);
	if (m.event == NOTIFY_EVENT_OTHER)
		FUZZ_CHECK(again.event == NOTIFY_EVENT_OTHER);
	check_same(&m, &again);
	return 0;
}
