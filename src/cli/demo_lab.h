/*
 * What `respawn demo` asks respawn-lab: the ports it bound (its ports
 * file) and its admin API (/lab/wa, what the WhatsApp stand-in sees;
 * /lab/ledger, what the provider sold and billed).  Blocking libcurl
 * calls with short timeouts: the demo is a command-line tool that waits on
 * them anyway, unlike the daemon, whose provider calls run on its event
 * loop.
 */
#ifndef RESPAWN_DEMO_LAB_H
#define RESPAWN_DEMO_LAB_H

#include <jansson.h>

#define DEMO_LAB_ERR_LEN	256
#define DEMO_LAB_URL_LEN	128
#define DEMO_LAB_ANSWER_MAX	(8 * 1024 * 1024)	/* /lab/ledger grows */
#define DEMO_LAB_TIMEOUT_MS	5000

struct demo_lab_ports {
	int	api;
	int	proxy;
	int	wa;
};

/*
 * Read the lab's --ports-file.  -ENOENT while the lab has not written it
 * (it is renamed into place whole), -EINVAL when a port is missing.
 */
int	demo_lab_read_ports(const char *path, struct demo_lab_ports *ret);
/* One GET of base + path answered 200 with JSON; the caller owns *ret. */
int	demo_lab_get(const char *base, const char *path, json_t **ret,
	    char err[DEMO_LAB_ERR_LEN]);

#endif
