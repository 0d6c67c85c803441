/*
 * `respawn cost simulate`: what each release policy would cost on a trace
 * of phones' connected intervals, and how often a phone would come back
 * to another IP.  The trace is replayed through the daemon's own pool,
 * sweep and billing decisions (core/replay.c) with the billing model and
 * policy settings of the configuration, as `respawn serve` would run them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "cli/cli.h"
#include "config/config.h"
#include "config/config_billing.h"
#include "core/replay.h"
#include "core/trace.h"

#define COST_USAGE	"cost simulate [--help]"
#define CSIM_USAGE	"cost simulate [--trace FILE] [--seed N] " \
	"[--phones N] [--days N] [--countries N] [--price X] " \
	"[--change-cost X] [--policy NAME]... [--json]"
/* The generator's trace starts on 2026-03-02, a Monday, at 00:00 UTC. */
#define CSIM_START_MS	(INT64_C(1772409600) * 1000)
/* A price to show spend with when the configuration has none: 3.00. */
#define CSIM_PRICE_DEFAULT	INT64_C(3000000)
#define CSIM_POLICIES	4

struct csim {
	struct config_billing	 bill;
	enum billing_policy_kind policies[CSIM_POLICIES];
	size_t			 npolicies;
	bool			 json;
	const char		*trace_file;
	struct trace_gen	 gen;
};

/* Read a trace file (- for standard input); errors name file and line. */
static int
csim_read(const char *path, struct trace *t)
{
	char		 line[TRACE_LINE_MAX + 2];
	const char	*why;
	size_t		 lineno = 0, len;
	FILE		*f;
	int		 r = 0;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (f == NULL) {
		cli_error("cost simulate", "%s: %s", path, strerror(errno));
		return EX_NOINPUT;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > TRACE_LINE_MAX || (len > 0 && line[len - 1] != '\n' &&
		    !feof(f))) {
			cli_error("cost simulate", "%s:%zu: line longer than "
			    "%d bytes", path, lineno, TRACE_LINE_MAX);
			r = EX_DATAERR;
			break;
		}
		if (trace_parse_line(t, line, len, lineno, &why) < 0) {
			cli_error("cost simulate", "%s:%zu: %s", path, lineno,
			    why);
			r = EX_DATAERR;
			break;
		}
	}
	if (r == 0 && ferror(f)) {
		cli_error("cost simulate", "%s: read error", path);
		r = EX_IOERR;
	}
	if (f != stdin)
		fclose(f);
	return r;
}

static double
csim_pct(int64_t a, int64_t b)
{
	return b == 0 ? 0.0 : 100.0 * (double)a / (double)b;
}

static const char *
csim_policy_label(const struct csim *cs, enum billing_policy_kind k,
    char *buf, size_t size)
{
	if (k == BILLING_IDLE_TIMEOUT)
		snprintf(buf, size, "idle-timeout %llds",
		    (long long)(cs->bill.policy.idle_timeout_ms / 1000));
	else
		snprintf(buf, size, "%s", billing_policy_name(k));
	return buf;
}

