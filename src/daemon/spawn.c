/*
 * Connectors as processes: see spawn.h.
 */
#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/argv.h"
#include "base/failpoint.h"
#include "base/intmap.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "core/pool.h"
#include "daemon/ctx.h"
#include "daemon/fleet.h"
#include "daemon/jobs.h"
#include "daemon/proxy.h"
#include "daemon/record.h"
#include "daemon/sessions.h"
#include "daemon/spawn.h"
#include "daemon/supervisor.h"
#include "provider/provider.h"
#include "store/storeq.h"
#include "sys/child.h"
#include "sys/notify.h"
#include "sys/procinfo.h"

struct spawn_early_exit {
	pid_t		 pid;		/* 0: free */
	int		 code;
	int64_t		 at;		/* monotonic ms */
};

struct spawn_early_notify {
	pid_t			 sid;	/* 0: free */
	int64_t			 at;	/* monotonic ms */
	struct notify_msg	 m;
};

/* An adopted connector's pidfd, watched. */
struct spawn_watch {
	LIST_ENTRY(spawn_watch)	 link;
	struct spawner		*sp;
	struct dsession		*ds;
};

struct spawner {
	LIST_HEAD(, spawn_watch) watches;
	struct dctx		*c;
	struct sessions		*reg;
	struct supervisor	*sup;
	struct jobs		*jobs;
	struct record		*rec;
	struct proxies		*px;
	char			**argv;		/* the connector command */
	/* Start connectors, side by side; the next start goes to next. */
	struct storeq		*threads[SPAWN_THREADS];
	unsigned		 next;
	struct notify		*notify;
	struct event		*ev_notify;
	struct event		*ev_sigchld;
	int64_t			 in_flight;	/* starts not yet answered */
	int64_t			 last_trim;
	struct spawn_stats	 stats;
	struct spawn_early_exit	 early_exit[SPAWN_EARLY_EXITS];
	size_t			 early_exit_next;
	struct spawn_early_notify early_notify[SPAWN_EARLY_NOTIFY];
	size_t			 early_notify_next;
	/* At start: connectors an earlier daemon left, by session id. */
	struct intmap		*leftovers;
	char			 sessions_dir[DAEMON_PATH_MAX];
};

/* A connector found at start (its working directory names the session). */
struct spawn_leftover {
	pid_t		 pid;
	uint64_t	 ticks;
};

static void	spawn_notify_cb(evutil_socket_t fd, short what, void *arg);
static void	spawn_sigchld_cb(evutil_socket_t fd, short what, void *arg);

/* --- connectors an earlier daemon left ---------------------------------- */

/* The session a path below the sessions directory names, or 0. */
static int64_t
spawn_session_of(const char *rest)
{
	int64_t	id;
	char	num[32];
	size_t	len;

	if (*rest++ != '/')
		return 0;
	len = strcspn(rest, "/");
	if (len == 0 || len >= sizeof num)
		return 0;
	memcpy(num, rest, len);
	num[len] = '\0';
	return util_parse_i64(num, 1, INT64_MAX, &id) < 0 ? 0 : id;
}

/*
 * One process working in a session directory.  A connector is the leader
 * of its own process session, and its parent does not work there too (a
 * browser it started may lead a session of its own).  A process whose
 * session leader is gone is what is left of a connector: its group goes.
 */
