/*
 * `respawn status`: what an operator wants at a glance — sessions by
 * state, proxies by state and country, instances and their recovery
 * progress, and the last recovery run with its figures.  `--json` for
 * scripts; `--watch` redraws every second, with a progress bar while a
 * recovery runs (plain lines when the output is not a terminal).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "cli/cli.h"
#include "config/config_billing.h"
#include "core/billing.h"

#define STATUS_USAGE	"status [--json] [--watch]"
#define STATUS_WATCH_MAX_S	(24 * 3600)	/* --watch stops by itself */

struct status_data {
	int64_t	 by_status[SESSION_STATUS_DORMANT + 1];
	int64_t	 sessions;
	int64_t	 by_state[PROXY_LOST + 1];
	json_t	*by_country;	/* cc -> {active, idle, ...} */
	int64_t	 proxies;
	/* Every row read, released ones too, for the day's charges. */
	struct billing_span	*spans;
	size_t			 nspans, spans_cap;
	json_t	*instances;
	bool	 recovering;
	int64_t	 rec_total, rec_done;
};

static int
status_session_cb(const struct session *s, void *arg)
{
	struct status_data	*sd = arg;

	sd->sessions++;
	if ((unsigned)s->status <= SESSION_STATUS_DORMANT)
		sd->by_status[s->status]++;
	return 0;
}

static int
status_proxy_cb(const struct proxy_row *p, void *arg)
{
	struct status_data	*sd = arg;
	json_t			*c;
	const char		*state = store_proxy_state_name(p->state);

	if (sd->nspans == sd->spans_cap) {
		sd->spans_cap = sd->spans_cap ? sd->spans_cap * 2 : 64;
		sd->spans = xreallocarray(sd->spans, sd->spans_cap,
		    sizeof *sd->spans);
	}
	sd->spans[sd->nspans].allocated_at = p->purchased_at;
	sd->spans[sd->nspans++].released_at = p->state == PROXY_RELEASED ?
	    p->released_at : 0;
	/* Released today: charged today, but no longer held. */
	if (p->state == PROXY_RELEASED)
		return 0;
	sd->proxies++;
	if ((unsigned)p->state <= PROXY_LOST)
		sd->by_state[p->state]++;
	if ((c = json_object_get(sd->by_country, p->country)) == NULL) {
		c = json_object();
		json_object_set_new(sd->by_country, p->country, c);
	}
	json_object_set_new(c, state, json_integer(json_integer_value(
	    json_object_get(c, state)) + 1));
	return 0;
}

static int
status_instance_cb(const struct instance *i, void *arg)
{
	struct status_data	*sd = arg;
	char			 t[UTIL_TIME_LEN];

	util_fmt_time(i->heartbeat_at, t);
	/* instanceId, status, heartbeat: deprecated names (0.1). */
	json_array_append_new(sd->instances, json_pack("{s:s, s:s, s:I, s:s, "
	    "s:s, s:b, s:I, s:I, s:s, s:s, s:s}", "id", i->id, "hostname",
	    i->hostname, "pid", (json_int_t)i->pid, "state",
	    store_instance_status_name(i->status), "heartbeatAt", t,
	    "recoveryInProgress", i->recovery_in_progress, "recoveryTotal",
	    (json_int_t)i->recovery_total, "recoveryDone",
	    (json_int_t)i->recovery_done, "instanceId", i->id, "status",
	    store_instance_status_name(i->status), "heartbeat", t));
	if ((i->status == INSTANCE_RUNNING || i->status == INSTANCE_STARTING) &&
	    i->recovery_in_progress) {
		sd->recovering = true;
		sd->rec_total += i->recovery_total;
		sd->rec_done += i->recovery_done;
	}
	return 0;
}

