/*
 * Fuzz target for the two readers of proxy URLs that may carry a
 * password: a line of the static provider's file
 * (provider_static_parse_line, src/provider/provider_static.c) and
 * util_redact_url (src/base/util.c), which every URL shown in logs and
 * check-config goes through.
 *
 * The password is defined once, here, as RFC 3986 has it with one
 * leniency: the authority runs from "://" to the first '/', '?' or '#';
 * its userinfo ends at the authority's LAST '@' (so a password may hold
 * an '@'), and the password is what follows the userinfo's first ':'.
 * Both functions are checked against that definition:
 *
 *   - util_redact_url writes the URL with the password replaced by
 *     "<redacted>" (exactly so for a URL the definition covers; it also
 *     hides credential parameters of a query, simple_url), cut to the
 *     buffer (a prefix, always NUL-terminated, nothing written for a
 *     size of 0); redacting twice changes nothing;
 *   - a proxy line is blank or a comment (0), refused with a reason
 *     (negative, the URL untouched), or taken (1): then the URL is its
 *     first word and has an accepted scheme, the country is the second
 *     word as a valid lower-case code, and the key, stored in the
 *     database, is the URL after "://" without ":password"; the line
 *     "URL COUNTRY" written back parses to the same proxy.
 *
 * Input layout: byte 0 picks the function (mod 2), byte 1 the redaction
 * buffer's size; the rest, up to a NUL, is the line or the URL.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/validate.h"
#include "provider/provider.h"
#include "fuzz.h"

#define POISON		0x5a
#define REDACTED	"<redacted>"

/* Where a URL's credentials are, as the comment above defines them. */
struct creds {
	const char	*host;	/* after "://"; NULL: no "://" */
	const char	*colon;	/* the ':' before the password; NULL: none */
	const char	*at;	/* the '@' ending the userinfo, or NULL */
};

static void
creds_find(const char *url, struct creds *c)
{
	const char	*p, *end;

	memset(c, 0, sizeof *c);
	if ((p = strstr(url, "://")) == NULL)
		return;
	c->host = p + 3;
	end = c->host + strcspn(c->host, "/?#");
	for (p = c->host; p < end; p++)
		if (*p == '@')
			c->at = p;
	if (c->at != NULL)
		c->colon = memchr(c->host, ':', (size_t)(c->at - c->host));
}

/* The URL with its password replaced, in full; the caller frees. */
static char *
ref_redact(const char *url)
{
	struct creds	 c;
	char		*out;

	creds_find(url, &c);
	if (c.colon == NULL) {
		out = strdup(url);
	} else if (asprintf(&out, "%.*s" REDACTED "%s",
	    (int)(c.colon + 1 - url), url, c.at) < 0)
		out = NULL;
	FUZZ_CHECK(out != NULL);
	return out;
}

/* The key: the URL after "://" without ":password". */
static char *
ref_key(const char *url)
{
	struct creds	 c;
	char		*out;

	creds_find(url, &c);
	FUZZ_CHECK(c.host != NULL);
	if (c.at == NULL)
		out = strdup(c.host);
	else if (asprintf(&out, "%.*s%s", (int)((c.colon != NULL ? c.colon :
	    c.at) - c.host), c.host, c.at) < 0)
		out = NULL;
	FUZZ_CHECK(out != NULL);
	return out;
}

/*
 * A URL the definition above covers as util_redact_url does: a scheme
 * of RFC 3986 characters, its userinfo (if any) inside the authority,
 * and no query or fragment (whose credential parameters util_redact_url
 * also hides, and the definition does not describe).
 */
