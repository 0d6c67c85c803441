/*
 * A command-line driver of the Bright Data client for integration tests:
 * it makes one client against a base URL (respawn-lab's API port), runs a
 * sequence of operations on a libevent loop and prints one JSON line per
 * operation on stdout, in the order they are called back.  Keeping one
 * client across the sequence is what lets a test see the circuit breaker,
 * the retry budget and key rotation at work.
 *
 *   bdclient_driver --url URL --key REF [options] OP [ARGS] [+|& OP [ARGS]]...
 *
 * An operation after "+" starts once every operation before it was called
 * back; one after "&" starts at once, so that a test can have many
 * requests pending together (sleep still delays what follows it).
 * Operations: list | add CC|any COUNT | remove IP... | count [CC] |
 * sleep MS | wait-file PATH | status.  Options: --customer C (c_lab),
 * --zone Z (isp_lab), --timeout-ms N, --attempts N, --backoff-base-ms N,
 * --backoff-cap-ms N, --breaker-threshold N, --breaker-cooldown-ms N,
 * --count-plan JSON, --ready-file F (created once the client exists and
 * its key was read), --free-after-ms N (free the client then, cancelling
 * what is pending).  Retries are logged on stderr.  status also prints
 * the longest gap between two turns of a 20 ms timer on the loop since
 * the start (max_tick_gap_ms): what the client made the loop wait.
 *
 * Exit status: 0 when every operation was started and called back (its
 * own outcome is in its line), 1 when one could not be started, 64 for
 * bad usage, 70 when the client cannot be made.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "base/log.h"
#include "base/util.h"
#include "provider/bdclient.h"

#define DRIVER_OPS_MAX		64
#define DRIVER_IPS_MAX		256
#define DRIVER_POLL_MS		20
#define DRIVER_EX_USAGE		64
#define DRIVER_EX_SOFTWARE	70

struct driver;

struct driver_op {
	struct driver	*d;
	const char	*name;
	char		**args;
	int		 nargs;
	bool		 at_once;	/* after "&": does not wait */
	int64_t		 started_ms;
};

struct driver {
	struct event_base	*base;
	struct bdclient		*client;
	struct driver_op	 ops[DRIVER_OPS_MAX];
	int			 nops;
	int			 next;
	struct event		*step;		/* runs the next operation */
	struct event		*freer;
	struct event		*tick;		/* every DRIVER_POLL_MS */
	int64_t			 last_tick_ms, max_tick_gap_ms;
	int			 status;
	int			 pending;	/* operations not called back */
	/*
	 * The next operation waits for the pending ones: their last
	 * callback schedules it.  Only then, so that a callback never cuts
	 * a sleep short.
	 */
	bool			 blocked;
};

static void	driver_run_next(struct driver *d);

