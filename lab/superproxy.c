/*
 * The super proxy (see superproxy.h).  A tunnel is two sockets and two
 * events; bytes go straight from one socket to the other through a stack
 * buffer, and only what the far side cannot take yet is kept on the heap.
 * That keeps an idle tunnel at a few hundred bytes, so 10,000 fit easily.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "httpreq.h"
#include "lab.h"
#include "net.h"
#include "proxyauth.h"
#include "relay.h"
#include "relayworker.h"
#include "superproxy.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define PROXY_ACCEPT_PAUSE_MS	100

enum tunnel_state {
	TUNNEL_HEAD,		/* reading the CONNECT request */
	TUNNEL_CONNECTING,	/* outgoing connect in progress */
	TUNNEL_RELAY,		/* spliced here, by t->relay */
	TUNNEL_REMOTE,		/* spliced by a relay worker */
};

struct tunnel {
	TAILQ_ENTRY(tunnel)	 entry;
	struct superproxy	*sp;
	uint64_t		 id;
	int			 fd[2];		/* client, target */
	struct event		 ev[2];		/* until the tunnel is open */
	short			 want[2];
	enum tunnel_state	 state;
	char			*head;		/* only during TUNNEL_HEAD */
	size_t			 headlen;
	char			*early;		/* client bytes after the head */
	size_t			 earlylen;
	struct relay		*relay;
	int			 worker;
	uint32_t		 exit_ip;
	int			 zone;
	char			 country[3];
	char			*session;	/* residential sticky session */
};
TAILQ_HEAD(tunnel_list, tunnel);

struct connect_entry {
	int64_t		time_ms;
	char		target[PROXY_TARGET_MAX];
	char		zone[WORLD_NAME_MAX];
	uint32_t	exit_ip;
	int		status;
};

struct sp_worker {
	struct relayworker	 rw;
	struct event		 ev;
	bool			 alive;
	uint64_t		 tunnels;
};

struct superproxy {
	struct lab		*lab;
	int			 fd;
	struct event		 lev;
	struct event		 pause;
	struct tunnel_list	 tunnels;
	size_t			 ntunnels;
	uint64_t		 next_id;
	uint64_t		 connects;
	uint64_t		 refused;
	int64_t			 bytes[WORLD_MAX_ZONES];
	struct connect_entry	*log;
	size_t			 logcap;
	size_t			 lognext;
	size_t			 logcount;
	struct sp_worker	 workers[RELAYWORKER_MAX];
	int			 nworkers;
	int			 next_worker;
};

static void	tunnel_cb(evutil_socket_t fd, short what, void *arg);

static void
superproxy_log(struct superproxy *sp, const char *target, const char *zone,
    uint32_t exit_ip, int status)
{
	struct connect_entry	*e;
	char			 ip[WORLD_IPSTR_MAX];

	if (sp->logcap == 0)
		return;
	e = &sp->log[sp->lognext];
	e->time_ms = lab_now(sp->lab);
	(void)util_strlcpy(e->target, target, sizeof(e->target));
	(void)util_strlcpy(e->zone, zone, sizeof(e->zone));
	e->exit_ip = exit_ip;
	e->status = status;
	sp->lognext = (sp->lognext + 1) % sp->logcap;
	if (sp->logcount < sp->logcap)
		sp->logcount++;
	world_ip_str(exit_ip, ip);
	log_info("proxy.connect", LOGF_S("target", target),
	    LOGF_S("zone", zone), LOGF_S("exit_ip", exit_ip ? ip : ""),
	    LOGF_I("status", status));
}

static void
tunnel_free(struct tunnel *t)
{
	struct superproxy	*sp = t->sp;
	int			 i;

	for (i = 0; i < 2; i++) {
		if (t->want[i] != 0)
			event_del(&t->ev[i]);
		if (t->fd[i] >= 0)
			close(t->fd[i]);
	}
	relay_free(t->relay);
	if (t->session != NULL)
		world_res_done(sp->lab->world, t->zone, t->country,
		    t->session, lab_now(sp->lab));
	free(t->session);
	free(t->head);
	free(t->early);
	TAILQ_REMOVE(&sp->tunnels, t, entry);
	sp->ntunnels--;
	free(t);
}

