/*
 * Tests of the checks on user-supplied identifiers in validate.c: E.164
 * phone numbers, ISO 3166-1 alpha-2 countries (any case in, lower case
 * out, with a hint for 'uk'), and user ids.  Every refusal must come with
 * a reason, and outputs are written only on success.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "base/validate.h"

/*
 * An input, and for a refusal a part of the reason that tells the user
 * which rule was broken.
 */
struct check_case {
	const char	*s;
	const char	*why_part;	/* NULL: must be accepted */
};

static const struct check_case phone_cases[] = {
	{ "+14155550123", NULL },
	{ "+4915112345678", NULL },
	{ "+12345678", NULL },			/* 8 digits, the fewest */
	{ "+123456789012345", NULL },		/* 15 digits, the most */
	{ "+1234567", "8 to 15 digits" },
	{ "+1234567890123456", "8 to 15 digits" },
	{ "+12345678901234567890", "8 to 15 digits" },
	{ "+", "8 to 15 digits" },
	/* No country calling code starts with 0 (that is a trunk prefix). */
	{ "+0123456789", "cannot start with 0" },
	{ "+00491511234567", "cannot start with 0" },
	{ "14155550123", "start with '+'" },
	{ "004915112345678", "start with '+'" },
	{ "", "start with '+'" },
	{ " +14155550123", "start with '+'" },
	{ NULL, "start with '+'" },
	{ "++14155550123", "only digits" },
	{ "+1 415 555 0123", "only digits" },
	{ "+1-415-555-0123", "only digits" },
	{ "+1415555012a", "only digits" },
	{ "+14155550123\n", "only digits" },
	{ "+14155550123 ", "only digits" },
	{ "+1415\xd9\xa1\xd9\xa2\xd9\xa3", "only digits" },	/* Arabic-Indic */
};

static void
test_phone(void **state)
{
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(phone_cases); i++) {
		const struct check_case *c = &phone_cases[i];

		print_message("case %zu: [%s]\n", i, c->s ? c->s : "(null)");
		why = NULL;
		if (c->why_part == NULL) {
			assert_int_equal(validate_phone(c->s, &why), 0);
			continue;
		}
		assert_int_equal(validate_phone(c->s, &why), -EINVAL);
		assert_non_null(why);
		print_message("  why: %s\n", why);
		assert_non_null(strstr(why, c->why_part));
	}
}

struct country_case {
	const char	*s;
	const char	*want;		/* canonical code; NULL: refused */
	const char	*why_part;
};

static const struct country_case country_cases[] = {
	{ "de", "de", NULL },
	{ "DE", "de", NULL },
	{ "De", "de", NULL },
	{ "dE", "de", NULL },
	{ "gb", "gb", NULL },
	{ "GB", "gb", NULL },
	{ "us", "us", NULL },
	{ "ad", "ad", NULL },			/* first in the table */
	{ "zw", "zw", NULL },			/* last in the table */
	/* 'uk' is the usual mistake, and its reason names the right code. */
	{ "uk", NULL, "'gb'" },
	{ "UK", NULL, "'gb'" },
	{ "Uk", NULL, "'gb'" },
	{ "zz", NULL, "not an ISO 3166-1 alpha-2" },
	{ "aa", NULL, "not an ISO 3166-1 alpha-2" },
	{ "xx", NULL, "not an ISO 3166-1 alpha-2" },
	/* Only two ASCII letters can name a country. */
	{ "d1", NULL, "not an ISO 3166-1 alpha-2" },
	{ "1d", NULL, "not an ISO 3166-1 alpha-2" },
	{ "d-", NULL, "not an ISO 3166-1 alpha-2" },
	{ "d ", NULL, "not an ISO 3166-1 alpha-2" },
	/* '@' and '`' sit next to the letters in ASCII, '[' and '{' too. */
	{ "@e", NULL, "not an ISO 3166-1 alpha-2" },
	{ "`e", NULL, "not an ISO 3166-1 alpha-2" },
	{ "d[", NULL, "not an ISO 3166-1 alpha-2" },
	{ "d{", NULL, "not an ISO 3166-1 alpha-2" },
	/* Bytes whose low bits look like letters must not be folded to one. */
	{ "\xc4\xc5", NULL, "not an ISO 3166-1 alpha-2" },
	{ "\xe4\xe5", NULL, "not an ISO 3166-1 alpha-2" },
	{ "\x04\x05", NULL, "not an ISO 3166-1 alpha-2" },
	{ "\xc3\xa9", NULL, "not an ISO 3166-1 alpha-2" },	/* "é" */
	{ "", NULL, "two-letter" },
	{ "d", NULL, "two-letter" },
	{ "deu", NULL, "two-letter" },
	{ "DEU", NULL, "two-letter" },
	{ " de", NULL, "two-letter" },
	{ "de ", NULL, "two-letter" },
	{ "germany", NULL, "two-letter" },
	{ NULL, NULL, "two-letter" },
};

