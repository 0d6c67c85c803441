/*
 * `respawn serve`: run the daemon in the foreground.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "daemon/daemon.h"

#define SERVE_USAGE	"serve"

static int
cmd_serve(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	c;

	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: respawn %s\n", SERVE_USAGE);
			return EX_OK;
		default:
			return cli_usage_error(SERVE_USAGE, "serve: unknown "
			    "option");
		}
	}
	if (optind != argc)
		return cli_usage_error(SERVE_USAGE, "serve: unexpected "
		    "argument '%s'", argv[optind]);
	return daemon_run(cli->cfg);
}

const struct cli_command cmd_serve_commands[] = {
	{ "serve", cmd_serve, SERVE_USAGE,
	  "run the daemon: supervise and recover every session", true },
	{ NULL, NULL, NULL, NULL, false },
};
