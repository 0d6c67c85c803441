/*
 * Tests of the generated ISO 3166-1 table in country.c: it has about the
 * expected number of rows, is strictly sorted (country_find binary-searches
 * it), every row is well formed and can be found by its own code in either
 * case, and the ends of the table are reachable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <string.h>

#include "base/country.h"
#include "base/util.h"

/*
 * ISO 3166-1 has 249 codes today.  The table comes from the distribution's
 * iso-codes package, so allow for a few codes being added or withdrawn.
 */
#define COUNTRIES_MIN	240
#define COUNTRIES_MAX	260

static void
test_count(void **state)
{
	size_t	n = country_count();

	(void)state;
	print_message("%zu countries\n", n);
	assert_in_range(n, COUNTRIES_MIN, COUNTRIES_MAX);
	assert_non_null(country_at(n - 1));
	assert_null(country_at(n));
	assert_null(country_at((size_t)-1));
}

static void
test_rows(void **state)
{
	const struct country	*c, *prev = NULL;
	char			 upper[COUNTRY_CODE_LEN], code[COUNTRY_CODE_LEN];
	size_t			 i;

	(void)state;
	for (i = 0; i < country_count(); i++) {
		c = country_at(i);
		assert_non_null(c);
		assert_int_equal(strlen(c->alpha2), 2);
		assert_true(islower((unsigned char)c->alpha2[0]));
		assert_true(islower((unsigned char)c->alpha2[1]));
		assert_int_equal(strlen(c->alpha3), 3);
		assert_true(strlen(c->name) > 0);
		/* Strictly increasing, so no code is listed twice. */
		if (prev != NULL && strcmp(prev->alpha2, c->alpha2) >= 0)
			fail_msg("row %zu '%s' is not after '%s'", i, c->alpha2,
			    prev->alpha2);
		prev = c;

		/* Each row is found by its own code, in either case. */
		assert_ptr_equal(country_find(c->alpha2, code), c);
		assert_string_equal(code, c->alpha2);
		upper[0] = (char)toupper((unsigned char)c->alpha2[0]);
		upper[1] = (char)toupper((unsigned char)c->alpha2[1]);
		upper[2] = '\0';
		memcpy(code, "?!", sizeof code);
		assert_ptr_equal(country_find(upper, code), c);
		assert_string_equal(code, c->alpha2);
	}
}

/* Known rows, the ends of the table in particular, and codes that are not. */
struct find_case {
	const char	*code;
	const char	*alpha2;	/* NULL: not found */
	const char	*alpha3;
	const char	*name;
};

static const struct find_case find_cases[] = {
	{ "ad", "ad", "and", "Andorra" },
	{ "AD", "ad", "and", "Andorra" },
	{ "zw", "zw", "zwe", "Zimbabwe" },
	{ "ZW", "zw", "zwe", "Zimbabwe" },
	{ "de", "de", "deu", "Germany" },
	{ "gb", "gb", "gbr", "United Kingdom" },
	/* Just outside either end, and the usual non-codes. */
	{ "ac", NULL, NULL, NULL },
	{ "aa", NULL, NULL, NULL },
	{ "zz", NULL, NULL, NULL },
	{ "uk", NULL, NULL, NULL },
	{ "eu", NULL, NULL, NULL },
	{ "", NULL, NULL, NULL },
	{ "a", NULL, NULL, NULL },
	{ "and", NULL, NULL, NULL },
	{ "a\xe4", NULL, NULL, NULL },
	{ NULL, NULL, NULL, NULL },
};

static void
test_find(void **state)
{
	const struct country	*c;
	char			 code[COUNTRY_CODE_LEN];
	size_t			 i;

	(void)state;
	for (i = 0; i < nitems(find_cases); i++) {
		const struct find_case *fc = &find_cases[i];

		print_message("case %zu: [%s]\n", i,
		    fc->code ? fc->code : "(null)");
		memcpy(code, "?!", sizeof code);
		c = country_find(fc->code, code);
		if (fc->alpha2 == NULL) {
			assert_null(c);
			assert_string_equal(code, "?!");
			continue;
		}
		assert_non_null(c);
		assert_string_equal(code, fc->alpha2);
		assert_string_equal(c->alpha2, fc->alpha2);
		assert_string_equal(c->alpha3, fc->alpha3);
		assert_string_equal(c->name, fc->name);
		/* The canonical code is optional. */
		assert_ptr_equal(country_find(fc->code, NULL), c);
	}
	assert_ptr_equal(country_find("ad", NULL), country_at(0));
	assert_ptr_equal(country_find("zw", NULL),
	    country_at(country_count() - 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
