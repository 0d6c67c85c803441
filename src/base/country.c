/*
 * The generated ISO 3166-1 table and its lookup: see country.h.
 */
#include <stdlib.h>
#include <string.h>

#include "base/country.h"
#include "base/util.h"

static const struct country country_table[] = {
#include "countries.inc"
};

static int
country_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct country *)elem)->alpha2);
}

const struct country *
country_find(const char *code, char ret[COUNTRY_CODE_LEN])
{
	const struct country	*c;
	char			 key[COUNTRY_CODE_LEN];

	if (code == NULL || strlen(code) != 2)
		return NULL;
	key[0] = (char)(code[0] | 0x20);
	key[1] = (char)(code[1] | 0x20);
	key[2] = '\0';
	if (key[0] < 'a' || key[0] > 'z' || key[1] < 'a' || key[1] > 'z')
		return NULL;
	c = bsearch(key, country_table, nitems(country_table),
	    sizeof country_table[0], country_cmp);
	if (c != NULL && ret != NULL)
		memcpy(ret, key, sizeof key);
	return c;
}

size_t
country_count(void)
{
	return nitems(country_table);
}

const struct country *
country_at(size_t i)
{
	return i < nitems(country_table) ? &country_table[i] : NULL;
}

int
country_index(const char *cc)
{
	if (cc == NULL || cc[0] < 'a' || cc[0] > 'z' || cc[1] < 'a' ||
	    cc[1] > 'z' || cc[2] != '\0')
		return -1;
	return (cc[0] - 'a') * 26 + (cc[1] - 'a');
}

void
country_of_index(int i, char ret[COUNTRY_CODE_LEN])
{
	if (i < 0 || i >= COUNTRY_INDEX_MAX) {
		ret[0] = '\0';
		return;
	}
	ret[0] = (char)('a' + i / 26);
	ret[1] = (char)('a' + i % 26);
	ret[2] = '\0';
}
