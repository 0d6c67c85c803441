/*
 * The lab's configuration: built-in defaults that make a usable world on
 * their own, then an optional JSON file (--config), then command-line
 * flags.  The struct is open because it is plain data read by every
 * module at start-up.
 */
#ifndef LAB_CONF_H
#define LAB_CONF_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "base/log.h"
#include "world.h"

#define CONF_MAX_KEYS		8
#define CONF_KEY_MAX		128
#define CONF_MAX_COUNTRIES	WORLD_MAX_COUNTRIES
#define CONF_MAX_FILE		(1024 * 1024)
/* As WEBHOOKS_SECRET_MAX: the sink takes any secret the flag does. */
#define CONF_WEBHOOK_SECRET_MAX	1024

struct conf_zone {
	char		name[WORLD_NAME_MAX];
	enum zone_type	type;
	char		password[WORLD_NAME_MAX * 2];
	int64_t		price_micro;	/* per IP-month or per GB */
};

struct conf_country {
	char		cc[3];
	int64_t		inventory;
};

struct labconf {
	char			bind[64];
	int			api_port;
	int			proxy_port;
	int			wa_port;
	char			ports_file[PATH_MAX];
	char			state_file[PATH_MAX];
	char			customer[WORLD_NAME_MAX];
	char			keys[CONF_MAX_KEYS][CONF_KEY_MAX];
	size_t			nkeys;
	struct conf_zone	zones[WORLD_MAX_ZONES];
	size_t			nzones;
	struct conf_country	countries[CONF_MAX_COUNTRIES];
	size_t			ncountries;
	uint64_t		seed;
	double			clock_speed;
	int64_t			clock_start_ms;	/* 0: the real time */
	int64_t			day_boundary_ms;
	int64_t			days_per_month;
	int64_t			ping_ms;
	int64_t			pong_timeout_ms;
	int64_t			session_idle_ms;
	int64_t			max_tunnels;
	int64_t			proxy_workers;
	int64_t			max_wa_conns;
	int64_t			connect_log_max;
	int64_t			token_ttl_s;
	char			webhook_secret[CONF_WEBHOOK_SECRET_MAX];
	json_t			*secrets;	/* GSM: name -> value(s) */
	enum log_level		log_level;
	enum log_format		log_format;
};

void	conf_init(struct labconf *c);
void	conf_done(struct labconf *c);
/* Defaults, then --config, then the other flags.  err explains -EINVAL. */
int	conf_from_args(struct labconf *c, int argc, char **argv, char *err,
	    size_t errlen);
void	conf_usage(FILE *fp);
/*
 * "2026-01-01T00:00:00Z" or milliseconds since the epoch, from the epoch
 * to the end of the year 9999; -EINVAL for anything else.
 */
int	conf_parse_time(const char *s, int64_t *ms);

#endif
