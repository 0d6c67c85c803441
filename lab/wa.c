/*
 * The WhatsApp stand-in (see wa.h).  One timer pings every live
 * connection and closes those that stopped answering, instead of a timer
 * per connection, so an idle connection costs one event and a small
 * struct.  Live phones are also counted per source address, so that a
 * HELLO learns in constant time how many other phones share its address
 * (a benchmark connects thousands through one IP).
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "lab.h"
#include "net.h"
#include "wa.h"
#include "waproto.h"

#define WA_BUCKETS	16384
#define WA_IP_BUCKETS	4096

struct wa_conn;

struct wa_phone {
	struct wa_phone		*next;		/* hash chain */
	char			 phone[WAPROTO_PHONE_MAX];
	char			 token[WAPROTO_TOKEN_MAX];
	enum wa_phone_state	 state;
	struct wa_conn		*conn;
	uint32_t		 ip;
	char			 country[3];
	int64_t			 connects;
	int64_t			 conflicts;
	int64_t			 ip_changes;
	int64_t			 refused;
	int64_t			 ip_shared;	/* connects sharing an IP */
	int64_t			 links;		/* devices linked (wa_link) */
	int64_t			 last_change_ms;
};

/* How many phones are connected from one address. */
struct wa_ipcount {
	struct wa_ipcount	*next;		/* hash chain */
	uint32_t		 ip;
	int64_t			 phones;
};

struct wa_conn {
	TAILQ_ENTRY(wa_conn)	 entry;
	struct wa		*wa;
	int			 fd;
	struct event		 ev;
	uint32_t		 ip;
	struct wa_phone		*phone;		/* after OK */
	/*
	 * A device waiting to be linked (PAIR, PAIRCODE): the phone it
	 * names, the token it will pair with and, for PAIRCODE, the code
	 * the customer types on the phone.
	 */
	enum waproto_kind	 pair_kind;
	bool			 pairing;
	char			 pair_phone[WAPROTO_PHONE_MAX];
	char			 pair_token[WAPROTO_TOKEN_MAX];
	char			 pair_code[WA_PAIR_CODE_LEN];
	int64_t			 since_mono;
	int64_t			 pong_mono;
	size_t			 len;
	char			 line[WAPROTO_MAX_LINE + 2];
};
TAILQ_HEAD(wa_conn_list, wa_conn);

struct wa {
	struct lab		*lab;
	int			 fd;
	struct event		 lev;
	struct event		 tick;
	struct wa_conn_list	 conns;
	size_t			 nconns;
	struct wa_phone		*buckets[WA_BUCKETS];
	size_t			 nphones;
	uint32_t		 blocked[WA_MAX_BLOCKED_IPS];
	size_t			 nblocked;
	/* At most one entry per live connection, so bounded by them. */
	struct wa_ipcount	*ipcounts[WA_IP_BUCKETS];
	int64_t			 ip_shares;
};

static const char *const wa_state_names[] = {
	[WA_PHONE_OK] = "ok",
	[WA_PHONE_LOGGED_OUT] = "logged_out",
	[WA_PHONE_BLOCKED] = "blocked",
};

