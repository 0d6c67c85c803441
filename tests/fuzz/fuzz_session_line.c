/*
 * Fuzz target for session_line_parse (src/store/session_line.c), which
 * reads the files `respawn session import` is given.  Besides memory
 * errors it checks the parser's promises: a line is a session (1), nothing
 * (0) or refused with a reason (-EINVAL); *ret is written only for 1; a
 * session taken has a valid user id, phone number and country, a known
 * proxy type, a priority in range and desired running; and writing the
 * session back as a line parses to the same session.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/validate.h"
#include "config/config.h"
#include "store/session_line.h"
#include "fuzz.h"

#define POISON	0x5a

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_new	 n, again;
	const char		*why = NULL;
	char			 line[SESSION_LINE_MAX + 1], cc[COUNTRY_CODE_LEN];
	unsigned char		 poison[sizeof n];
	int			 r, len;

	memset(&n, POISON, sizeof n);
	memset(poison, POISON, sizeof poison);
	r = session_line_parse((const char *)data, size, PROXY_TYPE_ISP, &n,
	    &why);
	FUZZ_CHECK(r == 1 || r == 0 || r == -EINVAL);
	if (r != 1) {
		FUZZ_CHECK(memcmp(&n, poison, sizeof n) == 0);
		FUZZ_CHECK(r == 0 || (why != NULL && why[0] != '\0'));
		return 0;
	}
	FUZZ_CHECK(validate_user_id(n.user_id, &why) == 0);
	FUZZ_CHECK(validate_phone(n.phone, &why) == 0);
	FUZZ_CHECK(validate_country(n.country, cc, &why) == 0);
	FUZZ_CHECK(strcmp(cc, n.country) == 0);
	FUZZ_CHECK(n.proxy_type == PROXY_TYPE_ISP ||
	    n.proxy_type == PROXY_TYPE_RESIDENTIAL);
	FUZZ_CHECK(n.priority >= -1000000 && n.priority <= 1000000);
	FUZZ_CHECK(n.desired == SESSION_DESIRED_RUNNING);
	len = snprintf(line, sizeof line, "%s %s %s %s %lld\n", n.user_id,
	    n.phone, n.country, config_proxy_type_name(n.proxy_type),
	    (long long)n.priority);
	FUZZ_CHECK(len > 0 && (size_t)len < sizeof line);
	FUZZ_CHECK(session_line_parse(line, (size_t)len, PROXY_TYPE_RESIDENTIAL,
	    &again, &why) == 1);
	FUZZ_CHECK(strcmp(again.user_id, n.user_id) == 0 &&
	    strcmp(again.phone, n.phone) == 0 &&
	    strcmp(again.country, n.country) == 0 &&
	    again.proxy_type == n.proxy_type && again.priority == n.priority);
	return 0;
}
