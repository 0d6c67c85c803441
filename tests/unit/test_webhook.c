/*
 * Tests of webhook.c and webhook_deliver.c: the HMAC-SHA256 of RFC 4231's
 * test vectors, the signature over "<timestamp>.<body>", the parameters
 * refused by webhook_new, and real deliveries to an evhttp server on
 * 127.0.0.1 in the same event loop: retries after 500s, several URLs, a full queue, a
 * closed port, a receiver that never says yes.  Every loop run is bounded
 * by a deadline, so a broken module fails a test instead of hanging it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "base/log.h"
#include "base/util.h"
#include "http/webhook.h"

#define TEST_SECRET		"whsec-test-0123456789"
#define TEST_INSTANCE		"respawn-test-1"
#define TEST_DEADLINE_MS	20000
/* Requests the sink keeps; more fails the test. */
#define SINK_MAX		64

/* --- RFC 4231 ----------------------------------------------------------- */

struct hmac_case {
	const char	*name;
	uint8_t		 key[131];
	size_t		 keylen;
	uint8_t		 data[160];
	size_t		 datalen;
	const char	*want;		/* hex; shorter: a truncated output */
};

#define REP20(b)	b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, \
			b, b
#define REP50(b)	REP20(b), REP20(b), b, b, b, b, b, b, b, b, b, b
#define REP131(b)	REP50(b), REP50(b), REP20(b), b, b, b, b, b, b, b, \
			b, b, b, b