static int
spawn_scan_cb(pid_t pid, const char *rest, void *arg)
{
	struct spawner		*sp = arg;
	struct spawn_leftover	*lo;
	struct procinfo_ids	 pi;
	int64_t			 id = spawn_session_of(rest);
	uint64_t		 ticks;
	pid_t			 sid, parent;
	char			 link[64], cwd[DAEMON_PATH_MAX];
	ssize_t			 n;

	/* One read of /proc for all three: thousands of them at a start. */
	if (id == 0 || procinfo_ids(pid, &pi) < 0)
		return 0;
	sid = pi.sid;
	parent = pi.parent;
	ticks = pi.start_ticks;
	if (sid != pid) {
		if (sid > 1 && !procinfo_alive(sid)) {
			log_warn("connector.remains_stopped", LOGF_I("session",
			    id), LOGF_I("pid", pid), LOGF_S("msg", "what an "
			    "earlier connector left running: its group goes"));
			(void)child_signal_group(sid, SIGKILL);
		}
		return 0;
	}
	if (parent > 1) {
		snprintf(link, sizeof link, "/proc/%d/cwd", (int)parent);
		if ((n = readlink(link, cwd, sizeof cwd - 1)) > 0) {
			cwd[n] = '\0';
			if (spawn_session_of(cwd + (strncmp(cwd,
			    sp->sessions_dir, strlen(sp->sessions_dir)) == 0 ?
			    strlen(sp->sessions_dir) : 0)) == id)
				return 0;	/* the connector's own child */
		}
	}
	if ((lo = intmap_get(sp->leftovers, id)) != NULL) {
		/* Two of one phone already: keep the older, stop the other. */
		log_warn("connector.duplicate_stopped", LOGF_I("session", id),
		    LOGF_I("pid", ticks < lo->ticks ? lo->pid : pid));
		if (ticks < lo->ticks) {
			(void)child_signal_group(lo->pid, SIGKILL);
			lo->pid = pid;
			lo->ticks = ticks;
		} else
			(void)child_signal_group(pid, SIGKILL);
		return 0;
	}
	lo = xcalloc(1, sizeof *lo);
	lo->pid = pid;
	lo->ticks = ticks;
	intmap_put(sp->leftovers, id, lo);
	return 0;
}

/*
 * Before any session starts: every process whose working directory is a
 * session directory of this state directory, whatever the store managed
 * to record before the daemon went.
 */
static void
spawn_scan(struct spawner *sp)
{
	char	dir[DAEMON_PATH_MAX], real[PATH_MAX];

	snprintf(dir, sizeof dir, "%s/sessions", sp->c->cfg->state_dir);
	if (realpath(dir, real) == NULL ||
	    util_strlcpy(sp->sessions_dir, real, sizeof sp->sessions_dir) < 0)
		return;
	(void)procinfo_scan_cwd(sp->sessions_dir, spawn_scan_cb, sp);
	if (intmap_count(sp->leftovers) > 0)
		log_info("connector.leftovers", LOGF_I("connectors",
		    (int64_t)intmap_count(sp->leftovers)), LOGF_S("msg",
		    "connectors an earlier daemon left: each is taken over or "
		    "stopped before anything starts"));
}

static int
spawn_leftover_stop(int64_t id, void *value, void *arg)
{
	struct spawn_leftover	*lo = value;

	(void)arg;
	if (procinfo_same(lo->pid, lo->ticks)) {
		log_warn("connector.leftover_stopped", LOGF_I("session", id),
		    LOGF_I("pid", lo->pid), LOGF_S("msg", "its session is not "
		    "this instance's to run (removed, stopped or a peer's)"));
		(void)child_signal_group(lo->pid, SIGKILL);
	}
	free(lo);
	return 0;
}

void
spawn_stop_leftovers(struct spawner *sp)
{
	if (sp->leftovers == NULL)
		return;
	(void)intmap_walk(sp->leftovers, spawn_leftover_stop, sp);
	intmap_free(sp->leftovers);
	sp->leftovers = NULL;
}

int
spawner_new(struct dctx *c, struct sessions *reg, struct supervisor *sup,
    struct jobs *jobs, struct record *rec, struct proxies *px,
    struct spawner **ret, char err[STORE_ERROR_LEN])
{
	struct spawner	*sp = xcalloc(1, sizeof *sp);
	char		 path[DAEMON_PATH_MAX];
	int		 r;
	size_t		 i;

