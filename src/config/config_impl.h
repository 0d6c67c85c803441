/*
 * What the configuration's files share, and nobody else: config.c (the key
 * table, the four layers and their validation) and config_print.c (what
 * check-config shows, and how a value is redacted for display).  The rest
 * of respawn knows the configuration through config.h.
 */
#ifndef RESPAWN_CONFIG_IMPL_H
#define RESPAWN_CONFIG_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum config_type {
	CT_STRING,	/* any text, may be empty */
	CT_NONEMPTY,	/* text, must not be empty */
	CT_URL,		/* http:// or https:// */
	CT_URLS,	/* comma-separated http(s) URLs, may be empty */
	CT_HOSTPORT,	/* host:port */
	CT_COMMAND,	/* a command line, split without a shell */
	CT_BOOL,
	CT_INT,
	CT_DURATION,	/* number with an optional unit, stored in ms */
	CT_LOG_LEVEL,
	CT_LOG_FORMAT,
	CT_PROXY_TYPE,
	CT_COUNTRIES,	/* comma-separated ISO 3166-1 codes */
	CT_SECRET_REF,	/* env:, file:, exec: reference, may be empty */
	CT_SENSITIVE,	/* a literal secret: never printed */
	CT_PROVIDER,	/* a proxy provider's name */
	CT_FALLBACK,	/* fallback chain overrides */
	CT_MONEY,	/* "1.50": stored in micro-units */
	CT_CHOICE,	/* one of the words in help's first parenthesis */
};

struct config_key {
	const char		*name;
	enum config_type	 type;
	size_t			 offset;
	const char		*def;
	int64_t			 min;
	int64_t			 max;
	int64_t			 unit_ms;	/* CT_DURATION: unit of a bare number */
	const char		*help;
};

/*
 * The number of keys in config_keys.  The private struct below sizes its
 * arrays with it, so it is a constant; config.c checks it against the
 * table at compile time.
 */
#define CONFIG_NKEYS	51

/* Every key, in the order check-config shows them (config.c). */
extern const struct config_key config_keys[];

/*
 * The public struct is the first member, so a const struct config * handed
 * out can be turned back into its owner for config_free().
 */
struct config_impl {
	struct config	 pub;
	char		*values[CONFIG_NKEYS];	/* effective text of each key */
	char		*sources[CONFIG_NKEYS];
};

/*
 * A value of key as it may be shown (check-config, errors) into out, cut
 * to size, never in the middle of a secret (config_print.c).
 */
void	config_redact(const struct config_key *key, const char *v, char *out,
	    size_t size);

#endif
