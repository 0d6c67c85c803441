/*
 * `respawn session add|ls|show|rm|start|stop`: managing sessions in the
 * store.  Input is validated before the store is opened, so a rejected
 * command changes nothing on disk.  A running daemon picks the changes up
 * from the store; these commands never talk to it directly.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "base/validate.h"
#include "cli/cli.h"
#include "store/session_json.h"
#include "store/session_line.h"

#define SESSION_USAGE	"session add|import|ls|show|rm|start|stop [--help]"
#define IMPORT_USAGE	"session import FILE|- [--json]"
/* Lines a file may hold: a fleet, not a denial of service. */
#define IMPORT_LINES_MAX	1000000
#define ADD_USAGE	"session add --user ID --phone +E164 --country CC " \
			"[--priority N] [--proxy-type isp|residential] [--stopped] [--json]"
#define LS_USAGE	"session ls [--json]"
#define SHOW_USAGE	"session show ID|PHONE [--json]"
#define RM_USAGE	"session rm ID|PHONE"
#define START_USAGE	"session start ID|PHONE"
#define STOP_USAGE	"session stop ID|PHONE"

#define CLI_ACTOR	"cli"

/* A session named on the command line: by id, or by phone number. */
struct session_ref {
	int64_t	id;
	char	phone[PHONE_LEN];
};

static int
session_ref_parse(const char *arg, const char *usage, struct session_ref *ref)
{
	const char	*why;

	memset(ref, 0, sizeof *ref);
	if (arg[0] == '+') {
		if (validate_phone(arg, &why) < 0) {
			cli_say("invalid phone number '%s': "
			    "%s", arg, why);
			return EX_DATAERR;
		}
		(void)util_strlcpy(ref->phone, arg, sizeof ref->phone);
		return 0;
	}
	if (util_parse_i64(arg, 1, INT64_MAX, &ref->id) < 0)
		return cli_usage_error(usage, "'%s' is neither a session id nor "
		    "a phone number (+E164)", arg);
	return 0;
}

static int
session_ref_get(struct store *st, const struct session_ref *ref,
    const char *context, struct session *ret)
{
	int	r;

	if (ref->phone[0] != '\0')
		r = store_session_get_by_phone(st, ref->phone, ret);
	else
		r = store_session_get(st, ref->id, ret);
	if (r == -ENOENT) {
		if (ref->phone[0] != '\0')
			cli_error(context, "no session with phone number '%s'",
			    ref->phone);
		else
			cli_error(context, "no session with id %lld",
			    (long long)ref->id);
		return EX_DATAERR;
	}
	if (r < 0)
		return cli_store_error(st, context, r);
	return 0;
}

static void
session_print_json(const struct session *s)
{
	json_t	*o = session_json_new(s);

	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(o);
}

static void
session_print_text(const struct session *s)
{
	char	t[UTIL_TIME_LEN];

	printf("id:               %lld\n", (long long)s->id);
	printf("user:             %s\n", s->user_id);
	printf("phone:            %s\n", s->phone);
	printf("country:          %s\n", s->country);
	printf("priority:         %lld\n", (long long)s->priority);
	printf("proxy type:       %s\n", config_proxy_type_name(s->proxy_type));
	printf("desired state:    %s\n", store_session_desired_name(s->desired));
	printf("status:           %s\n", store_session_status_name(s->status));
	printf("proxy:            %s\n", s->proxy_ip[0] ? s->proxy_ip : "-");
	printf("owner:            %s (epoch %lld)\n",
	    s->owner[0] ? s->owner : "-", (long long)s->epoch);
	if (s->last_activity_at != 0)
		util_fmt_time(s->last_activity_at, t);
	printf("last activity:    %s\n", s->last_activity_at ? t : "never");
	if (s->shutdown_at != 0)
		util_fmt_time(s->shutdown_at, t);
	printf("graceful stop:    %s%s%s\n", s->graceful_shutdown ? "yes" : "no",
	    s->shutdown_at ? " at " : "", s->shutdown_at ? t : "");
	printf("attempts:         %lld\n", (long long)s->attempts);
	printf("last error:       %s\n", s->last_error[0] ? s->last_error : "-");
	util_fmt_time(s->created_at, t);
	printf("created:          %s\n", t);
}

