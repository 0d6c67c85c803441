/*
 * Shell-free command splitting: see argv.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "base/xmalloc.h"

void
argv_free(char **argv)
{
	char	**p;

	if (argv == NULL)
		return;
	for (p = argv; *p != NULL; p++)
		free(*p);
	free(argv);
}

int
argv_split(const char *cmd, char ***ret)
{
	char		**argv, *word;
	const char	 *p;
	size_t		  argc = 0, len;
	char		  quote;
	bool		  inword;
	int		  r = 0;

	if (strnlen(cmd, ARGV_MAX_LEN + 1) > ARGV_MAX_LEN)
		return -E2BIG;
	argv = xcalloc(ARGV_MAX_ARGS + 1, sizeof *argv);
	/* A word is never longer than the command itself. */
	word = xmalloc(strlen(cmd) + 1);
	p = cmd;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		len = 0;
		quote = 0;
		inword = true;
		while (inword && *p != '\0') {
			if (quote == '\'') {
				if (*p == '\'')
					quote = 0;
				else
					word[len++] = *p;
			} else if (quote == '"') {
				if (*p == '"')
					quote = 0;
				else if (*p == '\\' &&
				    (p[1] == '"' || p[1] == '\\'))
					word[len++] = *++p;
				else
					word[len++] = *p;
			} else if (*p == '\'' || *p == '"') {
				quote = *p;
			} else if (*p == '\\' && p[1] != '\0') {
				word[len++] = *++p;
			} else if (*p == ' ' || *p == '\t' || *p == '\n') {
				inword = false;
				continue;
			} else {
				word[len++] = *p;
			}
			p++;
		}
		if (quote != 0) {
			r = -EINVAL;
			goto fail;
		}
		if (argc == ARGV_MAX_ARGS) {
			r = -E2BIG;
			goto fail;
		}
		argv[argc++] = xstrndup(word, len);
	}
	if (argc == 0) {
		r = -EINVAL;
		goto fail;
	}
	free(word);
	*ret = argv;
	return (int)argc;
fail:
	free(word);
	argv_free(argv);
	return r;
}
