/*
 * respawn's configuration: one immutable struct built from four layers,
 * each overriding the one before:
 *
 *   defaults < INI file (--config or RESPAWN_CONFIG) < environment < flags
 *
 * Every key is described once, in the table in config.c (name, type, range,
 * default, help), and docs/CONFIGURATION.md lists the same keys.  Every
 * value given at any layer is validated; the first invalid one makes
 * loading fail with a message naming the key, the value's source and why.
 * The seed's variable names (AUTO_RECONNECT, RECONNECT_DELAY, BRIGHT_DATA_*
 * ...) keep their meaning; respawn's own keys start with RESPAWN_.
 *
 * Secrets are references (see secret.h); the one literal secret the seed
 * defines, BRIGHT_DATA_ZONE_PASSWORD, is marked sensitive and is never
 * printed.
 */
#ifndef RESPAWN_CONFIG_H
#define RESPAWN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/country.h"
#include "base/log.h"

#define CONFIG_MAX_COUNTRIES	32	/* PRIORITY_COUNTRIES entries */
#define CONFIG_VALUE_MAX	4096	/* bytes in one value */
#define CONFIG_FILE_MAX		(1024 * 1024)
#define CONFIG_MAX_OVERRIDES	64	/* --set flags */
#define CONFIG_ERR_LEN		512
/* A value as check-config shows it: "<redacted>" may outgrow a secret. */
#define CONFIG_SHOWN_MAX	(4 * CONFIG_VALUE_MAX)
#define CONFIG_ERR_SHOWN_MAX	257	/* an invalid value repeated in an error */

enum proxy_type {
	PROXY_TYPE_ISP,
	PROXY_TYPE_RESIDENTIAL,
};

struct config {
	/* respawn's own */
	const char	*db;			/* RESPAWN_DB */
	const char	*state_dir;		/* RESPAWN_STATE_DIR */
	enum log_level	 log_level;		/* RESPAWN_LOG_LEVEL */
	enum log_format	 log_format;		/* RESPAWN_LOG_FORMAT */
	const char	*connector;		/* RESPAWN_CONNECTOR */
	int64_t		 recovery_window_ms;	/* RESPAWN_RECOVERY_WINDOW */
	const char	*api_listen;		/* RESPAWN_API_LISTEN */
	const char	*api_key_secret;	/* RESPAWN_API_KEY_SECRET */
	int64_t		 lease_ms;		/* RESPAWN_LEASE */
	const char	*webhook_urls;		/* RESPAWN_WEBHOOK_URLS */
	const char	*webhook_secret;	/* RESPAWN_WEBHOOK_SECRET */
	int64_t		 webhook_queue;		/* RESPAWN_WEBHOOK_QUEUE */
	int64_t		 webhook_attempts;	/* RESPAWN_WEBHOOK_ATTEMPTS */
	int64_t		 webhook_timeout_ms;	/* RESPAWN_WEBHOOK_TIMEOUT */
	const char	*connector_env;		/* RESPAWN_CONNECTOR_ENV */
	int64_t		 ready_timeout_ms;	/* RESPAWN_READY_TIMEOUT */
	int64_t		 stop_timeout_ms;	/* RESPAWN_STOP_TIMEOUT */
	int64_t		 watchdog_ms;		/* RESPAWN_WATCHDOG */
	int64_t		 start_concurrency;	/* RESPAWN_START_CONCURRENCY */
	int64_t		 sessions_per_ip;	/* RESPAWN_SESSIONS_PER_IP */
	const char	*provider;		/* RESPAWN_PROVIDER */
	const char	*static_proxies;	/* RESPAWN_STATIC_PROXIES */
	const char	*fallback_overrides;	/* RESPAWN_FALLBACK_OVERRIDES */