int
wa_state_parse(const char *s, enum wa_phone_state *ret)
{
	size_t	i;

	for (i = 0; i < nitems(wa_state_names); i++) {
		if (strcmp(s, wa_state_names[i]) == 0) {
			*ret = (enum wa_phone_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

static uint32_t
wa_hash(const char *s)
{
	uint32_t	h = 2166136261U;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619U;
	return h % WA_BUCKETS;
}

static struct wa_phone *
wa_phone_get(struct wa *wa, const char *phone, bool create)
{
	struct wa_phone	*p;
	uint32_t	 h = wa_hash(phone);

	for (p = wa->buckets[h]; p != NULL; p = p->next)
		if (strcmp(p->phone, phone) == 0)
			return p;
	if (!create || wa->nphones >= WA_MAX_PHONES)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	(void)util_strlcpy(p->phone, phone, sizeof(p->phone));
	p->next = wa->buckets[h];
	wa->buckets[h] = p;
	wa->nphones++;
	return p;
}

static struct wa_ipcount **
wa_ipcount_slot(struct wa *wa, uint32_t ip)
{
	struct wa_ipcount	**pp;

	pp = &wa->ipcounts[(ip * 2654435761U) % WA_IP_BUCKETS];
	while (*pp != NULL && (*pp)->ip != ip)
		pp = &(*pp)->next;
	return pp;
}

/* Phones connected from ip right now. */
static int64_t
wa_ip_phones(struct wa *wa, uint32_t ip)
{
	struct wa_ipcount	*e = *wa_ipcount_slot(wa, ip);

	return e != NULL ? e->phones : 0;
}

/* One more (delta 1) or one fewer (-1) phone connected from ip. */
static void
wa_ip_count(struct wa *wa, uint32_t ip, int64_t delta)
{
	struct wa_ipcount	**pp = wa_ipcount_slot(wa, ip), *e = *pp;

	if (e == NULL) {
		if (delta <= 0)
			return;
		e = xcalloc(1, sizeof(*e));
		e->ip = ip;
		*pp = e;
	}
	e->phones += delta;
	if (e->phones <= 0) {
		*pp = e->next;
		free(e);
	}
}

static void
wa_send(struct wa_conn *c, const char *msg)
{
	/* Lines are tiny; a client that cannot take one is not reading. */
	(void)!write(c->fd, msg, strlen(msg));
}

static void
wa_conn_free(struct wa_conn *c)
{
	struct wa	*wa = c->wa;

	if (c->phone != NULL && c->phone->conn == c) {
		wa_ip_count(wa, c->ip, -1);
		c->phone->conn = NULL;
		c->phone->last_change_ms = lab_now(wa->lab);
		log_info("wa.disconnected", LOGF_S("phone", c->phone->phone));
	}
	event_del(&c->ev);
	close(c->fd);
	TAILQ_REMOVE(&wa->conns, c, entry);
	wa->nconns--;
	free(c);
}

static bool
wa_ip_blocked(const struct wa *wa, uint32_t ip)
{
	size_t	i;

	for (i = 0; i < wa->nblocked; i++)
		if (wa->blocked[i] == ip)
			return true;
	return false;
}

/* Handles HELLO; returns -1 when the connection was closed. */
static int
wa_hello(struct wa_conn *c, const struct waproto_msg *m)
{
	struct wa	*wa = c->wa;
	struct wa_phone	*p;
	char		 ip[WORLD_IPSTR_MAX];
	int64_t		 others;

	world_ip_str(c->ip, ip);
	if ((p = wa_phone_get(wa, m->phone, true)) == NULL) {
		wa_send(c, "ERR too many phones\n");
		wa_conn_free(c);
		return -1;
	}
	if (p->state == WA_PHONE_BLOCKED || wa_ip_blocked(wa, c->ip)) {
		p->refused++;
		log_info("wa.blocked", LOGF_S("phone", p->phone),
		    LOGF_S("ip", ip));
		wa_send(c, "BLOCKED\n");
		wa_conn_free(c);
		return -1;
	}
	if (p->state == WA_PHONE_LOGGED_OUT && strcmp(p->token, m->token) == 0) {
		p->refused++;
		log_info("wa.logged_out", LOGF_S("phone", p->phone));
		wa_send(c, "LOGGED_OUT\n");
		wa_conn_free(c);
		return -1;
	}
	/* A new token is a new QR scan: it becomes the phone's pairing. */
	(void)util_strlcpy(p->token, m->token, sizeof(p->token));
	p->state = WA_PHONE_OK;
	p->connects++;
	if (p->ip != 0 && p->ip != c->ip)
		p->ip_changes++;
	p->ip = c->ip;
	if (world_ip_country(wa->lab->world, c->ip, p->country) != 0)
		p->country[0] = '\0';
	p->last_change_ms = lab_now(wa->lab);
	if (p->conn != NULL) {
		p->conflicts++;
		log_info("wa.conflict", LOGF_S("phone", p->phone),
		    LOGF_S("ip", ip));
		wa_send(p->conn, "CONFLICT\n");
		wa_conn_free(p->conn);
	}
	/*
	 * Accounts seen behind one address risk being linked and banned
	 * together, so a connect from an address other phones are connected
	 * from is counted.  The phone's own older connection was closed
	 * above and is not one of them.
	 */
	if ((others = wa_ip_phones(wa, c->ip)) > 0) {
		wa->ip_shares++;
		p->ip_shared++;
		log_info("wa.ip_shared", LOGF_S("phone", p->phone),
		    LOGF_S("ip", ip), LOGF_I("others", others));
	}
	wa_ip_count(wa, c->ip, 1);
	p->conn = c;
	c->phone = p;
	c->pong_mono = util_mono_ms();
	log_info("wa.connected", LOGF_S("phone", p->phone), LOGF_S("ip", ip),
	    LOGF_S("country", p->country));
	wa_send(c, "OK\n");
	return 0;
}

/*
 * PAIR or PAIRCODE: the connection waits (up to WA_PAIR_TIMEOUT_MS) for
 * the phone to scan the QR code or have the code typed (wa_link).  A
 * pairing code is 8 characters from an alphabet without look-alikes, as
 * WhatsApp's, drawn from the lab's seeded generator.
 */
static int
wa_pair(struct wa_conn *c, const struct waproto_msg *m)
{
	static const char	 alphabet[] =
	    "ABCDEFGHJKLMNPQRSTVWXYZ23456789";
	char			 line[32];
	size_t			 i, o = 0;

	c->pairing = true;
	c->pair_kind = m->kind;
	c->since_mono = util_mono_ms();
	(void)util_strlcpy(c->pair_phone, m->phone, sizeof(c->pair_phone));
	(void)util_strlcpy(c->pair_token, m->token, sizeof(c->pair_token));
	if (m->kind == WAPROTO_PAIR) {
		log_info("wa.pair_qr", LOGF_S("phone", m->phone));
		wa_send(c, "WAIT\n");
		return 0;
	}
	for (i = 0; i < 8; i++) {
		if (i == 4)
			c->pair_code[o++] = '-';
		c->pair_code[o++] = alphabet[rng_below(&c->wa->lab->rng,
		    sizeof(alphabet) - 1)];
	}
	c->pair_code[o] = '\0';
	log_info("wa.pair_code", LOGF_S("phone", m->phone));
	(void)snprintf(line, sizeof(line), "CODE %s\n", c->pair_code);
	wa_send(c, line);
	return 0;
}

int
wa_link(struct wa *wa, const char *phone, const char *qr, const char *code)
{
	struct wa_conn	*c;
	struct wa_phone	*p;
	char		 want[WAPROTO_PHONE_MAX + WAPROTO_TOKEN_MAX + 16];
	bool		 waiting = false;

	if (!waproto_phone_valid(phone) || (qr == NULL) == (code == NULL))
		return -EINVAL;
	TAILQ_FOREACH(c, &wa->conns, entry) {
		if (!c->pairing || strcmp(c->pair_phone, phone) != 0)
			continue;
		waiting = true;
		(void)snprintf(want, sizeof(want), "%s%s:%s", WA_QR_PREFIX,
		    c->pair_phone, c->pair_token);
		if (qr != NULL ? c->pair_kind == WAPROTO_PAIR &&
		    strcmp(qr, want) == 0 : c->pair_kind == WAPROTO_PAIRCODE &&
		    strcasecmp(code, c->pair_code) == 0)
			break;
	}
	if (c == NULL)
		return waiting ? -EACCES : -ENOENT;
	if ((p = wa_phone_get(wa, phone, true)) == NULL)
		return -ENOSPC;
	/* The linked device's token is the phone's pairing: a new scan. */
	(void)util_strlcpy(p->token, c->pair_token, sizeof(p->token));
	if (p->state == WA_PHONE_LOGGED_OUT)
		p->state = WA_PHONE_OK;
	p->links++;
	log_info("wa.linked", LOGF_S("phone", phone), LOGF_S("by", qr != NULL ?
	    "qr" : "code"));
	wa_send(c, "PAIRED\n");
	wa_conn_free(c);
	return 0;
}

static int
wa_line(struct wa_conn *c, const char *line, size_t len)
{
	struct waproto_msg	m;

	if (waproto_parse(line, len, &m) != 0) {
		wa_send(c, "ERR malformed line\n");
		wa_conn_free(c);
		return -1;
	}
	if (m.kind == WAPROTO_PONG) {
		c->pong_mono = util_mono_ms();
		return 0;
	}
	if (c->phone != NULL || c->pairing) {
		wa_send(c, "ERR already said HELLO\n");
		wa_conn_free(c);
		return -1;
	}
	if (m.kind == WAPROTO_PAIR || m.kind == WAPROTO_PAIRCODE)
		return wa_pair(c, &m);
	return wa_hello(c, &m);
}

static void
wa_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wa_conn	*c = arg;
	char		 chunk[WAPROTO_MAX_LINE * 2];
	char		*nl;
	ssize_t		 n;
	size_t		 i, start, take;

	n = read(fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		wa_conn_free(c);
		return;
	}
	start = 0;
	for (i = 0; i < (size_t)n; i = start) {
		nl = memchr(chunk + start, '\n', (size_t)n - start);
		take = nl != NULL ? (size_t)(nl - (chunk + start)) :
		    (size_t)n - start;
		if (c->len + take > WAPROTO_MAX_LINE) {
			wa_send(c, "ERR line too long\n");
			wa_conn_free(c);
			return;
		}
		memcpy(c->line + c->len, chunk + start, take);
		c->len += take;
		start += take;
		if (nl == NULL)
			break;
		start++;
		if (wa_line(c, c->line, c->len) != 0)
			return;
		c->len = 0;
	}
}

static void
wa_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct wa	*wa = arg;
	struct wa_conn	*c;
	uint32_t	 ip;
	int		 fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if ((int64_t)wa->nconns >= wa->lab->conf->max_wa_conns ||
		    net_peer_u32(fd, &ip) != 0) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->wa = wa;
		c->fd = fd;
		c->ip = ip;
		c->since_mono = util_mono_ms();
		event_assign(&c->ev, wa->lab->base, fd, EV_READ | EV_PERSIST,
		    wa_conn_cb, c);
		event_add(&c->ev, NULL);
		TAILQ_INSERT_TAIL(&wa->conns, c, entry);
		wa->nconns++;
	}
}

static void
wa_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wa	*wa = arg;
	struct wa_conn	*c, *next;
	int64_t		 now = util_mono_ms();

	for (c = TAILQ_FIRST(&wa->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->phone == NULL) {
			if (now - c->since_mono > (c->pairing ?
			    WA_PAIR_TIMEOUT_MS : WA_HELLO_TIMEOUT_MS))
				wa_conn_free(c);
			continue;
		}
		if (now - c->pong_mono > wa->lab->conf->pong_timeout_ms) {
			log_info("wa.ping_timeout",
			    LOGF_S("phone", c->phone->phone));
			wa_conn_free(c);
			continue;
		}
		wa_send(c, "PING\n");
	}
}

