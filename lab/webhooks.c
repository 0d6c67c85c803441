/*
 * The webhook sink (see webhooks.h and docs/LAB.md).  It checks a
 * signature with its own HMAC-SHA256 call rather than respawn's code, so a
 * mistake in the daemon's signing shows up as "verified": false here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "webhooks.h"

#define WEBHOOKS_PATH		"/lab/webhooks"
#define WEBHOOKS_CONFIG_PATH	"/lab/webhooks/config"
#define WEBHOOKS_SIG_PREFIX	"sha256="

struct webhooks {
	char		 secret[WEBHOOKS_SECRET_MAX];
	size_t		 secretlen;
	json_t		*deliveries;	/* oldest first, at most WEBHOOKS_MAX */
	int64_t		 fail_next;
	int64_t		 failed;	/* answered 500 because of fail_next */
	int64_t		 received;	/* recorded, forgotten ones included */
};

int
webhooks_new(const char *secret, struct webhooks **ret)
{
	struct webhooks	*s;

	if (secret == NULL || strlen(secret) >= WEBHOOKS_SECRET_MAX)
		return -EINVAL;
	s = xcalloc(1, sizeof(*s));
	(void)util_strlcpy(s->secret, secret, sizeof(s->secret));
	s->secretlen = strlen(s->secret);
	s->deliveries = json_array();
	*ret = s;
	return 0;
}

void
webhooks_free(struct webhooks *s)
{
	if (s == NULL)
		return;
	json_decref(s->deliveries);
	util_wipe(s->secret, sizeof(s->secret));
	free(s);
}

bool
webhooks_owns(const char *path)
{
	size_t	n = strlen(WEBHOOKS_PATH);

	return strncmp(path, WEBHOOKS_PATH, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

/*
 * Whether sig is "sha256=" and the hex HMAC-SHA256 of "<ts>.<body>" under
 * the configured secret; false when no secret is configured.
 */
static bool
webhooks_verify(const struct webhooks *s, const char *ts, const char *sig,
    const char *body, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	unsigned int		 maclen = 0;
	char			 want[2 * EVP_MAX_MD_SIZE + 1];
	char			*msg;
	size_t			 tslen, i;
	bool			 ok;

	if (s->secretlen == 0 || ts == NULL || sig == NULL ||
	    strncmp(sig, WEBHOOKS_SIG_PREFIX, strlen(WEBHOOKS_SIG_PREFIX)) != 0)
		return false;
	sig += strlen(WEBHOOKS_SIG_PREFIX);
	tslen = strlen(ts);
	msg = xmalloc(tslen + 1 + len);
	memcpy(msg, ts, tslen);
	msg[tslen] = '.';
	memcpy(msg + tslen + 1, body, len);
	ok = HMAC(EVP_sha256(), s->secret, (int)s->secretlen,
	    (const unsigned char *)msg, tslen + 1 + len, mac, &maclen) != NULL;
	free(msg);
	if (!ok || maclen != 32)
		return false;
	for (i = 0; i < maclen; i++) {
		want[2 * i] = hex[mac[i] >> 4];
		want[2 * i + 1] = hex[mac[i] & 0x0f];
	}
	want[2 * maclen] = '\0';
	/* Compared in constant time, as docs/WEBHOOKS.md tells receivers. */
	return strlen(sig) == 2 * maclen &&
	    CRYPTO_memcmp(sig, want, 2 * maclen) == 0;
}

static void
webhooks_receive(struct webhooks *s, int64_t now_ms,
    const struct httpreq *req, const char *body, size_t len,
    struct http_response *resp)
{
	const char	*ts, *sig, *name;
	json_t		*headers, *jbody, *d;
	char		 when[UTIL_TIME_LEN];
	size_t		 i;
	int		 status;

	if (len > WEBHOOKS_BODY_MAX) {
		http_response_text(resp, 413, "Delivery body too large\n");
		return;
	}
	headers = json_object();
	for (i = 0; i < req->nheaders; i++) {
		name = req->headers[i].name;
		if (strncasecmp(name, "X-Respawn-", 10) == 0)
			json_object_set_new(headers, name,
			    json_string(req->headers[i].value));
	}
	ts = httpreq_header(req, "X-Respawn-Timestamp");
	sig = httpreq_header(req, "X-Respawn-Signature");
	/* The body as JSON if it is JSON, else as text (null: not UTF-8). */
	jbody = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	    NULL);
	if (jbody == NULL)
		jbody = json_stringn(body, len);
	if (s->fail_next > 0) {
		s->fail_next--;
		s->failed++;
		status = 500;
	} else
		status = 200;
	util_fmt_time(now_ms, when);
	d = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:o,s:o?,s:b,s:i}",
	    "time", when, "path", req->target,
	    "event", httpreq_header(req, "X-Respawn-Event"),
	    "delivery", httpreq_header(req, "X-Respawn-Delivery"),
	    "timestamp", ts, "signature", sig, "headers", headers,
	    "body", jbody, "verified", webhooks_verify(s, ts, sig, body, len),
	    "status", status);
	if (json_array_size(s->deliveries) >= WEBHOOKS_MAX)
		(void)json_array_remove(s->deliveries, 0);
	(void)json_array_append_new(s->deliveries, d);
	s->received++;
	log_info("lab.webhook_received", LOGF_S("webhook_event",
	    httpreq_header(req, "X-Respawn-Event")), LOGF_S("delivery",
	    httpreq_header(req, "X-Respawn-Delivery")), LOGF_I("status",
	    status));
	if (status == 500)
		http_response_text(resp, 500, "Injected webhook failure\n");
	else
		http_response_json(resp, 200, json_pack("{s:b}", "ok", 1));
}

