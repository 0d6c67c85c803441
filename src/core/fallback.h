/*
 * Regional fallback chains: which countries to try, in order, when no
 * proxy IP can be had in the country a session asked for.
 *
 * The chains are generated at build time (tools/gen_fallback.c) from
 * CLDR's territory containment, so every ISO 3166-1 country has one: the
 * preferred countries of its own sub-region, then those of its region,
 * then the global hubs (gb and us unless the build says otherwise), which
 * always come last.  Operators may replace the chain of any country with
 * an override such as "be:nl,fr,de;bd:in,sg".
 *
 * Every string this module hands out is static and lives as long as the
 * program, so callers may keep the pointers.  The module does no I/O.
 */
#ifndef RESPAWN_CORE_FALLBACK_H
#define RESPAWN_CORE_FALLBACK_H

#include <stddef.h>

/* The longest chain, generated or overridden, hubs included. */
#define FALLBACK_MAX		8
/* The longest override specification accepted, in bytes. */
#define FALLBACK_SPEC_MAX	4096

struct fallback_overrides;

/*
 * The generated chain of a country given in any case: writes up to
 * FALLBACK_MAX lower-case codes to out and their number to n.  Returns
 * -EINVAL when cc is not an ISO 3166-1 alpha-2 code.
 */
int	 fallback_chain(const char *cc, const char *out[FALLBACK_MAX],
	    size_t *n);

/* The build's global hubs, in the order they end every chain. */
size_t	 fallback_hubs(const char *const **ret);

/*
 * Parse an operator's overrides, "cc:a,b,c;cc:d" (blanks around the
 * separators are ignored, an empty chain means "never fall back").  Every
 * code must be ISO 3166-1; a chain may not name its own country or a
 * country twice, nor be longer than FALLBACK_MAX; a country may be
 * overridden once.  An empty specification gives an empty set.  Returns
 * -EINVAL and a message naming the offending part in err.
 */
int	 fallback_override_parse(const char *spec,
	    struct fallback_overrides **ret, char *err, size_t errlen);
void	 fallback_overrides_free(struct fallback_overrides *ov);
/* How many countries the overrides name. */
size_t	 fallback_overrides_count(const struct fallback_overrides *ov);

/*
 * The chain to walk for cc: its override when ov (which may be NULL) has
 * one, else the generated chain.  Errors as fallback_chain.
 */
int	 fallback_lookup(const struct fallback_overrides *ov, const char *cc,
	    const char *out[FALLBACK_MAX], size_t *n);

#endif