static int
cmd_session_add(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "phone", required_argument, NULL, 'p' },
		{ "country", required_argument, NULL, 'c' },
		{ "priority", required_argument, NULL, 'P' },
		{ "proxy-type", required_argument, NULL, 't' },
		{ "stopped", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct session_new	 n;
	struct session		 s;
	struct store		*st;
	const char		*user = NULL, *phone = NULL, *country = NULL;
	const char		*why;
	bool			 json = false;
	int64_t			 id;
	int			 c, r, ex;

	bool			 type_set = false;

	memset(&n, 0, sizeof n);
	n.desired = SESSION_DESIRED_RUNNING;
	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			user = optarg;
			break;
		case 'p':
			phone = optarg;
			break;
		case 'c':
			country = optarg;
			break;
		case 'P':
			if (util_parse_i64(optarg, -1000000, 1000000,
			    &n.priority) < 0) {
				cli_say("session add: invalid "
				    "priority '%s': must be a whole number "
				    "from -1000000 to 1000000", optarg);
				return EX_DATAERR;
			}
			break;
		case 't':
			type_set = true;
			if (strcmp(optarg, "isp") == 0)
				n.proxy_type = PROXY_TYPE_ISP;
			else if (strcmp(optarg, "residential") == 0)
				n.proxy_type = PROXY_TYPE_RESIDENTIAL;
			else {
				cli_say("session add: invalid "
				    "proxy type '%s': must be isp or "
				    "residential", optarg);
				return EX_DATAERR;
			}
			break;
		case 's':
			n.desired = SESSION_DESIRED_STOPPED;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: respawn %s\n", ADD_USAGE);
			return EX_OK;
		default:
			return cli_usage_error(ADD_USAGE, "session add: unknown "
			    "option");
		}
	}
	if (optind != argc)
		return cli_usage_error(ADD_USAGE, "session add: unexpected "
		    "argument '%s'", argv[optind]);
	if (user == NULL || phone == NULL || country == NULL)
		return cli_usage_error(ADD_USAGE, "session add: --user, --phone "
		    "and --country are required");
	if (validate_user_id(user, &why) < 0) {
		cli_say("session add: invalid user id '%.128s': "
		    "%s", user, why);
		return EX_DATAERR;
	}
	if (validate_phone(phone, &why) < 0) {
		cli_say("session add: invalid phone number "
		    "'%.32s': %s", phone, why);
		return EX_DATAERR;
	}
	if (validate_country(country, n.country, &why) < 0) {
		cli_say("session add: unknown country "
		    "'%.32s': %s", country, why);
		return EX_DATAERR;
	}
	if (!type_set)
		n.proxy_type = cli->cfg->bd_proxy_type;
	(void)util_strlcpy(n.user_id, user, sizeof n.user_id);
	(void)util_strlcpy(n.phone, phone, sizeof n.phone);

	if ((ex = cli_open_store(cli, "session add", &st)) != 0)
		return ex;
	r = store_session_add(st, &n, CLI_ACTOR, util_now_ms(), &id);
	if (r == -EEXIST) {
		cli_error("session add", "phone number '%s' already has a "
		    "session", n.phone);
		ex = EX_DATAERR;
	} else if (r < 0) {
		ex = cli_store_error(st, "session add", r);
	} else if ((r = store_session_get(st, id, &s)) < 0) {
		ex = cli_store_error(st, "session add", r);
	} else {
		if (json)
			session_print_json(&s);
		else
			printf("session %lld added: %s %s %s\n", (long long)id,
			    s.user_id, s.phone, s.country);
		ex = EX_OK;
	}
	store_close(st);
	return ex;
}

/* What an import did with one line. */
struct import_out {
	bool	 json;
	json_t	*added, *refused;
	size_t	 nadded, nrefused;
};

static void
import_refuse(struct import_out *o, const char *file, size_t line,
    const char *phone, const char *why)
{
	json_t	*r;

	o->nrefused++;
	if (!o->json) {
		cli_say("session import: %s:%zu: %s%s%s", file, line,
		    phone != NULL ? phone : "", phone != NULL ? ": " : "", why);
		return;
	}
	r = json_pack("{s:I, s:s}", "line", (json_int_t)line, "error", why);
	if (r != NULL && phone != NULL)
		json_object_set_new(r, "phoneNumber", json_string(phone));
	if (r != NULL)
		json_array_append_new(o->refused, r);
}

/*
 * Every line of a file, each session added in one batch of the store (one
 * transaction): a valid line is added, an invalid or duplicate one is
 * refused with its line number.  A store error or a read error closes the
 * store with the batch open, which rolls it back, and a batch that cannot
 * commit loses all of them: nothing is half-written.
 */