int
wa_new(struct lab *lab, const char *addr, int port, struct wa **ret,
    int *ret_port)
{
	struct wa	*wa;
	struct timeval	 tv;
	int		 fd;

	if ((fd = net_listen(addr, port, ret_port)) < 0)
		return fd;
	wa = xcalloc(1, sizeof(*wa));
	wa->lab = lab;
	wa->fd = fd;
	TAILQ_INIT(&wa->conns);
	event_assign(&wa->lev, lab->base, fd, EV_READ | EV_PERSIST,
	    wa_accept_cb, wa);
	event_add(&wa->lev, NULL);
	event_assign(&wa->tick, lab->base, -1, EV_PERSIST, wa_tick_cb, wa);
	tv.tv_sec = lab->conf->ping_ms / 1000;
	tv.tv_usec = (lab->conf->ping_ms % 1000) * 1000;
	event_add(&wa->tick, &tv);
	*ret = wa;
	return 0;
}

void
wa_free(struct wa *wa)
{
	struct wa_phone		*p, *next;
	struct wa_ipcount	*e, *enext;
	size_t			 i;

	if (wa == NULL)
		return;
	while (!TAILQ_EMPTY(&wa->conns))
		wa_conn_free(TAILQ_FIRST(&wa->conns));
	for (i = 0; i < WA_BUCKETS; i++) {
		for (p = wa->buckets[i]; p != NULL; p = next) {
			next = p->next;
			free(p);
		}
	}
	/* Closing every connection emptied these; this is for safety. */
	for (i = 0; i < WA_IP_BUCKETS; i++) {
		for (e = wa->ipcounts[i]; e != NULL; e = enext) {
			enext = e->next;
			free(e);
		}
	}
	event_del(&wa->lev);
	event_del(&wa->tick);
	close(wa->fd);
	free(wa);
}