	LIST_INIT(&sp->watches);
	sp->leftovers = intmap_new();
	sp->c = c;
	sp->reg = reg;
	sp->sup = sup;
	sp->jobs = jobs;
	sp->rec = rec;
	sp->px = px;
	if (argv_split(c->cfg->connector, &sp->argv) < 0) {
		snprintf(err, STORE_ERROR_LEN, "RESPAWN_CONNECTOR must name "
		    "the connector command");
		spawner_free(sp);
		return -EINVAL;
	}
	spawn_scan(sp);
	/* SIGCHLD is an event before anything can be started. */
	sp->ev_sigchld = evsignal_new(c->base, SIGCHLD, spawn_sigchld_cb, sp);
	evsignal_add(sp->ev_sigchld, NULL);
	/* posix_spawn waits for the child's exec: not on the loop. */
	for (i = 0; i < SPAWN_THREADS; i++)
		if ((r = storeq_new_thread(c->base, &sp->threads[i],
		    err)) < 0) {
			spawner_free(sp);
			return r;
		}
	snprintf(path, sizeof path, "%s/notify.sock", c->cfg->state_dir);
	if ((r = notify_open(path, &sp->notify)) < 0) {
		snprintf(err, STORE_ERROR_LEN, "notify socket %s: %s", path,
		    strerror(-r));
		spawner_free(sp);
		return r;
	}
	sp->ev_notify = event_new(c->base, notify_fd(sp->notify),
	    EV_READ | EV_PERSIST, spawn_notify_cb, sp);
	event_add(sp->ev_notify, NULL);
	*ret = sp;
	return 0;
}

static int
spawn_leftover_free(int64_t id, void *value, void *arg)
{
	(void)id;
	(void)arg;
	free(value);
	return 0;
}

void
spawner_free(struct spawner *sp)
{
	struct spawn_watch	*w;
	size_t			 i;

	if (sp == NULL)
		return;
	/* The events are the records' (sessions.c frees them). */
	while ((w = LIST_FIRST(&sp->watches)) != NULL) {
		LIST_REMOVE(w, link);
		free(w);
	}
	if (sp->leftovers != NULL) {
		(void)intmap_walk(sp->leftovers, spawn_leftover_free, NULL);
		intmap_free(sp->leftovers);
	}
	/* Connectors started and not yet answered are killed there. */
	for (i = 0; i < SPAWN_THREADS; i++)
		storeq_free(sp->threads[i]);
	if (sp->ev_notify != NULL)
		event_free(sp->ev_notify);
	if (sp->ev_sigchld != NULL)
		event_free(sp->ev_sigchld);
	notify_close(sp->notify);
	argv_free(sp->argv);
	free(sp);
}

void
spawn_stats(const struct spawner *sp, struct spawn_stats *ret)
{
	*ret = sp->stats;
}

/* --- the connector's environment ---------------------------------------- */

/* Add "NAME=value" to an environment under construction. */
static void
spawn_env_add(char **env, size_t *n, const char *name, const char *value)
{
	if (*n >= SPAWN_ENV_MAX - 1 || value == NULL)
		return;
	env[(*n)++] = xasprintf("%s=%s", name, value);
	env[*n] = NULL;
}

/*
 * The connector's environment: the contract's variables, and from our
 * own only a short allow-list plus RESPAWN_CONNECTOR_ENV, so that secrets
 * given to respawn through its environment never reach a connector.
 */
