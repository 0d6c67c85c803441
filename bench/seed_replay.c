/*
 * seed_replay: the seed's recovery algorithm, replayed against respawn-lab
 * so that bench/recovery can put it side by side with respawn.
 *
 * The seed (SessionRecoveryService.ts) waits 3 s after start, then
 * recovers sessions in batches of 5: each session makes one provider call
 * and then reconnects its WhatsApp client; the next batch starts only when
 * the whole batch is done.  Here a session's provider call is
 * GET /zone/ips?zone=isp_lab on the lab's account API (fresh connection,
 * whole answer read), and its reconnect is one lab connector started with
 * the connector contract's environment, waited on until it sends READY=1
 * on a notify socket of its own.  Connectors keep running, as the seed's
 * clients would, until the end of the run; then every one is killed by
 * its pid (each leads its own process group).
 *
 * usage: seed_replay --api PORT --sessions FILE --proxies FILE
 *            --connector PATH --wa HOST:PORT --dir DIR
 *            [--batch 5] [--delay-ms 3000] [--cap-s 0] [--ready-timeout-s 30]
 *            [--no-provider 1]
 * With --no-provider 1 --batch N --delay-ms 0 it is the floor: every
 * connector spawned at once by a bare loop, no provider call, no store.
 *   FILE (sessions): "phone country" per line (the order of recovery);
 *   FILE (proxies):  "proxy-URL country" per line (RESPAWN_STATIC_PROXIES);
 *   each session takes the next unused proxy of its country.
 * Environment: RESPAWN_LAB_READY_DELAY_MS is passed on to connectors.
 * Prints one "seed_replay key=value ..." line; exit 0 when every session
 * became ready within the cap, 1 otherwise.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SESSIONS	200000
#define MAX_BATCH	200000
#define URL_MAX		512

struct sess {
	char	phone[24];
	char	cc[3];
	int	proxy;		/* index into proxies */
};

struct proxy {
	char	url[URL_MAX];
	char	cc[3];
	int	used;
};

enum slot_state { SL_IDLE, SL_HTTP, SL_READY_WAIT, SL_DONE, SL_FAILED };

struct slot {
	enum slot_state	st;
	int		sess;
	int		http_fd;
	int		notify_fd;
	char		notify_path[256];
	pid_t		pid;
	long long	t0, t_http, t_ready;
	size_t		sent;
	char		req[512];
	size_t		reqlen;
};