static void
driver_print(json_t *j)
{
	(void)json_dumpf(j, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(j);
}

/* Schedule the next operation from the loop, not from inside a callback. */
static void
driver_schedule(struct driver *d, int64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	(void)evtimer_add(d->step, &tv);
}

static void
driver_done(const struct bdclient_result *r, void *arg)
{
	struct driver_op	*op = arg;
	struct driver		*d = op->d;
	json_t			*j, *ips;
	size_t			 i;

	j = json_pack("{s:s,s:s,s:i,s:s,s:i,s:i,s:s,s:I}",
	    "op", bdclient_op_name(r->op),
	    "status", bdclient_outcome_name(r->status),
	    "error", r->error,
	    "strerror", r->error != 0 ? strerror(-r->error) : "",
	    "http_status", r->http_status,
	    "attempts", (int)r->attempts,
	    "message", r->message,
	    "elapsed_ms", (json_int_t)(util_mono_ms() - op->started_ms));
	ips = json_array();
	for (i = 0; i < r->nips; i++)
		(void)json_array_append_new(ips, json_pack("{s:s,s:s}", "ip",
		    r->ips[i].ip, "country", r->ips[i].country));
	(void)json_object_set_new(j, "ips", ips);
	if (r->op == BDCLIENT_OP_COUNT && r->status == BDCLIENT_OK)
		(void)json_object_set_new(j, "count",
		    json_integer((json_int_t)r->count));
	driver_print(j);
	d->pending--;
	if (d->client != NULL && d->blocked && d->pending == 0) {
		d->blocked = false;
		driver_schedule(d, 0);
	}
}

/* The loop's pulse: how late each turn of a periodic timer came. */
static void
driver_tick(evutil_socket_t fd, short what, void *arg)
{
	struct driver	*d = arg;
	int64_t		 now = util_mono_ms();

	(void)fd;
	(void)what;
	if (now - d->last_tick_ms > d->max_tick_gap_ms)
		d->max_tick_gap_ms = now - d->last_tick_ms;
	d->last_tick_ms = now;
}

static void
driver_status(struct driver *d)
{
	struct bdclient_status	s;

	driver_tick(-1, 0, d);
	bdclient_status(d->client, util_mono_ms(), &s);
	driver_print(json_pack("{s:I,s:s,s:s,s:I,s:i,s:I,s:I,s:I,s:I,s:I,s:I,"
	    "s:I}", "max_tick_gap_ms", (json_int_t)d->max_tick_gap_ms,
	    "op", "status", "breaker", s.breaker.name,
	    "trips", (json_int_t)s.breaker.trips,
	    "failures", (int)s.breaker.failures,
	    "requests", (json_int_t)s.requests,
	    "retries", (json_int_t)s.retries,
	    "key_reloads", (json_int_t)s.key_reloads,
	    "unknown", (json_int_t)s.unknown,
	    "pending", (json_int_t)s.pending,
	    "queued", (json_int_t)s.queued,
	    "retry_tokens", (json_int_t)s.retry_tokens));
}

static int
driver_int(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	if (util_parse_i64(s, min, max, ret) != 0) {
		fprintf(stderr, "bdclient_driver: bad number %s\n", s);
		return -EINVAL;
	}
	return 0;
}

/* Start one operation; false when it could not be started. */
static bool
driver_start(struct driver *d, struct driver_op *op)
{
	const char	*cc;
	int64_t		 n;
	int		 r = -EINVAL;

	op->d = d;
	op->started_ms = util_mono_ms();
	if (strcmp(op->name, "list") == 0 && op->nargs == 0)
		r = bdclient_list(d->client, driver_done, op);
	else if (strcmp(op->name, "add") == 0 && op->nargs == 2) {
		cc = strcmp(op->args[0], "any") == 0 ? NULL : op->args[0];
		if (driver_int(op->args[1], INT32_MIN, INT32_MAX, &n) == 0)
			r = bdclient_add(d->client, cc, (int)n, driver_done,
			    op);
	} else if (strcmp(op->name, "remove") == 0)
		r = bdclient_remove(d->client, (const char *const *)op->args,
		    (size_t)op->nargs, driver_done, op);
	else if (strcmp(op->name, "count") == 0 && op->nargs <= 1)
		r = bdclient_count_available(d->client, op->nargs == 1 ?
		    op->args[0] : NULL, driver_done, op);
	if (r != 0) {
		driver_print(json_pack("{s:s,s:i,s:s}", "op", op->name,
		    "start_error", r, "strerror", strerror(-r)));
		return false;
	}
	d->pending++;
	return true;
}

static void
driver_step(evutil_socket_t fd, short what, void *arg)
{
	struct driver	*d = arg;

	(void)fd;
	(void)what;
	driver_run_next(d);
}

static void
driver_run_next(struct driver *d)
{
	struct driver_op	*op;
	struct stat		 st;
	int64_t			 ms;

	if (d->client == NULL) {
		(void)event_base_loopexit(d->base, NULL);
		return;
	}
	/* The end, and an operation after "+", wait for the pending ones. */
	if (d->pending > 0 && (d->next == d->nops ||
	    !d->ops[d->next].at_once)) {
		d->blocked = true;
		return;
	}
	if (d->next == d->nops) {
		(void)event_base_loopexit(d->base, NULL);
		return;
	}
	op = &d->ops[d->next];
	if (strcmp(op->name, "wait-file") == 0 && op->nargs == 1) {
		if (stat(op->args[0], &st) != 0) {
			driver_schedule(d, DRIVER_POLL_MS);
			return;
		}
		d->next++;
		driver_schedule(d, 0);
		return;
	}
	d->next++;
	if (strcmp(op->name, "sleep") == 0 && op->nargs == 1 &&
	    driver_int(op->args[0], 0, 600000, &ms) == 0) {
		driver_schedule(d, ms);
		return;
	}
	if (strcmp(op->name, "status") == 0) {
		driver_status(d);
		driver_schedule(d, 0);
		return;
	}
	if (!driver_start(d, op)) {
		d->status = 1;
		(void)event_base_loopexit(d->base, NULL);
		return;
	}
	driver_schedule(d, 0);
}

static void
driver_free_client(evutil_socket_t fd, short what, void *arg)
{
	struct driver	*d = arg;
	struct bdclient	*c = d->client;

	(void)fd;
	(void)what;
	/* Callbacks called from bdclient_free must see no client. */
	d->client = NULL;
	bdclient_free(c);
	(void)event_base_loopexit(d->base, NULL);
}

static int
driver_usage(void)
{
	fprintf(stderr, "usage: bdclient_driver --url URL --key REF "
	    "[options] OP [ARGS] [+|& OP [ARGS]]...\n");
	return DRIVER_EX_USAGE;
}

int
main(int argc, char **argv)
{
	struct backoff_policy		 policy = BACKOFF_POLICY_DEFAULT;
	struct breaker_config		 brk = BREAKER_DEFAULT;
	struct bdclient_config		 cfg = { 0 };
	struct driver			 d = { 0 };
	struct bdclient			*client;
	const char			*ready = NULL;
	char				 err[BDCLIENT_ERR_LEN];
	int64_t				 n, free_after = -1;
	int				 i, fd;
	bool				 at_once = false;

	cfg.customer = "c_lab";
	cfg.zone = "isp_lab";
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT, STDERR_FILENO);
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			return driver_usage();
		if (strcmp(o, "--url") == 0)
			cfg.base_url = v;
		else if (strcmp(o, "--key") == 0)
			cfg.api_key_ref = v;
		else if (strcmp(o, "--customer") == 0)
			cfg.customer = v;
		else if (strcmp(o, "--zone") == 0)
			cfg.zone = v;
		else if (strcmp(o, "--count-plan") == 0)
			cfg.count_plan = v;
		else if (strcmp(o, "--ready-file") == 0)
			ready = v;
		else if (driver_int(v, 0, INT32_MAX, &n) != 0)
			return driver_usage();
		else if (strcmp(o, "--timeout-ms") == 0)
			cfg.timeout_ms = n;
		else if (strcmp(o, "--attempts") == 0)
			cfg.max_attempts = (unsigned)n;
		else if (strcmp(o, "--backoff-base-ms") == 0)
			policy.base_ms = n;
		else if (strcmp(o, "--backoff-cap-ms") == 0)
			policy.cap_ms = n;
		else if (strcmp(o, "--breaker-threshold") == 0)
			brk.failure_threshold = (unsigned)n;
		else if (strcmp(o, "--breaker-cooldown-ms") == 0)
			brk.cooldown_ms = n;
		else if (strcmp(o, "--free-after-ms") == 0)
			free_after = n;
		else
			return driver_usage();
	}
	cfg.backoff = &policy;
	cfg.breaker = &brk;
	/* The rest is operations separated by "+" or "&". */
	for (; i < argc; i++) {
		if (strcmp(argv[i], "+") == 0 || strcmp(argv[i], "&") == 0) {
			at_once = argv[i][0] == '&';
			continue;
		}
		if (d.nops == DRIVER_OPS_MAX)
			return driver_usage();
		d.ops[d.nops].name = argv[i];
		d.ops[d.nops].args = &argv[i + 1];
		d.ops[d.nops].at_once = at_once;
		at_once = false;
		while (i + 1 < argc && strcmp(argv[i + 1], "+") != 0 &&
		    strcmp(argv[i + 1], "&") != 0) {
			d.ops[d.nops].nargs++;
			i++;
		}
		if (d.ops[d.nops].nargs > DRIVER_IPS_MAX)
			return driver_usage();
		d.nops++;
	}
	if (d.nops == 0)
		return driver_usage();

	if ((d.base = event_base_new()) == NULL)
		return DRIVER_EX_SOFTWARE;
	if (bdclient_new(d.base, &cfg, &d.client, err, sizeof(err)) != 0) {
		fprintf(stderr, "bdclient_driver: %s\n", err);
		event_base_free(d.base);
		return DRIVER_EX_SOFTWARE;
	}
	if (ready != NULL) {
		fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			(void)close(fd);
	}
	d.step = evtimer_new(d.base, driver_step, &d);
	d.tick = event_new(d.base, -1, EV_PERSIST, driver_tick, &d);
	{
		struct timeval tv = { 0, DRIVER_POLL_MS * 1000 };

		d.last_tick_ms = util_mono_ms();
		(void)event_add(d.tick, &tv);
	}
	if (free_after >= 0) {
		struct timeval tv = { .tv_sec = (time_t)(free_after / 1000),
		    .tv_usec = (suseconds_t)(free_after % 1000) * 1000 };

		d.freer = evtimer_new(d.base, driver_free_client, &d);
		(void)evtimer_add(d.freer, &tv);
	}
	driver_schedule(&d, 0);
	(void)event_base_dispatch(d.base);
	if (d.client != NULL && d.pending > 0)
		d.status = 1;
	client = d.client;
	d.client = NULL;
	bdclient_free(client);
	if (d.freer != NULL)
		event_free(d.freer);
	event_free(d.step);
	event_free(d.tick);
	event_base_free(d.base);
	return d.status;
}