static char **
spawn_env(struct spawner *sp, const struct dsession *ds, const char *proxy_url,
    const char *dir)
{
	static const char *const allow[] = { "PATH", "HOME", "LANG", "LC_ALL",
	    "TZ", "TMPDIR", "USER", "LOGNAME" };
	char		**env = xcalloc(SPAWN_ENV_MAX, sizeof *env);
	char		  num[32], name[128];
	const char	 *p = sp->c->cfg->connector_env;
	size_t		  n = 0, i, len;

	for (i = 0; i < nitems(allow); i++)
		spawn_env_add(env, &n, allow[i], getenv(allow[i]));
	while (*p != '\0') {
		p += strspn(p, ", ");
		len = strcspn(p, ", ");
		if (len > 0 && len < sizeof name) {
			memcpy(name, p, len);
			name[len] = '\0';
			spawn_env_add(env, &n, name, getenv(name));
		}
		p += len;
	}
	snprintf(num, sizeof num, "%lld", (long long)ds->id);
	spawn_env_add(env, &n, "RESPAWN_SESSION_ID", num);
	spawn_env_add(env, &n, "RESPAWN_USER_ID", ds->user_id);
	spawn_env_add(env, &n, "RESPAWN_PHONE", ds->phone);
	spawn_env_add(env, &n, "RESPAWN_COUNTRY", ds->country);
	spawn_env_add(env, &n, "RESPAWN_PROXY_URL", proxy_url);
	spawn_env_add(env, &n, "HTTPS_PROXY", proxy_url);
	spawn_env_add(env, &n, "HTTP_PROXY", proxy_url);
	spawn_env_add(env, &n, "ALL_PROXY", proxy_url);
	spawn_env_add(env, &n, "RESPAWN_SESSION_DIR", dir);
	spawn_env_add(env, &n, "NOTIFY_SOCKET", notify_path(sp->notify));
	if (sp->c->sp.watchdog_ms > 0) {
		snprintf(num, sizeof num, "%lld",
		    (long long)sp->c->sp.watchdog_ms * 1000);
		spawn_env_add(env, &n, "WATCHDOG_USEC", num);
	}
	/* Fleet mode: no connector outlives its instance's lease. */
	if (sp->c->fleet) {
		snprintf(num, sizeof num, "%lld",
		    (long long)FLEET_CONNECTOR_FENCE_MS(sp->c->cfg) * 1000);
		spawn_env_add(env, &n, "RESPAWN_FENCE_USEC", num);
	}
	return env;
}

/* --- starting ----------------------------------------------------------- */

struct spawn_job {
	struct spawner	*sp;
	int64_t		 session;
	char		**argv;		/* the spawner's, unchanged while it runs */
	char		**env;
	char		 dir[DAEMON_PATH_MAX];
	char		 logp[DAEMON_PATH_MAX];
	pid_t		 pid;
	uint64_t	 ticks;
	char		 err[CHILD_ERR_LEN];
};

