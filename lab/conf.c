/*
 * Configuration (see conf.h).  The default world: customer "c_lab", an ISP
 * zone "isp_lab" with stock in 20 countries, no stock at all in be, bd and
 * ng (so that country fallback is exercised), and a residential zone
 * "res_lab".
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "conf.h"
#include "relayworker.h"

static const struct conf_country conf_default_inventory[] = {
	{ "us", 200 }, { "gb", 100 }, { "de", 100 }, { "fr", 100 },
	{ "nl", 50 }, { "in", 100 }, { "sg", 50 }, { "za", 30 },
	{ "ke", 20 }, { "eg", 20 }, { "br", 50 }, { "mx", 30 },
	{ "es", 50 }, { "it", 50 }, { "pl", 30 }, { "tr", 30 },
	{ "id", 30 }, { "jp", 50 }, { "au", 30 }, { "ca", 50 },
	{ "be", 0 }, { "bd", 0 }, { "ng", 0 },
};

void
conf_init(struct labconf *c)
{
	size_t	i;

	memset(c, 0, sizeof(*c));
	(void)util_strlcpy(c->bind, "127.0.0.1", sizeof(c->bind));
	c->api_port = 22999;
	c->proxy_port = 33335;
	c->wa_port = 5222;
	(void)util_strlcpy(c->customer, "c_lab", sizeof(c->customer));
	(void)util_strlcpy(c->keys[0], "lab-api-key", sizeof(c->keys[0]));
	c->nkeys = 1;
	(void)util_strlcpy(c->zones[0].name, "isp_lab",
	    sizeof(c->zones[0].name));
	c->zones[0].type = ZONE_ISP;
	(void)util_strlcpy(c->zones[0].password, "isp_lab_pw",
	    sizeof(c->zones[0].password));
	c->zones[0].price_micro = 1500000;	/* $1.50 per IP-month */
	(void)util_strlcpy(c->zones[1].name, "res_lab",
	    sizeof(c->zones[1].name));
	c->zones[1].type = ZONE_RESIDENTIAL;
	(void)util_strlcpy(c->zones[1].password, "res_lab_pw",
	    sizeof(c->zones[1].password));
	c->zones[1].price_micro = 4000000;	/* $4.00 per GB */
	c->nzones = 2;
	for (i = 0; i < nitems(conf_default_inventory); i++)
		c->countries[i] = conf_default_inventory[i];
	c->ncountries = nitems(conf_default_inventory);
	c->seed = 1;
	c->clock_speed = 1.0;
	c->days_per_month = 30;
	c->ping_ms = 20000;
	c->pong_timeout_ms = 60000;
	c->session_idle_ms = 60000;
	c->max_tunnels = 12000;
	c->max_wa_conns = 12000;
	c->connect_log_max = 10000;
	c->token_ttl_s = 3599;
	c->secrets = json_pack("{s:s,s:s}",
	    "projects/lab/secrets/brightdata-api-key", "lab-api-key",
	    "projects/lab/secrets/brightdata-zone-password", "isp_lab_pw");
	c->log_level = LOG_LEVEL_INFO;
	c->log_format = LOG_FORMAT_LOGFMT;
}

void
conf_done(struct labconf *c)
{
	json_decref(c->secrets);
	c->secrets = NULL;
}

int
conf_parse_time(const char *s, int64_t *ms)
{
	struct tm	 tm;
	const char	*end;
	int64_t		 v;
	time_t		 t;

	/* Up to the end of the year 9999, as the RFC 3339 form. */
	if (util_parse_i64(s, 0, INT64_C(253402300799999), &v) == 0) {
		*ms = v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || strcmp(end, "Z") != 0)
		return -EINVAL;
	/* The lab's clock starts at the epoch at the earliest. */
	if ((t = timegm(&tm)) < 0)
		return -EINVAL;
	*ms = (int64_t)t * 1000;
	return 0;
}

static int
conf_err(char *err, size_t errlen, const char *what)
{
	(void)snprintf(err, errlen, "%s", what);
	return -EINVAL;
}

