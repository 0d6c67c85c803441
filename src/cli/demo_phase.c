/*
 * The phases of `respawn demo` (see cmd_demo.c and demo_impl.h): the
 * daemon started and brought up, killed with SIGKILL and restarted, killed
 * with every connector (a host crash) and restarted, and stopped with
 * SIGTERM; each judged by what the store and respawn-lab's admin API say,
 * never by the daemon's logs.  Also the processes the phases start and
 * kill: the lab, the daemon and the connectors the store records.
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "cli/cli.h"
#include "cli/demo_impl.h"
#include "cli/demo_lab.h"
#include "cli/demo_proc.h"
#include "sys/procinfo.h"

#define DEMO_LAB_START_MS	10000	/* until the lab's ports file appears */
#define DEMO_PHASE_MS		45000	/* until every session is ready */
#define DEMO_DISCONNECT_MS	5000	/* until WhatsApp sees the crash */
#define DEMO_STOP_MS		15000	/* a graceful stop (connectors: 10 s) */
#define DEMO_FALLBACK_PAIRS	16
#define DEMO_LAB_PING_MS	"500"

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

int
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

void
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
int
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

/* --- the phases ------------------------------------------------------- */

/* The first start: every IP bought, sessions up, fallbacks taken. */
int
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
	for (i = 0; i < demo_ncountries; i++)
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
int
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
int
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
int
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