	/* the seed's */
	bool		 auto_reconnect;	/* AUTO_RECONNECT */
	int64_t		 max_reconnect_attempts;/* MAX_RECONNECT_ATTEMPTS */
	int64_t		 reconnect_delay_ms;	/* RECONNECT_DELAY */
	char		 priority_countries[CONFIG_MAX_COUNTRIES][COUNTRY_CODE_LEN];
	size_t		 n_priority_countries;	/* PRIORITY_COUNTRIES */
	enum proxy_type	 bd_proxy_type;		/* BRIGHT_DATA_PROXY_TYPE */
	const char	*bd_customer_id;	/* BRIGHT_DATA_CUSTOMER_ID */
	const char	*bd_zone;		/* BRIGHT_DATA_ZONE */
	const char	*bd_zone_password;	/* BRIGHT_DATA_ZONE_PASSWORD */
	const char	*bd_api_key_secret;	/* BRIGHT_DATA_API_KEY_SECRET */
	const char	*bd_api_url;		/* BRIGHT_DATA_API_URL */
	const char	*bd_proxy_host;		/* BRIGHT_DATA_PROXY_HOST */
	const char	*bd_res_zone;		/* BRIGHT_DATA_RESIDENTIAL_ZONE */
	const char	*bd_res_password;	/* BRIGHT_DATA_RESIDENTIAL_ZONE_PASSWORD */
	const char	*session_salt;		/* RESPAWN_SESSION_SALT */
	const char	*gsm_url;		/* RESPAWN_GSM_URL */
	const char	*release_policy;	/* RESPAWN_RELEASE_POLICY */
	int64_t		 release_margin_ms;	/* RESPAWN_RELEASE_MARGIN */
	int64_t		 idle_timeout_ms;	/* RESPAWN_IDLE_TIMEOUT */
	int64_t		 ip_change_cost_micros;	/* RESPAWN_IP_CHANGE_COST */
	const char	*billing_unit;		/* RESPAWN_BILLING_UNIT */
	int64_t		 billing_boundary_hour;	/* RESPAWN_BILLING_BOUNDARY_HOUR */
	int64_t		 ip_month_price_micros;	/* RESPAWN_IP_MONTHLY_PRICE */
	int64_t		 daily_spend_limit_micros; /* RESPAWN_DAILY_SPEND_LIMIT */
	int64_t		 purchases_max;		/* RESPAWN_PURCHASES_MAX */
	int64_t		 purchase_window_ms;	/* RESPAWN_PURCHASE_WINDOW */
	const char	*metadata_url;		/* RESPAWN_METADATA_URL */
	int64_t		 bd_proxy_port;		/* BRIGHT_DATA_PROXY_PORT */
	int64_t		 bd_timeout_ms;		/* BRIGHT_DATA_TIMEOUT */
};

/* Where the values come from, in the order they are applied. */
struct config_input {
	const char	 *file;		/* NULL: $RESPAWN_CONFIG, else none */
	char *const	 *envp;		/* NULL: no environment layer */
	const char	**overrides;	/* "KEY=VALUE" from flags */
	size_t		  n_overrides;
};

/*
 * Build the configuration.  On failure returns negative errno and writes a
 * message naming the key, its source and the problem to err.
 */
int	config_load(const struct config_input *in, struct config **ret,
	    char err[CONFIG_ERR_LEN]);
void	config_free(struct config *c);

/* The proxy type's name ("isp", "residential"). */
const char *config_proxy_type_name(enum proxy_type t);

/*
 * Print the effective configuration, one key a line with its source, as
 * text or JSON.  Sensitive values are redacted.  When resolve is true,
 * secret references are resolved (and the result reported, never the
 * value); returns the number of references that failed.
 */
int	config_print(const struct config *c, FILE *out, bool json,
	    bool resolve);

/* The number of keys, and each key's name and help (for docs and tests). */
size_t	config_key_count(void);
const char *config_key_name(size_t i);
const char *config_key_help(size_t i);
/* Where the effective value of a key came from ("default", "env", ...). */
const char *config_source(const struct config *c, const char *key);

/*
 * An amount of money: "12", "1.5", "0.25", whole units and up to six
 * decimals; micro-units in *ret.  -EINVAL for anything else, -ERANGE for
 * more than max_units whole units (or than the micro-units an int64_t
 * holds, whatever max_units says).
 */
int	config_parse_money(const char *v, int64_t max_units, int64_t *ret);

#endif
