/*
 * Secret Manager and metadata-server stand-ins (see gsm.h).  Tokens are
 * drawn from the lab's seeded generator and expire on the lab clock; the
 * metadata endpoint hands out the same token until it is close to expiry,
 * as the real one does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "gsm.h"
#include "lab.h"

#define GSM_NAME_MAX		256
#define GSM_TOKEN_LEN		48
#define GSM_RENEW_BEFORE_MS	300000
#define GSM_METADATA_PATH \
	"/computeMetadata/v1/instance/service-accounts/default/token"

struct gsm_secret {
	char	 name[GSM_NAME_MAX];		/* projects/P/secrets/S */
	char	*versions[GSM_MAX_VERSIONS];
	size_t	 nversions;
};

struct gsm_token {
	char	 token[GSM_TOKEN_LEN + 1];
	int64_t	 expires_ms;
};

struct gsm {
	struct gsm_secret	*secrets[GSM_MAX_SECRETS];
	size_t			 nsecrets;
	struct gsm_token	 tokens[GSM_MAX_TOKENS];
	size_t			 next_token;
	int64_t			 ttl_ms;
};

uint32_t
gsm_crc32c(const void *data, size_t n)
{
	const unsigned char	*p = data;
	uint32_t		 crc = 0xffffffffU;
	size_t			 i;
	int			 k;

	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & (0U - (crc & 1)));
	}
	return ~crc;
}

static struct gsm_secret *
gsm_find(const struct gsm *g, const char *name)
{
	size_t	i;

	for (i = 0; i < g->nsecrets; i++)
		if (strcmp(g->secrets[i]->name, name) == 0)
			return g->secrets[i];
	return NULL;
}

/* "projects/P/secrets/S" with non-empty P and S free of '/'. */
static bool
gsm_name_valid(const char *name)
{
	const char	*p, *s;

	if (strncmp(name, "projects/", 9) != 0)
		return false;
	p = name + 9;
	if ((s = strstr(p, "/secrets/")) == NULL || s == p)
		return false;
	if (memchr(p, '/', (size_t)(s - p)) != NULL)
		return false;
	s += 9;
	return *s != '\0' && strchr(s, '/') == NULL &&
	    strlen(name) < GSM_NAME_MAX;
}

int
gsm_add_version(struct gsm *g, const char *name, const char *value)
{
	struct gsm_secret	*s;

	if (!gsm_name_valid(name) || strlen(value) > GSM_VALUE_MAX)
		return -EINVAL;
	if ((s = gsm_find(g, name)) == NULL) {
		if (g->nsecrets >= GSM_MAX_SECRETS)
			return -ENOSPC;
		s = xcalloc(1, sizeof(*s));
		(void)util_strlcpy(s->name, name, sizeof(s->name));
		g->secrets[g->nsecrets++] = s;
	}
	if (s->nversions >= GSM_MAX_VERSIONS)
		return -ENOSPC;
	s->versions[s->nversions++] = xstrdup(value);
	return (int)s->nversions;
}

static void
gsm_clear(struct gsm *g)
{
	size_t	i, k;

	for (i = 0; i < g->nsecrets; i++) {
		for (k = 0; k < g->secrets[i]->nversions; k++)
			free(g->secrets[i]->versions[k]);
		free(g->secrets[i]);
	}
	g->nsecrets = 0;
}

int
gsm_load(struct gsm *g, const json_t *j)
{
	const char	*name;
	json_t		*v, *e;
	size_t		 i;
	int		 r;

	if (!json_is_object(j))
		return -EINVAL;
	gsm_clear(g);
	json_object_foreach((json_t *)j, name, v) {
		if (json_is_string(v)) {
			if ((r = gsm_add_version(g, name,
			    json_string_value(v))) < 0)
				return r;
			continue;
		}
		if (!json_is_array(v))
			return -EINVAL;
		json_array_foreach(v, i, e) {
			if (!json_is_string(e))
				return -EINVAL;
			if ((r = gsm_add_version(g, name,
			    json_string_value(e))) < 0)
				return r;
		}
	}
	return 0;
}

