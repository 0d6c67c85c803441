/*
 * What every fuzz target shares: the libFuzzer entry point and a check
 * that aborts, so both libFuzzer and the corpus replay (replay.c) report
 * a broken promise as a crash with the line that failed.
 */
#ifndef RESPAWN_FUZZ_H
#define RESPAWN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

#endif
