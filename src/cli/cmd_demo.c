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
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "cli/cli.h"
#include "cli/demo_lab.h"
#include "cli/demo_proc.h"
#include "sys/procinfo.h"

#define DEMO_USAGE	"demo [--sessions N] [--keep] [--json] [--lab DIR]"
#define DEMO_SESSIONS_DEFAULT	50
#define DEMO_SESSIONS_MIN	3	/* one per country without inventory */
#define DEMO_SESSIONS_MAX	200	/* well within the lab's inventory */
#define DEMO_PATH_LEN		PATH_MAX
#define DEMO_ENV_MAX		48	/* the daemon's environment */
#define DEMO_LAB_START_MS	10000	/* until the lab's ports file appears */
#define DEMO_PHASE_MS		45000	/* until every session is ready */
#define DEMO_DISCONNECT_MS	5000	/* until WhatsApp sees the crash */
#define DEMO_STOP_MS		15000	/* a graceful stop (connectors: 10 s) */
#define DEMO_KILL_MS		3000	/* a process killed with SIGKILL */
#define DEMO_POLL_MS		100
#define DEMO_PLAIN_EVERY_MS	1000	/* progress lines off a terminal */
#define DEMO_TAIL_LINES		12	/* of a log, shown on a failure */
#define DEMO_TAIL_MAX		(64 * 1024)
#define DEMO_MSG_LEN		512
#define DEMO_FALLBACK_PAIRS	16
#define DEMO_READY_DELAY_MS	"200"	/* the lab connector's READY=1 */
#define DEMO_LAB_PING_MS	"500"

/*
 * The sessions: countries in fixed proportions (for 50: 8 us, 6 gb, ...),
 * and one session in each of be, bd and ng, where the lab has no IPs (they
 * fall back to nl, in and za).  The prefixes are the countries' own, so
 * the phones look like what they stand for.
 */
static const struct demo_country {
	const char	*cc;
	const char	*prefix;
	int		 weight;	/* 0: exactly one session */
} demo_countries[] = {
	{ "us", "+1415555", 8 }, { "gb", "+4477009", 6 },
	{ "de", "+4915112", 6 }, { "fr", "+3361234", 5 },
	{ "nl", "+3161234", 4 }, { "in", "+9198765", 4 },
	{ "sg", "+659123", 3 }, { "za", "+2782555", 3 },
	{ "br", "+5511987", 3 }, { "jp", "+8190123", 3 },
	{ "es", "+3461234", 2 }, { "be", "+3247012", 0 },
	{ "bd", "+8801712", 0 }, { "ng", "+2348031", 0 },
};

