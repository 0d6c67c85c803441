/*
 * libcurl's multi interface on libevent: see curlev.h.
 *
 * One libevent event per socket curl asks us to watch (a struct cevsock,
 * attached to the socket with curl_multi_assign) and one timer for curl's
 * own timeouts.  Both end in curl_multi_socket_action, then in reading
 * curl's CURLMSG_DONE messages and telling the owner.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "base/xmalloc.h"
#include "sys/curlev.h"

struct cevsock {
	LIST_ENTRY(cevsock)	 link;
	struct curlev		*c;
	curl_socket_t		 fd;
	struct event		*ev;
};

struct curlev {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;		/* curl's timeout */
	curlev_done_cb		 done;
	void			*arg;
	LIST_HEAD(, cevsock)	 socks;
	/* While done callbacks run: set when one frees the curlev. */
	bool			*freed;
};

static void
curlev_sock_free(struct cevsock *cs)
{
	if (cs == NULL)
		return;
	LIST_REMOVE(cs, link);
	if (cs->ev != NULL)
		event_free(cs->ev);
	free(cs);
}

/*
 * Tell the owner about every finished transfer.  The message's fields are
 * copied out before the callback runs, because removing or cleaning up the
 * handle (which the callback does) invalidates the message; and c is not
 * touched again once a callback has freed it.
 */
static void
curlev_check_done(struct curlev *c)
{
	CURLMsg		*m;
	CURLcode	 result;
	char		*priv;
	bool		 freed = false;
	int		 left;

	c->freed = &freed;
	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    &priv);
		result = m->data.result;
		if (priv == NULL)
			continue;
		c->done(priv, result, c->arg);
		if (freed)
			return;
	}
	c->freed = NULL;
}

static void
curlev_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct cevsock	*cs = arg;
	struct curlev	*c = cs->c;
	int		 action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	/* cs may be freed inside; only c is used afterwards. */
	(void)curl_multi_socket_action(c->multi, fd, action, &running);
	curlev_check_done(c);
}

static int
curlev_sock_cb(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct curlev	*c = arg;
	struct cevsock	*cs = sockp;
	short		 events = EV_PERSIST;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		curlev_sock_free(cs);
		return 0;
	}
	if (cs == NULL) {
		cs = xcalloc(1, sizeof(*cs));
		cs->c = c;
		cs->fd = fd;
		LIST_INSERT_HEAD(&c->socks, cs, link);
		(void)curl_multi_assign(c->multi, fd, cs);
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (cs->ev != NULL)
		event_free(cs->ev);
	cs->ev = event_new(c->base, fd, events, curlev_sock_event, cs);
	if (cs->ev == NULL || event_add(cs->ev, NULL) != 0)
		return -1;
	return 0;
}

static void
curlev_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct curlev	*c = arg;
	int		 running;

	(void)fd;
	(void)what;
	(void)curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	curlev_check_done(c);
}

/* curl asks to be woken in ms; -1 cancels.  Never act from in here. */
static int
curlev_timer_cb(CURLM *multi, long ms, void *arg)
{
	struct curlev	*c = arg;
	struct timeval	 tv;

	(void)multi;
	if (ms < 0)
		return evtimer_del(c->timer) == 0 ? 0 : -1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return evtimer_add(c->timer, &tv) == 0 ? 0 : -1;
}

int
curlev_new(struct event_base *base, long max_connections,
    curlev_done_cb done, void *arg, struct curlev **ret)
{
	struct curlev	*c;

	if (base == NULL || done == NULL || ret == NULL)
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->done = done;
	c->arg = arg;
	LIST_INIT(&c->socks);
	if ((c->multi = curl_multi_init()) == NULL ||
	    (c->timer = evtimer_new(base, curlev_timer_event, c)) == NULL) {
		/* Balances this call's curl_global_init as well. */
		curlev_free(c);
		return -ENOMEM;
	}
	(void)curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION,
	    curlev_sock_cb);
	(void)curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	(void)curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION,
	    curlev_timer_cb);
	(void)curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	(void)curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    max_connections);
	*ret = c;
	return 0;
}

int
curlev_add(struct curlev *c, CURL *easy)
{
	if (c == NULL || easy == NULL)
		return -EINVAL;
	return curl_multi_add_handle(c->multi, easy) == CURLM_OK ? 0 : -EIO;
}

void
curlev_remove(struct curlev *c, CURL *easy)
{
	if (c == NULL || easy == NULL)
		return;
	(void)curl_multi_remove_handle(c->multi, easy);
}

void
curlev_free(struct curlev *c)
{
	struct cevsock	*cs;

	if (c == NULL)
		return;
	/* Freed from a done callback: curlev_check_done must stop. */
	if (c->freed != NULL)
		*c->freed = true;
	if (c->multi != NULL)
		(void)curl_multi_cleanup(c->multi);
	/* Sockets curl did not report closed before the multi went away. */
	while ((cs = LIST_FIRST(&c->socks)) != NULL)
		curlev_sock_free(cs);
	if (c->timer != NULL)
		event_free(c->timer);
	free(c);
	curl_global_cleanup();
}

/* Every socket close-on-exec from birth: connectors must not inherit it. */
static curl_socket_t
curlev_opensocket(void *arg, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
	int	fd;

	(void)arg;
	(void)purpose;
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC,
	    addr->protocol);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

int
curlev_easy_new(int64_t timeout_ms, int64_t connect_ms, CURL **ret)
{
	CURL		*e;
	CURLcode	 rc = CURLE_OK;

	if ((e = curl_easy_init()) == NULL)
		return -ENOMEM;
#define CEVSET(opt, val) do {						\
	if (rc == CURLE_OK)						\
		rc = curl_easy_setopt(e, opt, val);			\
} while (0)
	/* Signals are the daemon's, not libcurl's. */
	CEVSET(CURLOPT_NOSIGNAL, 1L);
	CEVSET(CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	CEVSET(CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < connect_ms ?
	    timeout_ms : connect_ms));
	CEVSET(CURLOPT_PROTOCOLS_STR, "http,https");
	CEVSET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* A redirect is an answer like any other, never followed. */
	CEVSET(CURLOPT_FOLLOWLOCATION, 0L);
	/* Peers are reached directly, whatever *_proxy says. */
	CEVSET(CURLOPT_NOPROXY, "*");
	CEVSET(CURLOPT_OPENSOCKETFUNCTION, curlev_opensocket);
	CEVSET(CURLOPT_TCP_KEEPALIVE, 1L);
#undef CEVSET
	if (rc != CURLE_OK) {
		curl_easy_cleanup(e);
		return -EINVAL;
	}
	*ret = e;
	return 0;
}

/* Keep one header's value, trimmed, if it fits. */
static void
curlev_keep_header(const char *line, size_t n, size_t namelen,
    char out[CURLEV_HEADER_LEN])
{
	const char	*v = line + namelen, *end = line + n;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - v) >= CURLEV_HEADER_LEN)
		return;
	memcpy(out, v, (size_t)(end - v));
	out[end - v] = '\0';
}

size_t
curlev_retry_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct curlev_retry	*h = arg;
	size_t			 n = size * nmemb;

	/* A new status line (after a 100 Continue) starts a new answer. */
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		h->retry_after[0] = '\0';
		h->date[0] = '\0';
	} else if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		curlev_keep_header(p, n, 12, h->retry_after);
	else if (n > 5 && strncasecmp(p, "Date:", 5) == 0)
		curlev_keep_header(p, n, 5, h->date);
	return n;
}