/* On the spawner thread: the session's directory, its log, the process. */
static int
spawn_run(struct store *st, void *arg)
{
	struct spawn_job	*j = arg;
	struct child_request	 req = { 0 };
	int			 r;

	(void)st;
	/* The auth state lives here: private, and kept across restarts. */
	if (mkdir(j->dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(j->err, sizeof j->err, "session directory %s: %s",
		    j->dir, strerror(-r));
		return r;
	}
	req.argv = j->argv;
	req.envp = j->env;
	req.cwd = j->dir;
	req.log_path = j->logp;
	if ((r = child_start(&req, &j->pid, j->err)) < 0)
		return r;
	/* With the pid, the start time names this process for good. */
	if (procinfo_start_ticks(j->pid, &j->ticks) < 0)
		j->ticks = 0;
	return 0;
}

/* An exit of a pid not (yet) known: its status, if kept. */
static bool
spawn_early_exit_take(struct spawner *sp, pid_t pid, int *ret_code)
{
	int64_t	now = util_mono_ms();
	size_t	i;

	/* A pid kept for longer was another process: pids are reused. */
	for (i = 0; i < SPAWN_EARLY_EXITS; i++) {
		if (sp->early_exit[i].pid == pid &&
		    now - sp->early_exit[i].at < SPAWN_EARLY_MAX_AGE_MS) {
			sp->early_exit[i].pid = 0;
			*ret_code = sp->early_exit[i].code;
			return true;
		}
	}
	return false;
}

static void	spawn_notify_apply(struct spawner *sp, struct dsession *ds,
		    const struct notify_msg *m);

/* What came before the pid was known, in order: READY=1 above all. */
static void
spawn_replay(struct spawner *sp, struct dsession *ds, pid_t pid)
{
	struct spawn_early_notify	*e;
	size_t				 i;
	int				 code;

	for (i = 0; i < SPAWN_EARLY_NOTIFY; i++) {
		e = &sp->early_notify[(sp->early_notify_next + i) %
		    SPAWN_EARLY_NOTIFY];
		if (e->sid != pid || util_mono_ms() - e->at >=
		    SPAWN_EARLY_MAX_AGE_MS)
			continue;
		e->sid = 0;
		spawn_notify_apply(sp, ds, &e->m);
	}
	/* Reaped before we knew its pid: the exit, replayed now. */
	if (spawn_early_exit_take(sp, pid, &code)) {
		(void)sessions_pid_take(sp->reg, pid);
		log_info("connector.exited", LOGF_I("session", ds->id),
		    LOGF_I("pid", pid), LOGF_I("status", code),
		    LOGF_S("state", supervise_state_name(ds->sv.state)));
		ds->pid = 0;
		supervisor_feed(sp->sup, ds, SV_EV_EXIT, code, false);
	}
}

static void
spawn_done(struct dsession *ds, enum job_fate fate, int result, void *arg)
{
	struct spawn_job	*j = arg;
	struct spawner		*sp = j->sp;

	argv_free(j->env);
	sp->in_flight--;
	if (fate != JOB_CURRENT || sp->c->fenced ||
	    ds->sv.state != SV_STARTING || ds->sv.spawned) {
		/* Nobody wants it any more: it must not live on. */
		if (result == 0 && j->pid > 0) {
			log_info("connector.unwanted", LOGF_I("session",
			    j->session), LOGF_I("pid", j->pid));
			(void)child_signal_group(j->pid, SIGKILL);
		}
		free(j);
		return;
	}
	dctx_batch_begin(sp->c);
	if (result < 0) {
		log_error("spawn.failed", LOGF_I("session", ds->id),
		    LOGF_S("error", j->err));
		supervisor_feed(sp->sup, ds, SV_EV_SPAWN_FAILED, 0, false);
	} else {
		/* A test's crash: the process exists, the store does not know. */
		(void)failpoint("spawn.started");
		sp->stats.spawns++;
		ds->pid = j->pid;
		ds->start_ticks = j->ticks;
		sessions_pid_put(sp->reg, j->pid, ds);
		log_debug("connector.started", LOGF_I("session", ds->id),
		    LOGF_I("pid", j->pid));
		supervisor_feed(sp->sup, ds, SV_EV_SPAWNED, 0, false);
		spawn_replay(sp, ds, j->pid);
	}
	supervisor_drain(sp->sup);
	dctx_batch_end(sp->c);
	free(j);
}

/* The store has the session's start: the process now. */
static void
spawn_now(struct spawner *sp, struct dsession *ds)
{
	const struct pool_proxy	*p;
	struct spawn_job	*j;
	char			 url[PROVIDER_URL_MAX];
	int			 r;

	if (sp->c->fenced)
		return;
	/* A test's crash between the start's record and the process. */
	(void)failpoint("spawn.recorded");
	if (ds->ptype == PROXY_TYPE_RESIDENTIAL)
		r = provider_session_url(sp->c->provider, ds->phone,
		    ds->country, ds->res_generation, url);
	else if ((p = pool_get(sp->c->pool, ds->proxy_id)) != NULL)
		r = provider_proxy_url(sp->c->provider, p->ip, url);
	else
		r = -ENOENT;
	if (r < 0) {
		log_error("spawn.no_proxy_url", LOGF_I("session", ds->id));
		supervisor_feed(sp->sup, ds, SV_EV_SPAWN_FAILED, 0, false);
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->sp = sp;
	j->session = ds->id;
	j->argv = sp->argv;
	snprintf(j->dir, sizeof j->dir, "%s/sessions/%lld",
	    sp->c->cfg->state_dir, (long long)ds->id);
	snprintf(j->logp, sizeof j->logp, "%s/logs/%lld.log",
	    sp->c->cfg->state_dir, (long long)ds->id);
	j->env = spawn_env(sp, ds, url, j->dir);
	util_wipe(url, sizeof url);
	if (jobs_submit(sp->jobs, sp->threads[sp->next++ % SPAWN_THREADS], ds,
	    JOB_SPAWN, spawn_run, spawn_done, j, "spawn") < 0) {
		argv_free(j->env);
		free(j);
		supervisor_feed(sp->sup, ds, SV_EV_SPAWN_FAILED, 0, false);
		return;
	}
	sp->in_flight++;
}

/* Every write made before it has been answered: nothing to do. */
static int
spawn_barrier_run(struct store *st, void *arg)
{
	(void)st;
	(void)arg;
	return 0;
}

static void
spawn_barrier_done(struct dsession *ds, enum job_fate fate, int result,
    void *arg)
{
	struct spawner	*sp = arg;

	(void)result;
	if (fate != JOB_CURRENT || ds->sv.state != SV_STARTING ||
	    ds->sv.spawned)
		return;
	if (record_durable(sp->rec, ds->id))
		spawn_now(sp, ds);
	else
		/* Not recorded: wait, no attempt counted, try again later. */
		supervisor_feed(sp->sup, ds, SV_EV_PROXY_WAIT, 0, false);
	supervisor_drain(sp->sup);
}

/*
 * Write-ahead: a connector starts only once the store knows its session
 * is starting (the report of STARTING written), so that after a crash at
 * any moment the store says a start was under way.  That report went to
 * the store's worker before the proxy was acquired, so it is usually
 * written already; if not, a barrier job waits for every write made
 * before it.  A store that takes no writes starts nothing new.
 */
void
spawn_start(struct spawner *sp, struct dsession *ds)
{
	if (sp->c->fenced)
		return;
	if (record_durable(sp->rec, ds->id)) {
		spawn_now(sp, ds);
		return;
	}
	if (record_blocked(sp->rec) || jobs_submit(sp->jobs, sp->c->q, ds,
	    JOB_SPAWN, spawn_barrier_run, spawn_barrier_done, sp,
	    "spawn_barrier") < 0)
		supervisor_feed(sp->sup, ds, SV_EV_PROXY_WAIT, 0, false);
}

/* --- hearing from connectors -------------------------------------------- */

/* What a connector said, as supervisor events. */
static void
spawn_notify_apply(struct spawner *sp, struct dsession *ds,
    const struct notify_msg *m)
{
	if (m->event == NOTIFY_EVENT_CONFLICT) {
		sp->stats.conflicts++;
		supervisor_feed(sp->sup, ds, SV_EV_CONFLICT, 0, false);
	}
	/*
	 * Kept for the exit it announces: an adopted connector's exit shows
	 * no status, and this decides how it is treated.
	 */
	if (m->event == NOTIFY_EVENT_LOGGED_OUT)
		supervisor_feed(sp->sup, ds, SV_EV_NOTICE,
		    SV_NOTICE_LOGGED_OUT, false);
	if (m->event == NOTIFY_EVENT_PROXY_BLOCKED)
		supervisor_feed(sp->sup, ds, SV_EV_NOTICE,
		    SV_NOTICE_PROXY_BLOCKED, false);
	if (m->has_status)
		log_debug("connector.status", LOGF_I("session", ds->id),
		    LOGF_S("status", m->status));
	if (m->ready)
		supervisor_feed(sp->sup, ds, SV_EV_READY, 0, false);
	if (m->watchdog)
		supervisor_feed(sp->sup, ds, SV_EV_WATCHDOG, 0, false);
}

void
spawn_poll(struct spawner *sp)
{
	struct spawn_early_notify	*e;
	struct notify_msg		 m;
	struct dsession			*ds;
	pid_t				 sid;
	int				 r, budget = SPAWN_NOTIFY_BUDGET;

	while (budget-- > 0) {
		r = notify_recv(sp->notify, &m);
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			sp->stats.notify_dropped++;
			continue;
		}
		/* Any process of the connector's session may speak for it. */
		sid = getsid(m.pid);
		ds = sid > 0 ? sessions_pid_get(sp->reg, sid) : NULL;
		if (ds == NULL && sid > 0 && sp->in_flight > 0) {
			/*
			 * Maybe a connector whose start is still being
			 * answered: kept for spawn_done, the oldest
			 * overwritten (and then counted as dropped).
			 */
			e = &sp->early_notify[sp->early_notify_next];
			if (e->sid > 0)
				sp->stats.notify_dropped++;
			e->sid = sid;
			e->at = util_mono_ms();
			e->m = m;
			sp->early_notify_next = (sp->early_notify_next + 1) %
			    SPAWN_EARLY_NOTIFY;
			continue;
		}
		if (ds == NULL) {
			sp->stats.notify_dropped++;
			continue;
		}
		spawn_notify_apply(sp, ds, &m);
	}
}

static void
spawn_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spawner	*sp = arg;

	(void)fd;
	(void)what;
	dctx_batch_begin(sp->c);
	spawn_poll(sp);
	supervisor_drain(sp->sup);
	dctx_batch_end(sp->c);
}

