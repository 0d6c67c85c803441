/*
 * Building and tearing down the lab (see lab.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "gsm.h"
#include "http.h"
#include "lab.h"
#include "state.h"
#include "superproxy.h"
#include "wa.h"
#include "webhooks.h"

int64_t
lab_now(const struct lab *lab)
{
	return labclock_now(lab->clock, util_mono_ms());
}

int
lab_new(struct event_base *base, const struct labconf *conf,
    const struct relayworker *workers, int nworkers, struct lab **ret,
    char *err, size_t errlen)
{
	struct lab	*lab;
	size_t		 i;
	int		 r;

	lab = xcalloc(1, sizeof(*lab));
	lab->base = base;
	lab->conf = conf;
	lab->clock = labclock_new(conf->clock_start_ms != 0 ?
	    conf->clock_start_ms : util_now_ms(), conf->clock_speed,
	    util_mono_ms());
	rng_seed(&lab->rng, conf->seed);
	lab->ledger = ledger_new(conf->day_boundary_ms, conf->days_per_month);
	lab->world = world_new(lab->ledger, &lab->rng);
	lab->faults = fault_set_new();
	for (i = 0; i < conf->nzones; i++) {
		if ((r = world_add_zone(lab->world, conf->zones[i].name,
		    conf->zones[i].type, conf->zones[i].password,
		    conf->zones[i].price_micro)) < 0) {
			(void)snprintf(err, errlen, "zone %s: %s",
			    conf->zones[i].name, strerror(-r));
			goto fail;
		}
	}
	for (i = 0; i < conf->ncountries; i++)
		(void)world_set_inventory(lab->world, conf->countries[i].cc,
		    conf->countries[i].inventory);
	if ((r = gsm_new(conf->secrets, conf->token_ttl_s, &lab->gsm)) != 0) {
		(void)snprintf(err, errlen, "secrets: %s", strerror(-r));
		goto fail;
	}
	if ((r = webhooks_new(conf->webhook_secret, &lab->webhooks)) != 0) {
		(void)snprintf(err, errlen, "webhook sink: %s", strerror(-r));
		goto fail;
	}
	if ((r = http_new(base, conf->bind, conf->api_port, api_handle, lab,
	    &lab->http, &lab->api_port)) != 0) {
		(void)snprintf(err, errlen, "api port %s:%d: %s", conf->bind,
		    conf->api_port, strerror(-r));
		goto fail;
	}
	if ((r = superproxy_new(lab, conf->bind, conf->proxy_port, workers,
	    nworkers, &lab->proxy, &lab->proxy_port)) != 0) {
		(void)snprintf(err, errlen, "proxy port %s:%d: %s", conf->bind,
		    conf->proxy_port, strerror(-r));
		goto fail;
	}
	if ((r = wa_new(lab, conf->bind, conf->wa_port, &lab->wa,
	    &lab->wa_port)) != 0) {
		(void)snprintf(err, errlen, "wa port %s:%d: %s", conf->bind,
		    conf->wa_port, strerror(-r));
		goto fail;
	}
	if (conf->state_file[0] != '\0' &&
	    (r = state_load(lab, conf->state_file)) != 0 && r != -ENOENT) {
		(void)snprintf(err, errlen, "state file %s: %s",
		    conf->state_file, strerror(-r));
		goto fail;
	}
	lab->started_ms = util_mono_ms();
	*ret = lab;
	return 0;
fail:
	lab->conf = NULL;	/* no state save for a lab that never ran */
	lab_free(lab);
	return -EINVAL;
}

int
lab_write_ports(const struct lab *lab, const char *path)
{
	char	tmp[PATH_MAX + 8];
	FILE	*fp;
	int	fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if ((fp = fdopen(fd, "w")) == NULL) {
		r = -errno;
		close(fd);
		return r;
	}
	fprintf(fp, "LAB_API_PORT=%d\nLAB_PROXY_PORT=%d\nLAB_WA_PORT=%d\n"
	    "LAB_PID=%d\n", lab->api_port, lab->proxy_port, lab->wa_port,
	    (int)getpid());
	if (fclose(fp) != 0)
		r = -EIO;
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	return r;
}

void
lab_free(struct lab *lab)
{
	if (lab == NULL)
		return;
	if (lab->conf != NULL && lab->conf->state_file[0] != '\0' &&
	    lab->wa != NULL)
		(void)state_save(lab, lab->conf->state_file);
	superproxy_free(lab->proxy);
	wa_free(lab->wa);
	http_free(lab->http);
	gsm_free(lab->gsm);
	webhooks_free(lab->webhooks);
	fault_set_free(lab->faults);
	world_free(lab->world);
	ledger_free(lab->ledger);
	labclock_free(lab->clock);
	if (lab->sigterm != NULL)
		event_free(lab->sigterm);
	if (lab->sigint != NULL)
		event_free(lab->sigint);
	free(lab);
}
