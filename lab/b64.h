/*
 * Standard base64 (RFC 4648, with padding), for Basic proxy credentials
 * and Secret Manager payloads.
 */
#ifndef LAB_B64_H
#define LAB_B64_H

#include <stddef.h>

/* Size of the encoding of n bytes, with its NUL. */
#define B64_ENCODED_SIZE(n)	(((n) + 2) / 3 * 4 + 1)

/* -ENAMETOOLONG if out is too small. */
int	b64_encode(const void *in, size_t n, char *out, size_t outlen);
/* Decodes and NUL-terminates; returns the length, or -EINVAL. */
int	b64_decode(const char *in, size_t n, char *out, size_t outlen);

#endif
