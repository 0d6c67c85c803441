/*
 * `respawn demo`: the README's main job, on one machine with nothing but
 * this build.  It starts respawn-lab (the Bright Data and WhatsApp
 * stand-in) and a daemon (`respawn serve`, this same binary) on SQLite in
 * a temporary directory, with sessions across countries (three of them in
 * countries the provider has no IPs for, so they fall back), and shows
 *
 *   1. the first start: every IP bought from the lab's account API, the
 *      key read from its Secret Manager stand-in;
 *   2. a kill -9 of the daemon and a restart: the connectors outlive it
 *      and are re-adopted, with no reconnect at WhatsApp;
 *   3. a host crash (the daemon and every connector killed) and a
 *      restart: every session comes back on the IP it had (the proxy is
 *      reactivated, nothing bought);
 *
 * then prints a summary (text, or JSON with --json for scripts) and stops
 * everything it started, on every path: errors, SIGINT and SIGTERM
 * included.  The figures come from the store (src/store.h) and from what
 * the lab itself saw (its /lab/ admin API), never from the daemon's logs.
 *
 * This file is the command: its options, the world it sets up (paths,
 * environment, sessions), the order of the phases and the clean-up.  The
 * phases are in demo_phase.c, the narrative and the summary in
 * demo_out.c; demo_impl.h has what they share.
 */
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "cli/cli.h"
#include "cli/demo_impl.h"
#include "cli/demo_lab.h"
#include "cli/demo_proc.h"

#define DEMO_USAGE	"demo [--sessions N] [--keep] [--json] [--lab DIR]"
#define DEMO_SESSIONS_DEFAULT	50
#define DEMO_SESSIONS_MIN	3	/* one per country without inventory */
#define DEMO_READY_DELAY_MS	"200"	/* the lab connector's READY=1 */

/*
 * The sessions: countries in fixed proportions (for 50: 8 us, 6 gb, ...),
 * and one session in each of be, bd and ng, where the lab has no IPs (they
 * fall back to nl, in and za).  The prefixes are the countries' own, so
 * the phones look like what they stand for.
 */
const struct demo_country demo_countries[] = {
	{ "us", "+1415555", 8 }, { "gb", "+4477009", 6 },
	{ "de", "+4915112", 6 }, { "fr", "+3361234", 5 },
	{ "nl", "+3161234", 4 }, { "in", "+9198765", 4 },
	{ "sg", "+659123", 3 }, { "za", "+2782555", 3 },
	{ "br", "+5511987", 3 }, { "jp", "+8190123", 3 },
	{ "es", "+3461234", 2 }, { "be", "+3247012", 0 },
	{ "bd", "+8801712", 0 }, { "ng", "+2348031", 0 },
};
const size_t demo_ncountries = nitems(demo_countries);

