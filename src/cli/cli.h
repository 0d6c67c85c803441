/*
 * What every `respawn` subcommand shares: the exit statuses, the loaded
 * configuration, error messages on stderr and opening the store.
 *
 * Exit statuses follow sysexits(3), so scripts can tell causes apart:
 *   0 ok, 64 usage error, 65 invalid data (bad phone, unknown country,
 *   duplicate, no such session), 69 service unavailable (database locked),
 *   70 internal error, 74 I/O error (database), 78 configuration error.
 */
#ifndef RESPAWN_CLI_H
#define RESPAWN_CLI_H

#include <sysexits.h>

#include "config/config.h"
#include "store/store.h"

struct cli {
	const struct config	*cfg;
	const char		*prog;		/* "respawn" */
};

struct cli_command {
	const char	*name;
	int		(*run)(struct cli *cli, int argc, char **argv);
	const char	*usage;		/* the line after "usage: respawn " */
	const char	*summary;
	bool		 needs_config;
};

extern const struct cli_command cmd_config_commands[];
extern const struct cli_command cmd_session_commands[];
extern const struct cli_command cmd_import_commands[];
extern const struct cli_command cmd_serve_commands[];
extern const struct cli_command cmd_proxy_commands[];
extern const struct cli_command cmd_status_commands[];
extern const struct cli_command cmd_demo_commands[];
extern const struct cli_command cmd_cost_commands[];

/*
 * Run one of a group's subcommands (`respawn session add ...`): argv[1]
 * names it; no name prints the group's help to stderr (usage error), and
 * -h, --help or help print it to stdout.
 */
int	cli_subcommand(struct cli *cli, const char *usage,
	    const struct cli_command *table, size_t n, int argc, char **argv);

/*
 * "respawn: CONTEXT: message" on stderr.  Every message may quote what a
 * user typed, so control bytes go out escaped (\x1b), never raw.
 */
void	cli_error(const char *context, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* "respawn: message" on stderr, escaped the same way. */
void	cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Lines of text on stderr, control bytes but newlines escaped. */
void	cli_print_lines(const char *text);
/* Print a usage error and return EX_USAGE. */
int	cli_usage_error(const char *usage, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Does argv hold -h or --help (before any "--")? */
bool	cli_wants_help(int argc, char **argv);
/* Open the configured store; on failure print why and return an exit code. */
int	cli_open_store(struct cli *cli, const char *context,
	    struct store **ret);
/* Map a store error to an exit status, printing the message. */
int	cli_store_error(struct store *st, const char *context, int r);

/*
 * The configured provider's listing, for a command that judges the store
 * by it (`proxy reconcile`, `import`): the provider opened, asked (ask
 * false: only its name and zone), and waited for on a loop of its own for
 * at most CLI_LIST_TIMEOUT_S, retries included.  EX_OK and *ret (free
 * with cli_listing_free), or an exit status with the error printed (hint
 * ends the messages of a listing that failed).
 */
#define CLI_LIST_TIMEOUT_S	120
struct provider_proxy;
struct cli_listing {
	struct provider_proxy	*proxies;	/* n of them, owned */
	size_t			 n;
	char			 provider[32];
	char			 zone[64];
	int64_t			 asked_at;	/* when the listing was asked */
	int64_t			 settle_ms;	/* provider_settle_ms */
};
int	cli_provider_list(struct cli *cli, const char *context, bool ask,
	    const char *hint, struct cli_listing *ret);
void	cli_listing_free(struct cli_listing *l);

#endif
