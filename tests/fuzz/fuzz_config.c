/*
 * Fuzz target for the configuration loader (src/config/config.c): the
 * INI file through inih, the environment layer and --set overrides, each
 * value through its key's parser (numbers, durations, money, booleans,
 * URLs, host:port, commands, countries, fallback chains, secret
 * references, choices).
 *
 * Besides memory errors it checks the loader's promises.  Success and
 * failure are exclusive: a failure leaves *ret untouched and says why in
 * err, a success leaves err empty.  A file holding a NUL byte is refused.
 * Every number is within its key's documented range (the table below, as
 * docs/CONFIGURATION.md), every enumeration one of its values, URLs
 * http(s), the priority countries valid and distinct.  Secrets are never
 * repeated: the target sets every sensitive key and a database password
 * to a marker, which must then appear neither in an error nor in
 * check-config's output (text and JSON).  And the output goes round: every
 * value check-config shows, given back as --set overrides, loads and shows
 * the same again; the JSON output names every key.
 *
 * Input layout: byte 0 picks the layer (mod 3): the rest is an INI file,
 * or environment entries, or KEY=VALUE overrides, one per line.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/util.h"
#include "base/validate.h"
#include "config/config.h"
#include "fuzz.h"

#define MARK		"Zq8-secret-vK3"
#define MAX_LINES	128
#define DAY		(INT64_C(86400000))

/* Does the input hold the marker itself?  Then it may be shown. */
static bool	fuzz_seen;

/* Every key the target sets to the marker: the sensitive ones. */
static const char *const marked[] = {
	"BRIGHT_DATA_ZONE_PASSWORD=" MARK,
	"BRIGHT_DATA_RESIDENTIAL_ZONE_PASSWORD=" MARK,
	"RESPAWN_SESSION_SALT=" MARK,
	"RESPAWN_DB=postgresql://respawn:" MARK "@db.example/respawn",
};

#define F(f)	offsetof(struct config, f)
static const struct {
	size_t	off;
	int64_t	min, max;
} numbers[] = {
	{ F(recovery_window_ms), 60000, 366 * DAY },
	{ F(lease_ms), 3000, 600000 },
	{ F(webhook_queue), 1, 1000000 },
	{ F(webhook_attempts), 1, 100 },
	{ F(webhook_timeout_ms), 100, 600000 },
	{ F(ready_timeout_ms), 100, 3600000 },
	{ F(stop_timeout_ms), 100, 600000 },
	{ F(watchdog_ms), 0, 3600000 },
	{ F(start_concurrency), 1, 100000 },
	{ F(sessions_per_ip), 1, 100 },
	{ F(max_reconnect_attempts), 0, 1000 },
	{ F(reconnect_delay_ms), 0, 3600000 },
	{ F(release_margin_ms), 0, 1800000 },
	{ F(idle_timeout_ms), 0, 31 * DAY },
	{ F(ip_change_cost_micros), 0, INT64_C(1000000999999) },
	{ F(billing_boundary_hour), 0, 23 },
	{ F(ip_month_price_micros), 0, INT64_C(1000000999999) },
	{ F(daily_spend_limit_micros), 0, INT64_C(1000000000999999) },
	{ F(purchases_max), 0, 1000000 },
	{ F(purchase_window_ms), 1000, 31 * DAY },
	{ F(bd_proxy_port), 1, 65535 },
	{ F(bd_timeout_ms), 1000, 600000 },
};

static bool
is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static void
check_fields(const struct config *c)
{
	char		cc[COUNTRY_CODE_LEN];
	const char	*why;
	int64_t		v;
	size_t		i, j;

	for (i = 0; i < nitems(numbers); i++) {
		memcpy(&v, (const char *)c + numbers[i].off, sizeof v);
		FUZZ_CHECK(v >= numbers[i].min && v <= numbers[i].max);
	}
	FUZZ_CHECK(c->log_level >= LOG_LEVEL_DEBUG &&
	    c->log_level <= LOG_LEVEL_ERROR);
	FUZZ_CHECK(c->log_format == LOG_FORMAT_LOGFMT ||
	    c->log_format == LOG_FORMAT_JSON);
	FUZZ_CHECK(c->bd_proxy_type == PROXY_TYPE_ISP ||
	    c->bd_proxy_type == PROXY_TYPE_RESIDENTIAL);
	FUZZ_CHECK(c->db[0] != '\0' && c->state_dir[0] != '\0' &&
	    c->bd_proxy_host[0] != '\0');
	FUZZ_CHECK(is_url(c->gsm_url) && is_url(c->metadata_url) &&
	    is_url(c->bd_api_url));
	FUZZ_CHECK(strcmp(c->provider, "static") == 0 ||
	    strcmp(c->provider, "brightdata") == 0);
	FUZZ_CHECK(strchr(c->api_listen, ':') != NULL);
	FUZZ_CHECK(c->n_priority_countries <= CONFIG_MAX_COUNTRIES);
	for (i = 0; i < c->n_priority_countries; i++) {
		FUZZ_CHECK(validate_country(c->priority_countries[i], cc,
		    &why) == 0);
		FUZZ_CHECK(strcmp(cc, c->priority_countries[i]) == 0);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(c->priority_countries[i],
			    c->priority_countries[j]) != 0);
	}
}

/* check-config's output, as text or JSON, in a new string. */
static char *
print_config(const struct config *c, bool json)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*f;

	f = open_memstream(&out, &len);
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(config_print(c, f, json, false) == 0);
	FUZZ_CHECK(fclose(f) == 0);
	return out;
}

