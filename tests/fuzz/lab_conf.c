/*
 * Fuzz target: respawn-lab's configuration (lab/conf.c), the JSON file of
 * --config, the command-line flags, and the clock's start time.
 *
 * Besides memory errors it checks the loader's promises: success and
 * failure are exclusive (a reason on failure), and what is loaded is what
 * the lab may run with: ports 0..65535, one to CONF_MAX_KEYS API keys,
 * none empty (an empty key would let "Authorization: Bearer " in), one to
 * WORLD_MAX_ZONES zones each named without '-' and with a password and a
 * price in range, country codes valid and each listed once with stock in
 * range, and every number within the range its flag or key states.  A
 * start time is never before the epoch, and printed back as RFC 3339 it
 * parses to the same time.
 *
 * Input layout: byte 0 picks the reader (mod 3): the rest is a JSON file,
 * or flags one per line, or a time.
 */
#include <sys/mman.h>

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "relayworker.h"
#include "fuzz.h"

#define MAX_ARGS	32
#define HOUR_MS		INT64_C(3600000)

static bool
in(int64_t v, int64_t min, int64_t max)
{
	return v >= min && v <= max;
}

static void
check_conf(const struct labconf *c)
{
	size_t	i, j;

	FUZZ_CHECK(memchr(c->bind, '\0', sizeof c->bind) != NULL);
	FUZZ_CHECK(memchr(c->customer, '\0', sizeof c->customer) != NULL);
	FUZZ_CHECK(in(c->api_port, 0, 65535) && in(c->proxy_port, 0, 65535) &&
	    in(c->wa_port, 0, 65535));
	FUZZ_CHECK(c->nkeys >= 1 && c->nkeys <= CONF_MAX_KEYS);
	for (i = 0; i < c->nkeys; i++) {
		FUZZ_CHECK(memchr(c->keys[i], '\0', CONF_KEY_MAX) != NULL);
		FUZZ_CHECK(c->keys[i][0] != '\0');
	}
	FUZZ_CHECK(c->nzones >= 1 && c->nzones <= WORLD_MAX_ZONES);
	for (i = 0; i < c->nzones; i++) {
		FUZZ_CHECK(c->zones[i].name[0] != '\0' &&
		    strchr(c->zones[i].name, '-') == NULL);
		FUZZ_CHECK(c->zones[i].password[0] != '\0');
		FUZZ_CHECK(c->zones[i].type == ZONE_ISP ||
		    c->zones[i].type == ZONE_RESIDENTIAL);
		FUZZ_CHECK(in(c->zones[i].price_micro, 0,
		    INT64_C(1000000000000)));
	}
	FUZZ_CHECK(c->ncountries <= CONF_MAX_COUNTRIES);
	for (i = 0; i < c->ncountries; i++) {
		FUZZ_CHECK(world_cc_valid(c->countries[i].cc));
		FUZZ_CHECK(in(c->countries[i].inventory, 0, WORLD_MAX_SLOTS));
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(c->countries[i].cc,
			    c->countries[j].cc) != 0);
	}
	FUZZ_CHECK(c->clock_speed > 0 && c->clock_speed <= 1e6);
	FUZZ_CHECK(c->clock_start_ms >= 0);
	FUZZ_CHECK(c->day_boundary_ms % HOUR_MS == 0 &&
	    in(c->day_boundary_ms, 0, 23 * HOUR_MS));
	FUZZ_CHECK(in(c->days_per_month, 1, 31));
	FUZZ_CHECK(in(c->ping_ms, 10, 3600000));
	FUZZ_CHECK(in(c->pong_timeout_ms, 10, 3600000));
	FUZZ_CHECK(in(c->session_idle_ms, 0, 86400000));
	FUZZ_CHECK(in(c->max_tunnels, 1, 1000000));
	FUZZ_CHECK(in(c->proxy_workers, 0, RELAYWORKER_MAX));
	FUZZ_CHECK(in(c->max_wa_conns, 1, 1000000));
	FUZZ_CHECK(in(c->connect_log_max, 1, 1000000));
	FUZZ_CHECK(in(c->token_ttl_s, 1, 86400));
	FUZZ_CHECK(json_is_object(c->secrets));
	FUZZ_CHECK(in(c->log_level, LOG_LEVEL_DEBUG, LOG_LEVEL_ERROR));
	FUZZ_CHECK(c->log_format == LOG_FORMAT_LOGFMT ||
	    c->log_format == LOG_FORMAT_JSON);
}

static void
load(int argc, char **argv)
{
	struct labconf	c;
	char		err[256], prog[] = "x", *none[] = { prog, NULL };
	int		r;

	/*
	 * The lab reads its flags once; here each input is a new argv.  An
	 * optind of 0 makes glibc's getopt forget the last one entirely
	 * (it may have stopped inside a word of it).
	 */
	optind = 0;
	(void)getopt(1, none, "");
	memset(err, 'x', sizeof err);
	r = conf_from_args(&c, argc, argv, err, sizeof err);
	if (r == 0)
		check_conf(&c);
	else if (r != -ECANCELED)
		FUZZ_CHECK(r == -EINVAL && err[0] != 'x' && err[0] != '\0' &&
		    memchr(err, '\0', sizeof err) != NULL);
	conf_done(&c);
}

static void
fuzz_file(const uint8_t *data, size_t size)
{
	char	 path[64], prog[] = "respawn-lab", opt[] = "--config";
	char	*argv[] = { prog, opt, path, NULL };
	int	 fd;

	fd = memfd_create("lab.json", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	load(3, argv);
	close(fd);
}

/* Would getopt_long take arg as --config (or a prefix of it)? */
static bool
names_config(const char *arg)
{
	size_t	n;

	if (strncmp(arg, "--", 2) != 0)
		return false;
	n = strcspn(arg + 2, "=");
	return n > 0 && strncmp("config", arg + 2, n) == 0;
}

static void
fuzz_flags(char *text)
{
	char	*argv[MAX_ARGS + 2], prog[] = "respawn-lab", *p, *nl;
	int	 argc = 0;

	argv[argc++] = prog;
	for (p = text; argc <= MAX_ARGS; p = nl + 1) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl = '\0';
		/* No file is read: a flag naming one is left out. */
		if (names_config(p))
			return;
		argv[argc++] = p;
		if (nl == NULL)
			break;
	}
	argv[argc] = NULL;
	load(argc, argv);
}

static void
fuzz_time(const char *s)
{
	struct tm	tm;
	time_t		t;
	int64_t		ms = -12345, again = -12345;
	char		buf[64];

	if (conf_parse_time(s, &ms) != 0) {
		FUZZ_CHECK(ms == -12345);
		return;
	}
	FUZZ_CHECK(ms >= 0);
	if (ms % 1000 != 0)
		return;
	t = (time_t)(ms / 1000);
	FUZZ_CHECK(gmtime_r(&t, &tm) != NULL);
	FUZZ_CHECK(strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
	FUZZ_CHECK(conf_parse_time(buf, &again) == 0 && again == ms);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	if (size < 1)
		return 0;
	s = malloc(size);
	FUZZ_CHECK(s != NULL);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		fuzz_file(data + 1, size - 1);
		break;
	case 1:
		fuzz_flags(s);
		break;
	default:
		fuzz_time(s);
		break;
	}
	free(s);
	return 0;
}