/* Environment the daemon keeps from ours; everything else is the demo's. */
static const char *const demo_env_keep[] = {
	"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME",
	"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};

volatile sig_atomic_t	demo_signal;

static void
demo_on_signal(int sig)
{
	demo_signal = sig;
}

/* --- the world: paths, environment, sessions ------------------------- */

/* This binary: /proc/self/exe, else argv[0] resolved. */
static int
demo_find_self(struct demo *d)
{
	ssize_t	n;

	n = readlink("/proc/self/exe", d->self, sizeof d->self - 1);
	if (n > 0) {
		d->self[n] = '\0';
		return 0;
	}
	if (realpath(program_invocation_name, d->self) != NULL)
		return 0;
	return demo_fail(d, EX_UNAVAILABLE, "cannot find the respawn binary "
	    "itself (/proc/self/exe, '%s'): %s", program_invocation_name,
	    strerror(errno));
}

/* The lab's binaries: --lab DIR, else lab/ next to this binary. */
static int
demo_find_lab(struct demo *d)
{
	static const char *const names[] = { "respawn-lab",
	    "respawn-lab-connector" };
	char	 dir[DEMO_PATH_LEN], path[DEMO_PATH_LEN];
	char	*slash, *dst[2];
	size_t	 i;

	dst[0] = d->lab;
	dst[1] = d->connector;
	if (d->lab_opt != NULL) {
		(void)util_strlcpy(dir, d->lab_opt, sizeof dir);
	} else {
		(void)util_strlcpy(dir, d->self, sizeof dir);
		if ((slash = strrchr(dir, '/')) != NULL)
			*slash = '\0';
		if (strlen(dir) + sizeof "/lab" > sizeof dir)
			return demo_fail(d, EX_UNAVAILABLE, "path too long: "
			    "%s", dir);
		memcpy(dir + strlen(dir), "/lab", sizeof "/lab");
	}
	for (i = 0; i < nitems(names); i++) {
		if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >=
		    (int)sizeof path)
			return demo_fail(d, EX_UNAVAILABLE, "path too long: "
			    "%s/%s", dir, names[i]);
		if (access(path, X_OK) != 0 || realpath(path, dst[i]) == NULL)
			return demo_fail(d, EX_UNAVAILABLE, "%s not found: %s "
			    "(%s); build it (scripts/build) or name its "
			    "directory with --lab DIR", names[i], path,
			    strerror(errno));
	}
	return 0;
}

static void
demo_env_add(struct demo *d, const char *name, const char *value)
{
	if (value == NULL || d->n_env == DEMO_ENV_MAX)
		return;
	d->env[d->n_env++] = xasprintf("%s=%s", name, value);
	d->env[d->n_env] = NULL;
}

/*
 * What the lab and the daemon keep of the caller's environment.  Nothing
 * of the caller's configuration (RESPAWN_*, BRIGHT_DATA_*, a config file)
 * leaks in: the demo runs the same world on every machine.
 */
static void
demo_env_base(struct demo *d)
{
	size_t	i;

	for (i = 0; i < nitems(demo_env_keep); i++)
		demo_env_add(d, demo_env_keep[i], getenv(demo_env_keep[i]));
}

/*
 * The daemon's own settings, once the lab's ports are known.  The
 * provider is Bright Data's account API as the lab serves it, with the API
 * key read from the lab's Secret Manager stand-in through its metadata
 * server, so the purchases, the reactivations and the spend are the lab's
 * own.
 */
static void
demo_env_daemon(struct demo *d)
{
	char	v[DEMO_PATH_LEN + 32];

	demo_env_add(d, "RESPAWN_DB", d->db);
	snprintf(v, sizeof v, "%s/state", d->dir);
	demo_env_add(d, "RESPAWN_STATE_DIR", v);
	demo_env_add(d, "RESPAWN_LOG_LEVEL", "info");
	demo_env_add(d, "RESPAWN_LOG_FORMAT", "logfmt");
	/* Port 0: the kernel picks the API's port, so two demos never clash. */
	demo_env_add(d, "RESPAWN_API_LISTEN", "127.0.0.1:0");
	demo_env_add(d, "RESPAWN_CONNECTOR", d->connector);
	demo_env_add(d, "RESPAWN_CONNECTOR_ENV",
	    "RESPAWN_LAB_WA_ADDR,RESPAWN_LAB_READY_DELAY_MS");
	snprintf(v, sizeof v, "127.0.0.1:%d", d->ports.wa);
	demo_env_add(d, "RESPAWN_LAB_WA_ADDR", v);
	demo_env_add(d, "RESPAWN_LAB_READY_DELAY_MS", DEMO_READY_DELAY_MS);
	demo_env_add(d, "PRIORITY_COUNTRIES", "us,gb,de");
	demo_env_add(d, "RESPAWN_PROVIDER", "brightdata");
	demo_env_add(d, "BRIGHT_DATA_API_URL", d->api);
	demo_env_add(d, "BRIGHT_DATA_CUSTOMER_ID", "c_lab");
	demo_env_add(d, "BRIGHT_DATA_ZONE", "isp_lab");
	demo_env_add(d, "BRIGHT_DATA_ZONE_PASSWORD", "isp_lab_pw");
	demo_env_add(d, "BRIGHT_DATA_API_KEY_SECRET",
	    "projects/lab/secrets/brightdata-api-key/versions/latest");
	demo_env_add(d, "RESPAWN_GSM_URL", d->api);
	demo_env_add(d, "RESPAWN_METADATA_URL", d->api);
	demo_env_add(d, "BRIGHT_DATA_PROXY_HOST", "127.0.0.1");
	snprintf(v, sizeof v, "%d", d->ports.proxy);
	demo_env_add(d, "BRIGHT_DATA_PROXY_PORT", v);
}