static int
cmd_session_import(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct import_out	 o = { 0 };
	struct session_new	 n;
	struct store		*st = NULL;
	char			 buf[SESSION_LINE_MAX + 2];
	const char		*file, *why;
	size_t			 line = 0, len;
	int64_t			 id, now;
	FILE			*f;
	int			 c, r, ex = EX_OK;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 'h':
			printf("usage: respawn %s\n", IMPORT_USAGE);
			return EX_OK;
		default:
			return cli_usage_error(IMPORT_USAGE, "session import: "
			    "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(IMPORT_USAGE, "session import: expected "
		    "one file (or - for standard input)");
	file = argv[optind];
	f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	if (f == NULL) {
		cli_error("session import", "%s: %s", file, strerror(errno));
		return EX_NOINPUT;
	}
	if ((ex = cli_open_store(cli, "session import", &st)) != 0)
		goto out;
	o.added = json_array();
	o.refused = json_array();
	now = util_now_ms();
	if ((r = store_batch_begin(st)) < 0) {
		ex = cli_store_error(st, "session import", r);
		goto out;
	}
	while (fgets(buf, sizeof buf, f) != NULL) {
		if (++line > IMPORT_LINES_MAX) {
			import_refuse(&o, file, line, NULL, "more lines than "
			    "one import takes (1,000,000): the rest is not read");
			break;
		}
		len = strlen(buf);
		if (len > SESSION_LINE_MAX || (len > 0 && buf[len - 1] != '\n' &&
		    !feof(f))) {
			import_refuse(&o, file, line, NULL, "line longer than "
			    "1024 bytes");
			/* The rest of that line is not a line of its own. */
			while (len > 0 && buf[len - 1] != '\n' &&
			    fgets(buf, sizeof buf, f) != NULL)
				len = strlen(buf);
			continue;
		}
		if ((r = session_line_parse(buf, len,
		    cli->cfg->bd_proxy_type, &n, &why)) < 0) {
			import_refuse(&o, file, line, NULL, why);
			continue;
		}
		if (r == 0)
			continue;
		r = store_session_add(st, &n, CLI_ACTOR, now, &id);
		if (r == -EEXIST) {
			import_refuse(&o, file, line, n.phone, "the phone number "
			    "already has a session");
			continue;
		}
		if (r < 0) {
			/* Closed with the batch open: rolled back, none kept. */
			ex = cli_store_error(st, "session import", r);
			cli_say("session import: nothing added");
			goto out;
		}
		o.nadded++;
		if (o.json)
			json_array_append_new(o.added, json_pack("{s:I, s:I, "
			    "s:s}", "line", (json_int_t)line, "id",
			    (json_int_t)id, "phoneNumber", n.phone));
	}
	if (ferror(f)) {
		/* Half a file is not what was asked for: nothing is kept. */
		cli_error("session import", "%s: read error: nothing added",
		    file);
		ex = EX_IOERR;
		goto out;
	}
	if ((r = store_batch_end(st)) < 0) {
		ex = cli_store_error(st, "session import", r);
		goto out;
	}
	if (o.json) {
		json_t	*root = json_pack("{s:O, s:O}", "added", o.added,
			    "refused", o.refused);

		json_dumpf(root, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(root);
	} else
		printf("%zu sessions added, %zu lines refused\n", o.nadded,
		    o.nrefused);
	ex = o.nrefused > 0 ? EX_DATAERR : EX_OK;
out:
	json_decref(o.added);
	json_decref(o.refused);
	store_close(st);
	if (f != stdin)
		fclose(f);
	return ex;
}

struct ls_state {
	bool	 json;
	json_t	*list;
	size_t	 n;
};

static int
cmd_session_ls_row(const struct session *s, void *arg)
{
	struct ls_state	*ls = arg;
	char		 t[UTIL_TIME_LEN];

	ls->n++;
	if (ls->json) {
		json_array_append_new(ls->list, session_json_new(s));
		return 0;
	}
	if (s->last_activity_at != 0)
		util_fmt_time(s->last_activity_at, t);
	printf("%-6lld %-20.20s %-16s %-2s %-8s %-10s %-15s %s\n",
	    (long long)s->id, s->user_id, s->phone, s->country,
	    store_session_desired_name(s->desired),
	    store_session_status_name(s->status),
	    s->proxy_ip[0] ? s->proxy_ip : "-",
	    s->last_activity_at ? t : "never");
	return 0;
}

static int
cmd_session_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ls_state	 ls = { 0 };
	struct store	*st;
	int		 c, r, ex;

	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ls.json = true;
			break;
		case 'h':
			printf("usage: respawn %s\n", LS_USAGE);
			return EX_OK;
		default:
			return cli_usage_error(LS_USAGE, "session ls: unknown "
			    "option");
		}
	}
	if (optind != argc)
		return cli_usage_error(LS_USAGE, "session ls: unexpected "
		    "argument '%s'", argv[optind]);
	if ((ex = cli_open_store(cli, "session ls", &st)) != 0)
		return ex;
	if (ls.json)
		ls.list = json_array();
	else
		printf("%-6s %-20s %-16s %-2s %-8s %-10s %-15s %s\n", "ID",
		    "USER", "PHONE", "CC", "DESIRED", "STATUS", "PROXY",
		    "LAST ACTIVITY");
	r = store_session_list(st, cmd_session_ls_row, &ls);
	if (r < 0) {
		ex = cli_store_error(st, "session ls", r);
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

/* The commands that take one session: show, rm, start, stop. */
enum one_action { ONE_SHOW, ONE_RM, ONE_START, ONE_STOP };

static int
cmd_session_one(struct cli *cli, int argc, char **argv, enum one_action act,
    const char *usage, const char *context)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct session_ref	 ref;
	struct session		 s;
	struct store		*st;
	bool			 json = false;
	int			 c, r, ex;

	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (act != ONE_SHOW)
				return cli_usage_error(usage, "%s: unknown "
				    "option '--json'", context);
			json = true;
			break;
		case 'h':
			printf("usage: respawn %s\n", usage);
			return EX_OK;
		default:
			return cli_usage_error(usage, "%s: unknown option",
			    context);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(usage, "%s: expected one session id or "
		    "phone number", context);
	if ((ex = session_ref_parse(argv[optind], usage, &ref)) != 0)
		return ex;
	if ((ex = cli_open_store(cli, context, &st)) != 0)
		return ex;
	if ((ex = session_ref_get(st, &ref, context, &s)) != 0)
		goto out;
	switch (act) {
	case ONE_SHOW:
		if (json)
			session_print_json(&s);
		else
			session_print_text(&s);
		break;
	case ONE_RM:
		r = store_session_remove(st, s.id, CLI_ACTOR, util_now_ms());
		if (r < 0 && r != -ENOENT) {
			ex = cli_store_error(st, context, r);
			goto out;
		}
		printf("session %lld (%s) removed\n", (long long)s.id, s.phone);
		break;
	case ONE_START:
	case ONE_STOP:
		r = store_session_set_desired(st, s.id, act == ONE_START ?
		    SESSION_DESIRED_RUNNING : SESSION_DESIRED_STOPPED,
		    CLI_ACTOR, util_now_ms());
		if (r < 0) {
			ex = r == -ENOENT ? EX_DATAERR :
			    cli_store_error(st, context, r);
			if (r == -ENOENT)
				cli_error(context, "session %lld was removed",
				    (long long)s.id);
			goto out;
		}
		printf("session %lld (%s): desired state %s\n",
		    (long long)s.id, s.phone,
		    act == ONE_START ? "running" : "stopped");
		break;
	}
out:
	store_close(st);
	return ex;
}