static void
test_country(void **state)
{
	const char	*why;
	char		 code[COUNTRY_CODE_LEN];
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(country_cases); i++) {
		const struct country_case *c = &country_cases[i];

		print_message("case %zu: [%s]\n", i, c->s ? c->s : "(null)");
		memcpy(code, "?!", sizeof code);
		why = NULL;
		if (c->want != NULL) {
			assert_int_equal(validate_country(c->s, code, &why), 0);
			assert_string_equal(code, c->want);
			continue;
		}
		assert_int_equal(validate_country(c->s, code, &why), -EINVAL);
		assert_string_equal(code, "?!");
		assert_non_null(why);
		print_message("  why: %s\n", why);
		assert_non_null(strstr(why, c->why_part));
	}
}

static const struct check_case user_id_cases[] = {
	{ "alice", NULL },
	{ "a", NULL },
	{ "user@example.com", NULL },
	{ "cust-0042_eu.west", NULL },
	{ "!~", NULL },
	{ "", "empty" },
	{ NULL, "empty" },
	{ "a b", "printable ASCII" },
	{ " alice", "printable ASCII" },
	{ "alice ", "printable ASCII" },
	{ "a\tb", "printable ASCII" },
	{ "a\nb", "printable ASCII" },
	{ "a\x7f", "printable ASCII" },
	{ "\x1b[31m", "printable ASCII" },
	{ "j\xc3\xb6rg", "printable ASCII" },
};

static void
test_user_id(void **state)
{
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(user_id_cases); i++) {
		const struct check_case *c = &user_id_cases[i];

		print_message("case %zu: [%s]\n", i, c->s ? c->s : "(null)");
		why = NULL;
		if (c->why_part == NULL) {
			assert_int_equal(validate_user_id(c->s, &why), 0);
			continue;
		}
		assert_int_equal(validate_user_id(c->s, &why), -EINVAL);
		assert_non_null(why);
		assert_non_null(strstr(why, c->why_part));
	}
}

/* The length limit is exact: USER_ID_MAX bytes pass, one more does not. */
static void
test_user_id_length(void **state)
{
	static const struct {
		size_t	len;
		int	want_r;
	} cases[] = {
		{ USER_ID_MAX - 1, 0 },
		{ USER_ID_MAX, 0 },
		{ USER_ID_MAX + 1, -EINVAL },
		{ 10000, -EINVAL },
	};
	const char	*why;
	char		 id[10001];
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		print_message("case %zu: %zu bytes\n", i, cases[i].len);
		memset(id, 'u', cases[i].len);
		id[cases[i].len] = '\0';
		why = NULL;
		assert_int_equal(validate_user_id(id, &why), cases[i].want_r);
		if (cases[i].want_r != 0)
			assert_non_null(strstr(why, "at most 128"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_country),
		cmocka_unit_test(test_user_id),
		cmocka_unit_test(test_user_id_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
