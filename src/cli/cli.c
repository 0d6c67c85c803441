/*
 * Shared command-line helpers: see cli.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* An error message longer than this is cut: it names values, not files. */
#define CLI_MESSAGE_MAX	2048

/*
 * Write a message that may quote what the user typed (or a file held):
 * control bytes go out as \xNN, so an argument cannot move the cursor,
 * change colours or retitle the terminal of whoever reads the error.
 */
static void
cli_write_safe(const char *s, bool lines)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p < 0x20 && !(lines && *p == '\n')) || *p == 0x7f)
			fprintf(stderr, "\\x%02x", *p);
		else
			fputc(*p, stderr);
	}
}

static void
cli_vmessage(const char *fmt, va_list ap)
{
	char	msg[CLI_MESSAGE_MAX];

	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	cli_write_safe(msg, false);
}

void
cli_error(const char *context, const char *fmt, ...)
{
	va_list	ap;

	fputs("respawn: ", stderr);
	cli_write_safe(context, false);
	fputs(": ", stderr);
	va_start(ap, fmt);
	cli_vmessage(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_say(const char *fmt, ...)
{
	va_list	ap;

	fputs("respawn: ", stderr);
	va_start(ap, fmt);
	cli_vmessage(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_print_lines(const char *text)
{
	cli_write_safe(text, true);
}

int
cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list	ap;

	fputs("respawn: ", stderr);
	va_start(ap, fmt);
	cli_vmessage(fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: respawn %s\n", usage);
	return EX_USAGE;
}

bool
cli_wants_help(int argc, char **argv)
{
	int	i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

int
cli_open_store(struct cli *cli, const char *context, struct store **ret)
{
	char	err[STORE_ERROR_LEN];
	int	r;

	if ((r = store_open(cli->cfg->db, ret, err)) == 0)
		return 0;
	cli_error(context, "%s", err);
	return store_exit_status(r);
}

int
cli_store_error(struct store *st, const char *context, int r)
{
	switch (r) {
	case -EBUSY:
		cli_error(context, "database is locked: %s", store_errmsg(st));
		return EX_UNAVAILABLE;
	case -ENOSPC:
		cli_error(context, "database disk is full");
		return EX_IOERR;
	default:
		cli_error(context, "database error: %s", store_errmsg(st));
		return EX_IOERR;
	}
}

static void
cli_subcommand_help(FILE *f, const char *usage,
    const struct cli_command *table, size_t n)
{
	size_t	i;

	fprintf(f, "usage: respawn %s\n\n", usage);
	for (i = 0; i < n; i++)
		fprintf(f, "  respawn %s\n      %s\n", table[i].usage,
		    table[i].summary);
}

int
cli_subcommand(struct cli *cli, const char *usage,
    const struct cli_command *table, size_t n, int argc, char **argv)
{
	size_t	i;

	if (argc < 2) {
		cli_subcommand_help(stderr, usage, table, n);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		cli_subcommand_help(stdout, usage, table, n);
		return EX_OK;
	}
	for (i = 0; i < n; i++)
		if (strcmp(argv[1], table[i].name) == 0)
			return table[i].run(cli, argc - 1, argv + 1);
	return cli_usage_error(usage, "%s: unknown command '%s'", argv[0],
	    argv[1]);
}