int
wa_set_phone(struct wa *wa, const char *phone, enum wa_phone_state state)
{
	struct wa_phone	*p;

	if (!waproto_phone_valid(phone))
		return -EINVAL;
	if ((p = wa_phone_get(wa, phone, true)) == NULL)
		return -ENOSPC;
	p->state = state;
	if (p->conn != NULL && state != WA_PHONE_OK) {
		wa_send(p->conn, state == WA_PHONE_BLOCKED ? "BLOCKED\n" :
		    "LOGGED_OUT\n");
		wa_conn_free(p->conn);
	}
	log_info("wa.phone_state", LOGF_S("phone", phone),
	    LOGF_S("state", wa_state_names[state]));
	return 0;
}

int
wa_set_ip_blocked(struct wa *wa, uint32_t ip, bool blocked)
{
	struct wa_conn	*c, *next;
	size_t		 i;

	for (i = 0; i < wa->nblocked; i++)
		if (wa->blocked[i] == ip)
			break;
	if (!blocked) {
		if (i < wa->nblocked)
			wa->blocked[i] = wa->blocked[--wa->nblocked];
		return 0;
	}
	if (i == wa->nblocked) {
		if (wa->nblocked >= WA_MAX_BLOCKED_IPS)
			return -ENOSPC;
		wa->blocked[wa->nblocked++] = ip;
	}
	for (c = TAILQ_FIRST(&wa->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->ip == ip && c->phone != NULL) {
			wa_send(c, "BLOCKED\n");
			wa_conn_free(c);
		}
	}
	return 0;
}