/* --- reaping ------------------------------------------------------------ */

static void
spawn_sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spawner		*sp = arg;
	struct spawn_early_exit	*e;
	struct dsession		*ds;
	pid_t			 pid;
	int			 status, code;

	(void)fd;
	(void)what;
	dctx_batch_begin(sp->c);
	/* Read notifications first: a conflict notice precedes its exit. */
	spawn_poll(sp);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		(void)failpoint("exit.reaped");
		code = WIFEXITED(status) ? WEXITSTATUS(status) :
		    WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
		if ((ds = sessions_pid_take(sp->reg, pid)) == NULL) {
			/*
			 * A connector whose start is still being answered
			 * (spawn_done), or one nobody wanted: kept, the
			 * oldest overwritten.
			 */
			e = &sp->early_exit[sp->early_exit_next];
			e->pid = pid;
			e->code = code;
			e->at = util_mono_ms();
			sp->early_exit_next = (sp->early_exit_next + 1) %
			    SPAWN_EARLY_EXITS;
			continue;
		}
		log_info("connector.exited", LOGF_I("session", ds->id),
		    LOGF_I("pid", pid), LOGF_I("status", code),
		    LOGF_S("state", supervise_state_name(ds->sv.state)));
		ds->pid = 0;
		supervisor_feed(sp->sup, ds, SV_EV_EXIT, code, false);
	}
	supervisor_drain(sp->sup);
	dctx_batch_end(sp->c);
}

