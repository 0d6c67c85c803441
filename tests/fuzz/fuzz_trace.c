/*
 * Fuzz target for the cost simulator's trace reader (core/trace.c), which
 * reads files users export from their own logs.  The input is split into
 * lines as `respawn cost simulate --trace` splits them and each line goes
 * to trace_parse_line.  Besides memory errors it checks the reader's
 * promises: a line is taken whole or not at all (the interval count grows
 * by one or stays), a refusal is -EINVAL or -E2BIG with a reason, every
 * interval taken has its end after its start, and trace_finish either
 * refuses with a reason or leaves the intervals in start order with no
 * phone in two places at once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/trace.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace	*t = trace_new();
	const char	*p = (const char *)data, *end = p + size, *nl, *why;
	size_t		 lineno = 0, before, len, i, line;
	int		 r;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		before = trace_nintervals(t);
		why = NULL;
		r = trace_parse_line(t, p, len, ++lineno, &why);
		if (r < 0) {
			FUZZ_CHECK(r == -EINVAL || r == -E2BIG);
			FUZZ_CHECK(why != NULL && why[0] != '\0');
			FUZZ_CHECK(trace_nintervals(t) == before);
		} else {
			FUZZ_CHECK(r == 0);
			FUZZ_CHECK(trace_nintervals(t) == before ||
			    trace_nintervals(t) == before + 1);
		}
		p += len;
	}
	for (i = 0; i < trace_nintervals(t); i++) {
		const struct trace_interval *iv = trace_interval_at(t, i);

		FUZZ_CHECK(iv->end > iv->start);
		FUZZ_CHECK(iv->phone < trace_nphones(t));
	}
	why = NULL;
	r = trace_finish(t, &why, &line);
	if (r < 0)
		FUZZ_CHECK((r == -EINVAL || r == -ENODATA) && why != NULL);
	else
		for (i = 1; i < trace_nintervals(t); i++)
			FUZZ_CHECK(trace_interval_at(t, i - 1)->start <=
			    trace_interval_at(t, i)->start);
	trace_free(t);
	return 0;
}
