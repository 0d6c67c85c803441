/*
 * Tests of argv_split, which turns a configured command into an argv for
 * execve without a shell: blanks, single and double quotes, backslash
 * escapes, empty words, the errors for empty commands and unterminated
 * quotes, and the ARGV_MAX_ARGS and ARGV_MAX_LEN limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "base/util.h"

#define MAX_WANT	8

/* A command and the words it must give, or the error it must fail with. */
struct split_case {
	const char	*cmd;
	int		 want_r;		/* word count or -errno */
	const char	*want[MAX_WANT];
};

static const struct split_case split_cases[] = {
	{ "ls", 1, { "ls" } },
	{ "ls -l /tmp", 3, { "ls", "-l", "/tmp" } },
	/* Runs of blanks, tabs and newlines separate, and do not make words. */
	{ "  ls \t -l\n/tmp \n", 3, { "ls", "-l", "/tmp" } },
	/* Single quotes keep everything literally, backslashes included. */
	{ "echo 'a b'", 2, { "echo", "a b" } },
	{ "'a\\b'", 1, { "a\\b" } },
	{ "'a\\'", 1, { "a\\" } },
	{ "'\"'", 1, { "\"" } },
	{ "'a\nb'", 1, { "a\nb" } },
	/* Double quotes allow \" and \\ and keep any other backslash. */
	{ "\"c d\"", 1, { "c d" } },
	{ "\"a\\\"b\"", 1, { "a\"b" } },
	{ "\"a\\\\b\"", 1, { "a\\b" } },
	{ "\"a\\nb\"", 1, { "a\\nb" } },
	{ "\"a\\$b\"", 1, { "a\\$b" } },
	{ "\"'\"", 1, { "'" } },
	/* Quoted and bare parts next to each other join into one word. */
	{ "a'b c'd", 1, { "ab cd" } },
	{ "'it'\\''s'", 1, { "it's" } },
	{ "x\"y\"'z'", 1, { "xyz" } },
	/* Empty quotes make an empty word, which is a real argument. */
	{ "''", 1, { "" } },
	{ "\"\"", 1, { "" } },
	{ "a '' b", 3, { "a", "", "b" } },
	/* Outside quotes a backslash escapes the next byte, blanks included. */
	{ "a\\ b", 1, { "a b" } },
	{ "\\'", 1, { "'" } },
	{ "\\\"x", 1, { "\"x" } },
	{ "\\\\", 1, { "\\" } },
	{ "\\n", 1, { "n" } },
	/* A backslash at the very end has nothing to escape and stays. */
	{ "a\\", 1, { "a\\" } },
	{ "\\", 1, { "\\" } },
	/* Shell syntax means nothing here: no globs, pipes or variables. */
	{ "a|b *;$HOME", 2, { "a|b", "*;$HOME" } },
	{ "", -EINVAL, { NULL } },
	{ " ", -EINVAL, { NULL } },
	{ "\t\n ", -EINVAL, { NULL } },
	{ "'abc", -EINVAL, { NULL } },
	{ "\"abc", -EINVAL, { NULL } },
	{ "a 'b", -EINVAL, { NULL } },
	{ "ok \"", -EINVAL, { NULL } },
	/* An escaped quote does not close the string. */
	{ "\"a\\\"", -EINVAL, { NULL } },
	{ "'", -EINVAL, { NULL } },
};

static void
test_split(void **state)
{
	char	**argv, **sentinel = (char **)&argv;
	size_t	  i;
	int	  r, j;

	(void)state;
	for (i = 0; i < nitems(split_cases); i++) {
		const struct split_case *c = &split_cases[i];

		print_message("case %zu: [%s]\n", i, c->cmd);
		argv = sentinel;
		r = argv_split(c->cmd, &argv);
		assert_int_equal(r, c->want_r);
		if (r < 0) {
			/* The output is written only on success. */
			assert_ptr_equal(argv, sentinel);
			continue;
		}
		for (j = 0; j < r; j++)
			assert_string_equal(argv[j], c->want[j]);
		assert_null(argv[r]);
		argv_free(argv);
	}
}

/*
 * Commands built to sit on either side of a limit: nargs words of wordlen
 * bytes each, separated by one blank.
 */
struct limit_case {
	size_t	nargs;
	size_t	wordlen;
	int	want_r;
};

static const struct limit_case limit_cases[] = {
	{ ARGV_MAX_ARGS, 1, ARGV_MAX_ARGS },
	{ ARGV_MAX_ARGS + 1, 1, -E2BIG },
	{ 1000, 1, -E2BIG },
	{ 1, ARGV_MAX_LEN, 1 },
	{ 1, ARGV_MAX_LEN + 1, -E2BIG },
	/* Two words of 2047 bytes and a blank fit; one more byte each does not. */
	{ 2, (ARGV_MAX_LEN - 1) / 2, 2 },
	{ 2, (ARGV_MAX_LEN - 1) / 2 + 1, -E2BIG },
	{ 1, 100000, -E2BIG },
};

static void
test_limits(void **state)
{
	char	**argv, *cmd, *p;
	size_t	  i, j, len;
	int	  r, k;

	(void)state;
	for (i = 0; i < nitems(limit_cases); i++) {
		const struct limit_case *c = &limit_cases[i];

		print_message("case %zu: %zu words of %zu bytes\n", i, c->nargs,
		    c->wordlen);
		len = c->nargs * (c->wordlen + 1);
		cmd = malloc(len);
		assert_non_null(cmd);
		for (j = 0, p = cmd; j < c->nargs; j++) {
			memset(p, 'a' + (int)(j % 26), c->wordlen);
			p += c->wordlen;
			*p++ = ' ';
		}
		p[-1] = '\0';
		r = argv_split(cmd, &argv);
		assert_int_equal(r, c->want_r);
		if (r > 0) {
			for (k = 0; k < r; k++) {
				assert_int_equal(strlen(argv[k]), c->wordlen);
				assert_int_equal(argv[k][0], 'a' + k % 26);
			}
			assert_null(argv[r]);
			argv_free(argv);
		}
		free(cmd);
	}
}

/* Leading and trailing blanks do not count as words toward the limit. */
static void
test_limit_blanks(void **state)
{
	char	  cmd[ARGV_MAX_LEN + 1];
	char	**argv;
	size_t	  i;

	(void)state;
	memset(cmd, ' ', sizeof cmd - 1);
	cmd[sizeof cmd - 1] = '\0';
	for (i = 0; i < ARGV_MAX_ARGS; i++)
		cmd[100 + 2 * i] = 'x';
	assert_int_equal(argv_split(cmd, &argv), ARGV_MAX_ARGS);
	for (i = 0; i < ARGV_MAX_ARGS; i++)
		assert_string_equal(argv[i], "x");
	argv_free(argv);
	argv_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_limit_blanks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
