/*
 * The circuit breaker: see breaker.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/xmalloc.h"
#include "core/breaker.h"

/* Doubling more often than this would overflow; the cap is hit long before. */
#define BREAKER_SHIFT_MAX	32

struct breaker {
	struct breaker_config	 cfg;
	enum breaker_state	 state;
	unsigned		 failures;
	unsigned		 opens;
	uint64_t		 trips;
	int64_t			 open_until;	/* while open */
	bool			 probing;	/* while half-open */
	int64_t			 probe_at;
};

int
breaker_new(const struct breaker_config *cfg, struct breaker **ret)
{
	static const struct breaker_config	 def = BREAKER_DEFAULT;
	struct breaker				*b;

	if (cfg == NULL)
		cfg = &def;
	if (cfg->failure_threshold < 1 ||
	    cfg->failure_threshold > BREAKER_THRESHOLD_MAX ||
	    cfg->cooldown_ms < 1 || cfg->cooldown_ms > BREAKER_TIME_MAX_MS ||
	    cfg->cooldown_max_ms < cfg->cooldown_ms ||
	    cfg->cooldown_max_ms > BREAKER_TIME_MAX_MS ||
	    cfg->probe_timeout_ms < 1 ||
	    cfg->probe_timeout_ms > BREAKER_TIME_MAX_MS)
		return -EINVAL;
	b = xcalloc(1, sizeof *b);
	b->cfg = *cfg;
	b->state = BREAKER_CLOSED;
	*ret = b;
	return 0;
}

void
breaker_free(struct breaker *b)
{
	free(b);
}

/* The cool-down of the opens-th open in a row: base * 2^(opens-1), capped. */
static int64_t
breaker_cooldown(const struct breaker *b)
{
	unsigned	shift = b->opens > 0 ? b->opens - 1 : 0;

	if (shift >= BREAKER_SHIFT_MAX ||
	    b->cfg.cooldown_ms > (b->cfg.cooldown_max_ms >> shift))
		return b->cfg.cooldown_max_ms;
	return b->cfg.cooldown_ms << shift;
}

static void
breaker_trip(struct breaker *b, int64_t now_ms)
{
	if (b->opens < BREAKER_SHIFT_MAX)
		b->opens++;
	b->trips++;
	b->state = BREAKER_OPEN;
	b->failures = 0;
	b->probing = false;
	b->open_until = now_ms + breaker_cooldown(b);
}

bool
breaker_allow(struct breaker *b, int64_t now_ms)
{
	switch (b->state) {
	case BREAKER_CLOSED:
		return true;
	case BREAKER_OPEN:
		if (now_ms < b->open_until)
			return false;
		b->state = BREAKER_HALF_OPEN;
		b->probing = false;
		/* FALLTHROUGH */
	case BREAKER_HALF_OPEN:
		/* One probe at a time; a silent one is written off. */
		if (b->probing &&
		    now_ms - b->probe_at < b->cfg.probe_timeout_ms)
			return false;
		b->probing = true;
		b->probe_at = now_ms;
		return true;
	}
	return false;
}

void
breaker_record(struct breaker *b, int64_t now_ms, bool ok)
{
	switch (b->state) {
	case BREAKER_CLOSED:
		if (ok) {
			b->failures = 0;
		} else if (++b->failures >= b->cfg.failure_threshold)
			breaker_trip(b, now_ms);
		break;
	case BREAKER_OPEN:
		/* A late answer to a request sent before the breaker opened. */
		break;
	case BREAKER_HALF_OPEN:
		if (ok) {
			b->state = BREAKER_CLOSED;
			b->failures = 0;
			b->opens = 0;
			b->probing = false;
		} else
			breaker_trip(b, now_ms);
		break;
	}
}

enum breaker_state
breaker_state(const struct breaker *b)
{
	return b->state;
}

const char *
breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED:
		return "closed";
	case BREAKER_OPEN:
		return "open";
	case BREAKER_HALF_OPEN:
		return "half_open";
	}
	return "unknown";
}

void
breaker_status(const struct breaker *b, int64_t now_ms,
    struct breaker_status *ret)
{
	int64_t	wait = 0;

	if (b->state == BREAKER_OPEN)
		wait = b->open_until - now_ms;
	else if (b->state == BREAKER_HALF_OPEN && b->probing)
		wait = b->probe_at + b->cfg.probe_timeout_ms - now_ms;
	ret->state = b->state;
	ret->name = breaker_state_name(b->state);
	ret->probe_in_ms = wait > 0 ? wait : 0;
	ret->failures = b->failures;
	ret->opens = b->opens;
	ret->trips = b->trips;
}
