/*
 * `respawn proxy ls|release`: the proxies respawn pays for, and giving one
 * back.  A release is recorded in the store; the running daemon asks the
 * provider within a second.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "util.h"

#define PROXY_USAGE	"proxy ls|release [--help]"
#define PLS_USAGE	"proxy ls [--json]"
#define PRELEASE_USAGE	"proxy release IP"

struct proxy_ls {
	bool	 json;
	json_t	*list;
};

static json_t *
proxy_json_time(int64_t ms)
{
	char	t[UTIL_TIME_LEN];

	if (ms == 0)
		return json_null();
	util_fmt_time(ms, t);
	return json_string(t);
}

static int
cmd_proxy_ls_row(const struct proxy_row *p, void *arg)
{
	struct proxy_ls	*ls = arg;
	json_t		*o;

	if (!ls->json) {
		char	sid[24] = "-";

		if (p->session_id != 0)
			snprintf(sid, sizeof sid, "%lld", (long long)p->session_id);
		printf("%-6lld %-10s %-45.45s %-2s %-10s %s\n", (long long)p->id,
		    p->provider, p->ip, p->country,
		    store_proxy_state_name(p->state), sid);
		return 0;
	}
	o = json_object();
	json_object_set_new(o, "id", json_integer(p->id));
	json_object_set_new(o, "provider", json_string(p->provider));
	json_object_set_new(o, "zone", json_string(p->zone));
	json_object_set_new(o, "proxyIp", json_string(p->ip));
	json_object_set_new(o, "country", json_string(p->country));
	json_object_set_new(o, "type",
	    json_string(config_proxy_type_name(p->type)));
	json_object_set_new(o, "state",
	    json_string(store_proxy_state_name(p->state)));
	json_object_set_new(o, "sessionId", p->session_id ?
	    json_integer(p->session_id) : json_null());
	json_object_set_new(o, "purchasedAt", proxy_json_time(p->purchased_at));
	json_object_set_new(o, "assignedAt", proxy_json_time(p->assigned_at));
	json_object_set_new(o, "idleSince", proxy_json_time(p->idle_since));
	json_array_append_new(ls->list, o);
	return 0;
}

static int
cmd_proxy_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct proxy_ls	 ls = { 0 };
	struct store	*st;
	int		 c, r, ex;

	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ls.json = true;
			break;
		case 'h':
			printf("usage: respawn %s\n", PLS_USAGE);
			return EX_OK;
		default:
			return cli_usage_error(PLS_USAGE, "proxy ls: unknown "
			    "option");
		}
	}
	if (optind != argc)
		return cli_usage_error(PLS_USAGE, "proxy ls: unexpected "
		    "argument '%s'", argv[optind]);
	if ((ex = cli_open_store(cli, "proxy ls", &st)) != 0)
		return ex;
	if (ls.json)
		ls.list = json_array();
	else
		printf("%-6s %-10s %-45s %-2s %-10s %s\n", "ID", "PROVIDER",
		    "IP", "CC", "STATE", "SESSION");
	if ((r = store_proxy_list(st, cmd_proxy_ls_row, &ls)) < 0) {
		ex = cli_store_error(st, "proxy ls", r);
	} else {
		if (ls.json) {
			json_dumpf(ls.list, stdout, JSON_INDENT(2) |
			    JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
		}
		ex = EX_OK;
	}
	json_decref(ls.list);
	store_close(st);
	return ex;
}

static int
cmd_proxy_release(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct proxy_row	 row;
	struct store		*st;
	int			 c, r, ex;

	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: respawn %s\n", PRELEASE_USAGE);
			return EX_OK;
		default:
			return cli_usage_error(PRELEASE_USAGE, "proxy release: "
			    "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(PRELEASE_USAGE, "proxy release: expected "
		    "one IP");
	if (strlen(argv[optind]) >= sizeof row.ip) {
		fprintf(stderr, "respawn: proxy release: '%.64s...' is not a "
		    "proxy IP\n", argv[optind]);
		return EX_DATAERR;
	}
	if ((ex = cli_open_store(cli, "proxy release", &st)) != 0)
		return ex;
	r = store_proxy_request_release(st, argv[optind], "cli", util_now_ms(),
	    &row);
	if (r == -ENOENT) {
		cli_error("proxy release", "no live proxy '%s' (see respawn "
		    "proxy ls)", argv[optind]);
		ex = EX_DATAERR;
	} else if (r == -EBUSY) {
		cli_error("proxy release", "proxy '%s' is used or kept by "
		    "session %lld; stop or remove that session first",
		    argv[optind], (long long)row.session_id);
		ex = EX_DATAERR;
	} else if (r < 0) {
		ex = cli_store_error(st, "proxy release", r);
	} else {
		printf("proxy %s (%s): releasing; the daemon gives it back to "
		    "%s\n", row.ip, row.country, row.provider);
		ex = EX_OK;
	}
	store_close(st);
	return ex;
}

static const struct cli_command proxy_subcommands[] = {
	{ "ls", cmd_proxy_ls, PLS_USAGE, "list the proxies paid for", true },
	{ "release", cmd_proxy_release, PRELEASE_USAGE,
	  "give an idle proxy back to the provider", true },
};

static int
cmd_proxy(struct cli *cli, int argc, char **argv)
{
	return cli_subcommand(cli, PROXY_USAGE, proxy_subcommands,
	    nitems(proxy_subcommands), argc, argv);
}

const struct cli_command cmd_proxy_commands[] = {
	{ "proxy", cmd_proxy, PROXY_USAGE, "list and release proxies", true },
	{ NULL, NULL, NULL, NULL, false },
};
