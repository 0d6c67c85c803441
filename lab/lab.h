/*
 * The lab as a whole: one event loop and the modules that share it.  The
 * struct is open because it is the wiring that every request handler
 * reads (the world, the clock, the generator); it holds no logic.
 */
#ifndef LAB_LAB_H
#define LAB_LAB_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "fault.h"
#include "labclock.h"
#include "ledger.h"
#include "rng.h"
#include "world.h"

struct http;
struct superproxy;
struct wa;
struct gsm;
struct webhooks;

struct lab {
	struct event_base	*base;
	const struct labconf	*conf;
	struct labclock		*clock;
	struct rng		 rng;
	struct ledger		*ledger;
	struct world		*world;
	struct fault_set	*faults;
	struct gsm		*gsm;
	struct webhooks		*webhooks;
	struct http		*http;
	struct superproxy	*proxy;
	struct wa		*wa;
	struct event		*sigterm;
	struct event		*sigint;
	int			 api_port;
	int			 proxy_port;
	int			 wa_port;
	int64_t			 started_ms;
	uint64_t		 requests;
};

/*
 * Builds the world from conf, opens the three listeners and loads the
 * state file when there is one.  err explains a failure.
 */
struct relayworker;
int	 lab_new(struct event_base *base, const struct labconf *conf,
	    const struct relayworker *workers, int nworkers, struct lab **ret,
	    char *err, size_t errlen);
/* "LAB_API_PORT=n" lines for a shell to source, written atomically. */
int	 lab_write_ports(const struct lab *lab, const char *path);
/* Saves the state file (when configured) and frees everything. */
void	 lab_free(struct lab *lab);
/* The lab clock's current time (Unix epoch milliseconds). */
int64_t	 lab_now(const struct lab *lab);

#endif
