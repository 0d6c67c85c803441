/*
 * Fuzz target: fault rules posted to /lab/faults (JSON), and the decision
 * made from an accepted rule.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fault.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fault_decision	 d;
	struct fault_rule	 r;
	json_t			*j;
	char			 err[128];

	j = json_loadb((const char *)data, size, 0, NULL);
	if (j == NULL)
		return 0;
	if (fault_rule_parse(j, &r, err, sizeof(err)) == 0) {
		memset(&d, 0, sizeof(d));
		(void)fault_rule_apply(&r, 0.0, 0.999, &d);
		(void)fault_endpoint_match(r.endpoint, "GET", "/zone/ips");
	}
	json_decref(j);
	return 0;
}
