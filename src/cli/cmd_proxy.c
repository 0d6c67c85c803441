/*
 * `respawn proxy ls|release`: the proxies respawn pays for, and giving one
 * back.  A release is recorded in the store; the running daemon asks the
 * provider within a second.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "cli/cli.h"
#include "provider/provider.h"
#include "provider/reconcile.h"

#define PROXY_USAGE	"proxy ls|release|reconcile [--help]"
#define PLS_USAGE	"proxy ls [--json]"
#define PRELEASE_USAGE	"proxy release IP"
#define PRECONCILE_USAGE	"proxy reconcile [--dry-run]"

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
		cli_error("proxy release", "'%.64s...' is not a proxy IP",
		    argv[optind]);
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

static void
cmd_proxy_step(const struct reconcile_step *s, void *arg)
{
	bool	dry = *(bool *)arg;

	switch (s->action) {
	case RECONCILE_ADOPT:
		printf("%s %-45s %s (billed by the provider, unknown here)\n",
		    dry ? "would adopt " : "adopted     ", s->key,
		    s->country[0] != '\0' ? s->country : "--");
		break;
	case RECONCILE_FOUND:
		printf("%s %-45s %s (lost, and listed again)\n",
		    dry ? "would find  " : "found       ", s->key, s->country);
		break;
	case RECONCILE_COUNTRY:
		printf("%s %-45s %s (the provider's country)\n",
		    dry ? "would correct" : "corrected   ", s->key, s->country);
		break;
	case RECONCILE_LOST:
		printf("%s %-45s %s (no longer listed by the provider)\n",
		    dry ? "would lose  " : "lost        ", s->key, s->country);
		break;
	case RECONCILE_RELEASED:
		printf("%s %-45s %s (its release went through)\n",
		    dry ? "would release" : "released    ", s->key, s->country);
		break;
	case RECONCILE_INTENT_OWNED:
	case RECONCILE_INTENT_FAILED:
		printf("%s purchase intent %lld (%s, %lld asked): %s", dry ?
		    "would settle" : "settled     ", (long long)s->id,
		    s->country, (long long)s->n,
		    s->action == RECONCILE_INTENT_OWNED ? "owned" : "failed");
		if (s->action == RECONCILE_INTENT_OWNED)
			printf(", %lld found", (long long)s->found);
		printf("\n");
		break;
	case RECONCILE_INTENT_OPEN:
		printf("kept open   purchase intent %lld (%s, %lld asked): its "
		    "outcome may still change\n", (long long)s->id, s->country,
		    (long long)s->n);
		break;
	}
}

static int
cmd_proxy_reconcile(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_listing	 pl;
	struct reconcile_report	 rep;
	struct reconcile_scope	 scope = { 0 };
	struct store		*st = NULL;
	bool			 dry = false;
	int			 c, r, ex;

	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "hn", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			dry = true;
			break;
		case 'h':
			printf("usage: respawn %s\n", PRECONCILE_USAGE);
			return EX_OK;
		default:
			return cli_usage_error(PRECONCILE_USAGE, "proxy reconcile: "
			    "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error(PRECONCILE_USAGE, "proxy reconcile: "
		    "unexpected argument '%s'", argv[optind]);
	/*
	 * A daemon may be running: its purchases in flight are its own to
	 * settle (its heartbeat says it lives), and this listing can judge
	 * only what came before it.
	 */
	if ((ex = cli_provider_list(cli, "proxy reconcile", true, "",
	    &pl)) != EX_OK)
		return ex;
	scope.asked_at = pl.asked_at;
	scope.settle_ms = pl.settle_ms;
	scope.peer_stale_ms = cli->cfg->lease_ms;
	if ((ex = cli_open_store(cli, "proxy reconcile", &st)) != 0)
		goto out;
	if ((r = reconcile_run(st, pl.provider, pl.zone, pl.proxies, pl.n,
	    &scope, dry, util_now_ms(), cmd_proxy_step, &dry, &rep)) < 0) {
		ex = cli_store_error(st, "proxy reconcile", r);
		goto out;
	}
	printf("%s: %lld listed; %lld adopted, %lld found, %lld corrected, "
	    "%lld lost, %lld released, %lld too new to judge; %lld intents "
	    "owned, %lld failed, %lld open%s\n", pl.provider,
	    (long long)rep.listed, (long long)rep.adopted,
	    (long long)rep.found, (long long)rep.corrected,
	    (long long)rep.lost, (long long)rep.released,
	    (long long)rep.fresh, (long long)rep.intents_owned,
	    (long long)rep.intents_failed, (long long)rep.intents_open,
	    dry ? " (dry run: nothing changed)" : "");
	ex = EX_OK;
out:
	store_close(st);
	cli_listing_free(&pl);
	return ex;
}

static const struct cli_command proxy_subcommands[] = {
	{ "ls", cmd_proxy_ls, PLS_USAGE, "list the proxies paid for", true },
	{ "release", cmd_proxy_release, PRELEASE_USAGE,
	  "give an idle proxy back to the provider", true },
	{ "reconcile", cmd_proxy_reconcile, PRECONCILE_USAGE,
	  "compare the provider's listing with the store, and settle", true },
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