static int
conf_int(const json_t *j, const char *key, int64_t min, int64_t max,
    int64_t *ret, char *err, size_t errlen)
{
	json_t	*v = json_object_get(j, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		(void)snprintf(err, errlen, "config: \"%s\" must be an integer "
		    "in %lld..%lld", key, (long long)min, (long long)max);
		return -EINVAL;
	}
	*ret = json_integer_value(v);
	return 0;
}

static int
conf_str(const json_t *j, const char *key, char *out, size_t outlen,
    char *err, size_t errlen)
{
	json_t	*v = json_object_get(j, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v) ||
	    util_strlcpy(out, json_string_value(v), outlen) != 0) {
		(void)snprintf(err, errlen, "config: \"%s\" must be a short "
		    "string", key);
		return -EINVAL;
	}
	return 0;
}

static int
conf_zones(struct labconf *c, const json_t *arr, char *err, size_t errlen)
{
	const char	*type;
	json_t		*z, *price;
	size_t		 i;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > WORLD_MAX_ZONES)
		return conf_err(err, errlen, "config: \"zones\" must be a "
		    "non-empty array of at most 16 zones");
	c->nzones = 0;
	json_array_foreach(arr, i, z) {
		struct conf_zone *cz = &c->zones[c->nzones];

		memset(cz, 0, sizeof(*cz));
		if (conf_str(z, "name", cz->name, sizeof(cz->name), err,
		    errlen) != 0 || conf_str(z, "password", cz->password,
		    sizeof(cz->password), err, errlen) != 0)
			return -EINVAL;
		if (cz->name[0] == '\0' || strchr(cz->name, '-') != NULL ||
		    cz->password[0] == '\0')
			return conf_err(err, errlen, "config: a zone needs a "
			    "\"name\" (no '-') and a \"password\"");
		type = json_string_value(json_object_get(z, "type"));
		if (type != NULL && strcmp(type, "isp") == 0)
			cz->type = ZONE_ISP;
		else if (type != NULL && strcmp(type, "residential") == 0)
			cz->type = ZONE_RESIDENTIAL;
		else
			return conf_err(err, errlen, "config: zone \"type\" "
			    "must be \"isp\" or \"residential\"");
		price = json_object_get(z, cz->type == ZONE_ISP ?
		    "price_usd_per_month" : "price_usd_per_gb");
		if (price != NULL) {
			if (!json_is_number(price) ||
			    json_number_value(price) < 0 ||
			    json_number_value(price) > 1e6)
				return conf_err(err, errlen, "config: bad zone "
				    "price");
			cz->price_micro = llround(json_number_value(price) *
			    1e6);
		}
		c->nzones++;
	}
	return 0;
}

static int
conf_inventory(struct labconf *c, const json_t *obj, char *err,
    size_t errlen)
{
	const char	*cc;
	json_t		*v;

	if (!json_is_object(obj) || json_object_size(obj) > CONF_MAX_COUNTRIES)
		return conf_err(err, errlen, "config: \"inventory\" must be "
		    "an object of country: count");
	c->ncountries = 0;
	json_object_foreach((json_t *)obj, cc, v) {
		if (!world_cc_valid(cc) || !json_is_integer(v) ||
		    json_integer_value(v) < 0 ||
		    json_integer_value(v) > WORLD_MAX_SLOTS)
			return conf_err(err, errlen, "config: inventory keys "
			    "are lower-case country codes, values 0..32512");
		memcpy(c->countries[c->ncountries].cc, cc, 3);
		c->countries[c->ncountries].inventory = json_integer_value(v);
		c->ncountries++;
	}
	return 0;
}

