/*
 * The lab's WhatsApp stand-in speaks a line protocol (documented in
 * docs/LAB.md): lines end in "\n", are at most WAPROTO_MAX_LINE bytes, and
 * the client opens with "HELLO <phone> <token>", or, to link a new device
 * (a QR scan or a pairing code), "PAIR <phone> <token>" or
 * "PAIRCODE <phone> <token>".  This file parses client
 * lines; it is pure so it can be fuzzed.
 */
#ifndef LAB_WAPROTO_H
#define LAB_WAPROTO_H

#include <stddef.h>

#define WAPROTO_MAX_LINE	256
#define WAPROTO_PHONE_MAX	20	/* "+" and up to 15 digits, NUL */
#define WAPROTO_TOKEN_MAX	129	/* up to 128 token bytes, NUL */

enum waproto_kind {
	WAPROTO_HELLO,
	WAPROTO_PONG,
	WAPROTO_PAIR,		/* PAIR <phone> <token>: link by QR code */
	WAPROTO_PAIRCODE,	/* PAIRCODE <phone> <token>: by pairing code */
};

struct waproto_msg {
	enum waproto_kind	kind;
	char			phone[WAPROTO_PHONE_MAX];
	char			token[WAPROTO_TOKEN_MAX];
};

/* An E.164 number: '+', a non-zero digit, then 6 to 14 digits. */
int	waproto_phone_valid(const char *phone);
/* One line without its "\n" (a trailing "\r" is allowed); -EINVAL. */
int	waproto_parse(const char *line, size_t len, struct waproto_msg *out);

#endif
