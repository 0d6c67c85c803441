/*
 * Tests of the HTTP front's offloaded routes (src/httpd.c), over real
 * loopback sockets: a route marked offload is handed to the offload
 * function and answered only when its call finishes; the handler sees the
 * worker's resource and the after hook runs on the loop before the answer
 * leaves; a refused offload, or a call cancelled, answers 503 in JSON; a
 * client that went away before the answer, and a server freed with a call
 * still out, cost nothing but the call (AddressSanitizer checks the
 * lifetimes).  A route's before hook answers, or proceeds to the offload
 * with what it prepared, whenever it is done.  The "worker" here is the
 * test itself, running the call
 * between two turns of the loop.  Over the same sockets: a NUL or a
 * control character in a header is refused (libevent would cut the value
 * at the NUL), a body must be application/json, and what libevent refuses
 * itself (malformed, too large, unknown methods) is answered in JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/util.h"
#include "http/httpd.h"

#define CALLS_MAX	8

static struct httpd_call	*calls[CALLS_MAX];
static int			 ncalls;
static bool			 refuse;
static int			 worker_token = 42;

static void
slow_handler(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	(void)arg;
	rs->json = json_pack("{s:b, s:I}", "worker", rq->worker ==
	    &worker_token, "id", (json_int_t)rq->id);
}

static void
slow_after(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	(void)arg;
	/* On the loop: the worker's resource is gone from the request. */
	json_object_set_new(rs->json, "after", json_boolean(rq->worker ==
	    NULL));
}

static void
inline_handler(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	(void)arg;
	rs->json = json_pack("{s:b}", "worker", rq->worker != NULL);
}

static void
body_handler(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	(void)arg;
	rs->json = json_pack("{s:I}", "bodylen", (json_int_t)rq->bodylen);
}

/*
 * A before hook: "/pre/1" is answered by the hook at once (400); any
 * other id waits in befores[] for the test to proceed or answer.
 */
static struct httpd_call	*befores[CALLS_MAX];
static struct httpd_response	*before_rs[CALLS_MAX];
static int			 nbefores;

static void
pre_before(void *arg, struct httpd_call *c, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	(void)arg;
	assert_null(rq->worker);
	if (rq->id == 1) {
		httpd_error(rs, 400, NULL, "refused by the hook");
		httpd_call_answer(c);
		return;
	}
	assert_true(nbefores < CALLS_MAX);
	before_rs[nbefores] = rs;
	befores[nbefores++] = c;
}

static void
pre_handler(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	(void)arg;
	rs->json = json_pack("{s:b, s:i}", "worker", rq->worker ==
	    &worker_token, "prepared", rq->prepared != NULL ?
	    *(int *)rq->prepared : -1);
}

static int *
prepared_new(int v)
{
	int	*p = malloc(sizeof *p);

	assert_non_null(p);
	*p = v;
	return p;
}

static const struct httpd_route routes[] = {
	{ HTTPD_GET, "/inline", false, inline_handler, false, NULL, 0, false,
	    NULL },
	{ HTTPD_GET, "/pre/{id}", false, pre_handler, true, slow_after, 0,
	    false, pre_before },
	{ HTTPD_GET, "/slow/{id}", false, slow_handler, true, slow_after, 0,
	    false, NULL },
	{ HTTPD_GET, "/auth", true, inline_handler, false, NULL, 0, false,
	    NULL },
	{ HTTPD_POST, "/body", false, body_handler, false, NULL, 0, false,
	    NULL },
	{ HTTPD_OTHER, NULL, false, NULL, false, NULL, 0, false, NULL },
};

static int
offload(void *arg, struct httpd_call *c)
{
	(void)arg;
	if (refuse || ncalls == CALLS_MAX)
		return -ENOBUFS;
	calls[ncalls++] = c;
	return 0;
}

struct server {
	struct event_base	*base;
	struct httpd		*h;
	int			 port;
};