static int
conf_load_file(struct labconf *c, const char *path, char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*j, *v, *e;
	int64_t		 n;
	size_t		 i;
	int		 r = -EINVAL;

	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		(void)snprintf(err, errlen, "config %s: %s (line %d)", path,
		    jerr.text, jerr.line);
		return -EINVAL;
	}
	if (!json_is_object(j)) {
		conf_err(err, errlen, "config: must be a JSON object");
		goto out;
	}
	if (conf_str(j, "bind", c->bind, sizeof(c->bind), err, errlen) ||
	    conf_str(j, "customer", c->customer, sizeof(c->customer), err,
	    errlen) || conf_str(j, "state_file", c->state_file,
	    sizeof(c->state_file), err, errlen))
		goto out;
	if ((v = json_object_get(j, "api_keys")) != NULL) {
		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > CONF_MAX_KEYS) {
			conf_err(err, errlen, "config: \"api_keys\" must be "
			    "an array of 1..8 strings");
			goto out;
		}
		c->nkeys = 0;
		json_array_foreach(v, i, e) {
			/* An empty key would let "Bearer " alone in. */
			if (!json_is_string(e) ||
			    json_string_length(e) == 0 ||
			    util_strlcpy(c->keys[i], json_string_value(e),
			    sizeof(c->keys[i])) != 0) {
				conf_err(err, errlen, "config: bad api key");
				goto out;
			}
			c->nkeys++;
		}
	}
	if ((v = json_object_get(j, "zones")) != NULL &&
	    conf_zones(c, v, err, errlen) != 0)
		goto out;
	if ((v = json_object_get(j, "inventory")) != NULL &&
	    conf_inventory(c, v, err, errlen) != 0)
		goto out;
	n = (int64_t)c->seed;
	if (conf_int(j, "seed", 0, INT64_MAX, &n, err, errlen) != 0)
		goto out;
	c->seed = (uint64_t)n;
	if ((v = json_object_get(j, "clock_speed")) != NULL) {
		if (!json_is_number(v) || json_number_value(v) <= 0 ||
		    json_number_value(v) > 1e6) {
			conf_err(err, errlen, "config: bad \"clock_speed\"");
			goto out;
		}
		c->clock_speed = json_number_value(v);
	}
	if ((v = json_object_get(j, "clock_start")) != NULL &&
	    (!json_is_string(v) || conf_parse_time(json_string_value(v),
	    &c->clock_start_ms) != 0)) {
		conf_err(err, errlen, "config: bad \"clock_start\"");
		goto out;
	}
	n = c->day_boundary_ms / 3600000;
	if (conf_int(j, "day_boundary_hour", 0, 23, &n, err, errlen) != 0)
		goto out;
	c->day_boundary_ms = n * 3600000;
	if (conf_int(j, "days_per_month", 1, 31, &c->days_per_month, err,
	    errlen) || conf_int(j, "ping_ms", 10, 3600000, &c->ping_ms, err,
	    errlen) || conf_int(j, "pong_timeout_ms", 10, 3600000,
	    &c->pong_timeout_ms, err, errlen) || conf_int(j,
	    "session_idle_ms", 0, 86400000, &c->session_idle_ms, err,
	    errlen) || conf_int(j, "max_tunnels", 1, 1000000,
	    &c->max_tunnels, err, errlen) || conf_int(j, "max_wa_conns", 1,
	    1000000, &c->max_wa_conns, err, errlen) || conf_int(j,
	    "connect_log_max", 1, 1000000, &c->connect_log_max, err,
	    errlen) || conf_int(j, "proxy_workers", 0, RELAYWORKER_MAX,
	    &c->proxy_workers, err, errlen) || conf_int(j, "token_ttl_s", 1, 86400, &c->token_ttl_s,
	    err, errlen))
		goto out;
	if ((v = json_object_get(j, "secrets")) != NULL) {
		if (!json_is_object(v)) {
			conf_err(err, errlen, "config: \"secrets\" must be an "
			    "object");
			goto out;
		}
		json_decref(c->secrets);
		c->secrets = json_deep_copy(v);
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

void
conf_usage(FILE *fp)
{
	fprintf(fp,
"usage: respawn-lab [--config FILE] [--bind ADDR] [--api-port N]\n"
"                   [--proxy-port N] [--wa-port N] [--ports-file FILE]\n"
"                   [--state FILE] [--seed N] [--clock-speed X]\n"
"                   [--clock-start TIME] [--day-boundary-hour H]\n"
"                   [--ping-ms N] [--customer ID] [--api-key KEY]\n"
"                   [--inventory CC=N[,CC=N...]] [--max-tunnels N]\n"
"                   [--proxy-workers N] [--webhook-secret S]\n"
"                   [--log-level LEVEL] [--log-format logfmt|json]\n"
"See docs/LAB.md.\n");
}

static int
conf_port(const char *s, int *ret)
{
	int64_t	v;

	if (util_parse_i64(s, 0, 65535, &v) != 0)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

/* "de=10,be=0": sets those countries, keeping the others. */
static int
conf_inventory_flag(struct labconf *c, const char *arg)
{
	char	 copy[1024], *item, *next, *eq;
	int64_t	 n;
	size_t	 i;

	if (util_strlcpy(copy, arg, sizeof(copy)) != 0)
		return -EINVAL;
	for (item = copy; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(item, '=')) == NULL)
			return -EINVAL;
		*eq = '\0';
		if (!world_cc_valid(item) ||
		    util_parse_i64(eq + 1, 0, WORLD_MAX_SLOTS, &n) != 0)
			return -EINVAL;
		for (i = 0; i < c->ncountries; i++)
			if (strcmp(c->countries[i].cc, item) == 0)
				break;
		if (i == c->ncountries) {
			if (c->ncountries == CONF_MAX_COUNTRIES)
				return -EINVAL;
			memcpy(c->countries[c->ncountries++].cc, item, 3);
		}
		c->countries[i].inventory = n;
	}
	return 0;
}

