/*
 * `respawn check-config` and `respawn version`.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

#include "cli/cli.h"
#include "config/config.h"
#include "store/store.h"

#define CHECK_CONFIG_USAGE	"check-config [--json] [--no-resolve]"

static int
cmd_check_config(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "no-resolve", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool	json = false, resolve = true;
	int	c, failed;

	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'n':
			resolve = false;
			break;
		case 'h':
			printf("usage: respawn %s\n", CHECK_CONFIG_USAGE);
			return EX_OK;
		default:
			return cli_usage_error(CHECK_CONFIG_USAGE,
			    "check-config: unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error(CHECK_CONFIG_USAGE, "check-config: "
		    "unexpected argument '%s'", argv[optind]);
	failed = config_print(cli->cfg, stdout, json, resolve);
	fflush(stdout);
	if (failed > 0) {
		cli_error("check-config", "%d secret reference%s could not be "
		    "resolved (see above)", failed, failed == 1 ? "" : "s");
		return EX_CONFIG;
	}
	if (!json)
		printf("configuration OK\n");
	return EX_OK;
}

static int
cmd_version(struct cli *cli, int argc, char **argv)
{
	if (argc > 1 && !cli_wants_help(argc, argv))
		return cli_usage_error("version", "version: unexpected "
		    "argument '%s'", argv[1]);
	if (cli_wants_help(argc, argv)) {
		printf("usage: respawn version\n");
		return EX_OK;
	}
	printf("respawn %s (schema %d; sqlite %s, libevent %s, %s, "
	    "jansson %s)\n", RESPAWN_VERSION, STORE_SCHEMA_VERSION,
	    sqlite3_libversion(), event_get_version(), curl_version(),
	    JANSSON_VERSION);
#ifdef RESPAWN_FAILPOINTS
	/* A test build: the suites' crash and failure points are in. */
	printf("test build: failpoints compiled in (src/base/failpoint.h)\n");
#endif
	return EX_OK;
}

const struct cli_command cmd_config_commands[] = {
	{ "check-config", cmd_check_config, CHECK_CONFIG_USAGE,
	  "validate and print the effective configuration", true },
	{ "version", cmd_version, "version", "print the version", false },
	{ NULL, NULL, NULL, NULL, false },
};
