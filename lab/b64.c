/*
 * base64 (see b64.h).  Decoding is strict: padding only at the end, no
 * whitespace, no embedded NUL in the result.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "b64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
b64_encode(const void *in, size_t n, char *out, size_t outlen)
{
	const unsigned char	*p = in;
	size_t			 i, o = 0;
	uint32_t		 v;

	if (outlen < B64_ENCODED_SIZE(n))
		return -ENAMETOOLONG;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < n) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}

static int
b64_value(char c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(b64_alphabet, c)) == NULL)
		return -1;
	return (int)(p - b64_alphabet);
}

int
b64_decode(const char *in, size_t n, char *out, size_t outlen)
{
	size_t		 i, o = 0, pad = 0;
	uint32_t	 v;
	int		 k, d;

	if (n % 4 != 0)
		return -EINVAL;
	if (n > 0 && in[n - 1] == '=')
		pad++;
	if (n > 1 && in[n - 2] == '=')
		pad++;
	if (n / 4 * 3 - pad + 1 > outlen)
		return -EINVAL;
	for (i = 0; i < n; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 4 - (int)pad)
				d = 0;
			else if ((d = b64_value(in[i + k])) < 0)
				return -EINVAL;
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (char)(v >> 16);
		if (!(i + 4 == n && pad == 2))
			out[o++] = (char)(v >> 8 & 0xff);
		if (!(i + 4 == n && pad >= 1))
			out[o++] = (char)(v & 0xff);
	}
	out[o] = '\0';
	if (memchr(out, '\0', o) != NULL)
		return -EINVAL;
	return (int)o;
}