enum {
	OPT_CONFIG = 256, OPT_BIND, OPT_API_PORT, OPT_PROXY_PORT,
	OPT_WA_PORT, OPT_PORTS_FILE, OPT_STATE, OPT_SEED, OPT_CLOCK_SPEED,
	OPT_CLOCK_START, OPT_DAY_BOUNDARY, OPT_PING_MS, OPT_CUSTOMER,
	OPT_API_KEY, OPT_INVENTORY, OPT_MAX_TUNNELS, OPT_PROXY_WORKERS,
	OPT_WEBHOOK_SECRET, OPT_LOG_LEVEL,
	OPT_LOG_FORMAT, OPT_HELP,
};

static const struct option conf_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "api-port", required_argument, NULL, OPT_API_PORT },
	{ "proxy-port", required_argument, NULL, OPT_PROXY_PORT },
	{ "wa-port", required_argument, NULL, OPT_WA_PORT },
	{ "ports-file", required_argument, NULL, OPT_PORTS_FILE },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "clock-speed", required_argument, NULL, OPT_CLOCK_SPEED },
	{ "clock-start", required_argument, NULL, OPT_CLOCK_START },
	{ "day-boundary-hour", required_argument, NULL, OPT_DAY_BOUNDARY },
	{ "ping-ms", required_argument, NULL, OPT_PING_MS },
	{ "customer", required_argument, NULL, OPT_CUSTOMER },
	{ "api-key", required_argument, NULL, OPT_API_KEY },
	{ "inventory", required_argument, NULL, OPT_INVENTORY },
	{ "max-tunnels", required_argument, NULL, OPT_MAX_TUNNELS },
	{ "proxy-workers", required_argument, NULL, OPT_PROXY_WORKERS },
	{ "webhook-secret", required_argument, NULL, OPT_WEBHOOK_SECRET },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int