/* Everything, as the JSON the --json form prints. */
static json_t *
status_collect(struct cli *cli, struct store *st, struct status_data *sd)
{
	struct recovery_run	 run;
	struct config_billing	 bill;
	json_t			*o, *s, *p;
	size_t			 i;
	int64_t			 now = util_now_ms(), day, charged, held;
	const char		*why;
	char			 t[UTIL_TIME_LEN];

	memset(sd, 0, sizeof *sd);
	/* Checked by config_load: the same model as the daemon's. */
	if (config_billing_load(cli->cfg, &bill, &why) < 0 ||
	    billing_day_start(&bill.model, now, &day) < 0)
		return NULL;
	sd->by_country = json_object();
	sd->instances = json_array();
	if (store_session_list(st, status_session_cb, sd) < 0 ||
	    store_proxy_list_since(st, day, status_proxy_cb, sd) < 0 ||
	    store_instance_list(st, status_instance_cb, sd) < 0 ||
	    billing_day_charged(&bill.model, sd->spans, sd->nspans, now,
	    &charged) < 0) {
		json_decref(sd->by_country);
		json_decref(sd->instances);
		free(sd->spans);
		return NULL;
	}
	free(sd->spans);
	sd->spans = NULL;
	o = json_object();
	s = json_object();
	json_object_set_new(s, "total", json_integer(sd->sessions));
	for (i = 0; i <= SESSION_STATUS_DORMANT; i++)
		json_object_set_new(s, store_session_status_name(
		    (enum session_status)i), json_integer(sd->by_status[i]));
	json_object_set_new(o, "sessions", s);
	p = json_object();
	json_object_set_new(p, "total", json_integer(sd->proxies));
	for (i = 0; i <= PROXY_LOST; i++)
		json_object_set_new(p, store_proxy_state_name(
		    (enum proxy_state)i), json_integer(sd->by_state[i]));
	json_object_set_new(p, "byCountry", sd->by_country);
	/*
	 * What the IPs held now cost a month at RESPAWN_IP_MONTHLY_PRICE, and
	 * what the provider charges for today: the daemon's chargedToday,
	 * by the same function over the same rows (billing_day_charged).
	 */
	held = sd->by_state[PROXY_ACTIVE] + sd->by_state[PROXY_IDLE] +
	    sd->by_state[PROXY_RELEASING] + sd->by_state[PROXY_PURCHASING];
	json_object_set_new(p, "estimatedMonthlyCost", json_real(
	    (double)(held * bill.model.price_micros_per_ip_month) / 1e6));
	json_object_set_new(p, "chargedToday", json_real((double)charged /
	    1e6));
	/* Deprecated: the same figure, under its 0.1 name. */
	json_object_set_new(p, "spendTodayHeld", json_real((double)charged /
	    1e6));
	json_object_set_new(o, "proxies", p);
	json_object_set_new(o, "instances", sd->instances);
	if (store_recovery_run_last(st, &run) == 0) {
		util_fmt_time(run.started_at, t);
		json_object_set_new(o, "lastRecovery", json_pack("{s:s, s:s, "
		    "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "cause",
		    run.cause, "startedAt", t, "durationMs", (json_int_t)(
		    run.finished_at ? run.finished_at - run.started_at : 0),
		    "sessionCount", (json_int_t)run.sessions_total, "recovered",
		    (json_int_t)run.recovered, "failed", (json_int_t)run.failed,
		    "reactivated", (json_int_t)run.reactivated, "reused",
		    (json_int_t)run.reused, "purchased", (json_int_t)run.purchased,
		    "fallbacks", (json_int_t)run.fallbacks, "avgRecoveryMs",
		    (json_int_t)(run.recovered ? run.total_recovery_ms /
		    run.recovered : 0)));
		/* Deprecated (0.1): sessionCount's old name. */
		json_object_set_new(json_object_get(o, "lastRecovery"),
		    "sessions", json_integer(run.sessions_total));
	} else {
		json_object_set_new(o, "lastRecovery", json_null());
	}
	return o;
}