/* A server whose API key comes from key_ref ("": none). */
static void
server_start_key(struct server *s, const char *key_ref)
{
	char	bound[HTTPD_ADDR_LEN], err[HTTPD_ERR_LEN];
	int64_t	port;

	ncalls = 0;
	nbefores = 0;
	refuse = false;
	s->base = event_base_new();
	assert_non_null(s->base);
	assert_int_equal(httpd_new(s->base, "127.0.0.1:0", routes, NULL,
	    key_ref, &s->h, bound, err), 0);
	httpd_set_offload(s->h, offload, NULL);
	assert_int_equal(util_parse_i64(strrchr(bound, ':') + 1, 1, 65535,
	    &port), 0);
	s->port = (int)port;
}

static void
server_start(struct server *s)
{
	server_start_key(s, "");
}

static void
server_stop(struct server *s)
{
	httpd_free(s->h);
	event_base_free(s->base);
}

/* A few turns of the loop. */
static void
spin(struct server *s, int turns)
{
	struct timeval	tv = { 0, 20 * 1000 };

	while (turns-- > 0) {
		event_base_loopexit(s->base, &tv);
		event_base_dispatch(s->base);
	}
}

static int
client(struct server *s, const char *path)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	char			req[256];
	int			fd;

	sin.sin_port = htons((uint16_t)s->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	return fd;
}

/* A request of len bytes sent exactly as given (a NUL, a bad line). */
static int
client_raw(struct server *s, const char *req, size_t len)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			fd;

	sin.sin_port = htons((uint16_t)s->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(write(fd, req, len), (ssize_t)len);
	return fd;
}

