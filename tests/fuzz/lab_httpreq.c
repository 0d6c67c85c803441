/*
 * Fuzz target: respawn-lab's HTTP request-head parser (API and CONNECT)
 * and its query-string decoder.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpreq.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct httpreq	 r;
	char			 v[256];
	const char		*keys[] = { "zone", "plan", "ip_per_country", "" };
	size_t			 i;
	int			 n;

	n = httpreq_parse(&r, (const char *)data, size);
	if (n > 0) {
		if ((size_t)n > size || r.nheaders > HTTPREQ_MAX_HEADERS)
			abort();
		for (i = 0; i < 4; i++)
			(void)httpreq_query_get(r.query, keys[i], v, sizeof(v));
		(void)httpreq_header(&r, "Proxy-Authorization");
		if (strlen(r.method) >= HTTPREQ_METHOD_MAX)
			abort();
	}
	return 0;
}
