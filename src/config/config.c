/*
 * Configuration: the key table, the four layers and their validation.
 * See config.h; what check-config shows is in config_print.c, and what the
 * two files share in config_impl.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "base/argv.h"
#include "base/util.h"
#include "base/validate.h"
#include "base/xmalloc.h"
#include "config/config_impl.h"
#include "config/secret.h"
#include "core/fallback.h"

#define OFF(f)	offsetof(struct config, f)

const struct config_key config_keys[] = {
	{ "RESPAWN_DB", CT_NONEMPTY, OFF(db), "respawn.db", 0, 0, 0,
	  "State database: a SQLite file path, or a postgresql:// URL for "
	  "fleet mode (docs/FLEET.md); a password in it is never printed." },
	{ "RESPAWN_STATE_DIR", CT_NONEMPTY, OFF(state_dir), "state", 0, 0, 0,
	  "Directory for per-session auth directories and connector logs." },
	{ "RESPAWN_LOG_LEVEL", CT_LOG_LEVEL, OFF(log_level), "info", 0, 0, 0,
	  "Least severe level logged: debug, info, warn or error." },
	{ "RESPAWN_LOG_FORMAT", CT_LOG_FORMAT, OFF(log_format), "logfmt", 0, 0,
	  0, "Log line format: logfmt or json." },
	{ "RESPAWN_CONNECTOR", CT_COMMAND, OFF(connector), "", 0, 0, 0,
	  "Connector command started for each session (split into argv, no "
	  "shell)." },
	{ "RESPAWN_RECOVERY_WINDOW", CT_DURATION, OFF(recovery_window_ms),
	  "24h", 60000, 366LL * 86400000, 1000,
	  "Sessions active within this window are recovered at start (bare "
	  "number: seconds)." },
	{ "RESPAWN_API_LISTEN", CT_HOSTPORT, OFF(api_listen), "127.0.0.1:8787",
	  0, 0, 0, "Address of the HTTP API and /metrics (port 0: one the "
	  "kernel picks, written to RESPAWN_STATE_DIR/api.addr)." },
	{ "RESPAWN_API_KEY_SECRET", CT_SECRET_REF, OFF(api_key_secret), "", 0,
	  0, 0, "Secret reference to the HTTP API key (x-api-key or "
	  "Authorization: Bearer); without it every /api/ route answers 401." },
	{ "RESPAWN_LEASE", CT_DURATION, OFF(lease_ms), "30s", 3000, 600000,
	  1000, "Fleet mode (PostgreSQL): an instance's lease; it renews every "
	  "sixth of it and fences itself after two thirds without a renewal "
	  "(bare number: seconds)." },
	{ "RESPAWN_WEBHOOK_URLS", CT_URLS, OFF(webhook_urls), "", 0, 0, 0,
	  "Comma-separated http(s) URLs that receive session status changes "
	  "as signed JSON POSTs (empty: no webhooks)." },
	{ "RESPAWN_WEBHOOK_SECRET", CT_SECRET_REF, OFF(webhook_secret), "", 0,
	  0, 0, "Secret reference to the HMAC-SHA256 key that signs webhook "
	  "bodies (required with RESPAWN_WEBHOOK_URLS)." },
	{ "RESPAWN_WEBHOOK_QUEUE", CT_INT, OFF(webhook_queue), "10000", 1,
	  1000000, 0, "Webhook deliveries waiting at most; beyond it the "
	  "oldest is dropped and counted." },
	{ "RESPAWN_WEBHOOK_ATTEMPTS", CT_INT, OFF(webhook_attempts), "8", 1,
	  100, 0, "Delivery attempts per webhook before it is given up "
	  "(retried with full-jitter backoff)." },
	{ "RESPAWN_WEBHOOK_TIMEOUT", CT_DURATION, OFF(webhook_timeout_ms),
	  "5s", 100, 600000, 1000, "Time allowed for one webhook delivery "
	  "(bare number: seconds)." },
	{ "RESPAWN_CONNECTOR_ENV", CT_STRING, OFF(connector_env), "", 0, 0, 0,
	  "Comma-separated names of environment variables passed on to "
	  "connectors (besides PATH, HOME, LANG, TZ and the contract's)." },
	{ "RESPAWN_READY_TIMEOUT", CT_DURATION, OFF(ready_timeout_ms), "60s",
	  100, 3600000, 1000, "A connector must report READY=1 within this "
	  "(bare number: seconds)." },
	{ "RESPAWN_STOP_TIMEOUT", CT_DURATION, OFF(stop_timeout_ms), "10s",
	  100, 600000, 1000, "SIGKILL a connector's group this long after "
	  "SIGTERM (bare number: seconds)." },
	{ "RESPAWN_WATCHDOG", CT_DURATION, OFF(watchdog_ms), "0", 0, 3600000,
	  1000, "Connectors must send WATCHDOG=1 within this (0: no "
	  "watchdog; bare number: seconds)." },
	{ "RESPAWN_START_CONCURRENCY", CT_INT, OFF(start_concurrency), "256",
	  1, 100000, 0, "At most this many sessions starting at once (waiting "
	  "for a proxy or for READY=1)." },
	{ "RESPAWN_SESSIONS_PER_IP", CT_INT, OFF(sessions_per_ip), "1", 1, 100,
	  0, "How many sessions may share one proxy IP." },
	{ "RESPAWN_PROVIDER", CT_PROVIDER, OFF(provider), "static", 0, 0, 0,
	  "Where proxies come from: static (a list file) or brightdata." },
	{ "RESPAWN_STATIC_PROXIES", CT_STRING, OFF(static_proxies), "", 0, 0, 0,
	  "The static provider's file: one 'proxy-URL country' per line." },
	{ "RESPAWN_FALLBACK_OVERRIDES", CT_FALLBACK, OFF(fallback_overrides),
	  "", 0, 0, 0, "Replace generated fallback chains, e.g. "
	  "'be:nl,fr,de;bd:in,sg' (an empty chain: never fall back)." },
	{ "BRIGHT_DATA_RESIDENTIAL_ZONE", CT_STRING, OFF(bd_res_zone), "", 0, 0,
	  0, "Residential zone for sessions of proxy type residential." },
	{ "BRIGHT_DATA_RESIDENTIAL_ZONE_PASSWORD", CT_SENSITIVE,
	  OFF(bd_res_password), "", 0, 0, 0,
	  "The residential zone's proxy password (never printed)." },
	{ "RESPAWN_SESSION_SALT", CT_SENSITIVE, OFF(session_salt), "", 0, 0, 0,
	  "Keys the residential session ids derived from phone numbers, so "
	  "the provider cannot recover the numbers (never printed)." },
	{ "RESPAWN_GSM_URL", CT_URL, OFF(gsm_url),
	  "https://secretmanager.googleapis.com", 0, 0, 0,
	  "Base URL of Google Secret Manager (projects/... secret references)." },
	{ "RESPAWN_METADATA_URL", CT_URL, OFF(metadata_url),
	  "http://metadata.google.internal", 0, 0, 0,
	  "Base URL of the metadata server that gives Secret Manager tokens." },
	{ "RESPAWN_RELEASE_POLICY", CT_CHOICE, OFF(release_policy), "stable",
	  0, 0, 0, "When idle IPs go back to the provider (stable|aware|"
	  "idle-timeout|keep): aware keeps an IP already paid for the current "
	  "billing unit until shortly before the next; stable does the same "
	  "and also holds each phone's IP for it while it is expected back; "
	  "idle-timeout is the seed's release after RESPAWN_IDLE_TIMEOUT "
	  "idle; keep never releases." },
	{ "RESPAWN_IP_CHANGE_COST", CT_MONEY, OFF(ip_change_cost_micros),
	  "1.00", 0, 1000000, 0, "stable policy: what sparing one phone an IP "
	  "change is worth, in the billing currency.  An IP held for a phone "
	  "expected back goes to another phone only when buying an IP (a "
	  "billing unit at RESPAWN_IP_MONTHLY_PRICE) costs more than this "
	  "times the owner's chance to come back meanwhile; higher keeps "
	  "phones on their IPs, lower spends less." },
	{ "RESPAWN_RELEASE_MARGIN", CT_DURATION, OFF(release_margin_ms), "10m",
	  0, 1800000, 1000, "How long before the next billing unit an aware "
	  "release happens (bare number: seconds)." },
	{ "RESPAWN_IDLE_TIMEOUT", CT_DURATION, OFF(idle_timeout_ms), "1h", 0,
	  31LL * 86400000, 1000, "idle-timeout policy: release after this long "
	  "idle (the seed's 1 hour; bare number: seconds)." },
	{ "RESPAWN_BILLING_UNIT", CT_CHOICE, OFF(billing_unit), "day", 0, 0, 0,
	  "The provider's billing unit for static IPs (day|month|hour): a "
	  "partly used unit is charged." },
	{ "RESPAWN_BILLING_BOUNDARY_HOUR", CT_INT, OFF(billing_boundary_hour),
	  "0", 0, 23, 0, "The UTC hour at which a billing day starts." },
	{ "RESPAWN_IP_MONTHLY_PRICE", CT_MONEY, OFF(ip_month_price_micros),
	  "0", 0, 1000000, 0, "Price of one static IP per month, in the "
	  "billing currency (for spend figures and limits)." },
	{ "RESPAWN_DAILY_SPEND_LIMIT", CT_MONEY, OFF(daily_spend_limit_micros),
	  "0", 0, 1000000000, 0, "No purchase beyond this spend a day (0: no "
	  "limit); sessions are served from the idle pool or wait." },
	{ "RESPAWN_PURCHASES_MAX", CT_INT, OFF(purchases_max), "0", 0, 1000000,
	  0, "At most this many IPs bought per RESPAWN_PURCHASE_WINDOW (0: no "
	  "limit)." },
	{ "RESPAWN_PURCHASE_WINDOW", CT_DURATION, OFF(purchase_window_ms), "1h",
	  1000, 31LL * 86400000, 1000, "The window of RESPAWN_PURCHASES_MAX "
	  "(bare number: seconds)." },
	{ "AUTO_RECONNECT", CT_BOOL, OFF(auto_reconnect), "true", 0, 0, 0,
	  "Restart connectors that fail, and recover sessions at start." },
	{ "MAX_RECONNECT_ATTEMPTS", CT_INT, OFF(max_reconnect_attempts), "3",
	  0, 1000, 0,
	  "Failed starts in a row before a session is marked failed." },
	{ "RECONNECT_DELAY", CT_DURATION, OFF(reconnect_delay_ms), "5000", 0,
	  3600000, 1, "Base delay of the reconnect backoff (bare number: "
	  "milliseconds)." },
	{ "PRIORITY_COUNTRIES", CT_COUNTRIES, OFF(priority_countries), "", 0,
	  0, 0, "Countries recovered first, in order (comma-separated ISO "
	  "3166-1 alpha-2 codes)." },
	{ "BRIGHT_DATA_PROXY_TYPE", CT_PROXY_TYPE, OFF(bd_proxy_type), "isp",
	  0, 0, 0, "Default proxy type of new sessions: isp or residential." },
	{ "BRIGHT_DATA_CUSTOMER_ID", CT_STRING, OFF(bd_customer_id), "", 0, 0,
	  0, "Bright Data customer id (brd-customer-<id>)." },
	{ "BRIGHT_DATA_ZONE", CT_STRING, OFF(bd_zone), "", 0, 0, 0,
	  "Bright Data zone name." },
	{ "BRIGHT_DATA_ZONE_PASSWORD", CT_SENSITIVE, OFF(bd_zone_password), "",
	  0, 0, 0, "The zone's proxy password (never printed)." },
	{ "BRIGHT_DATA_API_KEY_SECRET", CT_SECRET_REF, OFF(bd_api_key_secret),
	  "", 0, 0, 0, "Secret reference to the Bright Data API key." },
	{ "BRIGHT_DATA_API_URL", CT_URL, OFF(bd_api_url),
	  "https://api.brightdata.com", 0, 0, 0,
	  "Base URL of the Bright Data account API." },
	{ "BRIGHT_DATA_TIMEOUT", CT_DURATION, OFF(bd_timeout_ms), "30s", 1000,
	  600000, 1000, "Time allowed for one account-API request; a purchase "
	  "unanswered by then is settled from the listing (bare number: "
	  "seconds)." },
	{ "BRIGHT_DATA_PROXY_HOST", CT_NONEMPTY, OFF(bd_proxy_host),
	  "brd.superproxy.io", 0, 0, 0, "Bright Data super proxy host." },
	{ "BRIGHT_DATA_PROXY_PORT", CT_INT, OFF(bd_proxy_port), "33335", 1,
	  65535, 0, "Bright Data super proxy port." },
};

_Static_assert(nitems(config_keys) == CONFIG_NKEYS,
    "CONFIG_NKEYS in config_impl.h counts the keys");

/* The state of one load: the config being built and the first error. */
struct config_load {
	struct config_impl	*c;
	const char		*source;	/* label of the current layer */
	char			*err;
	bool			 failed;
};

