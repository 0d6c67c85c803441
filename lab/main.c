/*
 * respawn-lab: the outside world on one machine, for tests, benchmarks
 * and the demo.  A Bright Data-compatible account API, a super proxy, a
 * WhatsApp stand-in and Google secret stand-ins, all on loopback; see
 * docs/LAB.md.  This file only wires: configuration, limits, signals, the
 * loop.
 */
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/log.h"
#include "conf.h"
#include "lab.h"
#include "relayworker.h"

/* 10,000 tunnels need two descriptors each: take all the kernel allows. */
static void
main_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base	*base = arg;

	log_info("lab.stopping", LOGF_I("signal", sig));
	event_base_loopexit(base, NULL);
}

int
main(int argc, char **argv)
{
	struct labconf		 conf;
	struct relayworker	 workers[RELAYWORKER_MAX];
	int			 nworkers;
	struct event_base	*base;
	struct lab		*lab;
	struct rlimit		 rl;
	char			 err[512];
	int			 r;

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT, STDERR_FILENO);
	r = conf_from_args(&conf, argc, argv, err, sizeof(err));
	if (r == -ECANCELED) {
		conf_usage(stdout);
		conf_done(&conf);
		return 0;
	}
	if (r != 0) {
		fprintf(stderr, "respawn-lab: %s\n", err);
		conf_usage(stderr);
		conf_done(&conf);
		return 64;
	}
	log_init(conf.log_level, conf.log_format, STDERR_FILENO);
	main_raise_nofile();
	(void)signal(SIGPIPE, SIG_IGN);
	/* Workers fork first, so they inherit nothing but the configuration. */
	nworkers = (int)conf.proxy_workers;
	if (nworkers > 0 && relayworker_spawn(nworkers, workers) != 0) {
		fprintf(stderr, "respawn-lab: cannot start relay workers\n");
		conf_done(&conf);
		return 71;
	}
	base = event_base_new();
	if (base == NULL) {
		fprintf(stderr, "respawn-lab: cannot create the event loop\n");
		relayworker_stop(workers, nworkers);
		conf_done(&conf);
		return 71;
	}
	if (lab_new(base, &conf, workers, nworkers, &lab, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "respawn-lab: %s\n", err);
		event_base_free(base);
		relayworker_stop(workers, nworkers);
		conf_done(&conf);
		return 71;
	}
	lab->sigterm = evsignal_new(base, SIGTERM, main_signal_cb, base);
	lab->sigint = evsignal_new(base, SIGINT, main_signal_cb, base);
	event_add(lab->sigterm, NULL);
	event_add(lab->sigint, NULL);
	if (conf.ports_file[0] != '\0' &&
	    (r = lab_write_ports(lab, conf.ports_file)) != 0) {
		fprintf(stderr, "respawn-lab: %s: %s\n", conf.ports_file,
		    strerror(-r));
		lab_free(lab);
		event_base_free(base);
		relayworker_stop(workers, nworkers);
		conf_done(&conf);
		return 73;
	}
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	log_info("lab.started", LOGF_I("api_port", lab->api_port),
	    LOGF_I("proxy_port", lab->proxy_port),
	    LOGF_I("wa_port", lab->wa_port), LOGF_I("seed", conf.seed),
	    LOGF_I("proxy_workers", nworkers),
	    LOGF_I("nofile", rl.rlim_cur));
	event_base_dispatch(base);
	lab_free(lab);
	event_base_free(base);
	relayworker_stop(workers, nworkers);
	conf_done(&conf);
	log_info("lab.stopped");
	return 0;
}