/* Re-arms one side's event during the handshake. */
static void
tunnel_want(struct tunnel *t, int side, short want, int64_t timeout_ms)
{
	struct timeval	tv = { .tv_sec = timeout_ms / 1000,
			    .tv_usec = (timeout_ms % 1000) * 1000 };

	if (t->want[side] != 0)
		event_del(&t->ev[side]);
	t->want[side] = want;
	if (want == 0)
		return;
	event_assign(&t->ev[side], t->sp->lab->base, t->fd[side],
	    want | EV_PERSIST, tunnel_cb, t);
	event_add(&t->ev[side], timeout_ms > 0 ? &tv : NULL);
}

static void
tunnel_refuse(struct tunnel *t, int status, const char *reason,
    const char *extra)
{
	char	msg[1024];
	int	n;

	n = snprintf(msg, sizeof(msg), "HTTP/1.1 %d %s\r\n"
	    "x-brd-error: %s\r\n%s"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n", status, reason,
	    reason, extra != NULL ? extra : "");
	if (n > 0)
		(void)!write(t->fd[0], msg, (size_t)n < sizeof(msg) ?
		    (size_t)n : sizeof(msg) - 1);
	t->sp->refused++;
	tunnel_free(t);
}

static void
superproxy_count(struct superproxy *sp, int zone, int64_t n)
{
	struct world	*w = sp->lab->world;

	if (zone < 0 || (size_t)zone >= world_nzones(w))
		return;
	sp->bytes[zone] += n;
	if (world_zone_type(w, zone) == ZONE_RESIDENTIAL)
		(void)ledger_add_bytes(sp->lab->ledger, world_zone_name(w,
		    zone), world_zone_price(w, zone), n, lab_now(sp->lab));
}

static void
tunnel_relay_bytes(void *arg, size_t n)
{
	struct tunnel	*t = arg;

	superproxy_count(t->sp, t->zone, (int64_t)n);
}

static void
tunnel_relay_done(void *arg)
{
	struct tunnel	*t = arg;

	t->relay = NULL;	/* it freed itself and its sockets */
	t->fd[0] = t->fd[1] = -1;
	tunnel_free(t);
}

/* Hands an open tunnel to a relay worker; false to keep it here. */
static bool
tunnel_handoff(struct tunnel *t)
{
	struct superproxy	*sp = t->sp;
	struct relayworker_msg	 m;
	struct sp_worker	*w;
	int			 i, k;

	for (i = 0; i < sp->nworkers; i++) {
		k = (sp->next_worker + i) % sp->nworkers;
		w = &sp->workers[k];
		if (!w->alive)
			continue;
		memset(&m, 0, sizeof(m));
		m.type = RELAYWORKER_ADD;
		m.zone = (uint32_t)t->zone;
		m.id = t->id;
		if (relayworker_send(w->rw.ctl, &m, t->fd, 2) != 0)
			continue;
		sp->next_worker = (k + 1) % sp->nworkers;
		close(t->fd[0]);
		close(t->fd[1]);
		t->fd[0] = t->fd[1] = -1;
		t->worker = k;
		t->state = TUNNEL_REMOTE;
		w->tunnels++;
		return true;
	}
	return false;
}

static void
tunnel_connected(struct tunnel *t)
{
	char	msg[128], ip[WORLD_IPSTR_MAX];
	ssize_t	w;
	int	n;

	tunnel_want(t, 0, 0, 0);
	tunnel_want(t, 1, 0, 0);
	world_ip_str(t->exit_ip, ip);
	n = snprintf(msg, sizeof(msg), "HTTP/1.1 200 OK\r\nx-brd-ip: %s\r\n"
	    "\r\n", ip);
	superproxy_count(t->sp, t->zone, n);
	/* A fresh socket takes these few bytes at once, nearly always. */
	w = write(t->fd[0], msg, (size_t)n);
	if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		tunnel_free(t);
		return;
	}
	if (w < 0)
		w = 0;
	if (w == n && t->earlylen == 0 && tunnel_handoff(t))
		return;
	t->state = TUNNEL_RELAY;
	t->relay = relay_new(t->sp->lab->base, t->fd[0], t->fd[1], msg + w,
	    (size_t)(n - w), t->early, t->earlylen, tunnel_relay_bytes,
	    tunnel_relay_done, t);
	free(t->early);
	t->early = NULL;
	t->earlylen = 0;
}