/*
 * The values check-config shows, as --set overrides; sensitive ones
 * (shown redacted) are left out.  Returns the JSON output.
 */
static json_t *
shown_values(const struct config *c, char **set, size_t *nset)
{
	const char	*key;
	json_t		*root, *v;
	char		*text;
	size_t		 n = 0;

	text = print_config(c, true);
	FUZZ_CHECK(fuzz_seen || strstr(text, MARK) == NULL);
	root = json_loads(text, 0, NULL);
	free(text);
	FUZZ_CHECK(json_is_object(root));
	FUZZ_CHECK(json_object_size(root) == config_key_count());
	json_object_foreach(root, key, v) {
		FUZZ_CHECK(json_is_string(json_object_get(v, "value")));
		/*
		 * Not fed back: a redacted value, and one whose bytes JSON
		 * could not hold (shown with U+FFFD): what is shown is not
		 * the value, so the round trip says nothing about it.
		 */
		if (json_object_get(v, "redacted") != NULL ||
		    strstr(json_string_value(json_object_get(v, "value")),
		    "\xef\xbf\xbd") != NULL)
			continue;
		FUZZ_CHECK(asprintf(&set[n], "%s=%s", key,
		    json_string_value(json_object_get(v, "value"))) > 0);
		n++;
	}
	*nset = n;
	return root;
}

static void
check_round_trip(const struct config *c)
{
	struct config_input	 in = { 0 };
	struct config		*again = NULL;
	char			 err[CONFIG_ERR_LEN];
	char			*set[64];
	const char		*key;
	json_t			*first, *second, *v;
	size_t			 n, n2, i;

	FUZZ_CHECK(config_key_count() <= nitems(set));
	first = shown_values(c, set, &n);
	in.file = "";
	in.overrides = (const char **)set;
	in.n_overrides = n;
	FUZZ_CHECK(config_load(&in, &again, err) == 0);
	check_fields(again);
	for (i = 0; i < nitems(numbers); i++)
		FUZZ_CHECK(memcmp((const char *)c + numbers[i].off,
		    (const char *)again + numbers[i].off,
		    sizeof(int64_t)) == 0);
	for (i = 0; i < n; i++)
		free(set[i]);
	second = shown_values(again, set, &n2);
	for (i = 0; i < n2; i++)
		free(set[i]);
	/*
	 * A redacted value is not fed back, so the second load has that
	 * key's default, which may well be shown as it is: at least as many.
	 */
	FUZZ_CHECK(n2 >= n);
	json_object_foreach(first, key, v) {
		if (json_object_get(v, "redacted") != NULL ||
		    strstr(json_string_value(json_object_get(v, "value")),
		    "\xef\xbf\xbd") != NULL)
			continue;
		FUZZ_CHECK(json_equal(json_object_get(v, "value"),
		    json_object_get(json_object_get(second, key), "value")));
	}
	json_decref(first);
	json_decref(second);
	config_free(again);
}

/* The text split into lines (no RESPAWN_CONFIG: no file is read). */
static size_t
split_lines(char *text, const char **lines, size_t n)
{
	char	*p = text, *nl;

	while (n < MAX_LINES && *p != '\0') {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl = '\0';
		if (strncmp(p, "RESPAWN_CONFIG", 14) != 0)
			lines[n++] = p;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_input	 in = { 0 };
	struct config		*c, *poison = (struct config *)&in;
	const char		*lines[MAX_LINES + 1];
	char			 err[CONFIG_ERR_LEN], path[64], *text, *out;
	size_t			 i, n = 0;
	int			 fd = -1, r;
	bool			 nul;

	if (size < 1)
		return 0;
	text = malloc(size);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	nul = memchr(data + 1, '\0', size - 1) != NULL;
	fuzz_seen = memmem(data, size, MARK, strlen(MARK)) != NULL;
	for (i = 0; i < nitems(marked); i++)
		lines[n++] = marked[i];

	in.file = "";
	switch (data[0] % 3) {
	case 0:
		/* The markers first, then the input, as one file. */
		fd = memfd_create("config.ini", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0);
		for (i = 0; i < nitems(marked); i++)
			FUZZ_CHECK(dprintf(fd, "%s\n", marked[i]) > 0);
		FUZZ_CHECK(write(fd, data + 1, size - 1) ==
		    (ssize_t)(size - 1));
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		in.file = path;
		break;
	case 1:
		n = split_lines(text, lines, n);
		lines[n] = NULL;
		in.envp = (char *const *)lines;
		break;
	default:
		in.overrides = lines;
		in.n_overrides = split_lines(text, lines, n);
		break;
	}

	c = poison;
	memset(err, 'x', sizeof err);
	r = config_load(&in, &c, err);
	FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -ERANGE || r == -E2BIG);
		FUZZ_CHECK(c == poison);
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(fuzz_seen || strstr(err, MARK) == NULL);
	} else {
		FUZZ_CHECK(r == 0 && c != poison && err[0] == '\0');
		FUZZ_CHECK(!nul || data[0] % 3 != 0);
		check_fields(c);
		out = print_config(c, false);
		FUZZ_CHECK(fuzz_seen || strstr(out, MARK) == NULL);
		free(out);
		check_round_trip(c);
		config_free(c);
	}
	if (fd >= 0)
		close(fd);
	free(text);
	return 0;
}
