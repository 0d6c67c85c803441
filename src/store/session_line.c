/*
 * Sessions from lines of a file: see session_line.h.
 */
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "base/validate.h"
#include "store/session_line.h"

#define SESSION_LINE_FIELDS	5

int
session_line_parse(const char *line, size_t len,
    enum proxy_type default_type, struct session_new *ret, const char **why)
{
	static const char	 want[] = "want USER PHONE COUNTRY "
				    "[isp|residential [PRIORITY]]";
	struct session_new	 n;
	char			 buf[SESSION_LINE_MAX + 1];
	char			*f[SESSION_LINE_FIELDS];
	size_t			 nf;

	if (len > SESSION_LINE_MAX) {
		*why = "line longer than 1024 bytes";
		return -EINVAL;
	}
	if (memchr(line, '\0', len) != NULL) {
		*why = "line holds a NUL byte";
		return -EINVAL;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	if (buf[strspn(buf, " \t\r,")] == '#')
		return 0;
	if (util_split_fields(buf, f, SESSION_LINE_FIELDS, &nf) < 0) {
		*why = want;
		return -EINVAL;
	}
	if (nf == 0)
		return 0;
	if (nf < 3) {
		*why = want;
		return -EINVAL;
	}
	memset(&n, 0, sizeof n);
	n.desired = SESSION_DESIRED_RUNNING;
	n.proxy_type = default_type;
	if (validate_user_id(f[0], why) < 0 || validate_phone(f[1], why) < 0 ||
	    validate_country(f[2], n.country, why) < 0)
		return -EINVAL;
	if (nf > 3) {
		if (strcmp(f[3], "isp") == 0)
			n.proxy_type = PROXY_TYPE_ISP;
		else if (strcmp(f[3], "residential") == 0)
			n.proxy_type = PROXY_TYPE_RESIDENTIAL;
		else {
			*why = "the proxy type must be isp or residential";
			return -EINVAL;
		}
	}
	if (nf > 4 && util_parse_i64(f[4], -1000000, 1000000,
	    &n.priority) < 0) {
		*why = "the priority must be a whole number from -1000000 to "
		    "1000000";
		return -EINVAL;
	}
	(void)util_strlcpy(n.user_id, f[0], sizeof n.user_id);
	(void)util_strlcpy(n.phone, f[1], sizeof n.phone);
	*ret = n;
	return 1;
}