/* Environment the daemon keeps from ours; everything else is the demo's. */
static const char *const demo_env_keep[] = {
	"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME",
	"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};

/* What the store says about one session. */
struct demo_sess {
	int64_t	id;
	char	phone[PHONE_LEN];
	char	country[COUNTRY_CODE_LEN];
	char	proxy_country[COUNTRY_CODE_LEN];	/* "" without one */
	bool	ready;		/* ready, for the instance looked for */
	bool	graceful;
	int64_t	pid;
	int64_t	ticks;
};

struct demo_snap {
	struct demo_sess	s[DEMO_SESSIONS_MAX];
	size_t			n;
	int64_t			ready;
	int64_t			graceful;
	int64_t			fallback;
	const char		*owner;	/* count only its ready sessions */
};

/* What the WhatsApp stand-in sees, from /lab/wa. */
struct demo_wa {
	int64_t	 connected;
	int64_t	 connects;
	int64_t	 conflicts;
	json_t	*phones;	/* phone -> {ip, country, ...} */
};

struct demo {
	/* Options. */
	int64_t		 sessions;
	bool		 keep;
	bool		 json;
	const char	*lab_opt;

	/* Paths: this binary, the lab's two, the temporary directory. */
	char		 self[DEMO_PATH_LEN];
	char		 lab[DEMO_PATH_LEN];
	char		 connector[DEMO_PATH_LEN];
	char		 dir[DEMO_PATH_LEN];
	bool		 dir_made;
	char		 db[DEMO_PATH_LEN];
	char		 api[DEMO_LAB_URL_LEN];
	struct demo_lab_ports ports;

	/* What runs. */
	pid_t		 lab_pid;
	pid_t		 serve_pid;
	int		 serve_n;
	char		 serve_log[DEMO_PATH_LEN];
	char		 instance[STORE_ID_LEN];
	struct store	*st;
	char		*env[DEMO_ENV_MAX + 1];
	size_t		 n_env;

	/* Output. */
	FILE		*out;
	bool		 tty;
	int64_t		 t0;

	/* Figures, kept as the JSON summary is built. */
	json_t		*sum;
	json_t		*failures;
	int64_t		 countries;
	int64_t		 conflicts;
	int64_t		 ips_changed;
	int64_t		 leftover;
	struct demo_snap snap;	/* large: kept out of the stack */
	struct demo_snap before;
};

static volatile sig_atomic_t	demo_signal;

static void
demo_on_signal(int sig)
{
	demo_signal = sig;
}

/* --- output ------------------------------------------------------------- */

static void
demo_say(struct demo *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
demo_say(struct demo *d, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	fflush(d->out);
}

/* A phase's heading, in bold on a terminal. */
static void
demo_heading(struct demo *d, const char *text)
{
	if (d->tty)
		fprintf(d->out, "\033[1m== %s\033[0m\n", text);
	else
		fprintf(d->out, "== %s\n", text);
	fflush(d->out);
}

/* The last lines of a log, to show why something did not start. */
static void
demo_tail(const char *path)
{
	char		 buf[DEMO_TAIL_MAX + 1], *p;
	ssize_t		 n;
	off_t		 size;
	int		 fd, lines = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > DEMO_TAIL_MAX)
		(void)lseek(fd, size - DEMO_TAIL_MAX, SEEK_SET);
	else
		(void)lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, DEMO_TAIL_MAX);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (p = buf + n - 1; p > buf; p--)
		if (*p == '\n' && p[1] != '\0' && ++lines > DEMO_TAIL_LINES) {
			p++;
			break;
		}
	cli_say("demo: the last lines of %s:", path);
	cli_print_lines(p);
	if (buf[n - 1] != '\n')
		fputc('\n', stderr);
}

