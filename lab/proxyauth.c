/*
 * Super proxy credentials (see proxyauth.h).  Keys that take a value and
 * flags that stand alone are listed, so "-ip-" can never be mistaken for a
 * flag and an unknown key is refused rather than ignored.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "base/util.h"
#include "proxyauth.h"

static const char *const proxyauth_value_keys[] = {
	"ip", "country", "session", "city", "state", "asn", "zip", "c_tag",
	"route_err", "gip", "dns", "os", "carrier",
};

static const char *const proxyauth_flags[] = {
	"direct", "const", "ua_mobile", "ua_desktop",
};

int
proxyauth_basic(const char *header, char *user, size_t ulen, char *pass,
    size_t plen)
{
	char		 cred[PROXYAUTH_CRED_MAX];
	const char	*p;
	char		*colon;
	int		 n;

	if (strncasecmp(header, "Basic ", 6) != 0)
		return -ENOENT;
	p = header + 6;
	while (*p == ' ')
		p++;
	n = b64_decode(p, strlen(p), cred, sizeof(cred));
	if (n < 0)
		return -EINVAL;
	if ((colon = strchr(cred, ':')) == NULL)
		return -EINVAL;
	*colon = '\0';
	if (util_strlcpy(user, cred, ulen) != 0 ||
	    util_strlcpy(pass, colon + 1, plen) != 0)
		return -EINVAL;
	return 0;
}

static bool
proxyauth_in(const char *s, size_t len, const char *const *list, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncmp(s, list[i], len) == 0)
			return true;
	return false;
}

static bool
proxyauth_alnum(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s))
			return false;
	return true;
}

/* Copies the next '-'-separated part; returns a pointer past it. */
static const char *
proxyauth_part(const char *s, char *out, size_t outlen, size_t *lenp)
{
	const char	*dash = strchr(s, '-');
	size_t		 len = dash != NULL ? (size_t)(dash - s) : strlen(s);

	*lenp = len;
	if (len >= outlen)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return dash != NULL ? dash + 1 : s + len;
}

int
proxyauth_username(const char *user, struct proxy_user *out)
{
	struct proxy_user	 u;
	char			 key[PROXYAUTH_FIELD_MAX];
	char			 val[PROXYAUTH_FIELD_MAX];
	const char		*p;
	size_t			 klen, vlen;

	memset(&u, 0, sizeof(u));
	if (user[0] == '\0' || user[strlen(user) - 1] == '-')
		return -EINVAL;
	if (strncmp(user, "brd-customer-", 13) == 0)
		p = user + 13;
	else if (strncmp(user, "lum-customer-", 13) == 0)
		p = user + 13;		/* the legacy prefix */
	else
		return -EINVAL;
	if ((p = proxyauth_part(p, u.customer, sizeof(u.customer),
	    &vlen)) == NULL || vlen == 0)
		return -EINVAL;
	if (strncmp(p, "zone-", 5) != 0)
		return -EINVAL;
	if ((p = proxyauth_part(p + 5, u.zone, sizeof(u.zone),
	    &vlen)) == NULL || vlen == 0)
		return -EINVAL;
	while (*p != '\0') {
		if ((p = proxyauth_part(p, key, sizeof(key), &klen)) == NULL ||
		    klen == 0)
			return -EINVAL;
		if (proxyauth_in(key, klen, proxyauth_flags,
		    nitems(proxyauth_flags)))
			continue;
		if (!proxyauth_in(key, klen, proxyauth_value_keys,
		    nitems(proxyauth_value_keys)))
			return -EINVAL;
		if ((p = proxyauth_part(p, val, sizeof(val), &vlen)) == NULL ||
		    vlen == 0)
			return -EINVAL;
		if (strcmp(key, "ip") == 0) {
			struct in_addr a;

			if (u.has_ip || inet_pton(AF_INET, val, &a) != 1)
				return -EINVAL;
			u.ip = ntohl(a.s_addr);
			u.has_ip = true;
		} else if (strcmp(key, "country") == 0) {
			if (u.has_country || strlen(val) != 2 ||
			    !islower((unsigned char)val[0]) ||
			    !islower((unsigned char)val[1]))
				return -EINVAL;
			memcpy(u.country, val, 3);
			u.has_country = true;
		} else if (strcmp(key, "session") == 0) {
			/* Bright Data allows only letters and digits here. */
			if (u.has_session || !proxyauth_alnum(val))
				return -EINVAL;
			memcpy(u.session, val, vlen + 1);
			u.has_session = true;
		}
	}
	*out = u;
	return 0;
}
