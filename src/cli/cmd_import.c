/*
 * `respawn import`: an existing fleet into the store, from a JSON export
 * of the Firestore collections of the system respawn replaces, or from
 * csv or JSON lines (store/import_parse.h says what is read).  Each
 * phone's proxy IP is checked against the provider's own listing and
 * recorded as the phone's previous IP, so the daemon's recovery
 * reactivates it instead of buying (store/import.h).  All or nothing per
 * file unless --partial; --dry-run writes nothing; a second run of the
 * same file changes nothing.  A running daemon needs no stop: the new
 * sessions are nobody's, it claims them at its next look at the store
 * and learns their proxies' rows with them (daemon/sync.c), so it
 * reactivates the IPs as it would after a restart.
 *
 * `respawn session import` stays what it was: the plain one-line-per-
 * session form (no proxies), documented as the short form of this one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "cli/cli.h"
#include "provider/provider.h"
#include "store/import.h"

#define IMPORT_USAGE	"import [--format FORMAT] [--dry-run] [--partial] " \
			"[--offline] [--json] FILE|-"
#define IMPORT_ACTOR	"import"

struct import_opts {
	enum import_format	 format;
	bool			 dry_run, partial, offline, json;
	const char		*file;
};

/* The provider's listing as import_plan takes it: *ret has l->n. */
static void
cmd_import_listed(const struct cli_listing *l, struct import_listed **ret)
{
	struct import_listed	*v = xcalloc(l->n + 1, sizeof *v);
	size_t			 i;

	for (i = 0; i < l->n; i++) {
		(void)util_strlcpy(v[i].ip, l->proxies[i].key, sizeof v[i].ip);
		(void)util_strlcpy(v[i].country, l->proxies[i].country,
		    sizeof v[i].country);
	}
	*ret = v;
}

/* The whole file (or standard input), at most IMPORT_FILE_MAX bytes. */
static int
cmd_import_read(const char *file, char **ret, size_t *ret_len)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, got;
	bool	 failed;

	f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	if (f == NULL) {
		cli_error("import", "%s: %s", file, strerror(errno));
		return EX_NOINPUT;
	}
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (len > IMPORT_FILE_MAX || got == 0)
			break;
	}
	failed = ferror(f) != 0;
	if (f != stdin)
		fclose(f);
	if (failed || len > IMPORT_FILE_MAX) {
		cli_error("import", "%s: %s: nothing imported", file, failed ?
		    "read error" : "more than 64 MiB");
		free(buf);
		return failed ? EX_IOERR : EX_DATAERR;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return EX_OK;
}

/* What happens to each row: refusals on stderr, the rest on stdout. */
static void
cmd_import_print_row(const struct import_opts *o, const struct import_row *row,
    const struct import_step *step)
{
	if (step->action == IMPORT_REFUSED) {
		cli_say("import: %s: %s: %s", o->file, row->where, step->why);
		return;
	}
	if (!o->dry_run)
		return;
	printf("%-10s %-16s %s %s %s", import_action_name(step->action,
	    false), row->s.phone, row->s.user_id, row->s.country,
	    store_session_desired_name(row->s.desired));
	if (row->proxy_ip[0] != '\0' && step->action == IMPORT_ADD)
		printf(", previous IP %s (%s%s)", row->proxy_ip, step->country,
		    step->listed ? ", listed" : "");
	printf("\n");
}

static int
cmd_import_parse_opts(int argc, char **argv, struct import_opts *o)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "partial", no_argument, NULL, 'p' },
		{ "offline", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	c;

	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "hn", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (import_format_parse(optarg, &o->format) < 0)
				return cli_usage_error(IMPORT_USAGE, "import: "
				    "--format '%s': want auto, firestore, csv "
				    "or jsonl", optarg);
			break;
		case 'n':
			o->dry_run = true;
			break;
		case 'p':
			o->partial = true;
			break;
		case 'o':
			o->offline = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			printf("usage: respawn %s\n", IMPORT_USAGE);
			return -1;
		default:
			return cli_usage_error(IMPORT_USAGE, "import: unknown "
			    "option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(IMPORT_USAGE, "import: expected one "
		    "file (or - for standard input)");
	o->file = argv[optind];
	return EX_OK;
}