static struct sess	*sessions;
static int		 nsessions;
static struct proxy	*proxies;
static int		 nproxies;
static pid_t		*pids;
static int		 npids;
static volatile sig_atomic_t stop_flag;

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
kill_all(void)
{
	int	i;

	for (i = 0; i < npids; i++)
		if (pids[i] > 0 && kill(-pids[i], SIGKILL) < 0)
			(void)kill(pids[i], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

static void
load(const char *sfile, const char *pfile)
{
	FILE	*f;
	char	 line[1024], a[URL_MAX], b[8];
	int	 i, j;

	sessions = calloc(MAX_SESSIONS, sizeof *sessions);
	proxies = calloc(MAX_SESSIONS, sizeof *proxies);
	pids = calloc(MAX_SESSIONS, sizeof *pids);
	if (!sessions || !proxies || !pids)
		exit(2);
	if ((f = fopen(pfile, "r")) == NULL) {
		perror(pfile);
		exit(2);
	}
	while (fgets(line, sizeof line, f) && nproxies < MAX_SESSIONS)
		if (sscanf(line, "%511s %2s", a, b) == 2 && a[0] != '#') {
			snprintf(proxies[nproxies].url, URL_MAX, "%s", a);
			snprintf(proxies[nproxies].cc, 3, "%s", b);
			nproxies++;
		}
	fclose(f);
	if ((f = fopen(sfile, "r")) == NULL) {
		perror(sfile);
		exit(2);
	}
	while (fgets(line, sizeof line, f) && nsessions < MAX_SESSIONS)
		if (sscanf(line, "%23s %2s", a, b) == 2) {
			struct sess *s = &sessions[nsessions++];

			snprintf(s->phone, sizeof s->phone, "%s", a);
			snprintf(s->cc, sizeof s->cc, "%s", b);
		}
	fclose(f);
	/* Each session takes the next unused proxy of its country. */
	for (i = 0; i < nsessions; i++) {
		sessions[i].proxy = -1;
		for (j = 0; j < nproxies; j++)
			if (!proxies[j].used &&
			    strcmp(proxies[j].cc, sessions[i].cc) == 0) {
				proxies[j].used = 1;
				sessions[i].proxy = j;
				break;
			}
	}
}

static int
http_open(int port)
{
	struct sockaddr_in	sa = { 0 };
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
notify_open(const char *path)
{
	struct sockaddr_un	sa = { .sun_family = AF_UNIX };
	int			fd;

	(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static pid_t
spawn_connector(const char *connector, const char *wa, const char *dir,
    const struct sess *s, const char *url, const char *notify,
    const char *ready_delay)
{
	char		 sdir[512], logp[512];
	char		*env[16], *argv[] = { (char *)connector, NULL };
	int		 n = 0, logfd;
	pid_t		 pid;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;

	snprintf(sdir, sizeof sdir, "%s/sessions/%s", dir, s->phone + 1);
	snprintf(logp, sizeof logp, "%s/logs/%s.log", dir, s->phone + 1);
	(void)mkdir(sdir, 0700);
	if (asprintf(&env[n++], "RESPAWN_PHONE=%s", s->phone) < 0 ||
	    asprintf(&env[n++], "RESPAWN_COUNTRY=%s", s->cc) < 0 ||
	    asprintf(&env[n++], "RESPAWN_PROXY_URL=%s", url) < 0 ||
	    asprintf(&env[n++], "RESPAWN_SESSION_DIR=%s", sdir) < 0 ||
	    asprintf(&env[n++], "RESPAWN_LAB_WA_ADDR=%s", wa) < 0 ||
	    asprintf(&env[n++], "NOTIFY_SOCKET=%s", notify) < 0 ||
	    asprintf(&env[n++], "RESPAWN_LAB_READY_DELAY_MS=%s",
	    ready_delay) < 0)
		exit(2);
	env[n] = NULL;
	logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (logfd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, logfd, 1);
		posix_spawn_file_actions_adddup2(&fa, logfd, 2);
	}
	posix_spawn_file_actions_addchdir_np(&fa, sdir);
	if (posix_spawn(&pid, connector, &fa, &attr, argv, env) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (logfd >= 0)
		close(logfd);
	while (n > 0)
		free(env[--n]);
	return pid;
}

int
main(int argc, char **argv)
{
	const char	*sfile = NULL, *pfile = NULL, *connector = NULL;
	const char	*wa = NULL, *dir = NULL, *ready_delay;
	int		 port = 0, batch = 5, delay_ms = 3000, cap_s = 0;
	int		 ready_timeout_s = 30, i, next = 0, ready = 0, failed = 0;
	int		 batches = 0, capped = 0;
	long long	 t_start, t_rec, sum_http = 0, sum_ready = 0, t_end;
	struct slot	*slots;
	struct pollfd	*pfd;
	int		*map, no_provider = 0;
	char		 path[512];

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--api"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--sessions"))
			sfile = argv[i + 1];
		else if (!strcmp(argv[i], "--proxies"))
			pfile = argv[i + 1];
		else if (!strcmp(argv[i], "--connector"))
			connector = argv[i + 1];
		else if (!strcmp(argv[i], "--wa"))
			wa = argv[i + 1];
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--batch"))
			batch = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--delay-ms"))
			delay_ms = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--cap-s"))
			cap_s = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--no-provider"))
			no_provider = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--ready-timeout-s"))
			ready_timeout_s = atoi(argv[i + 1]);
		else
			break;
	}
	if (i != argc || !port || !sfile || !pfile || !connector || !wa ||
	    !dir || batch < 1 || batch > MAX_BATCH) {
		fprintf(stderr, "usage: seed_replay --api PORT --sessions FILE "
		    "--proxies FILE --connector PATH --wa HOST:PORT --dir DIR "
		    "[--batch 5] [--delay-ms 3000] [--cap-s 0] "
		    "[--ready-timeout-s 30]\n");
		return 64;
	}
	ready_delay = getenv("RESPAWN_LAB_READY_DELAY_MS");
	if (ready_delay == NULL)
		ready_delay = "0";
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	load(sfile, pfile);
	slots = calloc((size_t)batch, sizeof *slots);
	pfd = calloc((size_t)batch, sizeof *pfd);
	map = calloc((size_t)batch, sizeof *map);
	if (!slots || !pfd || !map)
		return 2;
	snprintf(path, sizeof path, "%s/sessions", dir);
	(void)mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/logs", dir);
	(void)mkdir(path, 0700);

	t_start = now_ms();
	/* "On startup (after 3 second delay)" */
	while (!stop_flag && now_ms() - t_start < delay_ms)
		usleep(10000);
	t_rec = now_ms();

	while (!stop_flag && next < nsessions) {
		int	nb = 0, busy;

		if (cap_s > 0 && now_ms() - t_start >= (long long)cap_s * 1000) {
			capped = 1;
			break;
		}
		/* Start one batch: every session does its provider call. */
		for (i = 0; i < batch && next < nsessions; i++, next++) {
			struct slot *sl = &slots[nb++];

			memset(sl, 0, sizeof *sl);
			sl->sess = next;
			sl->notify_fd = -1;
			sl->t0 = now_ms();
			sl->reqlen = (size_t)snprintf(sl->req, sizeof sl->req,
			    "GET /zone/ips?zone=isp_lab HTTP/1.1\r\n"
			    "Host: 127.0.0.1:%d\r\n"
			    "Authorization: Bearer lab-api-key\r\n"
			    "Connection: close\r\n\r\n", port);
			sl->http_fd = no_provider ? -1 : http_open(port);
			if (no_provider) {
				sl->t_http = sl->t0;
				snprintf(sl->notify_path, sizeof sl->notify_path,
				    "%s/n%d.sock", dir, next);
				sl->notify_fd = notify_open(sl->notify_path);
				sl->pid = sl->notify_fd < 0 ? -1 :
				    spawn_connector(connector, wa, dir,
				    &sessions[next], sessions[next].proxy < 0 ? "" :
				    proxies[sessions[next].proxy].url,
				    sl->notify_path, ready_delay);
				if (sl->pid > 0)
					pids[npids++] = sl->pid;
				sl->st = sl->pid > 0 ? SL_READY_WAIT : SL_FAILED;
				continue;
			}
			sl->st = sl->http_fd >= 0 && sessions[next].proxy >= 0 ?
			    SL_HTTP : SL_FAILED;
		}
		batches++;
		/* Run it until every session is done. */
		for (;;) {
			int		np = 0, status;
			pid_t		wp;

			busy = 0;
			for (i = 0; i < nb; i++) {
				struct slot *sl = &slots[i];

				if (sl->st == SL_HTTP) {
					pfd[np].fd = sl->http_fd;
					pfd[np].events = sl->sent < sl->reqlen ?
					    POLLOUT : POLLIN;
					map[np++] = i;
					busy++;
				} else if (sl->st == SL_READY_WAIT) {
					pfd[np].fd = sl->notify_fd;
					pfd[np].events = POLLIN;
					map[np++] = i;
					busy++;
				}
			}
			if (busy == 0 || stop_flag)
				break;
			if (poll(pfd, (nfds_t)np, 50) < 0 && errno != EINTR)
				break;
			for (i = 0; i < np; i++) {
				struct slot	*sl = &slots[map[i]];
				struct sess	*s = &sessions[sl->sess];
				char		 buf[65536];
				ssize_t		 r;

				if (pfd[i].revents == 0)
					continue;
				if (sl->st == SL_HTTP && sl->sent < sl->reqlen) {
					r = write(sl->http_fd, sl->req + sl->sent,
					    sl->reqlen - sl->sent);
					if (r > 0)
						sl->sent += (size_t)r;
					else if (r < 0 && errno != EAGAIN) {
						close(sl->http_fd);
						sl->st = SL_FAILED;
					}
					continue;
				}
				if (sl->st == SL_HTTP) {
					while ((r = read(sl->http_fd, buf,
					    sizeof buf)) > 0)
						;
					if (r < 0 && errno == EAGAIN)
						continue;
					/* Answer read to its end: reconnect. */
					close(sl->http_fd);
					sl->http_fd = -1;
					sl->t_http = now_ms();
					sum_http += sl->t_http - sl->t0;
					snprintf(sl->notify_path,
					    sizeof sl->notify_path,
					    "%s/n%d.sock", dir, sl->sess);
					sl->notify_fd = notify_open(sl->notify_path);
					sl->pid = sl->notify_fd < 0 ? -1 :
					    spawn_connector(connector, wa, dir, s,
					    proxies[s->proxy].url,
					    sl->notify_path, ready_delay);
					if (sl->pid < 0) {
						sl->st = SL_FAILED;
						continue;
					}
					pids[npids++] = sl->pid;
					sl->st = SL_READY_WAIT;
					continue;
				}
				if (sl->st == SL_READY_WAIT) {
					while ((r = recv(sl->notify_fd, buf,
					    sizeof buf - 1, 0)) > 0) {
						buf[r] = '\0';
						if (strstr(buf, "READY=1") != NULL) {
							sl->st = SL_DONE;
							sl->t_ready = now_ms();
							sum_ready += sl->t_ready -
							    sl->t_http;
							break;
						}
					}
				}
			}
			/* A connector that exits before READY fails its session. */
			while ((wp = waitpid(-1, &status, WNOHANG)) > 0)
				for (i = 0; i < nb; i++)
					if (slots[i].pid == wp &&
					    slots[i].st == SL_READY_WAIT)
						slots[i].st = SL_FAILED;
			for (i = 0; i < nb; i++)
				if (slots[i].st == SL_READY_WAIT &&
				    now_ms() - slots[i].t_http >
				    (long long)ready_timeout_s * 1000)
					slots[i].st = SL_FAILED;
		}
		for (i = 0; i < nb; i++) {
			struct slot *sl = &slots[i];

			if (sl->notify_fd >= 0) {
				close(sl->notify_fd);
				(void)unlink(sl->notify_path);
			}
			if (sl->http_fd >= 0 && sl->st != SL_DONE &&
			    sl->st != SL_READY_WAIT && sl->st != SL_FAILED)
				close(sl->http_fd);
			if (sl->st == SL_DONE)
				ready++;
			else
				failed++;
		}
	}
	t_end = now_ms();
	printf("seed_replay sessions=%d ready=%d failed=%d batches=%d "
	    "capped=%d elapsed_ms=%lld delay_ms=%d recovery_ms=%lld "
	    "avg_provider_ms=%lld avg_ready_ms=%lld ms_per_batch=%lld\n",
	    nsessions, ready, failed, batches, capped, t_end - t_start,
	    delay_ms, t_end - t_rec, batches ? sum_http / (ready + failed) : 0,
	    ready ? sum_ready / ready : 0,
	    batches ? (t_end - t_rec) / batches : 0);
	fflush(stdout);
	kill_all();
	return ready == nsessions ? 0 : 1;
}