/*
 * An adopted connector exited: it is not our child, so no status.  The
 * pidfd's event (the record's) carries a watch naming the spawner and the
 * session; the spawner keeps its watches and frees them.
 */
static void
spawn_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spawn_watch	*w = arg;
	struct spawner		*sp = w->sp;
	struct dsession		*ds = w->ds;

	(void)fd;
	(void)what;
	LIST_REMOVE(w, link);
	free(w);
	event_free(ds->pidfd_ev);
	ds->pidfd_ev = NULL;
	close(ds->pidfd);
	ds->pidfd = -1;
	dctx_batch_begin(sp->c);
	spawn_poll(sp);
	(void)sessions_pid_take(sp->reg, ds->pid);
	log_info("connector.exited", LOGF_I("session", ds->id),
	    LOGF_I("pid", ds->pid), LOGF_B("adopted", true),
	    LOGF_S("state", supervise_state_name(ds->sv.state)));
	ds->pid = 0;
	ds->start_ticks = 0;
	supervisor_feed(sp->sup, ds, SV_EV_EXIT, SUPERVISE_EXIT_UNKNOWN,
	    false);
	supervisor_drain(sp->sup);
	dctx_batch_end(sp->c);
}

/*
 * Whether an adopted connector started before the pairing code its
 * session asks for (docs/CONNECTORS.md, "Pairing"): the API writes
 * pairing-code.request, then restarts the connector, which looks for the
 * request only when it starts.  A daemon killed between the two leaves a
 * connector that will show a QR code for good.  One started within
 * SPAWN_PAIRING_SLACK_MS of the request (file times lag by a clock tick,
 * process starts are counted in ticks) is taken to have seen it.
 */