static const struct hmac_case hmac_cases[] = {
	{ "RFC 4231 4.2", { REP20(0x0b) }, 20, "Hi There", 8,
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ "RFC 4231 4.3", "Jefe", 4, "what do ya want for nothing?", 28,
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ "RFC 4231 4.4", { REP20(0xaa) }, 20, { REP50(0xdd) }, 50,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ "RFC 4231 4.5", { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
	  0x14, 0x15, 0x16, 0x17, 0x18, 0x19 }, 25, { REP50(0xcd) }, 50,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	{ "RFC 4231 4.6 (truncated to 128 bits)", { REP20(0x0c) }, 20,
	  "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b" },
	{ "RFC 4231 4.7", { REP131(0xaa) }, 131,
	  "Test Using Larger Than Block-Size Key - Hash Key First", 54,
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ "RFC 4231 4.8", { REP131(0xaa) }, 131,
	  "This is a test using a larger than block-size key and a larger "
	  "than block-size data. The key needs to be hashed before being "
	  "used by the HMAC algorithm.", 152,
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

/*
 * Every vector through webhook_hmac_sha256, and through webhook_sign
 * wherever the data holds a '.': the part before the first one is the
 * timestamp, the rest the body, which is exactly the string signed.
 */
static void
test_hmac_rfc4231(void **state)
{
	const struct hmac_case	*c;
	char			 out[WEBHOOK_SIG_LEN], ts[160];
	const char		*dot;
	size_t			 i, n;

	(void)state;
	for (i = 0; i < nitems(hmac_cases); i++) {
		c = &hmac_cases[i];
		print_message("case %s\n", c->name);
		assert_int_equal(webhook_hmac_sha256(c->key, c->keylen,
		    c->data, c->datalen, out), 0);
		assert_int_equal(strlen(out), 64);
		assert_memory_equal(out, c->want, strlen(c->want));
		dot = memchr(c->data, '.', c->datalen);
		if (dot == NULL)
			continue;
		n = (size_t)(dot - (const char *)c->data);
		memcpy(ts, c->data, n);
		ts[n] = '\0';
		memset(out, 0, sizeof(out));
		assert_int_equal(webhook_sign(c->key, c->keylen, ts, dot + 1,
		    c->datalen - n - 1, out), 0);
		assert_memory_equal(out, c->want, strlen(c->want));
	}
}

struct sign_case {
	const char	*ts;
	const char	*body;
};

static const struct sign_case sign_cases[] = {
	{ "1795901400", "{\"id\":\"x\",\"event\":\"session.ready\"}" },
	{ "0", "" },
	{ "", "." },
	{ "1795901400", "{}" },
};

/* The signature is the HMAC of the timestamp, a '.' and the body. */
static void
test_sign_is_hmac_of_ts_dot_body(void **state)
{
	char	a[WEBHOOK_SIG_LEN], b[WEBHOOK_SIG_LEN], msg[256];
	size_t	i;
	int	n;

	(void)state;
	for (i = 0; i < nitems(sign_cases); i++) {
		n = snprintf(msg, sizeof(msg), "%s.%s", sign_cases[i].ts,
		    sign_cases[i].body);
		assert_int_equal(webhook_sign(TEST_SECRET, strlen(TEST_SECRET),
		    sign_cases[i].ts, sign_cases[i].body,
		    strlen(sign_cases[i].body), a), 0);
		assert_int_equal(webhook_hmac_sha256(TEST_SECRET,
		    strlen(TEST_SECRET), msg, (size_t)n, b), 0);
		assert_string_equal(a, b);
	}
	/* Another key, another signature. */
	assert_int_equal(webhook_sign("other", 5, "0", "", 0, b), 0);
	assert_int_equal(webhook_sign(TEST_SECRET, strlen(TEST_SECRET), "0",
	    "", 0, a), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(webhook_sign(NULL, 3, "0", "", 0, a), -EINVAL);
	assert_int_equal(webhook_sign("k", 1, NULL, "", 0, a), -EINVAL);
	assert_int_equal(webhook_sign("k", 1, "0", NULL, 2, a), -EINVAL);
}

/* --- webhook_new ---------------------------------------------------------- */

struct new_case {
	const char	*urls;
	const char	*secret;
	size_t		 queue_max;
	int		 attempts;
	int64_t		 timeout_ms;
	int		 want;
	const char	*want_err;	/* a part of the message */
};

#define SEVENTEEN_URLS							\
	"http://a,http://b,http://c,http://d,http://e,http://f,"	\
	"http://g,http://h,http://i,http://j,http://k,http://l,"	\
	"http://m,http://n,http://o,http://p,http://q"

static const struct new_case new_cases[] = {
	{ "http://127.0.0.1:1/hook", "s", 0, 0, 0, 0, NULL },
	{ " https://example.com/a , http://[::1]:8080/b,,", "s", 1, 1, 100,
	  0, NULL },
	{ NULL, "s", 0, 0, 0, -EINVAL, "no webhook URLs" },
	{ "", "s", 0, 0, 0, -EINVAL, "no webhook URLs" },
	{ " , ,", "s", 0, 0, 0, -EINVAL, "no webhook URLs" },
	{ "ftp://user:s3cr3t-token@example.com/x", "s", 0, 0, 0, -EINVAL,
	  "URL 1: must start with http:// or https://" },
	{ "http://ok.example/,gopher://x", "s", 0, 0, 0, -EINVAL, "URL 2:" },
	{ "http://", "s", 0, 0, 0, -EINVAL, "URL 1:" },
	{ "http://a/\x01", "s", 0, 0, 0, -EINVAL, "control character" },
	{ SEVENTEEN_URLS, "s", 0, 0, 0, -EINVAL, "more than 16" },
	{ "http://a/", "", 0, 0, 0, -EINVAL, "secret is empty" },
	{ "http://a/", NULL, 0, 0, 0, -EINVAL, "secret is empty" },
	{ "http://a/", "s", WEBHOOK_QUEUE_MAX + 1, 0, 0, -EINVAL, "queue" },
	{ "http://a/", "s", 0, WEBHOOK_ATTEMPTS_MAX + 1, 0, -EINVAL,
	  "attempts" },
	{ "http://a/", "s", 0, -1, 0, -EINVAL, "attempts" },
	{ "http://a/", "s", 0, 0, -1, -EINVAL, "timeout" },
	{ "http://a/", "s", 0, 0, WEBHOOK_TIMEOUT_MAX_MS + 1, -EINVAL,
	  "timeout" },
};

static void
test_new_checks_params(void **state)
{
	struct event_base	*base;
	struct webhook_params	 p;
	struct webhook		*w;
	char			 err[WEBHOOK_ERR_LEN];
	size_t			 i;

	(void)state;
	assert_non_null(base = event_base_new());
	for (i = 0; i < nitems(new_cases); i++) {
		print_message("case %zu: %s\n", i, new_cases[i].urls ?
		    new_cases[i].urls : "(null)");
		memset(&p, 0, sizeof(p));
		p.urls = new_cases[i].urls;
		p.secret = new_cases[i].secret;
		p.secret_len = p.secret != NULL ? strlen(p.secret) : 0;
		p.queue_max = new_cases[i].queue_max;
		p.attempts = new_cases[i].attempts;
		p.timeout_ms = new_cases[i].timeout_ms;
		w = (struct webhook *)(uintptr_t)0x1;
		err[0] = '\0';
		assert_int_equal(webhook_new(base, &p, &w, err),
		    new_cases[i].want);
		if (new_cases[i].want != 0) {
			/* Outputs are written only on success. */
			assert_ptr_equal(w, (struct webhook *)(uintptr_t)0x1);
			assert_non_null(strstr(err, new_cases[i].want_err));
			/* A URL's user information never reaches a message. */
			assert_null(strstr(err, "s3cr3t"));
			continue;
		}
		webhook_free(w);
	}
	webhook_free(NULL);
	event_base_free(base);
}

/* A NULL webhook takes the data and does nothing; a bad name is refused. */
static void
test_emit_edges(void **state)
{
	struct event_base	*base;
	struct webhook_params	 p = {
		.urls = "http://127.0.0.1:9/", .secret = "k", .secret_len = 1,
	};
	struct webhook_stats	 st;
	struct webhook		*w;
	char			 err[WEBHOOK_ERR_LEN];
	static const char *const bad[] = { "", "Session.Ready", "a b",
	    "a\nb", "x1234567890123456789012345678901234567890123456789"
	    "012345678901234", NULL };
	size_t			 i;

	(void)state;
	webhook_emit(NULL, "session.ready", 0, json_object());
	assert_non_null(base = event_base_new());
	assert_int_equal(webhook_new(base, &p, &w, err), 0);
	for (i = 0; i < nitems(bad); i++)
		webhook_emit(w, bad[i], 0, json_object());
	webhook_stats(w, &st);
	assert_int_equal(st.emitted, 0);
	assert_int_equal(st.pending, 0);
	/* Freed with deliveries waiting: abandoned, nothing leaks. */
	webhook_emit(w, "session.ready", 0, NULL);
	webhook_emit(w, "session.failed", 0, json_pack("{s:s}", "k", "v"));
	webhook_stats(w, &st);
	assert_int_equal(st.emitted, 2);
	assert_int_equal(st.pending, 2);
	webhook_free(w);
	event_base_free(base);
}

/* --- Deliveries to a real server ------------------------------------------ */

struct sink_req {
	char	*path;
	char	*body;
	char	*content_type;
	char	*user_agent;
	char	*event;
	char	*delivery;
	char	*timestamp;
	char	*signature;
};

struct sink {
	struct evhttp	*http;
	int		 port;
	int		 fail_first;	/* answer 500 to this many requests */
	bool		 hang;		/* answer nothing at all */
	int		 nreqs;
	struct sink_req	 reqs[SINK_MAX];
};

static char *
sink_dup_header(struct evkeyvalq *h, const char *name)
{
	const char	*v = evhttp_find_header(h, name);

	return v != NULL ? strdup(v) : NULL;
}

static void
sink_handle(struct evhttp_request *req, void *arg)
{
	struct sink		*s = arg;
	struct sink_req		*r;
	struct evkeyvalq	*h = evhttp_request_get_input_headers(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	size_t			 n = evbuffer_get_length(in);
	int			 seen;

	seen = s->nreqs;
	if (s->nreqs < SINK_MAX) {
		r = &s->reqs[s->nreqs++];
		r->path = strdup(evhttp_request_get_uri(req));
		r->body = calloc(1, n + 1);
		if (r->body != NULL)
			(void)evbuffer_copyout(in, r->body, n);
		r->content_type = sink_dup_header(h, "Content-Type");
		r->user_agent = sink_dup_header(h, "User-Agent");
		r->event = sink_dup_header(h, "X-Respawn-Event");
		r->delivery = sink_dup_header(h, "X-Respawn-Delivery");
		r->timestamp = sink_dup_header(h, "X-Respawn-Timestamp");
		r->signature = sink_dup_header(h, "X-Respawn-Signature");
	} else
		s->nreqs = SINK_MAX + 1;	/* the test fails on it */
	/* evhttp_free() closes the connection and frees the request. */
	if (s->hang)
		return;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST ||
	    seen < s->fail_first)
		evhttp_send_reply(req, 500, "Internal Server Error", NULL);
	else
		evhttp_send_reply(req, 204, "No Content", NULL);
}

static void
sink_start(struct event_base *base, struct sink *s, int fail_first,
    bool hang)
{
	struct evhttp_bound_socket	*bs;
	struct sockaddr_in		 sin;
	socklen_t			 len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->fail_first = fail_first;
	s->hang = hang;
	assert_non_null(s->http = evhttp_new(base));
	evhttp_set_gencb(s->http, sink_handle, s);
	assert_non_null(bs = evhttp_bind_socket_with_handle(s->http,
	    "127.0.0.1", 0));
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
}

static void
sink_stop(struct sink *s)
{
	int	i;

	for (i = 0; i < s->nreqs && i < SINK_MAX; i++) {
		free(s->reqs[i].path);
		free(s->reqs[i].body);
		free(s->reqs[i].content_type);
		free(s->reqs[i].user_agent);
		free(s->reqs[i].event);
		free(s->reqs[i].delivery);
		free(s->reqs[i].timestamp);
		free(s->reqs[i].signature);
	}
	if (s->http != NULL)
		evhttp_free(s->http);
}

/* A port nobody listens on: bound by the kernel's choice, then closed. */
static int
closed_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd;

	assert_true((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >=
	    0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/*
 * Run the loop until every delivery is settled (none waiting or in
 * flight) or the deadline passes.  A 10 ms ticker makes every loop turn
 * return, so the deadline is checked even when nothing else happens.
 */
static bool
run_until_settled(struct event_base *base, struct webhook *w,
    int64_t deadline_ms)
{
	struct webhook_stats	 st;
	struct timeval		 tv = { 0, 10000 };
	struct event		*t;
	int64_t			 end = util_mono_ms() + deadline_ms;
	bool			 done = false;

	assert_non_null(t = event_new(base, -1, EV_PERSIST, tick, NULL));
	assert_int_equal(event_add(t, &tv), 0);
	while (util_mono_ms() < end) {
		webhook_stats(w, &st);
		if (st.pending == 0 && st.in_flight == 0) {
			done = true;
			break;
		}
		(void)event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(t);
	return done;
}

struct delivery_case {
	const char	*name;
	int		 fail_first;	/* the sink answers 500 this often */
	bool		 closed;	/* nobody listens */
	bool		 hang;		/* the sink never answers */
	int		 nurls;		/* paths /a, /b... on the sink */
	int		 attempts;
	size_t		 queue_max;
	int		 emit;
	int		 per_url;	/* requests in flight per URL */
	/* Right after emitting, before the loop runs. */
	int64_t		 want_dropped;
	/* When settled. */
	int		 want_requests;
	int64_t		 want_delivered;
	int64_t		 want_failed;
	int64_t		 want_given_up;
	/* The data.n of the events the sink saw, in order; -1 ends. */
	int		 want_n[8];
};

static const struct delivery_case delivery_cases[] = {
	{ "two 500s, then 204", 2, false, false, 1, 5, 100, 1, 0, 0,
	  3, 1, 2, 0, { 0, 0, 0, -1 } },
	{ "two URLs get every event", 0, false, false, 2, 3, 100, 3, 0, 0,
	  6, 6, 0, 0, { -1 } },
	{ "full queue: the oldest are dropped", 0, false, false, 1, 3, 3, 5,
	  1, 2, 3, 3, 0, 0, { 2, 3, 4, -1 } },
	{ "full queue, closed port", 0, true, false, 1, 1, 3, 5, 0, 2,
	  0, 0, 3, 3, { -1 } },
	{ "closed port: given up after 2 attempts", 0, true, false, 1, 2, 100,
	  1, 0, 0, 0, 0, 2, 1, { -1 } },
	{ "always 500: given up after 3 attempts", 1000, false, false, 1, 3,
	  100, 1, 0, 0, 3, 0, 3, 1, { 0, 0, 0, -1 } },
	{ "no answer: timed out twice, given up", 0, false, true, 1, 2, 100,
	  1, 0, 0, 2, 0, 2, 1, { 0, 0, -1 } },
	{ "first attempts to one URL leave in order", 0, false, false, 1, 3,
	  100, 6, 1, 0, 6, 6, 0, 0, { 0, 1, 2, 3, 4, 5, -1 } },
};

/* Every request the sink saw carries a well-formed, signed delivery. */
static void
check_request(const struct sink_req *r, const struct sink_req *first_of_id)
{
	char		 sig[WEBHOOK_SIG_LEN], want[8 + WEBHOOK_SIG_LEN];
	json_t		*j;
	const char	*id;
	int64_t		 ts;
	size_t		 i;

	assert_non_null(r->body);
	assert_non_null(r->content_type);
	assert_string_equal(r->content_type, "application/json");
	assert_non_null(r->user_agent);
	assert_int_equal(strncmp(r->user_agent, "respawn/", 8), 0);
	assert_non_null(r->event);
	assert_non_null(r->delivery);
	assert_non_null(r->timestamp);
	assert_non_null(r->signature);
	/* The signature verifies over the header's timestamp and the body. */
	assert_int_equal(webhook_sign(TEST_SECRET, strlen(TEST_SECRET),
	    r->timestamp, r->body, strlen(r->body), sig), 0);
	(void)snprintf(want, sizeof(want), "sha256=%s", sig);
	assert_string_equal(r->signature, want);
	assert_int_equal(util_parse_i64(r->timestamp, 0, INT64_MAX, &ts), 0);
	assert_true(ts >= util_now_ms() / 1000 - 120);
	assert_true(ts <= util_now_ms() / 1000 + 1);
	/* The body: id, event, timestamp, instanceId and data. */
	assert_non_null(j = json_loads(r->body, JSON_REJECT_DUPLICATES, NULL));
	assert_non_null(id = json_string_value(json_object_get(j, "id")));
	assert_int_equal(strlen(id), 32);
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", id[i]));
	assert_string_equal(id, r->delivery);
	assert_string_equal(json_string_value(json_object_get(j, "event")),
	    r->event);
	assert_string_equal(json_string_value(json_object_get(j,
	    "instanceId")), TEST_INSTANCE);
	assert_true(json_is_object(json_object_get(j, "data")));
	assert_string_equal(json_string_value(json_object_get(j,
	    "occurredAt")), "2026-11-28T21:30:00.123Z");
	/* Its deprecated name, the same value. */
	assert_string_equal(json_string_value(json_object_get(j,
	    "timestamp")), "2026-11-28T21:30:00.123Z");
	json_decref(j);
	/* Retries and other URLs get the very same body. */
	if (first_of_id != NULL)
		assert_string_equal(r->body, first_of_id->body);
}

static int64_t
request_n(const struct sink_req *r)
{
	json_t	*j;
	int64_t	 n;

	assert_non_null(j = json_loads(r->body, 0, NULL));
	n = json_integer_value(json_object_get(json_object_get(j, "data"),
	    "n"));
	json_decref(j);
	return n;
}

/* Whether the log holds text, and how often. */
static int
log_count(int fd, const char *text)
{
	char		 buf[65536];
	const char	*p;
	ssize_t		 n;
	int		 count = 0;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, text)) != NULL; p++)
		count++;
	return count;
}

static void
test_deliveries(void **state)
{
	const struct delivery_case	*c;
	const struct sink_req		*first;
	struct event_base		*base;
	struct webhook_params		 p;
	struct webhook_stats		 st;
	struct webhook			*w;
	struct sink			 s;
	char				 urls[512], err[WEBHOOK_ERR_LEN];
	size_t				 i;
	int				 k, m, port, logfd;

	(void)state;
	/* The log goes to a memory file, to look for the secret in it. */
	assert_true((logfd = memfd_create("webhook-log", MFD_CLOEXEC)) >= 0);
	log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_LOGFMT, logfd);
	for (i = 0; i < nitems(delivery_cases); i++) {
		c = &delivery_cases[i];
		print_message("case %s\n", c->name);
		assert_int_equal(ftruncate(logfd, 0), 0);
		assert_int_equal(lseek(logfd, 0, SEEK_SET), 0);
		assert_non_null(base = event_base_new());
		sink_start(base, &s, c->fail_first, c->hang);
		port = c->closed ? closed_port() : s.port;
		urls[0] = '\0';
		for (k = 0; k < c->nurls; k++)
			(void)snprintf(urls + strlen(urls), sizeof(urls) -
			    strlen(urls), "%shttp://127.0.0.1:%d/%c",
			    k > 0 ? "," : "", port, 'a' + k);
		memset(&p, 0, sizeof(p));
		p.urls = urls;
		p.secret = TEST_SECRET;
		p.secret_len = strlen(TEST_SECRET);
		p.queue_max = c->queue_max;
		p.attempts = c->attempts;
		/* Long enough for a loaded machine, short for the hang. */
		p.timeout_ms = c->hang ? 300 : 5000;
		p.instance_id = TEST_INSTANCE;
		p.backoff_base_ms = 1;
		p.backoff_cap_ms = 5;
		p.inflight_per_url = c->per_url;
		assert_int_equal(webhook_new(base, &p, &w, err), 0);

		for (k = 0; k < c->emit; k++)
			webhook_emit(w, k % 2 ? "session.failed" :
			    "session.ready", INT64_C(1795901400123),
			    json_pack("{s:i,s:s}", "n", k, "phone",
			    "+4915112345678"));
		webhook_stats(w, &st);
		assert_int_equal(st.emitted, (int64_t)c->emit * c->nurls);
		assert_int_equal(st.dropped, c->want_dropped);
		assert_int_equal(st.in_flight, 0);	/* nothing sent yet */

		assert_true(run_until_settled(base, w, TEST_DEADLINE_MS));
		webhook_stats(w, &st);
		assert_int_equal(s.nreqs, c->want_requests);
		assert_int_equal(st.delivered, c->want_delivered);
		assert_int_equal(st.attempts_failed, c->want_failed);
		assert_int_equal(st.given_up, c->want_given_up);
		assert_int_equal(st.dropped, c->want_dropped);
		assert_int_equal(st.pending, 0);
		assert_int_equal(st.in_flight, 0);
		assert_int_equal(st.emitted, st.delivered + st.given_up +
		    st.dropped);

		for (k = 0; k < s.nreqs; k++) {
			first = NULL;
			for (m = 0; m < k; m++) {
				if (strcmp(s.reqs[m].delivery,
				    s.reqs[k].delivery) == 0) {
					first = &s.reqs[m];
					break;
				}
			}
			check_request(&s.reqs[k], first);
		}
		for (k = 0; c->want_n[0] >= 0 && k < s.nreqs; k++) {
			assert_true(c->want_n[k] >= 0);
			assert_int_equal(request_n(&s.reqs[k]), c->want_n[k]);
		}
		/* Given up once, logged once; the secret never. */
		assert_int_equal(log_count(logfd, "webhook.given_up"),
		    c->want_given_up);
		assert_int_equal(log_count(logfd, TEST_SECRET), 0);
		if (c->want_dropped > 0)
			assert_int_equal(log_count(logfd, "webhook.dropped"),
			    1);

		webhook_free(w);
		sink_stop(&s);
		event_base_free(base);
	}
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT, STDERR_FILENO);
	close(logfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_sign_is_hmac_of_ts_dot_body),
		cmocka_unit_test(test_new_checks_params),
		cmocka_unit_test(test_emit_edges),
		cmocka_unit_test(test_deliveries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
