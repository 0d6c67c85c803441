/*
 * Tests of the generated fallback chains and the operator overrides in
 * core/fallback.c: the seed's three chains come out exactly, every ISO
 * country has a chain that ends in the hubs and names no country twice or
 * itself, and overrides are parsed strictly and win over the generated
 * chains.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "base/country.h"
#include "base/util.h"
#include "core/fallback.h"

#define ERR_LEN		256
#define CHAIN_MAX	FALLBACK_MAX

/* A chain written out; NULL ends it. */
struct chain_case {
	const char	*cc;
	int		 want_r;
	const char	*want[CHAIN_MAX + 1];
};

/*
 * The seed's chains ("Belgium -> Netherlands -> France -> Germany -> UK ->
 * US" and so on), then a few the build's defaults give, chosen so a change
 * of the generator's rule shows up here first.
 */
static const struct chain_case chain_cases[] = {
	{ "be", 0, { "nl", "fr", "de", "gb", "us", NULL } },
	{ "bd", 0, { "in", "sg", "my", "gb", "us", NULL } },
	{ "ng", 0, { "za", "ke", "eg", "gb", "us", NULL } },
	/* Any case in, lower case out. */
	{ "BE", 0, { "nl", "fr", "de", "gb", "us", NULL } },
	{ "Ng", 0, { "za", "ke", "eg", "gb", "us", NULL } },
	/* The hubs fall back to their neighbours, then to the other hub. */
	{ "gb", 0, { "ie", "se", "dk", "us", NULL } },
	{ "us", 0, { "ca", "mx", "br", "gb", NULL } },
	{ "de", 0, { "nl", "fr", "ch", "gb", "us", NULL } },
	{ "br", 0, { "ar", "cl", "co", "gb", "us", NULL } },
	{ "jp", 0, { "hk", "kr", "tw", "gb", "us", NULL } },
	{ "au", 0, { "nz", "fj", "pg", "gb", "us", NULL } },
	/* Antarctica is in CLDR's "Outlying Oceania". */
	{ "aq", 0, { "au", "nz", "fj", "gb", "us", NULL } },
	/* Not ISO 3166-1 alpha-2 codes. */
	{ "uk", -EINVAL, { NULL } },
	{ "xk", -EINVAL, { NULL } },
	{ "eu", -EINVAL, { NULL } },
	{ "bel", -EINVAL, { NULL } },
	{ "", -EINVAL, { NULL } },
	{ NULL, -EINVAL, { NULL } },
};

static size_t
want_len(const char *const *want)
{
	size_t	n = 0;

	while (n <= CHAIN_MAX && want[n] != NULL)
		n++;
	return n;
}

static void
check_chain(const char *cc, const char *const *got, size_t n,
    const char *const *want)
{
	size_t	i;

	if (n != want_len(want))
		fail_msg("%s: %zu fallbacks, want %zu", cc, n, want_len(want));
	for (i = 0; i < n; i++)
		assert_string_equal(got[i], want[i]);
}

static void
test_chains(void **state)
{
	const char	*out[FALLBACK_MAX];
	size_t		 n, i;
	int		 r;

	(void)state;
	for (i = 0; i < nitems(chain_cases); i++) {
		const struct chain_case *c = &chain_cases[i];

		print_message("case %zu: %s\n", i, c->cc ? c->cc : "(null)");
		n = 777;
		r = fallback_chain(c->cc, out, &n);
		assert_int_equal(r, c->want_r);
		if (r != 0) {
			assert_int_equal(n, 777);
			continue;
		}
		check_chain(c->cc, out, n, c->want);
	}
}

/* Every country's chain: valid codes, no repeats, not itself, hubs last. */
static void
test_every_country(void **state)
{
	const char	*const *hubs;
	const char	*out[FALLBACK_MAX];
	size_t		 nhubs, n, i, j, k, tail;

	(void)state;
	nhubs = fallback_hubs(&hubs);
	assert_int_equal(nhubs, 2);
	assert_string_equal(hubs[0], "gb");
	assert_string_equal(hubs[1], "us");

	for (i = 0; i < country_count(); i++) {
		const char *cc = country_at(i)->alpha2;
		bool is_hub = false;

		assert_int_equal(fallback_chain(cc, out, &n), 0);
		for (k = 0; k < nhubs; k++)
			if (strcmp(cc, hubs[k]) == 0)
				is_hub = true;
		tail = is_hub ? nhubs - 1 : nhubs;
		if (n < tail + 1 || n > FALLBACK_MAX)
			fail_msg("%s: %zu fallbacks", cc, n);
		for (j = 0; j < n; j++) {
			assert_non_null(country_find(out[j], NULL));
			if (strcmp(out[j], cc) == 0)
				fail_msg("%s falls back to itself", cc);
			for (k = 0; k < j; k++)
				if (strcmp(out[j], out[k]) == 0)
					fail_msg("%s: %s twice", cc, out[j]);
		}
		/* The hubs, in order and without cc, end the chain. */
		for (j = n - tail, k = 0; j < n; j++, k++) {
			if (strcmp(hubs[k], cc) == 0)
				k++;
			assert_string_equal(out[j], hubs[k]);
		}
		/* And appear nowhere before. */
		for (j = 0; j < n - tail; j++)
			for (k = 0; k < nhubs; k++)
				if (strcmp(out[j], hubs[k]) == 0)
					fail_msg("%s: hub %s at %zu", cc,
					    out[j], j);
	}
}

