/*
 * Fuzz target for the readers of what a Google Secret Manager reference
 * brings back (src/config/secret.c): the metadata server's token answer
 * (secret_gsm_token), Secret Manager's answer (secret_gsm_payload) and
 * the base64 decoder under it (secret_b64_decode).  The answers come
 * from the network, and the token goes into a request header.
 *
 * Besides memory errors it checks their promises.  A token is taken only
 * when it is the answer's access_token and a Bearer token as RFC 6750
 * writes one (letters, digits, "-._~+/", then '='s), 1 to
 * SECRET_TOKEN_MAX bytes, so nothing else can ride into the header;
 * otherwise -EBADMSG and tok untouched.  A payload gives a secret whose
 * value is payload.data decoded (one trailing newline and carriage
 * return dropped, as for every secret), never empty; otherwise a
 * documented error, a reason and no secret.  The decoder accepts exactly
 * well-formed base64 in either alphabet: no byte outside it, padding
 * only at the end and only to a multiple of four, never a lone last
 * character, so no part of a value is silently dropped; what it gives is
 * the decoding, and any bytes encoded in either alphabet, padded or not,
 * decode back to themselves.
 *
 * Input layout: byte 0 picks the check (mod 4): the metadata answer, the
 * Secret Manager answer, text to decode (up to a NUL), or bytes to encode
 * and decode back; the rest is the answer, the text or the bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/secret.h"
#include "fuzz.h"

#define POISON	0x5a

static const char	std64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char	url64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
ref_value(char c)
{
	const char	*p;

	if (c == '\0')
		return -1;
	if ((p = strchr(std64, c)) != NULL)
		return (int)(p - std64);
	if ((p = strchr(url64, c)) != NULL)
		return (int)(p - url64);
	return -1;
}

/* Well-formed base64 decoded into out; -1 for anything else. */
static long
ref_decode(const char *s, unsigned char *out)
{
	size_t		n = 0, pad, i;
	unsigned	acc = 0;
	long		o = 0;
	int		bits = 0;

	while (ref_value(s[n]) >= 0)
		n++;
	pad = strspn(s + n, "=");
	if (s[n + pad] != '\0' || n % 4 == 1 || pad > 2 ||
	    (pad > 0 && (n + pad) % 4 != 0))
		return -1;
	for (i = 0; i < n; i++) {
		acc = (acc << 6) | (unsigned)ref_value(s[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o;
}

static char *
encode(const uint8_t *p, size_t n, const char *alphabet, bool pad)
{
	char	*out, *q;
	size_t	 i;
	uint32_t v;

	out = q = malloc(n / 3 * 4 + 5);
	FUZZ_CHECK(out != NULL);
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*q++ = alphabet[v >> 18];
		*q++ = alphabet[(v >> 12) & 63];
		*q++ = alphabet[(v >> 6) & 63];
		*q++ = alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		*q++ = alphabet[v >> 18];
		*q++ = alphabet[(v >> 12) & 63];
		if (pad)
			*q++ = '=', *q++ = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*q++ = alphabet[v >> 18];
		*q++ = alphabet[(v >> 12) & 63];
		*q++ = alphabet[(v >> 6) & 63];
		if (pad)
			*q++ = '=';
	}
	*q = '\0';
	return out;
}

static void
fuzz_decode(const char *s)
{
	unsigned char	*want;
	char		*buf;
	long		 n;
	ssize_t		 r;

	want = malloc(strlen(s) + 1);
	buf = strdup(s);
	FUZZ_CHECK(want != NULL && buf != NULL);
	n = ref_decode(s, want);
	r = secret_b64_decode(buf);
	FUZZ_CHECK(r == n || (r < 0 && n < 0));
	if (r > 0)
		FUZZ_CHECK(memcmp(buf, want, (size_t)r) == 0);
	free(buf);
	free(want);
}

static void
fuzz_round_trip(const uint8_t *p, size_t n)
{
	char	*s;
	int	 i;

	for (i = 0; i < 4; i++) {
		s = encode(p, n, i & 1 ? url64 : std64, i & 2);
		FUZZ_CHECK(secret_b64_decode(s) == (ssize_t)n);
		FUZZ_CHECK(n == 0 || memcmp(s, p, n) == 0);
		free(s);
	}
}

/* Letters, digits, "-._~+/", then '='s: RFC 6750's b64token. */
static bool
bearer_token(const char *t)
{
	size_t	n;

	n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._~+/");
	return n > 0 && t[n + strspn(t + n, "=")] == '\0';
}

static void
fuzz_token(const char *body, size_t len)
{
	char		 tok[SECRET_TOKEN_MAX + 1];
	const char	*want = NULL;
	json_t		*j;
	int		 r;

	memset(tok, POISON, sizeof tok);
	r = secret_gsm_token(body, len, tok);
	j = json_loadb(body, len, 0, NULL);
	want = json_string_value(json_object_get(j, "access_token"));
	if (want != NULL && (!bearer_token(want) ||
	    strlen(want) > SECRET_TOKEN_MAX))
		want = NULL;
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG);
		FUZZ_CHECK((unsigned char)tok[0] == POISON);
		FUZZ_CHECK(want == NULL);
	} else {
		FUZZ_CHECK(r == 0 && want != NULL);
		FUZZ_CHECK(strcmp(tok, want) == 0);
	}
	json_decref(j);
}

static void
fuzz_payload(const char *body, size_t len)
{
	struct secret	*s, *poison = (struct secret *)&s;
	unsigned char	*want;
	const char	*why = NULL, *data;
	json_t		*j;
	long		 n = -1;
	int		 r;

	s = poison;
	r = secret_gsm_payload(body, len, &s, &why);
	j = json_loadb(body, len, 0, NULL);
	data = json_string_value(json_object_get(json_object_get(j,
	    "payload"), "data"));
	want = malloc(data != NULL ? strlen(data) + 1 : 1);
	FUZZ_CHECK(want != NULL);
	if (data != NULL && (n = ref_decode(data, want)) >= 0) {
		if (n > 0 && want[n - 1] == '\n')
			n--;
		if (n > 0 && want[n - 1] == '\r')
			n--;
	}
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG || r == -ENOBUFS || r == -ENODATA);
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		FUZZ_CHECK(s == poison);
		FUZZ_CHECK(n <= 0);
	} else {
		FUZZ_CHECK(r == 0 && s != poison && n > 0);
		FUZZ_CHECK(secret_len(s) == (size_t)n);
		FUZZ_CHECK(secret_len(s) <= SECRET_VALUE_MAX);
		FUZZ_CHECK(memcmp(secret_value(s), want, (size_t)n) == 0);
		FUZZ_CHECK(secret_value(s)[n] == '\0');
		secret_free(s);
	}
	free(want);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*body = (const char *)data + 1;
	char		*s;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_token(body, size - 1);
		break;
	case 1:
		fuzz_payload(body, size - 1);
		break;
	case 2:
		s = malloc(size);
		FUZZ_CHECK(s != NULL);
		memcpy(s, body, size - 1);
		s[size - 1] = '\0';
		fuzz_decode(s);
		free(s);
		break;
	default:
		fuzz_round_trip(data + 1, size - 1);
		break;
	}
	return 0;
}