static int
tunnel_target(const char *target, struct sockaddr_in *sin)
{
	char		 host[PROXY_TARGET_MAX];
	char		*colon;
	int64_t		 port;

	if (util_strlcpy(host, target, sizeof(host)) != 0 ||
	    (colon = strrchr(host, ':')) == NULL)
		return -EINVAL;
	*colon = '\0';
	if (util_parse_i64(colon + 1, 1, 65535, &port) != 0)
		return -EINVAL;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (strcmp(host, "localhost") == 0)
		(void)util_strlcpy(host, "127.0.0.1", sizeof(host));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -ENOENT;
	/* The lab never leaves the machine: loopback targets only. */
	if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
		return -EPERM;
	return 0;
}

/* Chooses the exit address; returns 0 or refuses the tunnel (-1). */
static int
tunnel_exit(struct tunnel *t, const struct proxy_user *u, const char *target)
{
	struct superproxy	*sp = t->sp;
	struct world		*w = sp->lab->world;
	uint32_t		 ips[64], cand[64];
	char			 cc[3], extra[512], ipstr[WORLD_IPSTR_MAX];
	size_t			 n, i, nc = 0;

	if (world_zone_type(w, t->zone) == ZONE_RESIDENTIAL) {
		if (u->has_ip)
			goto unallocated;
		if (world_res_pick(w, t->zone, u->has_country ? u->country :
		    NULL, u->has_session ? u->session : NULL,
		    lab_now(sp->lab), sp->lab->conf->session_idle_ms,
		    &t->exit_ip) != 0) {
			superproxy_log(sp, target, world_zone_name(w, t->zone),
			    0, 502);
			tunnel_refuse(t, 502, "No peers available", NULL);
			return -1;
		}
		if (world_ip_country(w, t->exit_ip, t->country) != 0)
			t->country[0] = '\0';
		if (u->has_session)
			t->session = xstrdup(u->session);
		return 0;
	}
	if (u->has_ip) {
		if (world_ip_zone(w, u->ip) != t->zone)
			goto unallocated;
		t->exit_ip = u->ip;
		return 0;
	}
	/* No pinned IP: rotate over the zone's IPs (of the country asked). */
	n = world_zone_ips(w, t->zone, ips, nitems(ips));
	for (i = 0; i < n; i++) {
		if (u->has_country && (world_ip_country(w, ips[i], cc) != 0 ||
		    strcmp(cc, u->country) != 0))
			continue;
		cand[nc++] = ips[i];
	}
	if (nc == 0) {
		superproxy_log(sp, target, world_zone_name(w, t->zone), 0, 502);
		tunnel_refuse(t, 502, "No IPs allocated to this zone", NULL);
		return -1;
	}
	t->exit_ip = cand[rng_below(&sp->lab->rng, nc)];
	return 0;

unallocated:
	world_ip_str(u->ip, ipstr);
	(void)snprintf(extra, sizeof(extra), "Proxy-Status: brd.brighdata.io; "
	    "received-status=400; error=destination_ip_unroutable; "
	    "details=\"client-10060: Requested IP %s is not allocated to this "
	    "zone\"\r\nx-brd-err-code: client_10060\r\n", ipstr);
	superproxy_log(sp, target, world_zone_name(w, t->zone), 0, 400);
	tunnel_refuse(t, 400, "Requested IP is not allocated to this zone",
	    extra);
	return -1;
}