struct override_case {
	const char	*spec;
	int		 want_r;
	const char	*want_err;	/* a part of the message */
	size_t		 want_count;
	/* Then one lookup through the overrides. */
	const char	*cc;
	const char	*want[CHAIN_MAX + 1];
};

static const struct override_case override_cases[] = {
	{ "be:nl,fr,de;bd:in,sg", 0, NULL, 2,
	    "bd", { "in", "sg", NULL } },
	{ "be:nl,fr,de;bd:in,sg", 0, NULL, 2,
	    "be", { "nl", "fr", "de", NULL } },
	/* A country without an override keeps its generated chain. */
	{ "be:nl,fr,de;bd:in,sg", 0, NULL, 2,
	    "ng", { "za", "ke", "eg", "gb", "us", NULL } },
	/* Any case, blanks around separators, empty entries. */
	{ " BE : NL , Fr ;; ", 0, NULL, 1, "be", { "nl", "fr", NULL } },
	{ "de:at;", 0, NULL, 1, "DE", { "at", NULL } },
	/* An empty chain: never fall back. */
	{ "ru:", 0, NULL, 1, "ru", { NULL } },
	{ "", 0, NULL, 0, "be", { "nl", "fr", "de", "gb", "us", NULL } },
	{ " ; ", 0, NULL, 0, "be", { "nl", "fr", "de", "gb", "us", NULL } },
	/* The longest chain allowed. */
	{ "us:ca,mx,br,ar,cl,co,gb,ie", 0, NULL, 1,
	    "us", { "ca", "mx", "br", "ar", "cl", "co", "gb", "ie", NULL } },
	/* Mistakes, each named. */
	{ "uk:gb", -EINVAL, "\"uk\" is not an ISO 3166-1 code", 0, NULL,
	    { NULL } },
	{ "be:nl,uk", -EINVAL, "\"uk\"", 0, NULL, { NULL } },
	{ "be:nl,,fr", -EINVAL, "\"\"", 0, NULL, { NULL } },
	{ "be:nl,fra", -EINVAL, "\"fra\"", 0, NULL, { NULL } },
	{ "be", -EINVAL, "\"be\" must be country:fallback", 0, NULL,
	    { NULL } },
	{ ":nl", -EINVAL, "\"\"", 0, NULL, { NULL } },
	{ "be:be", -EINVAL, "be cannot fall back to itself", 0, NULL,
	    { NULL } },
	{ "be:nl,fr,NL", -EINVAL, "be lists nl twice", 0, NULL, { NULL } },
	{ "be:nl;BE:fr", -EINVAL, "be is overridden twice", 0, NULL,
	    { NULL } },
	{ "us:ca,mx,br,ar,cl,co,gb,ie,fr", -EINVAL, "more than 8", 0, NULL,
	    { NULL } },
	{ "be:nl fr", -EINVAL, "\"nl fr\"", 0, NULL, { NULL } },
	{ NULL, -EINVAL, "fallback override", 0, NULL, { NULL } },
};

static void
test_overrides(void **state)
{
	struct fallback_overrides	*ov;
	const char			*out[FALLBACK_MAX];
	char				 err[ERR_LEN];
	size_t				 n, i;
	int				 r;

	(void)state;
	for (i = 0; i < nitems(override_cases); i++) {
		const struct override_case *c = &override_cases[i];

		print_message("case %zu: [%s]\n", i,
		    c->spec ? c->spec : "(null)");
		ov = (struct fallback_overrides *)&n;	/* a sentinel */
		err[0] = '\0';
		r = fallback_override_parse(c->spec, &ov, err, sizeof err);
		assert_int_equal(r, c->want_r);
		if (r != 0) {
			assert_ptr_equal(ov, &n);
			if (strstr(err, c->want_err) == NULL)
				fail_msg("error \"%s\" lacks \"%s\"", err,
				    c->want_err);
			continue;
		}
		assert_int_equal(fallback_overrides_count(ov), c->want_count);
		assert_int_equal(fallback_lookup(ov, c->cc, out, &n), 0);
		check_chain(c->cc, out, n, c->want);
		fallback_overrides_free(ov);
	}
}

/* The odd corners: NULL overrides, a spec at and past its limit. */
static void
test_override_limits(void **state)
{
	struct fallback_overrides	*ov = NULL;
	const char			*out[FALLBACK_MAX];
	char				 spec[FALLBACK_SPEC_MAX + 2];
	char				 err[ERR_LEN];
	size_t				 n;

	(void)state;
	fallback_overrides_free(NULL);
	assert_int_equal(fallback_overrides_count(NULL), 0);
	assert_int_equal(fallback_lookup(NULL, "be", out, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(fallback_lookup(NULL, "zz", out, &n), -EINVAL);

	/* Blanks up to the limit are fine; one byte more is not. */
	memset(spec, ' ', sizeof spec);
	memcpy(spec, "be:nl", 5);
	spec[FALLBACK_SPEC_MAX] = '\0';
	assert_int_equal(fallback_override_parse(spec, &ov, err, sizeof err),
	    0);
	assert_int_equal(fallback_overrides_count(ov), 1);
	fallback_overrides_free(ov);
	spec[FALLBACK_SPEC_MAX] = ' ';
	spec[FALLBACK_SPEC_MAX + 1] = '\0';
	assert_int_equal(fallback_override_parse(spec, &ov, err, sizeof err),
	    -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	/* No error buffer at all is allowed. */
	assert_int_equal(fallback_override_parse("zz:", &ov, NULL, 0),
	    -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chains),
		cmocka_unit_test(test_every_country),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_override_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