/* How many sessions country i gets out of n. */
static int64_t
demo_share(int64_t n, size_t i)
{
	int64_t	total = 0, rest, got = 0, k;
	size_t	j, fixed = 0;

	for (j = 0; j < nitems(demo_countries); j++) {
		total += demo_countries[j].weight;
		fixed += demo_countries[j].weight == 0;
	}
	if (demo_countries[i].weight == 0)
		return 1;
	rest = n - (int64_t)fixed;
	/* Proportional shares, the remainder one each in table order. */
	for (j = 0; j < nitems(demo_countries); j++)
		got += rest * demo_countries[j].weight / total;
	k = rest * demo_countries[i].weight / total;
	for (j = 0; j < nitems(demo_countries) && got < rest; j++) {
		if (demo_countries[j].weight == 0)
			continue;
		if (j == i)
			k++;
		got++;
	}
	return k;
}

static int
demo_add_sessions(struct demo *d)
{
	struct session_new	 n;
	const char		*why;
	int64_t			 k, id, no = 0;
	size_t			 i;
	int			 r;

	store_batch_begin(d->st);
	for (i = 0; i < nitems(demo_countries); i++) {
		if ((k = demo_share(d->sessions, i)) > 0)
			d->countries++;
		for (; k > 0; k--) {
			no++;
			memset(&n, 0, sizeof n);
			snprintf(n.user_id, sizeof n.user_id, "customer-%lld",
			    (long long)no);
			snprintf(n.phone, sizeof n.phone, "%s%04lld",
			    demo_countries[i].prefix, (long long)no);
			(void)util_strlcpy(n.country, demo_countries[i].cc,
			    sizeof n.country);
			n.proxy_type = PROXY_TYPE_ISP;
			n.desired = SESSION_DESIRED_RUNNING;
			if (validate_phone(n.phone, &why) < 0) {
				store_batch_end(d->st);
				return demo_fail(d, EX_SOFTWARE, "phone '%s': "
				    "%s", n.phone, why);
			}
			if ((r = store_session_add(d->st, &n, "demo",
			    util_now_ms(), &id)) < 0) {
				store_batch_end(d->st);
				return cli_store_error(d->st, "demo", r);
			}
		}
	}
	store_batch_end(d->st);
	return 0;
}

static int
demo_run(struct demo *d)
{
	struct demo_wa	 wa0 = { 0 };
	char		 text[DEMO_MSG_LEN], err[STORE_ERROR_LEN];
	int		 r;

	demo_env_base(d);
	if ((r = demo_start_lab(d)) != 0)
		return r;
	demo_env_daemon(d);
	snprintf(text, sizeof text, "respawn-lab: API %s, super proxy :%d, "
	    "WhatsApp :%d", d->api, d->ports.proxy, d->ports.wa);
	demo_heading(d, text);
	if ((r = store_open(d->db, &d->st, err)) < 0)
		return demo_fail(d, EX_IOERR, "%s", err);
	if ((r = demo_add_sessions(d)) != 0)
		return r;
	if ((r = demo_phase_start(d, &wa0)) == 0 &&
	    (r = demo_phase_kill(d, &wa0)) == 0)
		r = demo_phase_crash(d, &wa0);
	json_decref(wa0.phones);
	if (r == 0)
		r = demo_phase_stop(d);
	return r;
}

