/*
 * Fuzz target for argv_split, which splits commands from configuration
 * files into an argv without a shell.  Besides memory errors it checks
 * that the result keeps its promises: a count within ARGV_MAX_ARGS and a
 * NULL-terminated vector on success, only -EINVAL or -E2BIG on failure,
 * plain blank splitting when no quoting is used, and that re-quoting the
 * words and splitting again gives the same words back.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "fuzz.h"

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/*
 * Quote each word in single quotes (a quote inside becomes '\'') and join
 * them with blanks; returns NULL when the result would be too long.
 */
static char *
requote(char **argv)
{
	char	*out, *p;
	size_t	 i, len = 0;

	for (i = 0; argv[i] != NULL; i++) {
		for (p = argv[i]; *p != '\0'; p++)
			len += *p == '\'' ? 4 : 1;
		len += 3;
	}
	if (len > ARGV_MAX_LEN)
		return NULL;
	out = p = malloc(len + 1);
	FUZZ_CHECK(out != NULL);
	for (i = 0; argv[i] != NULL; i++) {
		const char *s;

		if (i > 0)
			*p++ = ' ';
		*p++ = '\'';
		for (s = argv[i]; *s != '\0'; s++) {
			if (*s == '\'') {
				memcpy(p, "'\\''", 4);
				p += 4;
			} else {
				*p++ = *s;
			}
		}
		*p++ = '\'';
	}
	*p = '\0';
	return out;
}

/* With no quotes or backslashes, words are just the runs of non-blanks. */
static void
check_plain(const char *cmd, char **argv, int argc)
{
	const char	*p = cmd, *start;
	int		 i = 0;

	for (;;) {
		while (is_blank(*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && !is_blank(*p))
			p++;
		FUZZ_CHECK(i < argc);
		FUZZ_CHECK(strlen(argv[i]) == (size_t)(p - start));
		FUZZ_CHECK(memcmp(argv[i], start, (size_t)(p - start)) == 0);
		i++;
	}
	FUZZ_CHECK(i == argc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 *cmd, *again;
	char	**argv, **argv2;
	size_t	  len;
	int	  r, r2, i;

	/* argv_split takes a C string, so the input ends at its first NUL. */
	cmd = malloc(size + 1);
	FUZZ_CHECK(cmd != NULL);
	memcpy(cmd, data, size);
	cmd[size] = '\0';
	len = strlen(cmd);

	argv = NULL;
	r = argv_split(cmd, &argv);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG);
		FUZZ_CHECK(argv == NULL);
		if (len > ARGV_MAX_LEN)
			FUZZ_CHECK(r == -E2BIG);
		free(cmd);
		return 0;
	}
	FUZZ_CHECK(len <= ARGV_MAX_LEN);
	FUZZ_CHECK(r >= 1 && r <= ARGV_MAX_ARGS);
	FUZZ_CHECK(argv[r] == NULL);
	for (i = 0; i < r; i++)
		FUZZ_CHECK(strlen(argv[i]) <= len);
	if (strpbrk(cmd, "'\"\\") == NULL)
		check_plain(cmd, argv, r);

	if ((again = requote(argv)) != NULL) {
		argv2 = NULL;
		r2 = argv_split(again, &argv2);
		FUZZ_CHECK(r2 == r);
		for (i = 0; i < r; i++)
			FUZZ_CHECK(strcmp(argv[i], argv2[i]) == 0);
		argv_free(argv2);
		free(again);
	}
	argv_free(argv);
	free(cmd);
	return 0;
}
