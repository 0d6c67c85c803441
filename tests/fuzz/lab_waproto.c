/*
 * Fuzz target: lines sent to the WhatsApp stand-in.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "waproto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct waproto_msg	m;

	if (waproto_parse((const char *)data, size, &m) == 0 &&
	    m.kind == WAPROTO_HELLO && !waproto_phone_valid(m.phone))
		abort();
	return 0;
}