static int
cmd_import(struct cli *cli, int argc, char **argv)
{
	struct import_opts	 o = { 0 };
	struct cli_listing	 pl = { 0 };
	struct import_listed	*listed = NULL;
	struct import_target	 tg = { 0 };
	struct import_set	*set = NULL;
	struct import_step	*steps = NULL;
	struct import_outcome	 io = { 0 };
	struct store		*st = NULL;
	char			*text = NULL, err[IMPORT_ERR_LEN];
	size_t			 len, i, nproxies = 0;
	int			 r, ex;

	if ((ex = cmd_import_parse_opts(argc, argv, &o)) != EX_OK)
		return ex < 0 ? EX_OK : ex;
	if ((ex = cmd_import_read(o.file, &text, &len)) != EX_OK)
		return ex;
	if ((r = import_parse(text, len, o.format, cli->cfg->bd_proxy_type,
	    &set, err)) < 0) {
		cli_error("import", "%s: %s: nothing imported", o.file, err);
		ex = EX_DATAERR;
		goto out;
	}
	for (i = 0; i < set->n; i++)
		if (set->rows[i].error[0] == '\0' &&
		    set->rows[i].proxy_ip[0] != '\0')
			nproxies++;
	/*
	 * The provider is opened only for rows with IPs (they are recorded
	 * as its), and asked for its listing unless --offline.
	 */
	if (nproxies > 0 && (ex = cli_provider_list(cli, "import", !o.offline,
	    " (--offline imports without checking)", &pl)) != EX_OK)
		goto out;
	cmd_import_listed(&pl, &listed);
	tg.provider = pl.provider;
	tg.zone = pl.zone;
	tg.checked = nproxies > 0 && !o.offline;
	tg.listed = listed;
	tg.nlisted = pl.n;
	if ((ex = cli_open_store(cli, "import", &st)) != 0)
		goto out;
	steps = xcalloc(set->n + 1, sizeof *steps);
	if ((r = import_run(st, set, &tg, o.dry_run, o.partial, IMPORT_ACTOR,
	    o.file, util_now_ms(), steps, &io)) < 0) {
		/* Nothing was written: import_run undid what it had. */
		if (r == -EEXIST)
			cli_error("import", "a phone or an IP of the file was "
			    "added meanwhile: nothing imported; run it again");
		else
			cli_error("import", "database error: %s: nothing "
			    "imported", r == -EIO && store_errmsg(st)[0] ==
			    '\0' ? strerror(-r) : store_errmsg(st));
		ex = r == -EEXIST ? EX_TEMPFAIL : r == -EBUSY ?
		    EX_UNAVAILABLE : EX_IOERR;
		goto out;
	}
	if (set->instances_running > 0)
		cli_say("import: warning: the export shows instance %s%s "
		    "running: stop the old system before respawn starts, or "
		    "a phone connects twice", set->running,
		    set->instances_running > 1 ? " (and others)" : "");
	if (o.json) {
		json_t	*root = import_report(set, steps, &io, o.dry_run);

		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("\n");
		json_decref(root);
	} else {
		const char	*added;

		for (i = 0; i < set->n; i++)
			cmd_import_print_row(&o, &set->rows[i], &steps[i]);
		added = io.written || io.count[IMPORT_ADD] == 0 ? "added" :
		    o.dry_run ? "to add" : "not added";

		printf("import: %s, %zu sessions: %zu %s, %zu unchanged, %zu "
		    "refused; %zu unknown fields ignored, %zu older proxy "
		    "assignments superseded\n", import_format_name(set->format),
		    set->n, io.count[IMPORT_ADD], added, io.count[IMPORT_SAME],
		    io.count[IMPORT_REFUSED], set->fields_ignored,
		    set->superseded);
		if (tg.checked)
			printf("import: %zu previous IPs to record, listed by "
			    "%s%s%s\n", io.listed, pl.provider, pl.zone[0] !=
			    '\0' ? " zone " : "", pl.zone);
		else if (nproxies > 0)
			printf("import: proxy IPs not checked (--offline): "
			    "respawn proxy reconcile --dry-run shows which the "
			    "provider holds\n");
		if (o.dry_run)
			printf("import: dry run: nothing written\n");
		else if (!io.written && io.count[IMPORT_REFUSED] > 0 &&
		    io.count[IMPORT_ADD] > 0)
			printf("import: nothing written: fix the refused rows, "
			    "or import the others with --partial\n");
	}
	ex = io.count[IMPORT_REFUSED] > 0 ? EX_DATAERR : EX_OK;
out:
	store_close(st);
	free(steps);
	free(listed);
	cli_listing_free(&pl);
	import_set_free(set);
	free(text);
	return ex;
}

const struct cli_command cmd_import_commands[] = {
	{ "import", cmd_import, IMPORT_USAGE,
	  "bring an existing fleet: a Firestore export, csv or JSON lines",
	  true },
	{ NULL, NULL, NULL, NULL, false },
};