static void
webhooks_config(struct webhooks *s, const char *body, size_t len,
    struct http_response *resp)
{
	json_t		*j, *secret, *fail;
	const char	*v;

	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		http_response_text(resp, 400, "Invalid JSON body: expected an "
		    "object\n");
		return;
	}
	secret = json_object_get(j, "secret");
	fail = json_object_get(j, "fail_next");
	/* Both are checked before either is applied. */
	if ((secret != NULL && (!json_is_string(secret) ||
	    json_string_length(secret) >= WEBHOOKS_SECRET_MAX ||
	    strlen(json_string_value(secret)) != json_string_length(secret))) ||
	    (fail != NULL && (!json_is_integer(fail) ||
	    json_integer_value(fail) < 0 ||
	    json_integer_value(fail) > WEBHOOKS_FAIL_MAX))) {
		json_decref(j);
		http_response_text(resp, 400, "secret: a string (\"\" to stop "
		    "verifying); fail_next: an integer 0..1000000\n");
		return;
	}
	if (secret != NULL) {
		v = json_string_value(secret);
		util_wipe(s->secret, sizeof(s->secret));
		(void)util_strlcpy(s->secret, v, sizeof(s->secret));
		s->secretlen = strlen(s->secret);
	}
	if (fail != NULL)
		s->fail_next = json_integer_value(fail);
	json_decref(j);
	log_info("lab.webhooks_configured", LOGF_B("secret_set",
	    s->secretlen > 0), LOGF_I("fail_next", s->fail_next));
	http_response_json(resp, 200, json_pack("{s:b,s:I}", "secret_set",
	    s->secretlen > 0, "fail_next", (json_int_t)s->fail_next));
}

void
webhooks_handle(struct webhooks *s, int64_t now_ms, const struct httpreq *req,
    const char *body, size_t bodylen, struct http_response *resp)
{
	const char	*m = req->method, *p = req->path;

	if (strcmp(p, WEBHOOKS_PATH) == 0 && strcmp(m, "POST") == 0)
		webhooks_receive(s, now_ms, req, body, bodylen, resp);
	else if (strcmp(p, WEBHOOKS_PATH) == 0 && strcmp(m, "GET") == 0)
		http_response_json(resp, 200, json_pack("{s:O,s:I,s:I}",
		    "deliveries", s->deliveries, "failed",
		    (json_int_t)s->failed, "received",
		    (json_int_t)s->received));
	else if (strcmp(p, WEBHOOKS_PATH) == 0 && strcmp(m, "DELETE") == 0) {
		json_array_clear(s->deliveries);
		s->failed = 0;
		s->received = 0;
		http_response_json(resp, 200, json_pack("{s:[],s:i,s:i}",
		    "deliveries", "failed", 0, "received", 0));
	} else if (strcmp(p, WEBHOOKS_CONFIG_PATH) == 0 &&
	    strcmp(m, "POST") == 0)
		webhooks_config(s, body, bodylen, resp);
	else
		http_response_text(resp, 404, "No such lab endpoint; see "
		    "docs/LAB.md\n");
}
