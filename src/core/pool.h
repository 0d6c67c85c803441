/*
 * The proxy pool's decisions: which proxy a session gets.  Pure: the pool
 * holds a copy of the proxies the daemon knows (rebuilt from the store at
 * start), and answers questions; the shell persists what it decides.
 *
 * For a session the choice is, in order:
 *
 *   1. its previous proxy, if the provider still lists it and nobody else
 *      uses it: a reactivation, so the phone keeps its IP;
 *   2. an idle proxy of the same country, preferring one this phone used
 *      before, then one whose last phone is not expected back, then the
 *      one idle the longest;
 *   3. a purchase in that country, when the provider can buy and the
 *      country has not been found empty recently;
 *   4. the same steps for each country of the fallback chain in turn;
 *   5. otherwise wait (the supervisor retries later).
 *
 * An idle proxy remembers its owner, the session that used it last, and
 * until when that phone is expected back (owner_back_by: the shell
 * computes it with billing_expect_back from the phone's reconnect gaps).
 * With holds on (the stable release policy) such a proxy is held: in
 * step 2 it goes to no other phone.  Another phone gets it only when
 * nothing can be bought, or when buying costs more than the change is
 * expected to cost: what sparing a phone a change is worth
 * (pool_config.change_micros) times the owner's chance to come back
 * meanwhile, taken as the share of its hold still to run.  Of several,
 * the one with the least left goes.  Without holds a held proxy is merely
 * offered last.  A phone that keeps its IP is the point: one that hops
 * between IPs gets banned.
 *
 * A proxy reserved for a session (it had it when the daemon stopped or
 * crashed) is offered to no other session.  A proxy can carry up to
 * sessions_per_ip sessions (default 1).  IPs that a
 * phone's connector refused (exit 75) are never offered to that phone
 * again: the request names the ones the store remembers, and the pool
 * remembers the ones refused since it was made (the store may not have
 * them yet).  A proxy of no known country is offered to nobody.
 */
#ifndef RESPAWN_POOL_H
#define RESPAWN_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/country.h"

#define POOL_IP_LEN		64
#define POOL_MAX_CHAIN		12	/* fallback countries considered */
#define POOL_MAX_HISTORY	8	/* previous proxies per request */
#define POOL_MAX_REFUSED	64	/* refused IPs named per request */

enum pool_proxy_state {
	POOL_PURCHASING,
	POOL_ACTIVE,
	POOL_IDLE,
	POOL_RELEASING,
	POOL_RELEASED,
	POOL_LOST,
};

struct pool_proxy {
	int64_t			id;
	char			ip[POOL_IP_LEN];
	char			country[COUNTRY_CODE_LEN];
	enum pool_proxy_state	state;
	int			sessions;	/* sessions using it now */
	int64_t			reserved_for;	/* session it is kept for, or 0 */
	int64_t			idle_since;	/* when it last became unused */
	bool			listed;		/* the provider lists it */
	int64_t			purchased_at;	/* when its billing began */
	int64_t			owner;		/* session that used it last */
	int64_t			owner_back_by;	/* held for owner until, or 0 */
};

/*
 * How the pool weighs a phone's IP against money.  purchase_micros is
 * what buying one more IP costs now (a billing unit), change_micros what
 * sparing a phone one IP change is worth; both only compare, so any
 * currency does.
 */
struct pool_config {
	int	sessions_per_ip;	/* 1 and up */
	bool	hold;			/* idle IPs held for their owners */
	int64_t	purchase_micros;
	int64_t	change_micros;
};

enum pool_choice_kind {
	POOL_REACTIVATE,	/* the session's previous proxy */
	POOL_REUSE,		/* an idle proxy */
	POOL_PURCHASE,		/* buy one in choice.country */
	POOL_WAIT,		/* nothing now */
};

struct pool_request {
	int64_t		 session_id;
	const char	*phone;
	const char	*country;		/* requested */
	const char	*chain[POOL_MAX_CHAIN];	/* fallback countries, in order */
	size_t		 nchain;
	int64_t		 history[POOL_MAX_HISTORY];	/* proxy ids, newest first */
	size_t		 nhistory;
	/* IPs this phone's connector refused before, never offered to it. */
	const char	(*refused)[POOL_IP_LEN];
	size_t		 nrefused;
	bool		 can_purchase;		/* the provider can buy IPs */
};

struct pool_choice {
	enum pool_choice_kind	kind;
	int64_t			proxy_id;	/* REACTIVATE, REUSE */
	char			country[COUNTRY_CODE_LEN];
	bool			fallback_used;
	/* REUSE of an IP held for another phone expected back. */
	int64_t			displaced;	/* that phone's session, or 0 */
};

struct pool;

struct pool	*pool_new(const struct pool_config *cfg);
void		 pool_free(struct pool *p);
/* Add or replace (by id) a proxy. */
void		 pool_put(struct pool *p, const struct pool_proxy *px);
const struct pool_proxy *pool_get(const struct pool *p, int64_t id);
size_t		 pool_count(const struct pool *p);
const struct pool_proxy *pool_at(const struct pool *p, size_t i);

/* Decide; nothing changes until the shell calls pool_attach. */
void		 pool_choose(const struct pool *p, const struct pool_request *r,
		    int64_t now, struct pool_choice *ret);
/*
 * A session starts or stops using a proxy.  A detached proxy stays
 * reserved for the session when keep is true (a restart, a graceful
 * shutdown, a crash: the phone must get its IP back), and becomes idle
 * otherwise, held for that session until back_by (0: not held; see the
 * top of this file).
 */
int		 pool_attach(struct pool *p, int64_t proxy_id, int64_t session_id);
int		 pool_detach(struct pool *p, int64_t proxy_id, int64_t now,
		    bool keep, int64_t back_by);
/* Is this idle proxy held at now for a phone other than session_id's? */
bool		 pool_held(const struct pool_proxy *px, int64_t session_id,
		    int64_t now);

/* Remember that phone's connector refused ip (exit 75). */
void		 pool_mark_bad(struct pool *p, const char *phone, const char *ip);
bool		 pool_is_bad(const struct pool *p, const char *phone,
		    const char *ip);
/* A country had no inventory at time now: skip purchases there a while. */
void		 pool_mark_empty(struct pool *p, const char *country,
		    int64_t now, int64_t for_ms);

const char	*pool_choice_name(enum pool_choice_kind k);
const char	*pool_state_name(enum pool_proxy_state s);

#endif