static int
cmd_session_show(struct cli *cli, int argc, char **argv)
{
	return cmd_session_one(cli, argc, argv, ONE_SHOW, SHOW_USAGE,
	    "session show");
}

static int
cmd_session_rm(struct cli *cli, int argc, char **argv)
{
	return cmd_session_one(cli, argc, argv, ONE_RM, RM_USAGE, "session rm");
}

static int
cmd_session_start(struct cli *cli, int argc, char **argv)
{
	return cmd_session_one(cli, argc, argv, ONE_START, START_USAGE,
	    "session start");
}

static int
cmd_session_stop(struct cli *cli, int argc, char **argv)
{
	return cmd_session_one(cli, argc, argv, ONE_STOP, STOP_USAGE,
	    "session stop");
}

static const struct cli_command session_subcommands[] = {
	{ "add", cmd_session_add, ADD_USAGE, "add a session", true },
	{ "import", cmd_session_import, IMPORT_USAGE,
	  "add the sessions of a file, one per line, in one transaction "
	  "(with proxies or from Firestore: respawn import)",
	  true },
	{ "ls", cmd_session_ls, LS_USAGE, "list sessions", true },
	{ "show", cmd_session_show, SHOW_USAGE, "show one session", true },
	{ "rm", cmd_session_rm, RM_USAGE, "remove a session", true },
	{ "start", cmd_session_start, START_USAGE,
	  "set a session's desired state to running", true },
	{ "stop", cmd_session_stop, STOP_USAGE,
	  "set a session's desired state to stopped", true },
};

static int
cmd_session(struct cli *cli, int argc, char **argv)
{
	return cli_subcommand(cli, SESSION_USAGE, session_subcommands,
	    nitems(session_subcommands), argc, argv);
}

const struct cli_command cmd_session_commands[] = {
	{ "session", cmd_session, SESSION_USAGE,
	  "add, list, show, remove, start and stop sessions", true },
	{ NULL, NULL, NULL, NULL, false },
};