static void
tunnel_start(struct tunnel *t, const struct httpreq *req)
{
	struct superproxy	*sp = t->sp;
	struct world		*w = sp->lab->world;
	struct proxy_user	 u;
	struct sockaddr_in	 src, dst;
	const char		*auth;
	char			 user[PROXYAUTH_CRED_MAX], pass[PROXYAUTH_CRED_MAX];
	char			 target[PROXY_TARGET_MAX];
	int			 one = 1, fd, z;

	(void)util_strlcpy(target, req->target, sizeof(target));
	if (strcmp(req->method, "CONNECT") != 0) {
		tunnel_refuse(t, 405, "Only CONNECT is supported", NULL);
		return;
	}
	auth = httpreq_header(req, "Proxy-Authorization");
	if (auth == NULL || proxyauth_basic(auth, user, sizeof(user), pass,
	    sizeof(pass)) != 0 || proxyauth_username(user, &u) != 0 ||
	    strcmp(u.customer, sp->lab->conf->customer) != 0 ||
	    (z = world_zone_find(w, u.zone)) < 0 ||
	    strcmp(pass, world_zone_password(w, z)) != 0) {
		superproxy_log(sp, target, "", 0, 407);
		tunnel_refuse(t, 407, "Proxy Authentication Required",
		    "Proxy-Authenticate: Basic realm=\"Bright Data\"\r\n");
		return;
	}
	t->zone = z;
	superproxy_count(sp, z, (int64_t)t->headlen);
	/*
	 * The exit address is chosen first, so that a refused target (the
	 * lab never leaves the machine) is still logged with the IP the
	 * client came through: a test can prove a connector tried to reach
	 * WhatsApp's real host through its session's IP.
	 */
	if (tunnel_exit(t, &u, target) != 0)
		return;
	if (tunnel_target(target, &dst) != 0) {
		superproxy_log(sp, target, u.zone, t->exit_ip, 403);
		tunnel_refuse(t, 403, "Target not reachable from the lab", NULL);
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("proxy.socket_failed", LOGF_I("errno", errno));
		superproxy_log(sp, target, u.zone, t->exit_ip, 502);
		tunnel_refuse(t, 502, "Proxy out of sockets", NULL);
		return;
	}
	t->fd[1] = fd;
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(t->exit_ip);
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 &&
	    errno != EINPROGRESS)) {
		superproxy_log(sp, target, u.zone, t->exit_ip, 502);
		tunnel_refuse(t, 502, "Failed to establish connection with "
		    "peer", NULL);
		return;
	}
	superproxy_log(sp, target, u.zone, t->exit_ip, 200);
	sp->connects++;
	t->state = TUNNEL_CONNECTING;
	tunnel_want(t, 0, 0, 0);
	tunnel_want(t, 1, EV_WRITE, PROXY_HANDSHAKE_MS);
}

static void
tunnel_head(struct tunnel *t)
{
	struct httpreq	*req;
	ssize_t		 n;
	int		 rc;

	n = read(t->fd[0], t->head + t->headlen, PROXY_MAX_HEAD - t->headlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		tunnel_free(t);
		return;
	}
	t->headlen += (size_t)n;
	req = xmalloc(sizeof(*req));
	rc = httpreq_parse(req, t->head, t->headlen);
	if (rc == -EAGAIN && t->headlen < PROXY_MAX_HEAD) {
		free(req);
		return;
	}
	if (rc < 0) {
		free(req);
		tunnel_refuse(t, rc == -EAGAIN || rc == -EMSGSIZE ? 431 : 400,
		    "Malformed CONNECT request", NULL);
		return;
	}
	/* Bytes the client sent after the head go to the target later. */
	if (t->headlen > (size_t)rc) {
		t->earlylen = t->headlen - (size_t)rc;
		t->early = xmalloc(t->earlylen);
		memcpy(t->early, t->head + rc, t->earlylen);
	}
	t->headlen = (size_t)rc;
	free(t->head);
	t->head = NULL;
	tunnel_start(t, req);
	free(req);
}

