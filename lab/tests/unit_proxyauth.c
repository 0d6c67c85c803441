/*
 * Unit tests: Bright Data usernames and Basic proxy credentials.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "b64.h"
#include "proxyauth.h"

static void
test_username_forms(void **state)
{
	struct proxy_user	u;

	assert_int_equal(proxyauth_username(
	    "brd-customer-c_lab-zone-isp_lab-ip-127.3.0.5", &u), 0);
	assert_string_equal(u.customer, "c_lab");
	assert_string_equal(u.zone, "isp_lab");
	assert_true(u.has_ip);
	assert_int_equal(u.ip, (127U << 24) | (3U << 16) | 5U);
	assert_false(u.has_session);

	assert_int_equal(proxyauth_username(
	    "brd-customer-hl_1-zone-res-country-de-session-abc123", &u), 0);
	assert_string_equal(u.zone, "res");
	assert_true(u.has_country);
	assert_string_equal(u.country, "de");
	assert_true(u.has_session);
	assert_string_equal(u.session, "abc123");

	/* Accepted flags and keys the lab does not act on. */
	assert_int_equal(proxyauth_username(
	    "lum-customer-x-zone-z-session-s1-const-c_tag-t1-direct", &u), 0);
	assert_string_equal(u.session, "s1");
}

static void
test_username_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"customer-x-zone-z",
		"brd-customer--zone-z",
		"brd-customer-x-zone-",
		"brd-customer-x-zone-z-",
		"brd-customer-x-zonez",
		"brd-customer-x-zone-z-ip-300.1.1.1",
		"brd-customer-x-zone-z-ip",
		"brd-customer-x-zone-z-country-DE",
		"brd-customer-x-zone-z-country-deu",
		"brd-customer-x-zone-z-session-a_b",
		"brd-customer-x-zone-z-unknownkey-1",
		"brd-customer-x-zone-z-ip-1.2.3.4-ip-1.2.3.5",
		"brd-customer-x-zone-z--ip-1.2.3.4",
	};
	struct proxy_user	u;
	size_t			i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(proxyauth_username(bad[i], &u), 0);
}

static void
test_basic(void **state)
{
	char	user[64], pass[64], enc[128], hdr[160];

	assert_int_equal(b64_encode("u-1:p:w", 7, enc, sizeof(enc)), 0);
	(void)snprintf(hdr, sizeof(hdr), "Basic %s", enc);
	assert_int_equal(proxyauth_basic(hdr, user, sizeof(user), pass,
	    sizeof(pass)), 0);
	assert_string_equal(user, "u-1");
	assert_string_equal(pass, "p:w");
	assert_int_equal(proxyauth_basic("Bearer abc", user, sizeof(user),
	    pass, sizeof(pass)), -ENOENT);
	assert_int_equal(proxyauth_basic("Basic !!!!", user, sizeof(user),
	    pass, sizeof(pass)), -EINVAL);
	assert_int_equal(b64_encode("nocolon", 7, enc, sizeof(enc)), 0);
	(void)snprintf(hdr, sizeof(hdr), "Basic %s", enc);
	assert_int_equal(proxyauth_basic(hdr, user, sizeof(user), pass,
	    sizeof(pass)), -EINVAL);
}

static void
test_b64_roundtrip(void **state)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob",
	    "fooba", "foobar" };
	static const char *const out[] = { "", "Zg==", "Zm8=", "Zm9v",
	    "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	char	enc[32], dec[32];
	size_t	i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		assert_int_equal(b64_encode(in[i], strlen(in[i]), enc,
		    sizeof(enc)), 0);
		assert_string_equal(enc, out[i]);
		assert_int_equal(b64_decode(enc, strlen(enc), dec, sizeof(dec)),
		    (int)strlen(in[i]));
		assert_string_equal(dec, in[i]);
	}
	assert_int_equal(b64_decode("Zm9", 3, dec, sizeof(dec)), -EINVAL);
	assert_int_equal(b64_decode("Z=9v", 4, dec, sizeof(dec)), -EINVAL);
	assert_int_equal(b64_decode("AA==", 4, dec, sizeof(dec)), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_username_forms),
		cmocka_unit_test(test_username_rejects),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_b64_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
