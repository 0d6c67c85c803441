/*
 * respawn: keeps per-customer WhatsApp Web sessions alive across restarts,
 * each through its own country-matched proxy.
 *
 * main() only wires modules together: it parses the global options, loads
 * the configuration, sets up logging and runs one subcommand.
 */
#include <sys/stat.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "cli/cli.h"
#include "config/config.h"
#include "config/secret.h"

#define MAIN_USAGE \
	"[-c FILE] [--db PATH] [--set KEY=VALUE]... [--log-level LEVEL] " \
	"[--log-format logfmt|json] COMMAND [ARGS]"

extern char **environ;

static const struct cli_command *const main_tables[] = {
	cmd_config_commands,
	cmd_session_commands,
	cmd_import_commands,
	cmd_serve_commands,
	cmd_proxy_commands,
	cmd_status_commands,
	cmd_demo_commands,
	cmd_cost_commands,
};

static void
main_help(FILE *f)
{
	const struct cli_command	*c;
	size_t				 i;

	fprintf(f, "usage: respawn %s\n\n", MAIN_USAGE);
	fprintf(f, "Keeps WhatsApp Web sessions alive, each through its own "
	    "country-matched proxy.\n\ncommands:\n");
	for (i = 0; i < nitems(main_tables); i++)
		for (c = main_tables[i]; c->name != NULL; c++)
			fprintf(f, "  %-14s %s\n", c->name, c->summary);
	fprintf(f, "\noptions:\n"
	    "  -c, --config FILE     INI configuration file (also $RESPAWN_CONFIG)\n"
	    "      --db PATH         state database (RESPAWN_DB)\n"
	    "      --set KEY=VALUE   set any configuration key\n"
	    "      --log-level L     debug, info, warn or error\n"
	    "      --log-format F    logfmt or json\n"
	    "  -h, --help            this help; COMMAND --help for a command's\n"
	    "\nSee docs/CONFIGURATION.md for every key.\n");
}

static const struct cli_command *
main_find(const char *name)
{
	const struct cli_command	*c;
	size_t				 i;

	for (i = 0; i < nitems(main_tables); i++)
		for (c = main_tables[i]; c->name != NULL; c++)
			if (strcmp(c->name, name) == 0)
				return c;
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'D' },
		{ "set", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char			*overrides[CONFIG_MAX_OVERRIDES];
	char				*owned[CONFIG_MAX_OVERRIDES];
	struct config_input		 in = { .envp = environ };
	const struct cli_command	*cmd;
	struct config			*cfg = NULL;
	struct cli			 cli = { .prog = "respawn" };
	char				 err[CONFIG_ERR_LEN];
	size_t				 n = 0, nowned = 0, i;
	int				 c, ex;

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT, STDERR_FILENO);
	/*
	 * getopt's own messages quote the argument raw; every command says
	 * what was wrong itself, escaped (cli_usage_error).
	 */
	opterr = 0;
	/*
	 * What respawn writes holds phone numbers and logins (the database,
	 * the state directory, logs): nobody else's to read, whatever the
	 * umask we were started with.
	 */
	(void)umask(umask(077) | 077);
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			in.file = optarg;
			break;
		case 's':
		case 'D':
		case 'L':
		case 'F':
			if (n == CONFIG_MAX_OVERRIDES) {
				fprintf(stderr, "respawn: too many configuration "
				    "flags (at most %d)\n", CONFIG_MAX_OVERRIDES);
				ex = EX_USAGE;
				goto out;
			}
			if (c == 's') {
				overrides[n++] = optarg;
				break;
			}
			/* Shorthands for --set, applied in command-line order. */
			owned[nowned] = xasprintf("%s=%s", c == 'D' ?
			    "RESPAWN_DB" : c == 'L' ? "RESPAWN_LOG_LEVEL" :
			    "RESPAWN_LOG_FORMAT", optarg);
			overrides[n++] = owned[nowned++];
			break;
		case 'h':
			main_help(stdout);
			ex = EX_OK;
			goto out;
		default:
			(void)cli_usage_error(MAIN_USAGE, "unknown option or "
			    "missing value");
			ex = EX_USAGE;
			goto out;
		}
	}
	if (optind == argc) {
		main_help(stderr);
		ex = EX_USAGE;
		goto out;
	}
	if ((cmd = main_find(argv[optind])) == NULL) {
		(void)cli_usage_error(MAIN_USAGE, "unknown command '%s'",
		    argv[optind]);
		ex = EX_USAGE;
		goto out;
	}
	in.overrides = overrides;
	in.n_overrides = n;

	/* A command's --help works even with a broken configuration. */
	if (cmd->needs_config && !cli_wants_help(argc - optind, argv + optind)) {
		if (config_load(&in, &cfg, err) < 0) {
			cli_say("configuration error: %s", err);
			ex = EX_CONFIG;
			goto out;
		}
		log_init(cfg->log_level, cfg->log_format, STDERR_FILENO);
		secret_set_google(cfg->gsm_url, cfg->metadata_url);
		cli.cfg = cfg;
	}
	ex = cmd->run(&cli, argc - optind, argv + optind);
out:
	config_free(cfg);
	for (i = 0; i < nowned; i++)
		free(owned[i]);
	return ex;
}