/* What arrived so far on fd, without waiting. */
static size_t
drain(int fd, char *buf, size_t size)
{
	size_t	len = 0;
	ssize_t	n;

	while (len + 1 < size && (n = recv(fd, buf + len, size - len - 1,
	    MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return len;
}

static void
test_inline_route(void **state)
{
	struct server	s;
	char		buf[4096];
	int		fd;

	(void)state;
	server_start(&s);
	fd = client(&s, "/inline");
	spin(&s, 5);
	drain(fd, buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.0 200"));
	assert_non_null(strstr(buf, "\"worker\":false"));
	assert_int_equal(ncalls, 0);
	close(fd);
	server_stop(&s);
}

static void
test_offloaded_answered_when_finished(void **state)
{
	struct server	s;
	char		buf[4096];
	int		fd;

	(void)state;
	server_start(&s);
	fd = client(&s, "/slow/7");
	spin(&s, 5);
	assert_int_equal(ncalls, 1);
	assert_int_equal(httpd_calls_out(s.h), 1);
	/* Nothing answered while the call is out. */
	assert_int_equal(drain(fd, buf, sizeof buf), 0);
	httpd_call_run(calls[0], &worker_token);
	httpd_call_finish(calls[0], 0);
	assert_int_equal(httpd_calls_out(s.h), 0);
	spin(&s, 5);
	drain(fd, buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.0 200"));
	assert_non_null(strstr(buf, "\"worker\":true"));
	assert_non_null(strstr(buf, "\"id\":7"));
	assert_non_null(strstr(buf, "\"after\":true"));
	close(fd);
	server_stop(&s);
}

static void
test_refused_and_cancelled(void **state)
{
	struct server	s;
	char		buf[4096];
	int		fd, fd2;

	(void)state;
	server_start(&s);
	refuse = true;
	fd = client(&s, "/slow/1");
	spin(&s, 5);
	drain(fd, buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.0 503"));
	assert_non_null(strstr(buf, "application/json"));
	assert_non_null(strstr(buf, "\"error\""));
	assert_int_equal(httpd_calls_out(s.h), 0);
	close(fd);

	/* Cancelled before it ran (the worker was freed): 503 as well. */
	refuse = false;
	fd2 = client(&s, "/slow/2");
	spin(&s, 5);
	assert_int_equal(ncalls, 1);
	httpd_call_finish(calls[0], -ECANCELED);
	spin(&s, 5);
	drain(fd2, buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.0 503"));
	assert_null(strstr(buf, "\"after\""));
	close(fd2);
	server_stop(&s);
}

/*
 * A call the worker has not answered by HTTPD_CALL_DEADLINE_MS (a frozen
 * database): a 503 in JSON with Retry-After goes out then, on the open
 * connection; the answer that comes later is not sent, and the call is
 * freed all the same.
 */
static void
test_late_call(void **state)
{
	struct server	s;
	char		buf[4096];
	int		fd;
	int64_t		t0;

	(void)state;
	server_start(&s);
	t0 = util_mono_ms();
	fd = client(&s, "/slow/9");
	spin(&s, 5);
	assert_int_equal(ncalls, 1);
	assert_int_equal(drain(fd, buf, sizeof buf), 0);
	/* Not before the deadline; well before twice it, even when loaded. */
	while (util_mono_ms() - t0 < 2 * HTTPD_CALL_DEADLINE_MS &&
	    drain(fd, buf, sizeof buf) == 0)
		spin(&s, 1);
	assert_true(util_mono_ms() - t0 >= HTTPD_CALL_DEADLINE_MS);
	assert_non_null(strstr(buf, "HTTP/1.0 503"));
	assert_non_null(strstr(buf, "Retry-After: 1"));
	assert_non_null(strstr(buf, "did not answer within"));
	assert_int_equal(httpd_calls_out(s.h), 1);
	httpd_call_run(calls[0], &worker_token);
	httpd_call_finish(calls[0], 0);
	assert_int_equal(httpd_calls_out(s.h), 0);
	spin(&s, 5);
	assert_int_equal(drain(fd, buf, sizeof buf), 0);
	close(fd);
	server_stop(&s);
}

static void
test_client_gone(void **state)
{
	struct server	s;
	int		fd;

	(void)state;
	server_start(&s);
	fd = client(&s, "/slow/3");
	spin(&s, 5);
	assert_int_equal(ncalls, 1);
	close(fd);
	/* libevent sees the EOF and lets go of the connection. */
	spin(&s, 5);
	httpd_call_run(calls[0], &worker_token);
	httpd_call_finish(calls[0], 0);
	spin(&s, 2);
	assert_int_equal(httpd_calls_out(s.h), 0);
	server_stop(&s);
}

static void
test_server_freed_with_call_out(void **state)
{
	struct server	s;
	int		fd;

	(void)state;
	server_start(&s);
	fd = client(&s, "/slow/4");
	spin(&s, 5);
	assert_int_equal(ncalls, 1);
	httpd_free(s.h);
	/* The call outlived its server: finishing only frees it. */
	httpd_call_run(calls[0], &worker_token);
	httpd_call_finish(calls[0], 0);
	close(fd);
	event_base_free(s.base);
}

/*
 * A route's before hook runs on the loop before the offload: it may answer
 * at once (the handler never runs, nor the after hook), answer later, or
 * proceed later with what it prepared, which the handler finds and the
 * call frees.  Nothing goes out while the hook has not ended.  A hook
 * that ends after its server was freed only frees the call.
 */
static void
test_before_hook(void **state)
{
	struct server	s;
	char		buf[4096];
	int		fd, fd2, fd3;

	(void)state;
	server_start(&s);
	fd = client(&s, "/pre/1");
	spin(&s, 5);
	drain(fd, buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.0 400"));
	assert_non_null(strstr(buf, "refused by the hook"));
	assert_null(strstr(buf, "\"after\""));
	assert_int_equal(ncalls, 0);
	assert_int_equal(httpd_calls_out(s.h), 0);
	close(fd);

	/* Proceeds later: to the offload, then the handler with its data. */
	fd = client(&s, "/pre/2");
	spin(&s, 5);
	assert_int_equal(nbefores, 1);
	assert_int_equal(ncalls, 0);
	assert_int_equal(drain(fd, buf, sizeof buf), 0);
	httpd_call_proceed(befores[0], prepared_new(77), free);
	assert_int_equal(ncalls, 1);
	httpd_call_run(calls[0], &worker_token);
	httpd_call_finish(calls[0], 0);
	spin(&s, 5);
	drain(fd, buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.0 200"));
	assert_non_null(strstr(buf, "\"prepared\":77"));
	assert_non_null(strstr(buf, "\"worker\":true"));
	assert_non_null(strstr(buf, "\"after\":true"));
	close(fd);

	/* Answers later: its answer, no handler, no after hook. */
	fd2 = client(&s, "/pre/3");
	spin(&s, 5);
	assert_int_equal(nbefores, 2);
	httpd_error(before_rs[1], 502, NULL, "the hook's source failed");
	httpd_call_answer(befores[1]);
	spin(&s, 5);
	drain(fd2, buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.0 502"));
	assert_non_null(strstr(buf, "the hook's source failed"));
	assert_null(strstr(buf, "\"after\""));
	assert_int_equal(ncalls, 1);
	assert_int_equal(httpd_calls_out(s.h), 0);
	close(fd2);

	/* Still in its hook when the server goes: proceeding frees it all. */
	fd3 = client(&s, "/pre/4");
	spin(&s, 5);
	assert_int_equal(nbefores, 3);
	httpd_free(s.h);
	httpd_call_proceed(befores[2], prepared_new(5), free);
	assert_int_equal(ncalls, 1);
	close(fd3);
	event_base_free(s.base);
}

/*
 * libevent keeps header values as C strings, so "KEY\0junk" would arrive
 * as "KEY": a NUL anywhere in a header is refused, and only the key itself,
 * of its own length, is accepted.
 */
static void
test_key_nul(void **state)
{
#define REQ(hdr) "GET /auth HTTP/1.0\r\n" hdr "\r\n\r\n"
	static const struct {
		const char	*req;
		size_t		 len;
		const char	*status;
	} cases[] = {
		{ REQ("x-api-key: k3y"), sizeof REQ("x-api-key: k3y") - 1,
		  "HTTP/1.0 200" },
		{ REQ("Authorization: Bearer k3y"),
		  sizeof REQ("Authorization: Bearer k3y") - 1, "HTTP/1.0 200" },
		{ REQ("x-api-key: k3y\0junk"),
		  sizeof REQ("x-api-key: k3y\0junk") - 1, "HTTP/1.0 400" },
		{ REQ("Authorization: Bearer k3y\0junk"),
		  sizeof REQ("Authorization: Bearer k3y\0junk") - 1,
		  "HTTP/1.0 400" },
		{ REQ("x-api-key: k3y\0"), sizeof REQ("x-api-key: k3y\0") - 1,
		  "HTTP/1.0 400" },
		{ REQ("x-api-key: k3y\r\nX-Other: a\0b"),
		  sizeof REQ("x-api-key: k3y\r\nX-Other: a\0b") - 1,
		  "HTTP/1.0 400" },
		{ REQ("x-api-key: k3y\x01"), sizeof REQ("x-api-key: k3y\x01") - 1,
		  "HTTP/1.0 400" },
		{ REQ("x-api-key: k3"), sizeof REQ("x-api-key: k3") - 1,
		  "HTTP/1.0 401" },
		{ REQ("x-api-key: k3yy"), sizeof REQ("x-api-key: k3yy") - 1,
		  "HTTP/1.0 401" },
	};
	struct server	s;
	char		buf[4096];
	size_t		i;
	int		fd;

	(void)state;
	assert_int_equal(setenv("TEST_HTTPD_KEY", "k3y", 1), 0);
	server_start_key(&s, "env:TEST_HTTPD_KEY");
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fd = client_raw(&s, cases[i].req, cases[i].len);
		spin(&s, 5);
		drain(fd, buf, sizeof buf);
		if (strncmp(buf, cases[i].status, strlen(cases[i].status)) != 0)
			fail_msg("case %zu: %.40s", i, buf);
		assert_non_null(strstr(buf, "application/json"));
		close(fd);
	}
	server_stop(&s);
#undef REQ
}

/* A body must be JSON, said so by Content-Type; no body needs none. */
static void
test_content_type(void **state)
{
#define POST(hdrs, body) "POST /body HTTP/1.0\r\n" hdrs "Content-Length: " \
	body "\r\n\r\n"
	static const struct {
		const char	*req;
		const char	*status;
	} cases[] = {
		{ POST("Content-Type: application/json\r\n", "2") "{}",
		  "HTTP/1.0 200" },
		{ POST("Content-Type: Application/JSON; charset=UTF-8\r\n", "2")
		  "{}", "HTTP/1.0 200" },
		{ POST("", "0"), "HTTP/1.0 200" },
		{ POST("Content-Type: text/plain\r\n", "0"), "HTTP/1.0 200" },
		{ POST("", "2") "{}", "HTTP/1.0 415" },
		{ POST("Content-Type: text/plain\r\n", "2") "{}",
		  "HTTP/1.0 415" },
		{ POST("Content-Type: application/x-www-form-urlencoded\r\n",
		  "2") "{}", "HTTP/1.0 415" },
		{ POST("Content-Type: application/json; charset=latin1\r\n",
		  "2") "{}", "HTTP/1.0 415" },
		{ POST("Content-Type: application/json\r\n"
		  "Content-Type: text/plain\r\n", "2") "{}", "HTTP/1.0 415" },
	};
	struct server	s;
	char		buf[4096];
	size_t		i;
	int		fd;

	(void)state;
	server_start(&s);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fd = client_raw(&s, cases[i].req, strlen(cases[i].req));
		spin(&s, 5);
		drain(fd, buf, sizeof buf);
		if (strncmp(buf, cases[i].status, strlen(cases[i].status)) != 0)
			fail_msg("case %zu: %.40s", i, buf);
		assert_non_null(strstr(buf, "application/json"));
		if (strcmp(cases[i].status, "HTTP/1.0 415") == 0)
			assert_non_null(strstr(buf,
			    "\"error\":\"unsupported_media_type\""));
		close(fd);
	}
	server_stop(&s);
#undef POST
}

/*
 * What libevent refuses before any route sees it is answered in JSON too,
 * and the connection closed: after a request it could not read, the bytes
 * that follow cannot be trusted to start the next one.
 */
static void
test_libevent_errors(void **state)
{
	static const struct {
		const char	*req;
		const char	*status;
		const char	*error;
	} cases[] = {
		{ "GARBAGE\r\n\r\n", " 400 ", "invalid_request" },
		{ "GET /inline HTTP/9.9\r\n\r\n", " 400 ", "invalid_request" },
		{ "FOO /inline HTTP/1.1\r\n\r\n", " 501 ", "not_implemented" },
		{ "TRACE /inline HTTP/1.1\r\n\r\n", " 501 ", "not_implemented" },
		{ "GET /inline HTTP/1.1\r\nNo colon here\r\n\r\n", " 400 ",
		  "invalid_request" },
		{ "POST /body HTTP/1.1\r\nContent-Length: x\r\n\r\n", " 400 ",
		  "invalid_request" },
		{ "POST /body HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n",
		  " 413 ", "payload_too_large" },
		{ "POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "zz\r\n", " 413 ", "payload_too_large" },
		{ "POST /body HTTP/1.1\r\nExpect: teapot\r\n"
		  "Content-Length: 2\r\n\r\n", " 417 ", "expectation_failed" },
	};
	struct server	s;
	char		buf[4096], want[64], *big;
	size_t		i, len;
	int		fd;

	(void)state;
	server_start(&s);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fd = client_raw(&s, cases[i].req, strlen(cases[i].req));
		spin(&s, 5);
		drain(fd, buf, sizeof buf);
		if (strncmp(buf, "HTTP/1.", 7) != 0 ||
		    strstr(buf, cases[i].status) == NULL ||
		    strstr(buf, "Content-Type: application/json") == NULL ||
		    strstr(buf, "Connection: close") == NULL)
			fail_msg("case %zu: %.200s", i, buf);
		snprintf(want, sizeof want, "{\"error\":\"%s\",\"message\":",
		    cases[i].error);
		if (strstr(buf, want) == NULL)
			fail_msg("case %zu: %.200s", i, buf);
		close(fd);
	}

	/* Headers over HTTPD_HEADERS_MAX. */
	len = HTTPD_HEADERS_MAX + 100;
	big = malloc(len + 64);
	assert_non_null(big);
	memcpy(big, "GET /inline HTTP/1.1\r\nX-Big: ", 30);
	memset(big + 30, 'a', len);
	memcpy(big + 30 + len, "\r\n\r\n", 4);
	fd = client_raw(&s, big, 30 + len + 4);
	spin(&s, 5);
	drain(fd, buf, sizeof buf);
	if (strstr(buf, " 400 ") == NULL ||
	    strstr(buf, "\"error\":\"invalid_request\"") == NULL)
		fail_msg("big headers: %.200s", buf);
	close(fd);
	free(big);
	server_stop(&s);
}

/* Bytes of a small file, or "" when it cannot be read. */
static void
slurp(const char *path, char *buf, size_t size)
{
	FILE	*f = fopen(path, "r");
	size_t	 n = 0;

	if (f != NULL) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

static void
put(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A request with key, answered within ms; its status line. */
static void
keyed(struct server *s, const char *key, int64_t ms, char *buf, size_t size)
{
	char	req[256];
	int64_t	t0 = util_mono_ms();
	int	fd;

	snprintf(req, sizeof req, "GET /auth HTTP/1.0\r\nx-api-key: %s\r\n"
	    "\r\n", key);
	fd = client_raw(s, req, strlen(req));
	buf[0] = '\0';
	while (strchr(buf, '\n') == NULL && util_mono_ms() - t0 < 3000) {
		spin(s, 1);
		drain(fd, buf, size);
	}
	if (util_mono_ms() - t0 > ms)
		fail_msg("key %s: answered after %lld ms", key,
		    (long long)(util_mono_ms() - t0));
	close(fd);
}

/*
 * A wrong key asks for the key to be read again, in case it was rotated;
 * with exec: that may take seconds, so it happens off the loop: the
 * request is answered at once against the key known so far, one re-read
 * runs at a time and one per HTTPD_KEY_REREAD_MS, and requests after it
 * are judged against what it read.
 */
static void
test_key_reread_off_loop(void **state)
{
	struct server	s;
	char		dir[] = "/tmp/respawn-test-httpd-XXXXXX", key[300],
			runs[300], ref[800], buf[4096];
	int64_t		t0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof key, "%s/key", dir);
	snprintf(runs, sizeof runs, "%s/runs", dir);
	snprintf(ref, sizeof ref, "exec:sh -c 'echo x >>%s; sleep 0.5; "
	    "cat %s'", runs, key);
	put(key, "k-one\n");
	server_start_key(&s, ref);
	/* The read at the start counts: the next may come this much later. */
	usleep((HTTPD_KEY_REREAD_MS + 100) * 1000);

	/* Rotated: the new key is refused at once and starts a re-read. */
	put(key, "k-two\n");
	keyed(&s, "k-two", 300, buf, sizeof buf);
	assert_non_null(strstr(buf, " 401 "));
	keyed(&s, "k-one", 300, buf, sizeof buf);
	assert_non_null(strstr(buf, " 200 "));
	keyed(&s, "wrong", 300, buf, sizeof buf);
	assert_non_null(strstr(buf, " 401 "));

	/* Once it is read, the new key is the key. */
	t0 = util_mono_ms();
	do
		keyed(&s, "k-two", 300, buf, sizeof buf);
	while (strstr(buf, " 200 ") == NULL && util_mono_ms() - t0 < 3000);
	assert_non_null(strstr(buf, " 200 "));
	keyed(&s, "k-one", 300, buf, sizeof buf);
	assert_non_null(strstr(buf, " 401 "));

	/* The start, and one re-read for all those wrong keys. */
	slurp(runs, buf, sizeof buf);
	assert_string_equal(buf, "x\nx\n");
	server_stop(&s);
	snprintf(buf, sizeof buf, "rm -rf '%s'", dir);
	assert_int_equal(system(buf), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline_route),
		cmocka_unit_test(test_offloaded_answered_when_finished),
		cmocka_unit_test(test_refused_and_cancelled),
		cmocka_unit_test(test_late_call),
		cmocka_unit_test(test_client_gone),
		cmocka_unit_test(test_server_freed_with_call_out),
		cmocka_unit_test(test_before_hook),
		cmocka_unit_test(test_key_nul),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_libevent_errors),
		cmocka_unit_test(test_key_reread_off_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