static bool
simple_url(const char *url)
{
	const char	*p = url, *auth;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	for (p++; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	    (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.';
	    p++)
		;
	if (strncmp(p, "://", 3) != 0)
		return false;
	auth = p + 3;
	if (strpbrk(auth, "?#") != NULL)
		return false;
	/* An '@' past the authority is a password's raw '/': not covered. */
	return strchr(auth + strcspn(auth, "/"), '@') == NULL;
}

static void
fuzz_redact(const char *url, size_t size)
{
	char	 out[256 + 1], *want, *again;
	size_t	 len, full;

	/* What it writes in a buffer large enough: the reference, if simple. */
	full = (strlen(url) + 1) * (sizeof REDACTED) + 1;
	want = malloc(full);
	FUZZ_CHECK(want != NULL);
	util_redact_url(url, want, full);
	FUZZ_CHECK(strlen(want) + 1 < full);
	if (simple_url(url)) {
		char	*ref = ref_redact(url);

		FUZZ_CHECK(strcmp(want, ref) == 0);
		free(ref);
	}
	memset(out, POISON, sizeof out);
	util_redact_url(url, out, size);
	if (size == 0) {
		FUZZ_CHECK((unsigned char)out[0] == POISON);
	} else {
		len = strnlen(out, size);
		FUZZ_CHECK(len < size);
		FUZZ_CHECK(len == (strlen(want) < size ? strlen(want) :
		    size - 1));
		FUZZ_CHECK(memcmp(out, want, len) == 0);
		FUZZ_CHECK((unsigned char)out[size] == POISON);
	}

	/* Redacting again changes nothing. */
	len = strlen(want) + 1;
	again = malloc(len);
	FUZZ_CHECK(again != NULL);
	util_redact_url(want, again, len);
	FUZZ_CHECK(strcmp(again, want) == 0);
	free(again);
	free(want);
}

/* The line without its comment and surrounding blanks: is it empty? */
static bool
blank_line(const char *line)
{
	size_t	n = strcspn(line, "#");

	return strspn(line, " \t\r\n") >= n;
}

static void
fuzz_line(const char *line)
{
	struct provider_proxy	 px, again;
	char			 url[PROVIDER_URL_MAX];
	char			 url2[PROVIDER_URL_MAX];
	char			 cc[COUNTRY_CODE_LEN], *key, *back, *word;
	const char		*why = NULL, *why2;
	size_t			 n;
	int			 r;

	memset(url, POISON, sizeof url);
	r = provider_static_parse_line(line, &px, url, &why);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG);
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		FUZZ_CHECK((unsigned char)url[0] == POISON);
		/* A line too long is refused, even a comment. */
		FUZZ_CHECK(!blank_line(line) ||
		    strlen(line) >= PROVIDER_URL_MAX + 64);
		return;
	}
	if (r == 0) {
		FUZZ_CHECK(blank_line(line));
		FUZZ_CHECK((unsigned char)url[0] == POISON);
		return;
	}
	FUZZ_CHECK(r == 1);
	n = strnlen(url, sizeof url);
	FUZZ_CHECK(n > 0 && n < sizeof url);
	FUZZ_CHECK(strncmp(url, "http://", 7) == 0 ||
	    strncmp(url, "socks5://", 9) == 0 ||
	    strncmp(url, "socks5h://", 10) == 0);
	FUZZ_CHECK(strpbrk(url, " \t#") == NULL);

	/* The URL is the first word, the country the second and last. */
	word = strstr(line, url);
	FUZZ_CHECK(word != NULL &&
	    strspn(line, " \t") == (size_t)(word - line));
	FUZZ_CHECK(validate_country(px.country, cc, &why) == 0);
	FUZZ_CHECK(strcmp(cc, px.country) == 0);

	/* The key is the URL after "://" without the password. */
	key = ref_key(url);
	FUZZ_CHECK(strlen(key) < PROVIDER_KEY_MAX);
	FUZZ_CHECK(strcmp(px.key, key) == 0);
	free(key);

	/* "URL COUNTRY" written back parses to the same proxy. */
	FUZZ_CHECK(asprintf(&back, "%s %s\n", url, px.country) > 0);
	FUZZ_CHECK(provider_static_parse_line(back, &again, url2, &why2) == 1);
	FUZZ_CHECK(strcmp(url2, url) == 0);
	FUZZ_CHECK(strcmp(again.key, px.key) == 0);
	FUZZ_CHECK(strcmp(again.country, px.country) == 0);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	if (size < 2)
		return 0;
	s = malloc(size - 1);
	FUZZ_CHECK(s != NULL);
	memcpy(s, data + 2, size - 2);
	s[size - 2] = '\0';
	if (data[0] % 2 == 0)
		fuzz_line(s);
	else
		fuzz_redact(s, data[1]);
	free(s);
	return 0;
}
