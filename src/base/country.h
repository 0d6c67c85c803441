/*
 * ISO 3166-1 countries.  The table is generated at build time from
 * Debian's iso-codes data (tools/gen_countries.c); respawn always uses the
 * lower-case alpha-2 code, as Bright Data does in its usernames.
 */
#ifndef RESPAWN_COUNTRY_H
#define RESPAWN_COUNTRY_H

#include <stddef.h>

#define COUNTRY_CODE_LEN	3	/* two letters and a NUL */

struct country {
	const char	*alpha2;
	const char	*alpha3;
	const char	*name;
};

/*
 * Look up a code given in any case; on success writes the canonical
 * lower-case code to ret (which may be NULL) and returns the entry.
 */
const struct country	*country_find(const char *code,
			    char ret[COUNTRY_CODE_LEN]);
size_t			 country_count(void);
/*
 * A lower-case two-letter code as an index in [0, COUNTRY_INDEX_MAX), for
 * tables per country; -1 for anything else.  And back.
 */
#define COUNTRY_INDEX_MAX	(26 * 26)
int			 country_index(const char *cc);
void			 country_of_index(int i, char ret[COUNTRY_CODE_LEN]);
const struct country	*country_at(size_t i);

#endif
