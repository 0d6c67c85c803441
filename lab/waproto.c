/*
 * Client lines of the WhatsApp stand-in (see waproto.h).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "waproto.h"

int
waproto_phone_valid(const char *phone)
{
	size_t	n, i;

	n = strlen(phone);
	if (n < 8 || n > 16 || phone[0] != '+' || phone[1] < '1' ||
	    phone[1] > '9')
		return 0;
	for (i = 1; i < n; i++)
		if (!isdigit((unsigned char)phone[i]))
			return 0;
	return 1;
}

static int
waproto_token_valid(const char *t, size_t n)
{
	size_t	i;

	if (n == 0 || n >= WAPROTO_TOKEN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '-')
			return 0;
	return 1;
}

int
waproto_parse(const char *line, size_t len, struct waproto_msg *out)
{
	struct waproto_msg	 m;
	const char		*p, *sp;
	size_t			 n;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 || len > WAPROTO_MAX_LINE || memchr(line, '\0', len))
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	if (len == 4 && memcmp(line, "PONG", 4) == 0) {
		m.kind = WAPROTO_PONG;
		*out = m;
		return 0;
	}
	if (len > 6 && memcmp(line, "HELLO ", 6) == 0) {
		m.kind = WAPROTO_HELLO;
		p = line + 6;
	} else if (len > 5 && memcmp(line, "PAIR ", 5) == 0) {
		m.kind = WAPROTO_PAIR;
		p = line + 5;
	} else if (len > 9 && memcmp(line, "PAIRCODE ", 9) == 0) {
		m.kind = WAPROTO_PAIRCODE;
		p = line + 9;
	} else
		return -EINVAL;
	sp = memchr(p, ' ', len - (size_t)(p - line));
	if (sp == NULL)
		return -EINVAL;
	n = (size_t)(sp - p);
	if (n >= sizeof(m.phone))
		return -EINVAL;
	memcpy(m.phone, p, n);
	if (!waproto_phone_valid(m.phone))
		return -EINVAL;
	p = sp + 1;
	n = len - (size_t)(p - line);
	if (!waproto_token_valid(p, n))
		return -EINVAL;
	memcpy(m.token, p, n);
	*out = m;
	return 0;
}