static void
status_print_text(const json_t *o)
{
	const json_t	*s = json_object_get(o, "sessions");
	const json_t	*p = json_object_get(o, "proxies");
	const json_t	*run = json_object_get(o, "lastRecovery");
	const json_t	*v, *inst;
	const char	*key;
	size_t		 i;

	printf("sessions  %lld:", json_integer_value(json_object_get(s,
	    "total")));
	json_object_foreach((json_t *)s, key, v)
		if (strcmp(key, "total") != 0 && json_integer_value(v) > 0)
			printf(" %s %lld", key, json_integer_value(v));
	printf("\nproxies   %lld:", json_integer_value(json_object_get(p,
	    "total")));
	json_object_foreach((json_t *)p, key, v)
		if (json_is_integer(v) && strcmp(key, "total") != 0 &&
		    json_integer_value(v) > 0)
			printf(" %s %lld", key, json_integer_value(v));
	printf("\n          estimated monthly cost %.2f, charged today %.2f",
	    json_real_value(json_object_get(p, "estimatedMonthlyCost")),
	    json_real_value(json_object_get(p, "chargedToday")));
	printf("\n          by country:");
	json_object_foreach(json_object_get(p, "byCountry"), key, v)
		printf(" %s=%lld", key, json_integer_value(json_object_get(v,
		    "active")) + json_integer_value(json_object_get(v, "idle")));
	printf("\ninstances:\n");
	json_array_foreach(json_object_get(o, "instances"), i, inst)
		printf("  %-50s %-8s pid %lld, heartbeat %s\n",
		    json_string_value(json_object_get(inst, "id")),
		    json_string_value(json_object_get(inst, "state")),
		    json_integer_value(json_object_get(inst, "pid")),
		    json_string_value(json_object_get(inst, "heartbeatAt")));
	if (json_is_object(run))
		printf("last recovery (%s, %s): %lld of %lld recovered, %lld "
		    "failed; %lld reactivated, %lld reused, %lld bought, %lld "
		    "fallbacks; %lld ms, %lld ms per session\n",
		    json_string_value(json_object_get(run, "cause")),
		    json_string_value(json_object_get(run, "startedAt")),
		    json_integer_value(json_object_get(run, "recovered")),
		    json_integer_value(json_object_get(run, "sessionCount")),
		    json_integer_value(json_object_get(run, "failed")),
		    json_integer_value(json_object_get(run, "reactivated")),
		    json_integer_value(json_object_get(run, "reused")),
		    json_integer_value(json_object_get(run, "purchased")),
		    json_integer_value(json_object_get(run, "fallbacks")),
		    json_integer_value(json_object_get(run, "durationMs")),
		    json_integer_value(json_object_get(run, "avgRecoveryMs")));
	else
		printf("last recovery: none yet\n");
}

/* One progress line: a bar on a terminal, plain text otherwise. */
static void
status_progress(const struct status_data *sd, bool tty)
{
	int64_t	ready = sd->by_status[SESSION_STATUS_READY];
	int64_t	total = sd->sessions ? sd->sessions : 1;
	int	width = 40, fill = (int)(ready * width / total), i;

	if (!tty) {
		printf("ready %lld/%lld%s\n", (long long)ready,
		    (long long)sd->sessions, sd->recovering ? " (recovering)" :
		    "");
		return;
	}
	printf("\r[");
	for (i = 0; i < width; i++)
		putchar(i < fill ? '#' : '.');
	printf("] %lld/%lld ready%s   ", (long long)ready,
	    (long long)sd->sessions, sd->recovering ? ", recovering" : "");
}

static int
cmd_status(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct status_data	 sd;
	struct store		*st;
	json_t			*o;
	bool			 json = false, watch = false, tty;
	int			 c, ex, n;

	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "hjw", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'w':
			watch = true;
			break;
		case 'h':
			printf("usage: respawn %s\n", STATUS_USAGE);
			return EX_OK;
		default:
			return cli_usage_error(STATUS_USAGE, "status: unknown "
			    "option");
		}
	}
	if (optind != argc)
		return cli_usage_error(STATUS_USAGE, "status: unexpected "
		    "argument '%s'", argv[optind]);
	if ((ex = cli_open_store(cli, "status", &st)) != 0)
		return ex;
	tty = isatty(STDOUT_FILENO);
	for (n = 0;; n++) {
		if ((o = status_collect(cli, st, &sd)) == NULL) {
			ex = cli_store_error(st, "status", -EIO);
			break;
		}
		if (!watch) {
			if (json) {
				json_dumpf(o, stdout, JSON_INDENT(2) |
				    JSON_PRESERVE_ORDER);
				fputc('\n', stdout);
			} else {
				status_print_text(o);
			}
		} else {
			status_progress(&sd, tty);
		}
		json_decref(o);
		fflush(stdout);
		/*
		 * --watch ends when no recovery runs and every session has
		 * settled: ready, or an answer that needs a person (failed,
		 * needs_auth), or not meant to run (stopped, dormant).
		 */
		if (!watch || n >= STATUS_WATCH_MAX_S || (!sd.recovering &&
		    n > 0 && sd.by_status[SESSION_STATUS_READY] +
		    sd.by_status[SESSION_STATUS_FAILED] +
		    sd.by_status[SESSION_STATUS_NEEDS_AUTH] +
		    sd.by_status[SESSION_STATUS_STOPPED] +
		    sd.by_status[SESSION_STATUS_DORMANT] == sd.sessions))
			break;
		sleep(1);
	}
	if (watch && tty)
		putchar('\n');
	store_close(st);
	return ex;
}

const struct cli_command cmd_status_commands[] = {
	{ "status", cmd_status, STATUS_USAGE,
	  "summary: sessions, proxies, instances, last recovery", true },
	{ NULL, NULL, NULL, NULL, false },
};
