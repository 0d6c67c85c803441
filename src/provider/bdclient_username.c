/*
 * Proxy usernames for Bright Data's super proxy and the residential
 * session ids they carry (see bdclient.h), with the SipHash-2-4 those ids
 * are made with.  No I/O: the account API's client is in bdclient.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "base/validate.h"
#include "provider/bdclient.h"
#include "provider/bdclient_impl.h"

/* --- Proxy usernames --------------------------------------------------- */

#define BDCLIENT_ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void
bdclient_sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = BDCLIENT_ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = BDCLIENT_ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = BDCLIENT_ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = BDCLIENT_ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = BDCLIENT_ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = BDCLIENT_ROTL(v[2], 32);
}

static uint64_t
bdclient_le64(const uint8_t *p, size_t n)
{
	uint64_t	x = 0;
	size_t		i;

	for (i = 0; i < n; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}

uint64_t
bdclient_siphash(const uint8_t key[16], const void *data, size_t n)
{
	const uint8_t	*p = data;
	uint64_t	 k0 = bdclient_le64(key, 8), k1 = bdclient_le64(key + 8, 8);
	uint64_t	 v[4], m;
	size_t		 i;

	v[0] = k0 ^ UINT64_C(0x736f6d6570736575);
	v[1] = k1 ^ UINT64_C(0x646f72616e646f6d);
	v[2] = k0 ^ UINT64_C(0x6c7967656e657261);
	v[3] = k1 ^ UINT64_C(0x7465646279746573);
	for (i = 0; i + 8 <= n; i += 8) {
		m = bdclient_le64(p + i, 8);
		v[3] ^= m;
		bdclient_sipround(v);
		bdclient_sipround(v);
		v[0] ^= m;
	}
	m = bdclient_le64(p + i, n - i) | ((uint64_t)(n & 0xff) << 56);
	v[3] ^= m;
	bdclient_sipround(v);
	bdclient_sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		bdclient_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

int
bdclient_session_id(const char *phone, unsigned generation,
    const char *salt, char out[BDCLIENT_SESSION_ID_LEN])
{
	/* Two fixed keys turn the salt, of any length, into a 128-bit key. */
	static const uint8_t	 kdf0[16] = "respawn-session0";
	static const uint8_t	 kdf1[16] = "respawn-session1";
	uint8_t			 key[16];
	char			 msg[PHONE_LEN + 16];
	const char		*why;
	uint64_t		 k0, k1, h;
	int			 n, i;

	if (validate_phone(phone, &why) != 0 || salt == NULL)
		return -EINVAL;
	k0 = bdclient_siphash(kdf0, salt, strlen(salt));
	k1 = bdclient_siphash(kdf1, salt, strlen(salt));
	for (i = 0; i < 8; i++) {
		key[i] = (uint8_t)(k0 >> (8 * i));
		key[8 + i] = (uint8_t)(k1 >> (8 * i));
	}
	n = snprintf(msg, sizeof(msg), "%s/%u", phone, generation);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	h = bdclient_siphash(key, msg, (size_t)n);
	util_wipe(key, sizeof(key));
	(void)snprintf(out, BDCLIENT_SESSION_ID_LEN, "%016llx",
	    (unsigned long long)h);
	return 0;
}

static int
bdclient_put(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Format into a local buffer first: out is written only on success. */
static int
bdclient_put(char *out, size_t size, const char *fmt, ...)
{
	char	tmp[BDCLIENT_USERNAME_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp) || (size_t)n >= size)
		return -ENAMETOOLONG;
	memcpy(out, tmp, (size_t)n + 1);
	return 0;
}

int
bdclient_proxy_username(const char *customer, const char *zone,
    const char *ip, char *out, size_t size)
{
	struct in_addr	addr;

	if (!bdclient_name_ok(customer) || !bdclient_name_ok(zone) ||
	    ip == NULL || inet_pton(AF_INET, ip, &addr) != 1 || out == NULL)
		return -EINVAL;
	return bdclient_put(out, size, "brd-customer-%s-zone-%s-ip-%s",
	    customer, zone, ip);
}

int
bdclient_proxy_username_residential(const char *customer, const char *zone,
    const char *country, const char *session_id, char *out, size_t size)
{
	char		 cc[COUNTRY_CODE_LEN];
	const char	*why;
	size_t		 i, n;

	if (!bdclient_name_ok(customer) || !bdclient_name_ok(zone) ||
	    validate_country(country, cc, &why) != 0 || session_id == NULL ||
	    out == NULL)
		return -EINVAL;
	/* Bright Data: letters and digits only; '-' or '*' are errors. */
	n = strlen(session_id);
	if (n == 0 || n > BDCLIENT_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!((session_id[i] >= 'a' && session_id[i] <= 'z') ||
		    (session_id[i] >= 'A' && session_id[i] <= 'Z') ||
		    (session_id[i] >= '0' && session_id[i] <= '9')))
			return -EINVAL;
	}
	return bdclient_put(out, size,
	    "brd-customer-%s-zone-%s-country-%s-session-%s", customer, zone,
	    cc, session_id);
}