static json_t *
csim_json_row(const struct csim *cs, enum billing_policy_kind k,
    const struct replay_result *res, const struct replay_bounds *b)
{
	json_t	*o = json_object();
	int64_t	 other = res->reconnects - res->restart_reconnects;

	json_object_set_new(o, "policy", json_string(billing_policy_name(k)));
	if (k == BILLING_IDLE_TIMEOUT)
		json_object_set_new(o, "idle_timeout_s", json_integer(
		    cs->bill.policy.idle_timeout_ms / 1000));
	json_object_set_new(o, "ip_days", json_integer(res->ip_units));
	json_object_set_new(o, "limit", json_integer(b->limit));
	json_object_set_new(o, "over_limit_pct", json_real(
	    csim_pct(res->ip_units - b->limit, b->limit)));
	json_object_set_new(o, "floor", json_integer(b->floor));
	json_object_set_new(o, "over_floor_pct", json_real(
	    csim_pct(res->ip_units - b->floor, b->floor)));
	json_object_set_new(o, "purchases", json_integer(res->purchases));
	json_object_set_new(o, "spend", json_real(
	    (double)res->cost_micros / 1e6));
	json_object_set_new(o, "reconnects", json_integer(res->reconnects));
	json_object_set_new(o, "changed", json_integer(res->changed));
	json_object_set_new(o, "changed_pct", json_real(
	    csim_pct(res->changed, res->reconnects)));
	json_object_set_new(o, "changed_deploy_pct", json_real(
	    csim_pct(res->restart_changed, res->restart_reconnects)));
	json_object_set_new(o, "changed_other_pct", json_real(
	    csim_pct(res->changed - res->restart_changed, other)));
	json_object_set_new(o, "displaced", json_integer(res->displaced));
	json_object_set_new(o, "waits", json_integer(res->waits));
	return o;
}