/* --- cleaning up ------------------------------------------------------ */

static int
demo_rm_cb(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)(flag == FTW_DP ? rmdir(path) : unlink(path));
	return 0;
}

/*
 * Stop everything the demo started, whatever state it is in: the daemon
 * (its process group), the connectors the store records, the lab, then a
 * sweep for anything of ours that escaped them (counted in d->leftover;
 * none is expected).
 */
static void
demo_cleanup(struct demo *d)
{
	const char	*exes[] = { d->self, d->lab, d->connector };
	int		 n;

	demo_kill_serve(d);
	(void)demo_kill_connectors(d);
	if (d->lab_pid > 0)
		(void)demo_proc_stop(d->lab_pid, SIGTERM, DEMO_KILL_MS, NULL);
	d->lab_pid = 0;
	if (d->dir_made) {
		n = demo_proc_sweep(d->dir, exes, nitems(exes));
		d->leftover = n;
		if (n > 0) {
			/* Killed now; give the kernel a moment to reap them. */
			demo_proc_sleep_ms(DEMO_POLL_MS);
			(void)demo_proc_sweep(d->dir, exes, nitems(exes));
		}
	}
	store_close(d->st);
	d->st = NULL;
	if (d->dir_made && !d->keep)
		(void)nftw(d->dir, demo_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- the command ------------------------------------------------------ */

static int
cmd_demo_parse(struct demo *d, int argc, char **argv, bool *ret_help)
{
	static const struct option opts[] = {
		{ "sessions", required_argument, NULL, 'n' },
		{ "keep", no_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "lab", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	c;

	*ret_help = false;
	optind = 0;	/* glibc: reinitialise, as main() already parsed */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (util_parse_i64(optarg, DEMO_SESSIONS_MIN,
			    DEMO_SESSIONS_MAX, &d->sessions) < 0)
				return cli_usage_error(DEMO_USAGE, "demo: "
				    "--sessions '%s': a number from %d to %d",
				    optarg, DEMO_SESSIONS_MIN,
				    DEMO_SESSIONS_MAX);
			break;
		case 'k':
			d->keep = true;
			break;
		case 'j':
			d->json = true;
			break;
		case 'l':
			d->lab_opt = optarg;
			break;
		case 'h':
			*ret_help = true;
			return EX_OK;
		default:
			return cli_usage_error(DEMO_USAGE, "demo: unknown "
			    "option");
		}
	}
	if (optind != argc)
		return cli_usage_error(DEMO_USAGE, "demo: unexpected argument "
		    "'%s'", argv[optind]);
	return EX_OK;
}

static void
cmd_demo_help(void)
{
	printf("usage: respawn %s\n\n"
	    "Starts respawn-lab (a local Bright Data and WhatsApp stand-in) "
	    "and a daemon\non SQLite in a temporary directory with N "
	    "sessions across countries, then\nkills the daemon with SIGKILL "
	    "and restarts it, simulates a host crash and\nrestarts it, and "
	    "prints what was recovered, reactivated and bought.\n"
	    "Everything it starts is stopped, and the directory removed, on "
	    "exit.\n\n"
	    "  --sessions N  sessions to run, %d to %d (default %d)\n"
	    "  --keep        keep the temporary directory (store, logs)\n"
	    "  --json        the summary as JSON on stdout (the narrative "
	    "goes to stderr)\n"
	    "  --lab DIR     where respawn-lab and respawn-lab-connector are "
	    "(default:\n                lab/ next to this binary)\n\n"
	    "Exit status 0 when every phase succeeded: all sessions ready "
	    "after each\nrestart, every connector re-adopted, every proxy "
	    "reactivated, no conflict,\nno IP changed.\n", DEMO_USAGE,
	    DEMO_SESSIONS_MIN, DEMO_SESSIONS_MAX, DEMO_SESSIONS_DEFAULT);
}

static int
cmd_demo(struct cli *cli, int argc, char **argv)
{
	static struct demo	 demo;
	struct demo		*d = &demo;
	struct sigaction	 sa, old_int, old_term, old_hup, old_pipe;
	const char		*tmp;
	size_t			 i;
	bool			 help;
	int			 ex, sig;

	memset(d, 0, sizeof *d);
	d->sessions = DEMO_SESSIONS_DEFAULT;
	if ((ex = cmd_demo_parse(d, argc, argv, &help)) != EX_OK || help) {
		if (help)
			cmd_demo_help();
		return ex;
	}
	d->out = d->json ? stderr : stdout;
	d->tty = isatty(fileno(d->out));
	d->t0 = util_mono_ms();
	d->sum = json_object();
	d->failures = json_array();
	if ((ex = demo_find_self(d)) != 0 || (ex = demo_find_lab(d)) != 0)
		goto out;

	/*
	 * From here every exit path goes through demo_cleanup: a signal
	 * only sets a flag (no SA_RESTART, so sleeps end early), and the
	 * phases give up at their next step.  SIGPIPE is ignored so that a
	 * closed stdout cannot kill the demo before it stopped its children.
	 */
	demo_signal = 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = demo_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	/* Ignored on purpose by the caller (a background job, nohup). */
	if (old_int.sa_handler == SIG_IGN)
		sigaction(SIGINT, &old_int, NULL);
	if (old_hup.sa_handler == SIG_IGN)
		sigaction(SIGHUP, &old_hup, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old_pipe);

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	if (snprintf(d->dir, sizeof d->dir, "%s/respawn-demo.XXXXXX", tmp) >=
	    (int)sizeof d->dir || mkdtemp(d->dir) == NULL) {
		ex = demo_fail(d, EX_CANTCREAT, "cannot make a temporary "
		    "directory under %s: %s", tmp, strerror(errno));
		goto restore;
	}
	d->dir_made = true;
	snprintf(d->db, sizeof d->db, "%s/respawn.db", d->dir);
	/* First in the JSON, filled in at the end. */
	json_object_set_new(d->sum, "ok", json_false());
	json_object_set_new(d->sum, "sessions", json_integer(d->sessions));
	json_object_set_new(d->sum, "provider", json_string("brightdata"));
	json_object_set_new(d->sum, "store", json_string("sqlite"));
	json_object_set_new(d->sum, "dir", json_string(d->dir));
	json_object_set_new(d->sum, "kept", json_boolean(d->keep));
	demo_say(d, "respawn demo: %lld sessions, store and logs in %s",
	    (long long)d->sessions, d->dir);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ex = demo_fail(d, EX_SOFTWARE, "curl_global_init failed");
	} else {
		ex = demo_run(d);
		curl_global_cleanup();
	}
	if (ex == -EINTR)
		ex = 0;
	if (ex == 0 && json_array_size(d->failures) > 0)
		ex = EX_SOFTWARE;

restore:
	demo_cleanup(d);
	sig = demo_signal;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	if (sig != 0) {
		cli_error("demo", "interrupted by %s; everything it started is "
		    "stopped%s", strsignal(sig), d->keep ? "" :
		    " and its directory removed");
		ex = 128 + sig;
	} else if (d->dir_made) {
		json_object_set_new(d->sum, "countries",
		    json_integer(d->countries));
		demo_summary(d, ex == 0);
	}
out:
	for (i = 0; i < d->n_env; i++)
		free(d->env[i]);
	d->n_env = 0;
	json_decref(d->sum);
	json_decref(d->failures);
	return ex;
}

const struct cli_command cmd_demo_commands[] = {
	{ "demo", cmd_demo, DEMO_USAGE,
	  "the main job: lab, daemon, kill -9, host crash, recovery", false },
	{ NULL, NULL, NULL, NULL, false },
};
