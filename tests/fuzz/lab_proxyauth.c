/*
 * Fuzz target: the super proxy's credentials: a Proxy-Authorization
 * value, then the username grammar on the bytes as they are.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyauth.h"

#define FUZZ_MAX	2048

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_user	u;
	char			in[FUZZ_MAX + 1];
	char			user[PROXYAUTH_CRED_MAX], pass[PROXYAUTH_CRED_MAX];

	if (size > FUZZ_MAX)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (proxyauth_basic(in, user, sizeof(user), pass, sizeof(pass)) == 0)
		(void)proxyauth_username(user, &u);
	if (proxyauth_username(in, &u) == 0 &&
	    (strlen(u.zone) == 0 || strlen(u.customer) == 0))
		abort();
	return 0;
}