size_t
config_key_count(void)
{
	return CONFIG_NKEYS;
}

const char *
config_key_name(size_t i)
{
	return i < CONFIG_NKEYS ? config_keys[i].name : NULL;
}

const char *
config_key_help(size_t i)
{
	return i < CONFIG_NKEYS ? config_keys[i].help : NULL;
}

const char *
config_proxy_type_name(enum proxy_type t)
{
	return t == PROXY_TYPE_RESIDENTIAL ? "residential" : "isp";
}

static int
config_key_find(const char *name)
{
	size_t	i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (strcasecmp(config_keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
config_parse_hostport(const char *v, const char **why)
{
	const char	*colon;
	int64_t		 port;
	char		 num[8];

	if ((colon = strrchr(v, ':')) == NULL || colon == v) {
		*why = "must be host:port";
		return -EINVAL;
	}
	if (util_strlcpy(num, colon + 1, sizeof num) < 0 ||
	    util_parse_i64(num, 0, 65535, &port) < 0) {
		*why = "port must be a number from 0 to 65535";
		return -EINVAL;
	}
	return 0;
}

/* A list of webhook targets: each an http(s) URL without spaces. */
static int
config_parse_urls(const char *v, const char **why)
{
	size_t	len;

	while (*v != '\0') {
		while (*v == ' ' || *v == ',')
			v++;
		if (*v == '\0')
			break;
		len = strcspn(v, ", ");
		if ((len < 8 || strncmp(v, "http://", 7) != 0) &&
		    (len < 9 || strncmp(v, "https://", 8) != 0)) {
			*why = "must be comma-separated http:// or https:// URLs";
			return -EINVAL;
		}
		v += len;
	}
	return 0;
}

static int
config_parse_countries(const char *v, struct config *pub, const char **why)
{
	char	cc[COUNTRY_CODE_LEN], item[8];
	size_t	n = 0, len, i;

	while (*v != '\0') {
		while (*v == ' ' || *v == ',')
			v++;
		if (*v == '\0')
			break;
		len = strcspn(v, ", ");
		if (len >= sizeof item) {
			*why = "contains an entry that is not a country code";
			return -EINVAL;
		}
		memcpy(item, v, len);
		item[len] = '\0';
		v += len;
		if (validate_country(item, cc, why) < 0)
			return -EINVAL;
		for (i = 0; i < n; i++) {
			if (strcmp(pub->priority_countries[i], cc) == 0) {
				*why = "lists a country twice";
				return -EINVAL;
			}
		}
		if (n == CONFIG_MAX_COUNTRIES) {
			*why = "lists more than 32 countries";
			return -E2BIG;
		}
		memcpy(pub->priority_countries[n++], cc, sizeof cc);
	}
	pub->n_priority_countries = n;
	return 0;
}

int
config_parse_money(const char *v, int64_t max_units, int64_t *ret)
{
	int64_t	units = 0, frac = 0;
	int	digits = 0;
	const char *p = v;

	/* Beyond this the micro-units would not fit in an int64_t. */
	if (max_units > INT64_MAX / 1000000 - 1)
		max_units = INT64_MAX / 1000000 - 1;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		units = units * 10 + (*p - '0');
		if (units > max_units)
			return -ERANGE;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (++digits > 6)
				return -EINVAL;
			frac = frac * 10 + (*p - '0');
		}
		if (digits == 0)
			return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	for (; digits < 6; digits++)
		frac *= 10;
	*ret = units * 1000000 + frac;
	return 0;
}

/* Is v one of the '|'-separated words in the help's first parenthesis? */
static bool
config_choice_ok(const char *help, const char *v)
{
	const char	*open = strchr(help, '('), *close, *p;
	size_t		 len = strlen(v), n;

	if (open == NULL || (close = strchr(open, ')')) == NULL || len == 0)
		return false;
	for (p = open + 1; p < close; p += n + 1) {
		n = strcspn(p, "|)");
		if (n == len && strncmp(p, v, n) == 0)
			return true;
	}
	return false;
}

/*
 * Validate one value of one key and, when valid, make it the effective
 * value.  On failure the load records a message and the value is dropped.
 */
static int
config_set(struct config_load *ld, size_t k, const char *v)
{
	const struct config_key	*key = &config_keys[k];
	struct config		*pub = &ld->c->pub;
	char			*field = (char *)pub + key->offset;
	const char		*why = NULL;
	char			**argv;
	int64_t			 n;
	bool			 b;
	enum log_level		 lvl;
	enum log_format		 fmt;
	int			 r = 0;

	if (strlen(v) > CONFIG_VALUE_MAX) {
		why = "is longer than 4096 bytes";
		r = -E2BIG;
		goto fail;
	}
	switch (key->type) {
	case CT_STRING:
	case CT_SENSITIVE:
		break;
	case CT_NONEMPTY:
		if (*v == '\0') {
			why = "must not be empty";
			r = -EINVAL;
		}
		break;
	case CT_URL:
		if (strncmp(v, "http://", 7) != 0 &&
		    strncmp(v, "https://", 8) != 0) {
			why = "must be an http:// or https:// URL";
			r = -EINVAL;
		}
		break;
	case CT_HOSTPORT:
		r = config_parse_hostport(v, &why);
		break;
	case CT_URLS:
		r = config_parse_urls(v, &why);
		break;
	case CT_COMMAND:
		if (*v == '\0')
			break;
		if ((r = argv_split(v, &argv)) < 0)
			why = "is not a valid command line (check its quotes)";
		else
			argv_free(argv);
		break;
	case CT_BOOL:
		if ((r = util_parse_bool(v, &b)) < 0)
			why = "must be true or false";
		else
			*(bool *)field = b;
		break;
	case CT_INT:
		if ((r = util_parse_i64(v, key->min, key->max, &n)) < 0)
			why = r == -ERANGE ? "is out of range" :
			    "must be a whole number";
		else
			*(int64_t *)field = n;
		break;
	case CT_DURATION:
		if ((r = util_parse_duration_ms(v, key->unit_ms, key->min,
		    key->max, &n)) < 0)
			why = r == -ERANGE ? "is out of range" :
			    "must be a duration such as 5000, 30s, 5m, 24h";
		else
			*(int64_t *)field = n;
		break;
	case CT_LOG_LEVEL:
		if ((r = log_level_parse(v, &lvl)) < 0)
			why = "must be debug, info, warn or error";
		else
			*(enum log_level *)field = lvl;
		break;
	case CT_LOG_FORMAT:
		if ((r = log_format_parse(v, &fmt)) < 0)
			why = "must be logfmt or json";
		else
			*(enum log_format *)field = fmt;
		break;
	case CT_PROXY_TYPE:
		if (strcasecmp(v, "isp") == 0)
			*(enum proxy_type *)field = PROXY_TYPE_ISP;
		else if (strcasecmp(v, "residential") == 0)
			*(enum proxy_type *)field = PROXY_TYPE_RESIDENTIAL;
		else {
			why = "must be isp or residential";
			r = -EINVAL;
		}
		break;
	case CT_COUNTRIES:
		r = config_parse_countries(v, pub, &why);
		break;
	case CT_FALLBACK: {
		struct fallback_overrides	*ov;
		static char			 fberr[256];

		if ((r = fallback_override_parse(v, &ov, fberr,
		    sizeof fberr)) < 0)
			why = fberr;
		else
			fallback_overrides_free(ov);
		break;
	}
	case CT_MONEY:
		if ((r = config_parse_money(v, key->max, &n)) < 0)
			why = r == -ERANGE ? "is out of range" :
			    "must be an amount such as 1.50";
		else
			*(int64_t *)field = n;
		break;
	case CT_CHOICE:
		if (!config_choice_ok(key->help, v)) {
			static char	 choices[128];
			const char	*o = strchr(key->help, '(');

			snprintf(choices, sizeof choices, "must be one of %.*s",
			    (int)strcspn(o + 1, ")"), o + 1);
			why = choices;
			r = -EINVAL;
		}
		break;
	case CT_PROVIDER:
		if (strcmp(v, "static") != 0 && strcmp(v, "brightdata") != 0) {
			why = "must be static or brightdata";
			r = -EINVAL;
		}
		break;
	case CT_SECRET_REF:
		if (*v != '\0')
			r = secret_ref_check(v, &why);
		break;
	}
	if (r < 0)
		goto fail;
	free(ld->c->values[k]);
	free(ld->c->sources[k]);
	ld->c->values[k] = xstrdup(v);
	ld->c->sources[k] = xstrdup(ld->source);
	switch (key->type) {
	case CT_STRING:
	case CT_SENSITIVE:
	case CT_NONEMPTY:
	case CT_URL:
	case CT_URLS:
	case CT_HOSTPORT:
	case CT_COMMAND:
	case CT_SECRET_REF:
	case CT_PROVIDER:
	case CT_FALLBACK:
	case CT_CHOICE:
		*(const char **)field = ld->c->values[k];
		break;
	default:
		break;
	}
	return 0;
fail:
	if (!ld->failed) {
		char	shown[CONFIG_ERR_SHOWN_MAX];

		ld->failed = true;
		/*
		 * A sensitive value is never repeated back, not even in
		 * errors; another is redacted whole before it is cut, so a
		 * secret past the cut is found too.
		 */
		if (key->type == CT_SENSITIVE)
			snprintf(ld->err, CONFIG_ERR_LEN, "%s (from %s): value %s",
			    key->name, ld->source, why);
		else {
			config_redact(key, v, shown, sizeof shown);
			snprintf(ld->err, CONFIG_ERR_LEN,
			    "%s='%s' (from %s): %s", key->name, shown,
			    ld->source, why);
		}
	}
	return r;
}

/* inih calls this for each name = value of the file. */
static int
config_ini_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_load	*ld = user;
	int			 k;

	if (*section != '\0' && strcasecmp(section, "respawn") != 0) {
		if (!ld->failed) {
			ld->failed = true;
			snprintf(ld->err, CONFIG_ERR_LEN, "%s: unknown section "
			    "[%.64s] (keys go at the top or under [respawn])",
			    ld->source, section);
		}
		return 0;
	}
	if ((k = config_key_find(name)) < 0) {
		if (!ld->failed) {
			ld->failed = true;
			snprintf(ld->err, CONFIG_ERR_LEN, "%s: unknown key '%.64s'",
			    ld->source, name);
		}
		return 0;
	}
	return config_set(ld, (size_t)k, value) == 0;
}

static int
config_load_file(struct config_load *ld, const char *path)
{
	FILE	*f;
	char	*text;
	size_t	 n, i, line = 1, col = 0;
	int	 r;

	if ((f = fopen(path, "re")) == NULL) {
		r = -errno;
		snprintf(ld->err, CONFIG_ERR_LEN, "config file '%s': %s", path,
		    strerror(-r));
		return r;
	}
	text = xmalloc(CONFIG_FILE_MAX + 1);
	n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	r = ferror(f) ? -EIO : 0;
	fclose(f);
	if (r == 0 && n > CONFIG_FILE_MAX) {
		snprintf(ld->err, CONFIG_ERR_LEN, "config file '%s': larger "
		    "than %d bytes", path, CONFIG_FILE_MAX);
		r = -EFBIG;
	}
	if (r == -EIO)
		snprintf(ld->err, CONFIG_ERR_LEN, "config file '%s': read "
		    "error", path);
	if (r < 0)
		goto out;
	text[n] = '\0';
	/* inih would split an overlong line into two; refuse it instead. */
	for (i = 0; i < n; i++) {
		if (text[i] == '\0') {
			snprintf(ld->err, CONFIG_ERR_LEN, "config file '%s': "
			    "line %zu contains a NUL byte", path, line);
			r = -EINVAL;
			goto out;
		}
		if (text[i] == '\n') {
			line++;
			col = 0;
		} else if (++col > CONFIG_VALUE_MAX + 128) {
			snprintf(ld->err, CONFIG_ERR_LEN, "config file '%s': "
			    "line %zu is too long", path, line);
			r = -E2BIG;
			goto out;
		}
	}
	ini_max_line = CONFIG_VALUE_MAX + 256;
	ini_use_stack = false;
	ld->source = xasprintf("file %s", path);
	r = ini_parse_string(text, config_ini_handler, ld);
	if (r != 0 || ld->failed) {
		char	msg[CONFIG_ERR_LEN];

		if (!ld->failed)
			snprintf(ld->err, CONFIG_ERR_LEN, "config file '%s': "
			    "syntax error", path);
		if (r > 0) {
			snprintf(msg, sizeof msg, "%s, line %d", ld->err, r);
			memcpy(ld->err, msg, CONFIG_ERR_LEN);
		}
		r = -EINVAL;
	}
	free((char *)ld->source);
	ld->source = NULL;
out:
	free(text);
	return r;
}

int
config_load(const struct config_input *in, struct config **ret,
    char err[CONFIG_ERR_LEN])
{
	struct config_load	 ld = { .err = err };
	const char		*file, *v, *eq;
	char			 name[128];
	size_t			 i;
	int			 k, r = 0;

	err[0] = '\0';
	ld.c = xcalloc(1, sizeof *ld.c);

	ld.source = "default";
	for (i = 0; i < CONFIG_NKEYS; i++)
		if ((r = config_set(&ld, i, config_keys[i].def)) < 0)
			goto fail;	/* a broken default is a bug */

	file = in->file;
	if (file == NULL && in->envp != NULL) {
		for (i = 0; in->envp[i] != NULL; i++)
			if (strncmp(in->envp[i], "RESPAWN_CONFIG=", 15) == 0)
				file = in->envp[i] + 15;
	}
	if (file != NULL && *file != '\0' &&
	    (r = config_load_file(&ld, file)) < 0)
		goto fail;

	ld.source = "env";
	for (i = 0; in->envp != NULL && in->envp[i] != NULL; i++) {
		eq = strchr(in->envp[i], '=');
		if (eq == NULL || (size_t)(eq - in->envp[i]) >= sizeof name)
			continue;
		memcpy(name, in->envp[i], (size_t)(eq - in->envp[i]));
		name[eq - in->envp[i]] = '\0';
		/* The environment is case-sensitive, as the shell is. */
		if ((k = config_key_find(name)) < 0 ||
		    strcmp(config_keys[k].name, name) != 0)
			continue;
		if ((r = config_set(&ld, (size_t)k, eq + 1)) < 0)
			goto fail;
	}

	ld.source = "flag";
	for (i = 0; i < in->n_overrides; i++) {
		v = in->overrides[i];
		eq = strchr(v, '=');
		if (eq == NULL || (size_t)(eq - v) >= sizeof name) {
			char	shown[CONFIG_ERR_SHOWN_MAX / 2];

			util_redact_text(v, shown, sizeof shown);
			snprintf(err, CONFIG_ERR_LEN, "--set '%s': expected "
			    "KEY=VALUE", shown);
			r = -EINVAL;
			goto fail;
		}
		memcpy(name, v, (size_t)(eq - v));
		name[eq - v] = '\0';
		if ((k = config_key_find(name)) < 0) {
			snprintf(err, CONFIG_ERR_LEN, "--set: unknown key "
			    "'%.64s'", name);
			r = -EINVAL;
			goto fail;
		}
		if ((r = config_set(&ld, (size_t)k, eq + 1)) < 0)
			goto fail;
	}
	*ret = &ld.c->pub;
	return 0;
fail:
	config_free(&ld.c->pub);
	return r < 0 ? r : -EINVAL;
}

void
config_free(struct config *pub)
{
	struct config_impl	*c = (struct config_impl *)pub;
	size_t			 i;

	if (c == NULL)
		return;
	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (config_keys[i].type == CT_SENSITIVE && c->values[i] != NULL)
			util_wipe(c->values[i], strlen(c->values[i]));
		free(c->values[i]);
		free(c->sources[i]);
	}
	free(c);
}

const char *
config_source(const struct config *pub, const char *key)
{
	const struct config_impl	*c = (const struct config_impl *)pub;
	int				 k;

	if ((k = config_key_find(key)) < 0)
		return NULL;
	return c->sources[k];
}