/* A fatal error of the demo itself: printed once, on stderr. */
static int
demo_fail(struct demo *d, int ex, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
demo_fail(struct demo *d, int ex, const char *fmt, ...)
{
	char	msg[DEMO_MSG_LEN];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cli_error("demo", "%s", msg);
	if (d->failures != NULL)
		json_array_append_new(d->failures, json_string(msg));
	return ex;
}

/* Where a log named in an error goes at exit. */
static const char *
demo_keep_hint(const struct demo *d)
{
	return d->keep ? "" : " (the logs are removed at exit; --keep keeps "
	    "them)";
}

/* A check of what the demo shows; a failed one fails the demo. */
static bool
demo_check(struct demo *d, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
demo_check(struct demo *d, bool ok, const char *fmt, ...)
{
	char	msg[DEMO_MSG_LEN];
	va_list	ap;

	if (ok)
		return true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cli_error("demo", "check failed: %s", msg);
	json_array_append_new(d->failures, json_string(msg));
	return false;
}

static void
demo_progress(struct demo *d, int64_t ready, int64_t ms, bool done)
{
	static int64_t	last_ms = -DEMO_PLAIN_EVERY_MS, last_ready;
	int		width = 40, fill, i;

	if (d->tty) {
		fill = (int)(ready * width / d->sessions);
		fputs("\r  [", d->out);
		for (i = 0; i < width; i++)
			fputc(i < fill ? '#' : '.', d->out);
		fprintf(d->out, "] %lld/%lld ready  %.1f s", (long long)ready,
		    (long long)d->sessions, (double)ms / 1000.0);
		if (done)
			fputc('\n', d->out);
	} else if (done || (ready != last_ready &&
	    ms - last_ms >= DEMO_PLAIN_EVERY_MS)) {
		/* Plain lines, at most one a second, for logs and pipes. */
		fprintf(d->out, "  ready %lld/%lld  %.1f s\n", (long long)ready,
		    (long long)d->sessions, (double)ms / 1000.0);
		last_ms = ms;
		last_ready = ready;
	}
	if (done) {
		last_ms = -DEMO_PLAIN_EVERY_MS;
		last_ready = 0;
	}
	fflush(d->out);
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

/* --- reading the store and the lab ------------------------------------ */

static int
demo_snap_session(const struct session *s, void *arg)
{
	struct demo_snap	*sn = arg;
	struct demo_sess	*x;

	if (sn->n == DEMO_SESSIONS_MAX)
		return 0;
	x = &sn->s[sn->n++];
	memset(x, 0, sizeof *x);
	x->id = s->id;
	(void)util_strlcpy(x->phone, s->phone, sizeof x->phone);
	(void)util_strlcpy(x->country, s->country, sizeof x->country);
	x->ready = s->status == SESSION_STATUS_READY && sn->owner != NULL &&
	    strcmp(s->owner, sn->owner) == 0;
	x->graceful = s->graceful_shutdown;
	x->pid = s->connector_pid;
	x->ticks = s->connector_started_at;
	sn->ready += x->ready;
	sn->graceful += x->graceful;
	return 0;
}

static int
demo_snap_proxy(const struct proxy_row *p, void *arg)
{
	struct demo_snap	*sn = arg;
	size_t			 i;

	if (p->state != PROXY_ACTIVE || p->session_id == 0)
		return 0;
	for (i = 0; i < sn->n; i++)
		if (sn->s[i].id == p->session_id)
			(void)util_strlcpy(sn->s[i].proxy_country, p->country,
			    sizeof sn->s[i].proxy_country);
	return 0;
}

/*
 * The sessions as the store has them; owner (or NULL) is the instance
 * whose ready sessions count.  A session on a fallback country is one
 * whose active proxy is in another country than its own.
 */
static int
demo_snapshot(struct demo *d, struct demo_snap *sn, const char *owner)
{
	size_t	i;
	int	r;

	sn->n = 0;
	sn->ready = sn->graceful = sn->fallback = 0;
	sn->owner = owner;
	if ((r = store_session_list(d->st, demo_snap_session, sn)) < 0 ||
	    (r = store_proxy_list(d->st, demo_snap_proxy, sn)) < 0)
		return r;
	for (i = 0; i < sn->n; i++)
		if (sn->s[i].proxy_country[0] != '\0' &&
		    strcmp(sn->s[i].proxy_country, sn->s[i].country) != 0)
			sn->fallback++;
	return 0;
}

struct demo_inst {
	pid_t	pid;
	char	id[STORE_ID_LEN];
	bool	running;
};

static int
demo_inst_cb(const struct instance *i, void *arg)
{
	struct demo_inst	*di = arg;

	if (i->pid == di->pid && i->status == INSTANCE_RUNNING) {
		(void)util_strlcpy(di->id, i->id, sizeof di->id);
		di->running = true;
	}
	return 0;
}

static int
demo_lab_wa(struct demo *d, struct demo_wa *wa)
{
	char		 err[DEMO_LAB_ERR_LEN];
	const char	*phone;
	json_t		*o, *p;
	int		 r;

	memset(wa, 0, sizeof *wa);
	if ((r = demo_lab_get(d->api, "/lab/wa", &o, err)) < 0)
		return demo_fail(d, EX_UNAVAILABLE, "respawn-lab: %s", err);
	wa->phones = json_incref(json_object_get(o, "phones"));
	json_decref(o);
	if (!json_is_object(wa->phones)) {
		json_decref(wa->phones);
		wa->phones = NULL;
		return demo_fail(d, EX_PROTOCOL, "respawn-lab: /lab/wa has no "
		    "phones");
	}
	json_object_foreach(wa->phones, phone, p) {
		wa->connected += json_is_true(json_object_get(p, "connected"));
		wa->connects += json_integer_value(json_object_get(p,
		    "connects"));
		wa->conflicts += json_integer_value(json_object_get(p,
		    "conflicts"));
	}
	return 0;
}

/* IPs the lab sold (released or not), and what it billed, in dollars. */
static int
demo_lab_ledger(struct demo *d, int64_t *ret_sold, double *ret_spend)
{
	char	 err[DEMO_LAB_ERR_LEN];
	json_t	*o;
	int	 r;

	if ((r = demo_lab_get(d->api, "/lab/ledger", &o, err)) < 0)
		return demo_fail(d, EX_UNAVAILABLE, "respawn-lab: %s", err);
	*ret_sold = (int64_t)json_array_size(json_object_get(o,
	    "allocations"));
	*ret_spend = json_number_value(json_object_get(json_object_get(o,
	    "spend"), "total_usd"));
	json_decref(o);
	return 0;
}

/* --- processes -------------------------------------------------------- */

static int
demo_start_lab(struct demo *d)
{
	char	ports[DEMO_PATH_LEN], log[DEMO_PATH_LEN];
	char	err[DEMO_PROC_ERR_LEN];
	char	*argv[] = { d->lab, "--api-port", "0", "--proxy-port", "0",
		    "--wa-port", "0", "--ports-file", ports, "--ping-ms",
		    DEMO_LAB_PING_MS, NULL };
	int64_t	t0 = util_mono_ms();
	int	status = 0, r;

	snprintf(ports, sizeof ports, "%s/lab.ports", d->dir);
	snprintf(log, sizeof log, "%s/lab.log", d->dir);
	if (demo_proc_spawn(argv, d->env, log, &d->lab_pid, err) < 0)
		return demo_fail(d, EX_OSERR, "%s", err);
	for (;;) {
		if (demo_signal)
			return -EINTR;
		if (demo_lab_read_ports(ports, &d->ports) == 0)
			break;
		if ((r = demo_proc_exited(d->lab_pid, &status)) != 0) {
			d->lab_pid = 0;
			r = demo_fail(d, EX_UNAVAILABLE, "respawn-lab exited "
			    "at start (status %d)", WIFEXITED(status) ?
			    WEXITSTATUS(status) : 128 + WTERMSIG(status));
			demo_tail(log);
			return r;
		}
		if (util_mono_ms() - t0 > DEMO_LAB_START_MS) {
			r = demo_fail(d, EX_UNAVAILABLE, "respawn-lab did not "
			    "write %s within %d s", ports,
			    DEMO_LAB_START_MS / 1000);
			demo_tail(log);
			return r;
		}
		demo_proc_sleep_ms(DEMO_POLL_MS / 2);
	}
	snprintf(d->api, sizeof d->api, "http://127.0.0.1:%d", d->ports.api);
	return 0;
}

static int
demo_start_serve(struct demo *d)
{
	char	err[DEMO_PROC_ERR_LEN];
	char	*argv[] = { d->self, "serve", NULL };

	d->serve_n++;
	snprintf(d->serve_log, sizeof d->serve_log, "%s/serve%d.log", d->dir,
	    d->serve_n);
	d->instance[0] = '\0';
	if (demo_proc_spawn(argv, d->env, d->serve_log, &d->serve_pid,
	    err) < 0) {
		d->serve_pid = 0;
		return demo_fail(d, EX_OSERR, "%s", err);
	}
	return 0;
}

static void
demo_kill_serve(struct demo *d)
{
	if (d->serve_pid > 0)
		(void)demo_proc_stop(d->serve_pid, SIGKILL, DEMO_KILL_MS, NULL);
	d->serve_pid = 0;
}

/*
 * SIGKILL every connector the store records (the process groups the
 * daemons started them in), and wait until they are gone.  Returns how
 * many were signalled.
 */
static int
demo_kill_connectors(struct demo *d)
{
	struct demo_snap	*sn = &d->snap;
	int64_t			 t0;
	size_t			 i;
	int			 killed = 0;
	bool			 alive;

	if (d->st == NULL || demo_snapshot(d, sn, NULL) < 0)
		return 0;
	for (i = 0; i < sn->n; i++)
		killed += demo_proc_kill_group((pid_t)sn->s[i].pid,
		    (uint64_t)sn->s[i].ticks);
	for (t0 = util_mono_ms(); util_mono_ms() - t0 < DEMO_KILL_MS;) {
		alive = false;
		for (i = 0; i < sn->n && !alive; i++)
			alive = sn->s[i].pid > 1 && procinfo_same(
			    (pid_t)sn->s[i].pid, (uint64_t)sn->s[i].ticks);
		if (!alive)
			break;
		demo_proc_sleep_ms(DEMO_PROC_POLL_MS);
	}
	return killed;
}

/*
 * Wait until the running daemon has every session ready, showing the
 * progress: its instance is running, each session is ready under it, and
 * with need_run its recovery run is recorded.  Returns 0, -EINTR on a
 * signal, or an exit status after saying what went wrong.
 */
static int
demo_wait_ready(struct demo *d, bool need_run, int64_t *ret_ms)
{
	struct demo_inst	di;
	struct recovery_run	run;
	int64_t			t0 = util_mono_ms(), ms;
	int			status = 0, r;
	bool			done;

	for (;;) {
		if (demo_signal)
			return -EINTR;
		ms = util_mono_ms() - t0;
		if (demo_proc_exited(d->serve_pid, &status) != 0) {
			d->serve_pid = 0;
			if (d->tty)
				fputc('\n', d->out);
			r = demo_fail(d, EX_SOFTWARE, "the daemon exited "
			    "(status %d)%s", WIFEXITED(status) ?
			    WEXITSTATUS(status) : 128 + WTERMSIG(status),
			    demo_keep_hint(d));
			demo_tail(d->serve_log);
			return r;
		}
		memset(&di, 0, sizeof di);
		di.pid = d->serve_pid;
		if (store_instance_list(d->st, demo_inst_cb, &di) < 0 ||
		    demo_snapshot(d, &d->snap, di.running ? di.id : NULL) < 0)
			return cli_store_error(d->st, "demo", -EIO);
		done = di.running && d->snap.ready == d->sessions &&
		    (!need_run || (store_recovery_run_last(d->st, &run) == 0 &&
		    strcmp(run.instance_id, di.id) == 0));
		demo_progress(d, d->snap.ready, ms, done);
		if (done) {
			(void)util_strlcpy(d->instance, di.id,
			    sizeof d->instance);
			*ret_ms = ms;
			return 0;
		}
		if (ms > DEMO_PHASE_MS) {
			demo_progress(d, d->snap.ready, ms, true);
			r = demo_fail(d, EX_SOFTWARE, "%lld of %lld sessions "
			    "ready after %d s%s", (long long)d->snap.ready,
			    (long long)d->sessions, DEMO_PHASE_MS / 1000,
			    demo_keep_hint(d));
			demo_tail(d->serve_log);
			return r;
		}
		demo_proc_sleep_ms(DEMO_POLL_MS);
	}
}

/* The fallbacks taken, as "be->nl" pairs with their counts. */
static json_t *
demo_fallbacks(const struct demo_snap *sn)
{
	json_t	*a = json_array(), *o;
	size_t	 i, j;
	bool	 seen;

	for (i = 0; i < sn->n; i++) {
		const struct demo_sess *x = &sn->s[i];

		if (x->proxy_country[0] == '\0' ||
		    strcmp(x->proxy_country, x->country) == 0)
			continue;
		seen = false;
		json_array_foreach(a, j, o)
			if (strcmp(json_string_value(json_object_get(o,
			    "requested")), x->country) == 0 &&
			    strcmp(json_string_value(json_object_get(o,
			    "country")), x->proxy_country) == 0) {
				json_object_set_new(o, "sessions", json_integer(
				    json_integer_value(json_object_get(o,
				    "sessions")) + 1));
				seen = true;
				break;
			}
		if (!seen && json_array_size(a) < DEMO_FALLBACK_PAIRS)
			json_array_append_new(a, json_pack("{s:s, s:s, s:i}",
			    "requested", x->country, "country",
			    x->proxy_country, "sessions", 1));
	}
	return a;
}

static void
demo_fallback_text(json_t *pairs, char *buf, size_t size)
{
	json_t	*o;
	size_t	 i, len = 0;

	buf[0] = '\0';
	json_array_foreach(pairs, i, o) {
		if (len >= size)
			break;
		len += (size_t)snprintf(buf + len, size - len, "%s%s->%s",
		    i ? ", " : "", json_string_value(json_object_get(o,
		    "requested")), json_string_value(json_object_get(o,
		    "country")));
	}
}

/* --- the phases ------------------------------------------------------- */

/* The first start: every IP bought, sessions up, fallbacks taken. */
static int
demo_phase_start(struct demo *d, struct demo_wa *wa0)
{
	char		 text[DEMO_MSG_LEN], countries[DEMO_MSG_LEN];
	const char	*phone;
	json_t		*ph, *by, *v, *pairs;
	struct demo_wa	 wa;
	double		 spend;
	int64_t		 ms, sold;
	size_t		 len = 0, i;
	int		 r;

	snprintf(text, sizeof text, "respawn serve: %lld sessions in %lld "
	    "countries, IPs bought from the provider", (long long)d->sessions,
	    (long long)d->countries);
	demo_heading(d, text);
	if ((r = demo_start_serve(d)) != 0 ||
	    (r = demo_wait_ready(d, false, &ms)) != 0)
		return r;
	if ((r = demo_lab_ledger(d, &sold, &spend)) != 0 ||
	    (r = demo_lab_wa(d, &wa)) != 0)
		return r;
	pairs = demo_fallbacks(&d->snap);
	demo_fallback_text(pairs, text, sizeof text);
	by = json_object();
	json_object_foreach(wa.phones, phone, ph) {
		const char *cc = json_string_value(json_object_get(ph,
		    "country"));

		if (cc == NULL)
			continue;
		json_object_set_new(by, cc, json_integer(json_integer_value(
		    json_object_get(by, cc)) + 1));
	}
	/* In the table's order, which every proxy country is part of. */
	countries[0] = '\0';
	for (i = 0; i < nitems(demo_countries); i++)
		if ((v = json_object_get(by, demo_countries[i].cc)) != NULL &&
		    len < sizeof countries)
			len += (size_t)snprintf(countries + len,
			    sizeof countries - len, " %s=%lld",
			    demo_countries[i].cc,
			    (long long)json_integer_value(v));
	json_decref(by);
	demo_say(d, "  bought %lld IPs at the account API (its key from Secret "
	    "Manager), $%.2f so far", (long long)sold, spend);
	demo_say(d, "  %lld sessions on a fallback country: %s (none for sale "
	    "there)", (long long)d->snap.fallback, text);
	demo_say(d, "  WhatsApp: %lld connected, IPs in%s",
	    (long long)wa.connected, countries);
	json_object_set_new(d->sum, "firstStart", json_pack("{s:I, s:I, s:I, "
	    "s:I, s:I}", "ready", (json_int_t)d->snap.ready, "readyMs",
	    (json_int_t)ms, "bought", (json_int_t)sold, "fallback",
	    (json_int_t)d->snap.fallback, "connected",
	    (json_int_t)wa.connected));
	json_object_set_new(d->sum, "fallbacks", pairs);
	demo_check(d, wa.connected == d->sessions, "first start: %lld of "
	    "%lld phones connected at WhatsApp", (long long)wa.connected,
	    (long long)d->sessions);
	*wa0 = wa;
	return 0;
}

/* kill -9 of the daemon alone: the connectors live on and are adopted. */
static int
demo_phase_kill(struct demo *d, const struct demo_wa *wa0)
{
	struct demo_wa	wa;
	int64_t		ms, adopted = 0, reconnects;
	size_t		i, j;
	pid_t		old = d->serve_pid;
	char		text[DEMO_MSG_LEN];
	int		r;

	snprintf(text, sizeof text, "kill -9 the daemon (pid %d), connectors "
	    "live on; restart it", (int)old);
	demo_heading(d, text);
	d->before = d->snap;
	demo_kill_serve(d);
	if ((r = demo_start_serve(d)) != 0 ||
	    (r = demo_wait_ready(d, false, &ms)) != 0)
		return r;
	for (i = 0; i < d->snap.n; i++)
		for (j = 0; j < d->before.n; j++)
			if (d->snap.s[i].id == d->before.s[j].id &&
			    d->snap.s[i].pid > 1 &&
			    d->snap.s[i].pid == d->before.s[j].pid &&
			    d->snap.s[i].ticks == d->before.s[j].ticks)
				adopted++;
	if ((r = demo_lab_wa(d, &wa)) != 0)
		return r;
	reconnects = wa.connects - wa0->connects;
	json_decref(wa.phones);
	demo_say(d, "  re-adopted connectors: %lld of %lld (same pid), "
	    "reconnects at WhatsApp: %lld", (long long)adopted,
	    (long long)d->sessions, (long long)reconnects);
	json_object_set_new(d->sum, "daemonKill", json_pack("{s:I, s:I, s:I, "
	    "s:I, s:I}", "ready", (json_int_t)d->snap.ready, "readyMs",
	    (json_int_t)ms, "adopted", (json_int_t)adopted, "reconnects",
	    (json_int_t)reconnects, "connected", (json_int_t)wa.connected));
	demo_check(d, adopted == d->sessions, "kill -9: %lld of %lld "
	    "connectors re-adopted", (long long)adopted,
	    (long long)d->sessions);
	demo_check(d, reconnects == 0, "kill -9: %lld reconnects at WhatsApp",
	    (long long)reconnects);
	return 0;
}

/* A host crash: the daemon and every connector killed, then a restart. */
static int
demo_phase_crash(struct demo *d, const struct demo_wa *wa0)
{
	struct recovery_run	run;
	struct demo_wa		wa;
	const char		*phone;
	json_t			*p, *q;
	int64_t			ms, t0, sold0, sold, killed;
	double			spend;
	int			r;

	demo_heading(d, "host crash: kill -9 the daemon and every connector; "
	    "restart");
	if ((r = demo_lab_ledger(d, &sold0, &spend)) != 0)
		return r;
	demo_kill_serve(d);
	killed = demo_kill_connectors(d);
	/* The crash is complete when WhatsApp has seen every phone go. */
	for (t0 = util_mono_ms();;) {
		if (demo_signal)
			return -EINTR;
		if ((r = demo_lab_wa(d, &wa)) != 0)
			return r;
		json_decref(wa.phones);
		if (wa.connected == 0 ||
		    util_mono_ms() - t0 > DEMO_DISCONNECT_MS)
			break;
		demo_proc_sleep_ms(DEMO_POLL_MS);
	}
	demo_say(d, "  killed the daemon and %lld connectors; WhatsApp: %lld "
	    "phones connected", (long long)killed, (long long)wa.connected);
	if ((r = demo_start_serve(d)) != 0 ||
	    (r = demo_wait_ready(d, true, &ms)) != 0)
		return r;
	if (store_recovery_run_last(d->st, &run) < 0)
		return cli_store_error(d->st, "demo", -EIO);
	if ((r = demo_lab_ledger(d, &sold, &spend)) != 0 ||
	    (r = demo_lab_wa(d, &wa)) != 0)
		return r;
	/* What WhatsApp saw before the crash against what it sees now. */
	d->ips_changed = 0;
	json_object_foreach(wa0->phones, phone, p) {
		q = json_object_get(wa.phones, phone);
		if (q == NULL || !json_equal(json_object_get(p, "ip"),
		    json_object_get(q, "ip")))
			d->ips_changed++;
	}
	d->conflicts = wa.conflicts;
	json_decref(wa.phones);
	demo_say(d, "  recovered %lld/%lld: %lld reactivated (same IP), %lld "
	    "reused, %lld bought; %lld ms each",
	    (long long)run.recovered, (long long)run.sessions_total,
	    (long long)run.reactivated, (long long)run.reused,
	    (long long)(sold - sold0), (long long)(run.recovered ?
	    run.total_recovery_ms / run.recovered : 0));
	demo_say(d, "  phones on another IP than before the crash: %lld; "
	    "conflicts at WhatsApp: %lld", (long long)d->ips_changed,
	    (long long)d->conflicts);
	json_object_set_new(d->sum, "hostCrash", json_pack("{s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connectorsKilled",
	    (json_int_t)killed, "ready", (json_int_t)d->snap.ready,
	    "readyMs", (json_int_t)ms, "recovered", (json_int_t)run.recovered,
	    "reactivated", (json_int_t)run.reactivated, "reused",
	    (json_int_t)run.reused, "bought", (json_int_t)(sold - sold0),
	    "fallback", (json_int_t)d->snap.fallback, "avgRecoveryMs",
	    (json_int_t)(run.recovered ? run.total_recovery_ms /
	    run.recovered : 0), "ipsChanged", (json_int_t)d->ips_changed,
	    "connected", (json_int_t)wa.connected));
	json_object_set_new(d->sum, "recovered", json_integer(run.recovered));
	json_object_set_new(d->sum, "reactivated",
	    json_integer(run.reactivated));
	json_object_set_new(d->sum, "bought", json_integer(sold - sold0));
	json_object_set_new(d->sum, "fallback",
	    json_integer(d->snap.fallback));
	json_object_set_new(d->sum, "ipsChanged",
	    json_integer(d->ips_changed));
	json_object_set_new(d->sum, "conflicts", json_integer(d->conflicts));
	demo_check(d, run.recovered == d->sessions, "host crash: %lld of %lld "
	    "sessions recovered", (long long)run.recovered,
	    (long long)d->sessions);
	demo_check(d, run.reactivated == d->sessions, "host crash: %lld of "
	    "%lld proxies reactivated", (long long)run.reactivated,
	    (long long)d->sessions);
	demo_check(d, d->ips_changed == 0, "host crash: %lld phones changed "
	    "IP", (long long)d->ips_changed);
	demo_check(d, d->conflicts == 0, "%lld conflicts at WhatsApp",
	    (long long)d->conflicts);
	return 0;
}

/* A graceful stop: connectors stopped, proxies kept, sessions marked. */
static int
demo_phase_stop(struct demo *d)
{
	int64_t	sold;
	double	spend;
	int	status = 0, r;

	demo_heading(d, "graceful stop (SIGTERM)");
	r = demo_proc_stop(d->serve_pid, SIGTERM, DEMO_STOP_MS, &status);
	d->serve_pid = 0;
	if (demo_snapshot(d, &d->snap, NULL) < 0)
		return cli_store_error(d->st, "demo", -EIO);
	demo_say(d, "  daemon exit %d: connectors stopped, %lld sessions "
	    "marked gracefulShutdown, proxies kept", WIFEXITED(status) ?
	    WEXITSTATUS(status) : 128 + WTERMSIG(status),
	    (long long)d->snap.graceful);
	json_object_set_new(d->sum, "gracefulShutdown",
	    json_integer(d->snap.graceful));
	demo_check(d, r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "graceful stop: the daemon did not exit 0 by itself");
	if ((r = demo_lab_ledger(d, &sold, &spend)) != 0)
		return r;
	json_object_set_new(d->sum, "spendUsd", json_real(spend));
	json_object_set_new(d->sum, "ipsSold", json_integer(sold));
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

static void
demo_summary(struct demo *d, bool ok)
{
	json_t	*s = d->sum;
	char	 text[DEMO_MSG_LEN];

	json_object_set_new(s, "ok", json_boolean(ok));
	json_object_set_new(s, "leftoverProcesses", json_integer(d->leftover));
	json_object_set_new(s, "elapsedMs", json_integer(util_mono_ms() -
	    d->t0));
	json_object_set_new(s, "failures", json_incref(d->failures));
	if (d->json) {
		json_dumpf(s, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		fflush(stdout);
		return;
	}
	if (json_object_get(s, "recovered") == NULL) {
		demo_say(d, "demo FAILED after %.1f s",
		    (double)(util_mono_ms() - d->t0) / 1000.0);
		return;
	}
	demo_fallback_text(json_object_get(s, "fallbacks"), text, sizeof text);
	demo_heading(d, "summary");
	demo_say(d, "  recovered after the host crash   %lld / %lld",
	    json_integer_value(json_object_get(s, "recovered")),
	    (long long)d->sessions);
	demo_say(d, "  proxies reactivated (same IP)    %lld",
	    json_integer_value(json_object_get(s, "reactivated")));
	demo_say(d, "  IPs bought for the recoveries    %lld",
	    json_integer_value(json_object_get(s, "bought")));
	demo_say(d, "  sessions on a fallback country   %lld (%s)",
	    json_integer_value(json_object_get(s, "fallback")), text);
	demo_say(d, "  phones whose IP changed          %lld",
	    json_integer_value(json_object_get(s, "ipsChanged")));
	demo_say(d, "  conflicts seen by WhatsApp       %lld",
	    json_integer_value(json_object_get(s, "conflicts")));
	demo_say(d, "  spend at the provider            $%.2f (%lld IPs, "
	    "first day)", json_real_value(json_object_get(s, "spendUsd")),
	    json_integer_value(json_object_get(s, "ipsSold")));
	demo_say(d, "demo %s in %.1f s; its processes stopped; %s %s",
	    ok ? "succeeded" : "FAILED", (double)(util_mono_ms() - d->t0) /
	    1000.0, d->keep ? "kept" : "removed", d->dir);
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