conf_flag(struct labconf *c, int opt, const char *arg, char *err,
    size_t errlen)
{
	char	*end;
	int64_t	 n;
	double	 d;

	switch (opt) {
	case OPT_BIND:
		if (util_strlcpy(c->bind, arg, sizeof(c->bind)) != 0)
			return conf_err(err, errlen, "--bind: too long");
		return 0;
	case OPT_API_PORT:
		return conf_port(arg, &c->api_port) ? conf_err(err, errlen,
		    "--api-port: 0..65535") : 0;
	case OPT_PROXY_PORT:
		return conf_port(arg, &c->proxy_port) ? conf_err(err, errlen,
		    "--proxy-port: 0..65535") : 0;
	case OPT_WA_PORT:
		return conf_port(arg, &c->wa_port) ? conf_err(err, errlen,
		    "--wa-port: 0..65535") : 0;
	case OPT_PORTS_FILE:
		return util_strlcpy(c->ports_file, arg, sizeof(c->ports_file))
		    ? conf_err(err, errlen, "--ports-file: too long") : 0;
	case OPT_STATE:
		return util_strlcpy(c->state_file, arg, sizeof(c->state_file))
		    ? conf_err(err, errlen, "--state: too long") : 0;
	case OPT_SEED:
		if (util_parse_i64(arg, 0, INT64_MAX, &n) != 0)
			return conf_err(err, errlen, "--seed: an integer");
		c->seed = (uint64_t)n;
		return 0;
	case OPT_CLOCK_SPEED:
		errno = 0;
		d = strtod(arg, &end);
		if (errno != 0 || *end != '\0' || !(d > 0) || d > 1e6)
			return conf_err(err, errlen, "--clock-speed: (0, 1e6]");
		c->clock_speed = d;
		return 0;
	case OPT_CLOCK_START:
		return conf_parse_time(arg, &c->clock_start_ms) ?
		    conf_err(err, errlen, "--clock-start: RFC 3339 UTC "
		    "(2026-01-01T00:00:00Z) or epoch ms") : 0;
	case OPT_DAY_BOUNDARY:
		if (util_parse_i64(arg, 0, 23, &n) != 0)
			return conf_err(err, errlen, "--day-boundary-hour: "
			    "0..23");
		c->day_boundary_ms = n * 3600000;
		return 0;
	case OPT_PING_MS:
		return util_parse_i64(arg, 10, 3600000, &c->ping_ms) ?
		    conf_err(err, errlen, "--ping-ms: 10..3600000") : 0;
	case OPT_CUSTOMER:
		if (util_strlcpy(c->customer, arg, sizeof(c->customer)) != 0 ||
		    strchr(arg, '-') != NULL || arg[0] == '\0')
			return conf_err(err, errlen, "--customer: no '-'");
		return 0;
	case OPT_API_KEY:
		if (util_strlcpy(c->keys[0], arg, sizeof(c->keys[0])) != 0 ||
		    arg[0] == '\0')
			return conf_err(err, errlen, "--api-key: too long");
		c->nkeys = 1;
		return 0;
	case OPT_INVENTORY:
		return conf_inventory_flag(c, arg) ? conf_err(err, errlen,
		    "--inventory: cc=N[,cc=N...]") : 0;
	case OPT_MAX_TUNNELS:
		return util_parse_i64(arg, 1, 1000000, &c->max_tunnels) ?
		    conf_err(err, errlen, "--max-tunnels: 1..1000000") : 0;
	case OPT_PROXY_WORKERS:
		return util_parse_i64(arg, 0, RELAYWORKER_MAX,
		    &c->proxy_workers) ? conf_err(err, errlen,
		    "--proxy-workers: 0..16") : 0;
	case OPT_WEBHOOK_SECRET:
		return util_strlcpy(c->webhook_secret, arg,
		    sizeof(c->webhook_secret)) ? conf_err(err, errlen,
		    "--webhook-secret: too long") : 0;
	case OPT_LOG_LEVEL:
		return log_level_parse(arg, &c->log_level) ? conf_err(err,
		    errlen, "--log-level: debug|info|warn|error") : 0;
	case OPT_LOG_FORMAT:
		return log_format_parse(arg, &c->log_format) ? conf_err(err,
		    errlen, "--log-format: logfmt|json") : 0;
	default:
		return conf_err(err, errlen, "unknown option");
	}
}

int
conf_from_args(struct labconf *c, int argc, char **argv, char *err,
    size_t errlen)
{
	int	opt, r;

	conf_init(c);
	/* The file first, so that flags override it wherever they stand. */
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", conf_options, NULL)) != -1) {
		if (opt == OPT_HELP)
			return -ECANCELED;
		if (opt == '?')
			return conf_err(err, errlen, "unknown or incomplete "
			    "option");
		if (opt == OPT_CONFIG &&
		    (r = conf_load_file(c, optarg, err, errlen)) != 0)
			return r;
	}
	if (optind != argc)
		return conf_err(err, errlen, "unexpected argument");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", conf_options, NULL)) != -1) {
		if (opt == OPT_CONFIG)
			continue;
		if ((r = conf_flag(c, opt, optarg, err, errlen)) != 0)
			return r;
	}
	return 0;
}