static void
tunnel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel	*t = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (what & EV_TIMEOUT) {
		if (t->state == TUNNEL_CONNECTING) {
			tunnel_refuse(t, 504, "Peer connect timed out", NULL);
			return;
		}
		tunnel_free(t);
		return;
	}
	switch (t->state) {
	case TUNNEL_HEAD:
		tunnel_head(t);
		return;
	case TUNNEL_CONNECTING:
		if (getsockopt(t->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err != 0) {
			tunnel_refuse(t, 502, "Failed to establish connection "
			    "with peer", NULL);
			return;
		}
		tunnel_connected(t);
		return;
	case TUNNEL_RELAY:
	case TUNNEL_REMOTE:
		break;
	}
}

static void
superproxy_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct superproxy	*sp = arg;

	event_add(&sp->lev, NULL);
}

static void
superproxy_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct superproxy	*sp = arg;
	struct tunnel		*t;
	struct timeval		 tv = { 0, PROXY_ACCEPT_PAUSE_MS * 1000 };
	static const char	 busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				    "x-brd-error: lab tunnel limit reached\r\n"
				    "Content-Length: 0\r\n\r\n";
	int			 fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: pause instead of spinning. */
				log_warn("proxy.accept_paused",
				    LOGF_I("tunnels", sp->ntunnels));
				event_del(&sp->lev);
				evtimer_add(&sp->pause, &tv);
			}
			return;
		}
		if ((int64_t)sp->ntunnels >= sp->lab->conf->max_tunnels) {
			(void)!write(fd, busy, sizeof(busy) - 1);
			close(fd);
			sp->refused++;
			continue;
		}
		t = xcalloc(1, sizeof(*t));
		t->sp = sp;
		t->fd[0] = fd;
		t->fd[1] = -1;
		t->head = xmalloc(PROXY_MAX_HEAD);
		t->state = TUNNEL_HEAD;
		t->id = ++sp->next_id;
		t->worker = -1;
		TAILQ_INSERT_TAIL(&sp->tunnels, t, entry);
		sp->ntunnels++;
		tunnel_want(t, 0, EV_READ, PROXY_HANDSHAKE_MS);
	}
}

static void
superproxy_worker_msg(struct superproxy *sp, int k,
    const struct relayworker_msg *m)
{
	struct tunnel	*t;

	if (m->type == RELAYWORKER_BYTES) {
		superproxy_count(sp, (int)m->zone, (int64_t)m->n);
		return;
	}
	if (m->type != RELAYWORKER_CLOSED)
		return;
	/* Tunnels revoked meanwhile are already gone; that is fine. */
	TAILQ_FOREACH(t, &sp->tunnels, entry) {
		if (t->id == m->id && t->state == TUNNEL_REMOTE &&
		    t->worker == k) {
			sp->workers[k].tunnels--;
			tunnel_free(t);
			return;
		}
	}
}

static void
superproxy_worker_cb(evutil_socket_t fd, short what, void *arg)
{
	struct superproxy	*sp = arg;
	struct relayworker_msg	 m;
	struct tunnel		*t, *next;
	ssize_t			 n;
	int			 k;

	for (k = 0; k < sp->nworkers; k++)
		if (sp->workers[k].rw.ctl == fd)
			break;
	if (k == sp->nworkers)
		return;
	for (;;) {
		n = recv(fd, &m, sizeof(m), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n != (ssize_t)sizeof(m)) {
			/* The worker died: its tunnels died with it. */
			log_error("proxy.worker_lost", LOGF_I("worker", k));
			sp->workers[k].alive = false;
			event_del(&sp->workers[k].ev);
			for (t = TAILQ_FIRST(&sp->tunnels); t != NULL; t = next) {
				next = TAILQ_NEXT(t, entry);
				if (t->state == TUNNEL_REMOTE && t->worker == k)
					tunnel_free(t);
			}
			return;
		}
		superproxy_worker_msg(sp, k, &m);
	}
}

int
superproxy_new(struct lab *lab, const char *addr, int port,
    const struct relayworker *workers, int nworkers,
    struct superproxy **ret, int *ret_port)
{
	struct superproxy	*sp;
	int			 fd, k;