static int
csim_run(struct csim *cs, const struct trace *t)
{
	struct replay_config	 rc;
	struct replay_result	 res;
	struct replay_bounds	 b;
	json_t			*root = NULL, *rows = NULL, *tj;
	char			 label[48];
	int64_t			 unit, other;
	size_t			 i;

	if (replay_bounds(t, &cs->bill.model, &b) < 0) {
		cli_error("cost simulate", "the trace cannot be measured");
		return EX_SOFTWARE;
	}
	unit = billing_unit_price(&cs->bill.model);
	if (cs->json) {
		root = json_object();
		tj = json_object();
		json_object_set_new(tj, "source", json_string(cs->trace_file !=
		    NULL ? cs->trace_file : "generated"));
		if (cs->trace_file == NULL) {
			json_object_set_new(tj, "seed",
			    json_integer((json_int_t)cs->gen.seed));
			json_object_set_new(tj, "phone_slots",
			    json_integer(cs->gen.phones));
			json_object_set_new(tj, "countries",
			    json_integer(cs->gen.countries));
		}
		json_object_set_new(tj, "days", json_integer(b.days));
		json_object_set_new(tj, "phones",
		    json_integer((json_int_t)trace_nphones(t)));
		json_object_set_new(tj, "intervals",
		    json_integer((json_int_t)trace_nintervals(t)));
		json_object_set_new(root, "trace", tj);
		json_object_set_new(root, "billing_unit", json_string(
		    billing_unit_name(cs->bill.model.unit)));
		json_object_set_new(root, "price_per_ip_month", json_real(
		    (double)cs->bill.model.price_micros_per_ip_month / 1e6));
		json_object_set_new(root, "change_cost", json_real(
		    (double)cs->bill.policy.change_cost_micros / 1e6));
		json_object_set_new(root, "limit", json_integer(b.limit));
		json_object_set_new(root, "floor", json_integer(b.floor));
		rows = json_array();
	} else {
		if (cs->trace_file != NULL)
			printf("trace: %s", cs->trace_file);
		else
			printf("trace: generated, seed %llu, %d phone slots, "
			    "%d countries", (unsigned long long)cs->gen.seed,
			    cs->gen.phones, cs->gen.countries);
		printf(": %zu phones, %zu intervals, %lld days\n",
		    trace_nphones(t), trace_nintervals(t), (long long)b.days);
		printf("billing: %.4f per IP-%s (%.2f per IP-month), an IP "
		    "change worth %.2f\n", (double)unit / 1e6,
		    billing_unit_name(cs->bill.model.unit),
		    (double)cs->bill.model.price_micros_per_ip_month / 1e6,
		    (double)cs->bill.policy.change_cost_micros / 1e6);
		printf("limit: %lld IP-days (each day's peak of phones "
		    "connected at once, per country, summed)\n",
		    (long long)b.limit);
		printf("floor: %lld IP-days (every phone an IP of its own each "
		    "day it is online: %+.2f%% over the limit)\n\n",
		    (long long)b.floor, csim_pct(b.floor - b.limit, b.limit));
		printf("%-20s %9s %9s %9s %9s %10s %8s %8s %8s\n", "policy",
		    "IP-days", "vs limit", "vs floor", "purchases", "spend",
		    "changed", "deploy", "other");
	}
	for (i = 0; i < cs->npolicies; i++) {
		rc.model = cs->bill.model;
		rc.policy = cs->bill.policy;
		rc.policy.kind = cs->policies[i];
		rc.sessions_per_ip = 1;
		if (replay_run(t, &rc, &res) < 0) {
			cli_error("cost simulate", "the replay refused the "
			    "settings");
			json_decref(root);
			json_decref(rows);
			return EX_SOFTWARE;
		}
		if (cs->json) {
			json_array_append_new(rows, csim_json_row(cs,
			    cs->policies[i], &res, &b));
			continue;
		}
		other = res.reconnects - res.restart_reconnects;
		printf("%-20s %9lld %+8.2f%% %+8.2f%% %9lld %10.2f %7.2f%% "
		    "%7.2f%% %7.2f%%\n", csim_policy_label(cs,
		    cs->policies[i], label, sizeof label),
		    (long long)res.ip_units,
		    csim_pct(res.ip_units - b.limit, b.limit),
		    csim_pct(res.ip_units - b.floor, b.floor),
		    (long long)res.purchases, (double)res.cost_micros / 1e6,
		    csim_pct(res.changed, res.reconnects),
		    csim_pct(res.restart_changed, res.restart_reconnects),
		    csim_pct(res.changed - res.restart_changed, other));
	}
	if (cs->json) {
		json_object_set_new(root, "policies", rows);
		json_dumpf(root, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(root);
	} else
		printf("\nchanged: reconnects on another IP than the phone's "
		    "last; deploy: of those after a\ndaemon restart; other: "
		    "of the rest.  Spend at the price above.\n");
	return EX_OK;
}

static int
csim_int(const char *opt, const char *v, int64_t min, int64_t max,
    int64_t *ret)
{
	if (util_parse_i64(v, min, max, ret) < 0)
		return cli_usage_error(CSIM_USAGE, "cost simulate: %s must be "
		    "a whole number from %lld to %lld", opt, (long long)min,
		    (long long)max);
	return 0;
}

static int
cmd_cost_simulate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "phones", required_argument, NULL, 'p' },
		{ "days", required_argument, NULL, 'd' },
		{ "countries", required_argument, NULL, 'c' },
		{ "price", required_argument, NULL, 'P' },
		{ "change-cost", required_argument, NULL, 'C' },
		{ "policy", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct csim	 cs = { 0 };
	struct trace	*t;
	const char	*why;
	int64_t		 v, price = -1, change = -1;
	size_t		 line;
	int		 c, r, ex;
	bool		 gen_opts = false;

	cs.gen = (struct trace_gen){ .seed = 1, .phones = 1000, .days = 30,
	    .countries = TRACE_COUNTRIES_MAX, .start = CSIM_START_MS };
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			cs.trace_file = optarg;
			break;
		case 's':
			if ((r = csim_int("--seed", optarg, 0, INT64_MAX,
			    &v)) != 0)
				return r;
			cs.gen.seed = (uint64_t)v;
			gen_opts = true;
			break;
		case 'p':
			if ((r = csim_int("--phones", optarg, 1, 20000,
			    &v)) != 0)
				return r;
			cs.gen.phones = (int)v;
			gen_opts = true;
			break;
		case 'd':
			if ((r = csim_int("--days", optarg, 1, TRACE_DAYS_MAX,
			    &v)) != 0)
				return r;
			cs.gen.days = (int)v;
			gen_opts = true;
			break;
		case 'c':
			if ((r = csim_int("--countries", optarg, 1,
			    TRACE_COUNTRIES_MAX, &v)) != 0)
				return r;
			cs.gen.countries = (int)v;
			gen_opts = true;
			break;
		case 'P':
		case 'C':
			if (config_parse_money(optarg, 1000000, &v) < 0)
				return cli_usage_error(CSIM_USAGE, "cost "
				    "simulate: %s must be an amount such as "
				    "3 or 0.25", c == 'P' ? "--price" :
				    "--change-cost");
			*(c == 'P' ? &price : &change) = v;
			break;
		case 'o':
			if (cs.npolicies == CSIM_POLICIES)
				return cli_usage_error(CSIM_USAGE, "cost "
				    "simulate: at most %d policies",
				    CSIM_POLICIES);
			if (config_billing_policy_kind(optarg,
			    &cs.policies[cs.npolicies]) < 0)
				return cli_usage_error(CSIM_USAGE, "cost "
				    "simulate: unknown policy '%s' (stable, "
				    "aware, idle-timeout or keep)", optarg);
			cs.npolicies++;
			break;
		case 'j':
			cs.json = true;
			break;
		case 'h':
			printf("usage: respawn %s\n", CSIM_USAGE);
			return EX_OK;
		default:
			return cli_usage_error(CSIM_USAGE,
			    "cost simulate: unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error(CSIM_USAGE, "cost simulate: unexpected "
		    "argument '%s'", argv[optind]);
	if (cs.trace_file != NULL && gen_opts)
		return cli_usage_error(CSIM_USAGE, "cost simulate: --trace "
		    "replays a file; --seed, --phones, --days and --countries "
		    "are the generator's");
	if (config_billing_load(cli->cfg, &cs.bill, &why) < 0) {
		cli_error("cost simulate", "configuration: %s", why);
		return EX_CONFIG;
	}
	if (price >= 0)
		cs.bill.model.price_micros_per_ip_month = price;
	else if (cs.bill.model.price_micros_per_ip_month == 0)
		cs.bill.model.price_micros_per_ip_month = CSIM_PRICE_DEFAULT;
	if (change >= 0)
		cs.bill.policy.change_cost_micros = change;
	if (cs.npolicies == 0) {
		cs.policies[0] = BILLING_KEEP;
		cs.policies[1] = BILLING_IDLE_TIMEOUT;
		cs.policies[2] = BILLING_AWARE;
		cs.policies[3] = BILLING_STABLE;
		cs.npolicies = CSIM_POLICIES;
	}
	t = trace_new();
	if (cs.trace_file != NULL) {
		if ((ex = csim_read(cs.trace_file, t)) != 0)
			goto out;
		if ((r = trace_finish(t, &why, &line)) < 0) {
			if (line != 0)
				cli_error("cost simulate", "%s:%zu: %s",
				    cs.trace_file, line, why);
			else
				cli_error("cost simulate", "%s: %s",
				    cs.trace_file, why);
			ex = EX_DATAERR;
			goto out;
		}
	} else if ((r = trace_generate(t, &cs.gen)) < 0) {
		cli_error("cost simulate", "the generator failed: %s",
		    strerror(-r));
		ex = EX_SOFTWARE;
		goto out;
	}
	ex = csim_run(&cs, t);
out:
	trace_free(t);
	return ex;
}

static const struct cli_command cost_subcommands[] = {
	{ "simulate", cmd_cost_simulate, CSIM_USAGE,
	  "replay a trace through each release policy: cost and IP changes",
	  true },
};

static int
cmd_cost(struct cli *cli, int argc, char **argv)
{
	return cli_subcommand(cli, COST_USAGE, cost_subcommands,
	    nitems(cost_subcommands), argc, argv);
}

const struct cli_command cmd_cost_commands[] = {
	{ "cost", cmd_cost, COST_USAGE, "what the release policies cost on a "
	  "trace", true },
	{ NULL, NULL, NULL, NULL, false },
};