int
gsm_new(const json_t *secrets, int64_t token_ttl_s, struct gsm **ret)
{
	struct gsm	*g;
	int		 r;

	g = xcalloc(1, sizeof(*g));
	g->ttl_ms = token_ttl_s * 1000;
	if (secrets != NULL && (r = gsm_load(g, secrets)) != 0) {
		gsm_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

void
gsm_free(struct gsm *g)
{
	if (g == NULL)
		return;
	gsm_clear(g);
	free(g);
}

bool
gsm_owns(const char *path)
{
	return strcmp(path, GSM_METADATA_PATH) == 0 ||
	    strncmp(path, "/v1/projects/", 13) == 0 ||
	    strncmp(path, "/computeMetadata/", 17) == 0;
}

static void
gsm_google_error(struct http_response *resp, int code, const char *status,
    const char *message)
{
	http_response_json(resp, code, json_pack("{s:{s:i,s:s,s:s}}", "error",
	    "code", code, "message", message, "status", status));
}

static void
gsm_metadata(struct lab *lab, const struct httpreq *req,
    struct http_response *resp)
{
	struct gsm		*g = lab->gsm;
	struct gsm_token	*t;
	const char		*flavor;
	int64_t			 now = lab_now(lab);
	size_t			 i, cur;

	flavor = httpreq_header(req, "Metadata-Flavor");
	if (flavor == NULL || strcmp(flavor, "Google") != 0) {
		http_response_text(resp, 403, "Missing required header: "
		    "\"Metadata-Flavor\"\n");
		return;
	}
	if (strcmp(req->path, GSM_METADATA_PATH) != 0 ||
	    strcmp(req->method, "GET") != 0) {
		http_response_text(resp, 404, "Not Found\n");
		return;
	}
	cur = (g->next_token + GSM_MAX_TOKENS - 1) % GSM_MAX_TOKENS;
	t = &g->tokens[cur];
	if (t->token[0] == '\0' || t->expires_ms - now < GSM_RENEW_BEFORE_MS) {
		t = &g->tokens[g->next_token];
		g->next_token = (g->next_token + 1) % GSM_MAX_TOKENS;
		(void)util_strlcpy(t->token, "ya29.lab", sizeof(t->token));
		for (i = 8; i < GSM_TOKEN_LEN; i++)
			t->token[i] = "0123456789abcdef"[rng_below(&lab->rng,
			    16)];
		t->token[GSM_TOKEN_LEN] = '\0';
		t->expires_ms = now + g->ttl_ms;
	}
	http_response_json(resp, 200, json_pack("{s:s,s:I,s:s}",
	    "access_token", t->token, "expires_in",
	    (json_int_t)((t->expires_ms - now) / 1000), "token_type",
	    "Bearer"));
}

static bool
gsm_token_ok(const struct gsm *g, const char *auth, int64_t now)
{
	size_t	i;

	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
		return false;
	for (i = 0; i < GSM_MAX_TOKENS; i++)
		if (g->tokens[i].token[0] != '\0' &&
		    g->tokens[i].expires_ms > now &&
		    strcmp(g->tokens[i].token, auth + 7) == 0)
			return true;
	return false;
}

static void
gsm_access(struct lab *lab, const struct httpreq *req, const char *path,
    struct http_response *resp)
{
	struct gsm_secret	*s;
	char			 name[GSM_NAME_MAX], vname[GSM_NAME_MAX + 32];
	char			*enc, *v, *colon, crc[24];
	const char		*value;
	int64_t			 ver;
	size_t			 len;

	if (strcmp(req->method, "GET") != 0) {
		gsm_google_error(resp, 404, "NOT_FOUND", "Method not found.");
		return;
	}
	if (!gsm_token_ok(lab->gsm, httpreq_header(req, "Authorization"),
	    lab_now(lab))) {
		gsm_google_error(resp, 401, "UNAUTHENTICATED", "Request had "
		    "invalid authentication credentials. Expected OAuth 2 "
		    "access token.");
		return;
	}
	/* /v1/projects/P/secrets/S/versions/V:access */
	if (util_strlcpy(name, path + 4, sizeof(name)) != 0 ||
	    (colon = strrchr(name, ':')) == NULL ||
	    strcmp(colon, ":access") != 0 ||
	    (v = strstr(name, "/versions/")) == NULL) {
		gsm_google_error(resp, 400, "INVALID_ARGUMENT", "Invalid "
		    "resource name.");
		return;
	}
	*colon = '\0';
	*v = '\0';
	v += 10;
	if (!gsm_name_valid(name)) {
		gsm_google_error(resp, 400, "INVALID_ARGUMENT", "Invalid "
		    "resource name.");
		return;
	}
	if ((s = gsm_find(lab->gsm, name)) == NULL || s->nversions == 0) {
		gsm_google_error(resp, 404, "NOT_FOUND", "Secret not found or "
		    "has no versions.");
		return;
	}
	if (strcmp(v, "latest") == 0)
		ver = (int64_t)s->nversions;
	else if (util_parse_i64(v, 1, INT64_MAX, &ver) != 0) {
		gsm_google_error(resp, 400, "INVALID_ARGUMENT", "Invalid "
		    "version.");
		return;
	}
	if (ver > (int64_t)s->nversions) {
		gsm_google_error(resp, 404, "NOT_FOUND", "Secret Version not "
		    "found.");
		return;
	}
	value = s->versions[ver - 1];
	len = strlen(value);
	enc = xmalloc(B64_ENCODED_SIZE(len));
	(void)b64_encode(value, len, enc, B64_ENCODED_SIZE(len));
	(void)snprintf(vname, sizeof(vname), "%s/versions/%lld", name,
	    (long long)ver);
	(void)snprintf(crc, sizeof(crc), "%" PRIu32, gsm_crc32c(value, len));
	http_response_json(resp, 200, json_pack("{s:s,s:{s:s,s:s}}", "name",
	    vname, "payload", "data", enc, "dataCrc32c", crc));
	free(enc);
}

void
gsm_handle(struct lab *lab, const struct httpreq *req, const char *path,
    struct http_response *resp)
{
	if (strncmp(path, "/computeMetadata/", 17) == 0)
		gsm_metadata(lab, req, resp);
	else
		gsm_access(lab, req, path, resp);
}

json_t *
gsm_json(const struct gsm *g)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < g->nsecrets; i++)
		json_object_set_new(o, g->secrets[i]->name,
		    json_pack("{s:I}", "versions",
		    (json_int_t)g->secrets[i]->nversions));
	return o;
}

json_t *
gsm_save(const struct gsm *g)
{
	json_t	*o = json_object(), *arr;
	size_t	 i, k;

	for (i = 0; i < g->nsecrets; i++) {
		arr = json_array();
		for (k = 0; k < g->secrets[i]->nversions; k++)
			json_array_append_new(arr,
			    json_string(g->secrets[i]->versions[k]));
		json_object_set_new(o, g->secrets[i]->name, arr);
	}
	return o;
}