json_t *
wa_json(const struct wa *wa)
{
	const struct wa_phone	*p;
	json_t			*phones, *blocked;
	char			 ip[WORLD_IPSTR_MAX], ts[UTIL_TIME_LEN];
	size_t			 i;

	phones = json_object();
	for (i = 0; i < WA_BUCKETS; i++) {
		for (p = wa->buckets[i]; p != NULL; p = p->next) {
			if (p->ip != 0)
				world_ip_str(p->ip, ip);
			else
				ip[0] = '\0';
			util_fmt_time(p->last_change_ms, ts);
			json_object_set_new(phones, p->phone, json_pack(
			    "{s:b,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s}",
			    "connected", p->conn != NULL,
			    "state", wa_state_names[p->state],
			    "ip", ip, "country", p->country,
			    "connects", (json_int_t)p->connects,
			    "conflicts", (json_int_t)p->conflicts,
			    "ip_changes", (json_int_t)p->ip_changes,
			    "ip_shared", (json_int_t)p->ip_shared,
			    "refused", (json_int_t)p->refused,
			    "links", (json_int_t)p->links,
			    "last_change", ts));
		}
	}
	blocked = json_array();
	for (i = 0; i < wa->nblocked; i++) {
		world_ip_str(wa->blocked[i], ip);
		json_array_append_new(blocked, json_string(ip));
	}
	return json_pack("{s:I,s:I,s:o,s:o}", "connections",
	    (json_int_t)wa->nconns, "ip_shares", (json_int_t)wa->ip_shares,
	    "phones", phones, "blocked_ips", blocked);
}