	if ((fd = net_listen(addr, port, ret_port)) < 0)
		return fd;
	sp = xcalloc(1, sizeof(*sp));
	sp->lab = lab;
	sp->fd = fd;
	TAILQ_INIT(&sp->tunnels);
	sp->logcap = (size_t)lab->conf->connect_log_max;
	sp->log = xcalloc(sp->logcap, sizeof(*sp->log));
	event_assign(&sp->lev, lab->base, fd, EV_READ | EV_PERSIST,
	    superproxy_accept_cb, sp);
	evtimer_assign(&sp->pause, lab->base, superproxy_resume_cb, sp);
	event_add(&sp->lev, NULL);
	sp->nworkers = nworkers < RELAYWORKER_MAX ? nworkers : RELAYWORKER_MAX;
	for (k = 0; k < sp->nworkers; k++) {
		sp->workers[k].rw = workers[k];
		sp->workers[k].alive = true;
		event_assign(&sp->workers[k].ev, lab->base, workers[k].ctl,
		    EV_READ | EV_PERSIST, superproxy_worker_cb, sp);
		event_add(&sp->workers[k].ev, NULL);
	}
	*ret = sp;
	return 0;
}

void
superproxy_free(struct superproxy *sp)
{
	int	k;

	if (sp == NULL)
		return;
	while (!TAILQ_EMPTY(&sp->tunnels))
		tunnel_free(TAILQ_FIRST(&sp->tunnels));
	for (k = 0; k < sp->nworkers; k++)
		event_del(&sp->workers[k].ev);
	event_del(&sp->lev);
	event_del(&sp->pause);
	close(sp->fd);
	free(sp->log);
	free(sp);
}

size_t
superproxy_close_ip(struct superproxy *sp, uint32_t ip)
{
	struct tunnel	*t, *next;
	size_t		 n = 0;

	for (t = TAILQ_FIRST(&sp->tunnels); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->state != TUNNEL_HEAD && t->exit_ip == ip) {
			if (t->state == TUNNEL_REMOTE) {
				struct relayworker_msg m = {
					.type = RELAYWORKER_CLOSE, .id = t->id };

				(void)relayworker_send(
				    sp->workers[t->worker].rw.ctl, &m, NULL, 0);
				sp->workers[t->worker].tunnels--;
			}
			tunnel_free(t);
			n++;
		}
	}
	return n;
}

json_t *
superproxy_json(const struct superproxy *sp)
{
	json_t	*bytes = json_object(), *workers = json_array();
	size_t	 i;
	int	 k;

	for (i = 0; i < world_nzones(sp->lab->world); i++)
		json_object_set_new(bytes, world_zone_name(sp->lab->world,
		    (int)i), json_integer(sp->bytes[i]));
	for (k = 0; k < sp->nworkers; k++)
		json_array_append_new(workers, json_pack("{s:i,s:b,s:I}",
		    "pid", (int)sp->workers[k].rw.pid, "alive",
		    sp->workers[k].alive, "tunnels",
		    (json_int_t)sp->workers[k].tunnels));
	return json_pack("{s:I,s:I,s:I,s:I,s:o,s:o}", "tunnels",
	    (json_int_t)sp->ntunnels, "max_tunnels",
	    (json_int_t)sp->lab->conf->max_tunnels, "connects",
	    (json_int_t)sp->connects, "refused", (json_int_t)sp->refused,
	    "bytes_by_zone", bytes, "workers", workers);
}

json_t *
superproxy_log_json(const struct superproxy *sp)
{
	const struct connect_entry	*e;
	json_t				*arr = json_array();
	char				 ts[UTIL_TIME_LEN], ip[WORLD_IPSTR_MAX];
	size_t				 i, start;

	start = (sp->lognext + sp->logcap - sp->logcount) % (sp->logcap ?
	    sp->logcap : 1);
	for (i = 0; i < sp->logcount; i++) {
		e = &sp->log[(start + i) % sp->logcap];
		util_fmt_time(e->time_ms, ts);
		if (e->exit_ip != 0)
			world_ip_str(e->exit_ip, ip);
		else
			ip[0] = '\0';
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:i}",
		    "time", ts, "target", e->target, "zone", e->zone,
		    "exit_ip", ip, "status", e->status));
	}
	return arr;
}
