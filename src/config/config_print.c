/*
 * The configuration as check-config shows it, and how a value is redacted
 * for display: a literal secret not at all, a webhook URL as its origin,
 * anything else without its credentials.  See config.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config_impl.h"
#include "config/secret.h"

/*
 * A webhook URL as it may be shown: its origin (scheme://host[:port],
 * without user information) and, when it has more, "/<redacted>".  The
 * path of a webhook URL is often its only credential (a chat service's
 * incoming-webhook URL is the token), so none of it is shown, as the
 * daemon's logs name a target by its origin only (webhook.c).
 */
static void
config_redact_webhook(const char *url, char *out, size_t size)
{
	const char	*host, *end, *at;

	if ((host = strstr(url, "://")) == NULL) {
		(void)util_strlcpy(out, UTIL_REDACTED, size);
		return;
	}
	host += 3;
	end = host + strcspn(host, "/?#");
	/* The user information ends at the authority's last '@'. */
	for (at = host; at < end; at++)
		if (*at == '@')
			host = at + 1;
	snprintf(out, size, "%.*s%.*s%s", (int)(strstr(url, "://") + 3 - url),
	    url, (int)(end - host), host, *end != '\0' &&
	    strcmp(end, "/") != 0 ? "/" UTIL_REDACTED : "");
}

/*
 * A value as it may be shown (check-config, errors, logs): a literal
 * secret not at all; a list of webhook URLs item by item, each as its
 * origin only (config_redact_webhook); anything else
 * (a database URL or path, a command, a reference) through
 * util_redact_text.  Cut to size, never in the middle of a secret.
 */
void
config_redact(const struct config_key *key, const char *v, char *out,
    size_t size)
{
	char	*item;
	size_t	 len = 0, n;

	if (key->type == CT_SENSITIVE) {
		(void)util_strlcpy(out, *v == '\0' ? "" : UTIL_REDACTED, size);
		return;
	}
	if (key->type != CT_URLS) {
		util_redact_text(v, out, size);
		return;
	}
	out[0] = '\0';
	while (*v != '\0' && len + 1 < size) {
		/* The separators webhook.c splits on, kept as they are. */
		n = strspn(v, ", \t");
		if (n == 0) {
			n = strcspn(v, ", \t");
			item = xstrndup(v, n);
			config_redact_webhook(item, out + len, size - len);
			util_wipe(item, n);
			free(item);
		} else
			snprintf(out + len, size - len, "%.*s", (int)n, v);
		len += strlen(out + len);
		v += n;
	}
}

/*
 * Text as a JSON string.  JSON holds only UTF-8, and jansson refuses
 * anything else: a value, a file name or a message that is not UTF-8 is
 * shown with U+FFFD for each byte past ASCII rather than left out.  Not
 * '?': that would make a query of a URL where there was none, and the
 * value shown would be redacted differently from the value itself.
 */
static json_t *
config_json_text(const char *s)
{
	static const char	 fffd[] = "\xef\xbf\xbd";
	json_t			*j;
	char			*copy;
	size_t			 n = strlen(s), i, o = 0;

	if ((j = json_string(s)) != NULL)
		return j;
	copy = xreallocarray(NULL, 3 * n + 1, 1);
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80) {
			memcpy(copy + o, fffd, 3);
			o += 3;
		} else
			copy[o++] = s[i];
	}
	copy[o] = '\0';
	j = json_string(copy);
	free(copy);
	return j;
}

int
config_print(const struct config *pub, FILE *out, bool json, bool resolve)
{
	const struct config_impl	*c = (const struct config_impl *)pub;
	json_t				*root = NULL, *obj;
	struct secret			*s;
	char				 err[SECRET_ERR_LEN];
	char				 errshown[SECRET_ERR_LEN];
	char				*shown = xmalloc(CONFIG_SHOWN_MAX);
	const char			*status;
	size_t				 k;
	int				 failed = 0;

	if (json)
		root = json_object();
	for (k = 0; k < CONFIG_NKEYS; k++) {
		status = NULL;
		err[0] = '\0';
		if (config_keys[k].type == CT_SECRET_REF &&
		    c->values[k][0] != '\0' && resolve) {
			if (secret_resolve(c->values[k], &s, err) < 0) {
				status = "unresolved";
				failed++;
				/* It names the reference, which may be a command. */
				util_redact_text(err, errshown, sizeof errshown);
				memcpy(err, errshown, sizeof err);
			} else {
				status = "resolved";
				secret_free(s);
			}
		}
		/*
		 * Sensitive literals are replaced, URLs and other text lose
		 * their credentials; a secret reference is shown as the
		 * reference (a name, not a value).
		 */
		config_redact(&config_keys[k], c->values[k], shown,
		    CONFIG_SHOWN_MAX);
		if (json) {
			obj = json_pack("{s:o, s:o}", "value",
			    config_json_text(shown), "source",
			    config_json_text(c->sources[k]));
			if (config_keys[k].type == CT_SENSITIVE ||
			    strcmp(shown, c->values[k]) != 0)
				json_object_set_new(obj, "redacted",
				    json_true());
			if (status != NULL)
				json_object_set_new(obj, "secret",
				    json_string(status));
			if (err[0] != '\0')
				json_object_set_new(obj, "error",
				    config_json_text(err));
			json_object_set_new(root, config_keys[k].name, obj);
		} else {
			fprintf(out, "%s=%s", config_keys[k].name, shown);
			fprintf(out, "\t# %s", c->sources[k]);
			if (status != NULL)
				fprintf(out, ", secret reference %s", status);
			if (err[0] != '\0')
				fprintf(out, ": %s", err);
			fputc('\n', out);
		}
	}
	if (json) {
		json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', out);
		json_decref(root);
	}
	free(shown);
	return failed;
}