json_t *
wa_save(const struct wa *wa)
{
	const struct wa_phone	*p;
	json_t			*arr = json_array(), *blocked = json_array();
	size_t			 i;

	for (i = 0; i < WA_BUCKETS; i++)
		for (p = wa->buckets[i]; p != NULL; p = p->next)
			json_array_append_new(arr, json_pack(
			    "{s:s,s:s,s:i,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I}",
			    "phone", p->phone, "token", p->token, "state",
			    (int)p->state, "ip", (json_int_t)p->ip, "country",
			    p->country, "connects", (json_int_t)p->connects,
			    "conflicts", (json_int_t)p->conflicts,
			    "ip_changes", (json_int_t)p->ip_changes,
			    "ip_shared", (json_int_t)p->ip_shared,
			    "refused", (json_int_t)p->refused, "last_change",
			    (json_int_t)p->last_change_ms));
	for (i = 0; i < wa->nblocked; i++)
		json_array_append_new(blocked,
		    json_integer((json_int_t)wa->blocked[i]));
	return json_pack("{s:I,s:o,s:o}", "ip_shares",
	    (json_int_t)wa->ip_shares, "phones", arr, "blocked_ips", blocked);
}

int
wa_load(struct wa *wa, const json_t *j)
{
	struct wa_phone	*p;
	const char	*phone, *token, *cc;
	json_int_t	 ip, connects, conflicts, changes, shared, refused, last;
	json_t		*v;
	size_t		 i;
	int		 state;

	/* The sharing counters came later; older states lack them. */
	v = json_object_get(j, "ip_shares");
	if (v != NULL && !json_is_integer(v))
		return -EINVAL;
	wa->ip_shares = json_integer_value(v);
	json_array_foreach(json_object_get(j, "phones"), i, v) {
		shared = 0;
		if (json_unpack(v,
		    "{s:s,s:s,s:i,s:I,s:s,s:I,s:I,s:I,s?I,s:I,s:I}",
		    "phone", &phone, "token", &token, "state", &state, "ip",
		    &ip, "country", &cc, "connects", &connects, "conflicts",
		    &conflicts, "ip_changes", &changes, "ip_shared", &shared,
		    "refused", &refused, "last_change", &last) != 0 ||
		    !waproto_phone_valid(phone) || state < 0 ||
		    state > WA_PHONE_BLOCKED)
			return -EINVAL;
		if ((p = wa_phone_get(wa, phone, true)) == NULL)
			return -ENOSPC;
		(void)util_strlcpy(p->token, token, sizeof(p->token));
		(void)util_strlcpy(p->country, cc, sizeof(p->country));
		p->state = (enum wa_phone_state)state;
		p->ip = (uint32_t)ip;
		p->connects = connects;
		p->conflicts = conflicts;
		p->ip_changes = changes;
		p->ip_shared = shared;
		p->refused = refused;
		p->last_change_ms = last;
	}
	json_array_foreach(json_object_get(j, "blocked_ips"), i, v)
		if (json_is_integer(v))
			(void)wa_set_ip_blocked(wa,
			    (uint32_t)json_integer_value(v), true);
	return 0;
}
