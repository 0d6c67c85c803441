/*
 * Tests of the static list's line parser: the key a proxy is stored and
 * printed under never holds its password, whatever the password holds
 * ('@' and ':' included), the URL handed to the connector is the line's
 * own, and lines the connector could not read the same way are refused
 * without repeating them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/util.h"
#include "provider/provider.h"

struct line_case {
	const char	*line;
	int		 want_r;
	const char	*want_key;	/* when want_r is 1 */
	const char	*secret;	/* never in the key or the message */
};

static const struct line_case line_cases[] = {
	{ "http://u:pw@127.0.0.1:3128 de", 1, "u@127.0.0.1:3128", "pw" },
	/* The user information ends at the last '@', as URL parsers read it. */
	{ "http://u:p@ss@127.0.0.1:3128 de", 1, "u@127.0.0.1:3128", "p@ss" },
	{ "http://u:@@x@@127.0.0.1:3128 de", 1, "u@127.0.0.1:3128", "@@x@" },
	{ "http://u:a:b@c@127.0.0.1:3128 de", 1, "u@127.0.0.1:3128", "a:b@c" },
	{ "socks5h://u:s3cr@t@[::1]:1080 de", 1, "u@[::1]:1080", "s3cr@t" },
	{ "http://u:p%40ss@127.0.0.1:3128 de", 1, "u@127.0.0.1:3128",
	  "p%40ss" },
	{ "http://u@127.0.0.1:3128 de", 1, "u@127.0.0.1:3128", NULL },
	{ "http://127.0.0.1:3128 de", 1, "127.0.0.1:3128", NULL },
	/* A raw '/', '?' or '#' would end the host for the connector. */
	{ "http://u:pa/ss@127.0.0.1:3128 de", -22, NULL, "pa/ss" },
	{ "http://u:pa?ss@127.0.0.1:3128 de", -22, NULL, "pa?ss" },
	{ "# http://u:pw@127.0.0.1:3128 de", 0, NULL, NULL },
	{ "ftp://u:pw@127.0.0.1:21 de", -22, NULL, "pw" },
};

static void
test_parse_line(void **state)
{
	struct provider_proxy	 px;
	char			 url[PROVIDER_URL_MAX];
	const char		*why;
	size_t			 i;
	int			 r;

	(void)state;
	for (i = 0; i < nitems(line_cases); i++) {
		const struct line_case	*c = &line_cases[i];
		char			 want_url[PROVIDER_URL_MAX];

		print_message("case %zu: %s\n", i, c->line);
		memset(&px, 0, sizeof px);
		why = "";
		r = provider_static_parse_line(c->line, &px, url, &why);
		assert_int_equal(r, c->want_r);
		if (c->secret != NULL)
			assert_null(strstr(why, c->secret));
		if (r != 1)
			continue;
		assert_string_equal(px.key, c->want_key);
		assert_string_equal(px.country, "de");
		if (c->secret != NULL)
			assert_null(strstr(px.key, c->secret));
		/* The connector gets the URL as written. */
		(void)util_strlcpy(want_url, c->line, sizeof want_url);
		want_url[strcspn(want_url, " ")] = '\0';
		assert_string_equal(url, want_url);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