static bool
spawn_missed_pairing(const struct spawner *sp, const struct dsession *ds)
{
	char		path[DAEMON_PATH_MAX];
	struct stat	st;
	int64_t		asked;

	snprintf(path, sizeof path, "%s/sessions/%lld/" SPAWN_PAIRING_REQUEST,
	    sp->c->cfg->state_dir, (long long)ds->id);
	if (ds->start_ticks == 0 || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	asked = (int64_t)st.st_mtim.tv_sec * 1000 +
	    st.st_mtim.tv_nsec / 1000000;
	return asked > procinfo_start_wall_ms(ds->start_ticks) +
	    SPAWN_PAIRING_SLACK_MS;
}

bool
spawn_adopt(struct spawner *sp, struct dsession *ds, const struct session *s,
    int64_t hist0)
{
	struct spawn_leftover	*lo;
	struct spawn_watch	*w;
	pid_t			 pid = (pid_t)s->connector_pid;
	uint64_t		 ticks = (uint64_t)s->connector_started_at;
	bool			 ready;
	int			 fd;

	/* What the scan found first; the store's pid if it found nothing. */
	if (sp->leftovers != NULL &&
	    (lo = intmap_del(sp->leftovers, ds->id)) != NULL) {
		pid = lo->pid;
		ticks = lo->ticks;
		free(lo);
	}
	if (pid <= 1)
		return false;
	/*
	 * The pidfd before the check of the start time: once it is open, the
	 * pid cannot name another process, so a connector that died and whose
	 * pid was reused in between fails the check instead of being watched
	 * through a stranger's pidfd.
	 */
	fd = pidfd_open(pid, 0);
	if (!procinfo_same(pid, ticks)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	/* Ready only if the store saw this very process become ready. */
	ready = s->status == SESSION_STATUS_READY &&
	    s->connector_pid == pid &&
	    (uint64_t)s->connector_started_at == ticks;
	if (fd < 0 || getsid(pid) != pid) {
		if (fd >= 0)
			close(fd);
		log_warn("connector.unverifiable", LOGF_I("session", ds->id),
		    LOGF_I("pid", pid), LOGF_S("msg", "stopping a leftover "
		    "connector before starting a new one"));
		(void)child_signal_group(pid, SIGKILL);
		return false;
	}
	ds->pid = pid;
	ds->start_ticks = ticks;
	ds->pidfd = fd;
	w = xcalloc(1, sizeof *w);
	w->sp = sp;
	w->ds = ds;
	LIST_INSERT_HEAD(&sp->watches, w, link);
	ds->pidfd_ev = event_new(sp->c->base, fd, EV_READ, spawn_watch_cb, w);
	event_add(ds->pidfd_ev, NULL);
	sessions_pid_put(sp->reg, pid, ds);
	/* Its proxy is the one kept for it. */
	proxy_adopt(sp->px, ds, hist0);
	sp->stats.adopted++;
	log_info("connector.adopted", LOGF_I("session", ds->id),
	    LOGF_S("phone", ds->phone), LOGF_I("pid", pid));
	supervisor_feed(sp->sup, ds, SV_EV_ADOPT, ready, false);
	if (!ready && s->desired == SESSION_DESIRED_RUNNING &&
	    spawn_missed_pairing(sp, ds)) {
		/* Stopped with its proxy kept, started again: ops_moved. */
		ds->restart = true;
		log_info("connector.pairing_restart", LOGF_I("session", ds->id),
		    LOGF_I("pid", pid), LOGF_S("msg", "started before the "
		    "pairing code asked for: restarted to ask for it"));
		supervisor_feed(sp->sup, ds, SV_EV_STOP, 0, true);
	}
	(void)failpoint("adopt.done");
	return true;
}

/* --- logs --------------------------------------------------------------- */

void
spawn_tick(struct spawner *sp, int64_t now)
{
	struct dsession	*ds;
	char		 logp[DAEMON_PATH_MAX];

	/* Connector logs stay under their cap while connectors run. */
	if (now - sp->last_trim < SPAWN_LOG_TRIM_MS)
		return;
	sp->last_trim = now;
	for (ds = sessions_first(sp->reg); ds != NULL; ds = sessions_next(ds)) {
		if (ds->pid <= 0)
			continue;
		snprintf(logp, sizeof logp, "%s/logs/%lld.log",
		    sp->c->cfg->state_dir, (long long)ds->id);
		if (child_log_trim(logp, CHILD_LOG_MAX_DEFAULT) == 1)
			log_info("connector.log_trimmed",
			    LOGF_I("session", ds->id));
	}
}
