/*
 * The provider's world: zones, per-country inventory, the IPs allocated to
 * each zone and the residential sessions.  Every IP is a loopback address
 * 127.C.H.L, where C is the country's index, so the super proxy can bind
 * it and the WhatsApp endpoint can see it.  ISP addresses use H < 128 and
 * residential exit addresses H >= 128.
 *
 * Pure: the lab clock's time and the seeded generator are passed in, and
 * every allocation opens (and every release closes) a ledger period.
 */
#ifndef LAB_WORLD_H
#define LAB_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger.h"
#include "rng.h"

#define WORLD_MAX_ZONES		16
#define WORLD_MAX_COUNTRIES	250
#define WORLD_HOSTS_PER_H	254		/* L in 1..254 */
#define WORLD_MAX_SLOTS		(128 * WORLD_HOSTS_PER_H)
#define WORLD_MAX_ALLOCS	262144
#define WORLD_MAX_SESSIONS	65536
#define WORLD_NAME_MAX		64
#define WORLD_SESSION_MAX	64
#define WORLD_IPSTR_MAX		16
#define WORLD_REUSE_AFTER_MS	86400000LL	/* a released IP rests a day */

enum zone_type {
	ZONE_ISP,
	ZONE_RESIDENTIAL,
};

struct world;

struct world	*world_new(struct ledger *l, struct rng *r);
void		 world_free(struct world *w);

/* Returns the zone's index, -EEXIST, -ENOSPC or -EINVAL. */
int		 world_add_zone(struct world *w, const char *name,
		    enum zone_type type, const char *password,
		    int64_t price_micro);
int		 world_zone_find(const struct world *w, const char *name);
size_t		 world_nzones(const struct world *w);
const char	*world_zone_name(const struct world *w, int z);
enum zone_type	 world_zone_type(const struct world *w, int z);
const char	*world_zone_password(const struct world *w, int z);
int64_t		 world_zone_price(const struct world *w, int z);
size_t		 world_zone_count(const struct world *w, int z);

/* A country code is two lower-case letters. */
bool		 world_cc_valid(const char *cc);
int		 world_set_inventory(struct world *w, const char *cc,
		    int64_t count);
/* Addresses still for sale in cc, or in all countries when cc is NULL. */
int64_t		 world_available(const struct world *w, const char *cc);
int64_t		 world_inventory(const struct world *w, const char *cc);
size_t		 world_ncountries(const struct world *w);
const char	*world_country_cc(const struct world *w, size_t i);

/*
 * Allocates count IPs of cc (any country with stock when cc is NULL) to an
 * ISP zone, all or nothing.  The new addresses go to ips (room for count).
 * -EINVAL for a residential zone, -ENOSPC when the inventory is short or
 * a limit is reached.
 */
int		 world_allocate(struct world *w, int z, const char *cc,
		    int count, int64_t now_ms, uint32_t *ips);
/*
 * -ENOENT when ip is not allocated to zone z.  A released address is sold
 * again only after WORLD_REUSE_AFTER_MS (lab time) unless nothing else is
 * left; a revoked one (the provider took it back) never.
 */
int		 world_release(struct world *w, int z, uint32_t ip,
		    int64_t now_ms);
int		 world_revoke(struct world *w, int z, uint32_t ip,
		    int64_t now_ms);
/*
 * Replaces each of ips[0..n) (allocated to z) by a new address of the same
 * country, or of cc when given; the new ones go to out.  All or nothing:
 * -ENOENT for an address not in the zone, -ENOSPC for short inventory.
 */
int		 world_refresh(struct world *w, int z, const uint32_t *ips,
		    size_t n, const char *cc, int64_t now_ms, uint32_t *out);
/* Fills up to max addresses of z in allocation order; returns the count. */
size_t		 world_zone_ips(const struct world *w, int z, uint32_t *ips,
		    size_t max);
/* The zone an ISP address is allocated to, or -ENOENT. */
int		 world_ip_zone(const struct world *w, uint32_t ip);
/* The country of an allocated ISP address or a residential exit. */
int		 world_ip_country(const struct world *w, uint32_t ip,
		    char cc[3]);

/*
 * A residential exit for one tunnel.  With a session id the same address
 * is kept while the session has tunnels open and for idle_ms after the
 * last one closed; without, every tunnel gets a fresh address.  cc NULL
 * picks a country.  Call world_res_done when the tunnel ends.
 */
int		 world_res_pick(struct world *w, int z, const char *cc,
		    const char *session, int64_t now_ms, int64_t idle_ms,
		    uint32_t *ip);
void		 world_res_done(struct world *w, int z, const char *cc,
		    const char *session, int64_t now_ms);

void		 world_ip_str(uint32_t ip, char out[WORLD_IPSTR_MAX]);
int		 world_ip_parse(const char *s, uint32_t *ip);

json_t		*world_save(const struct world *w);
int		 world_load(struct world *w, const json_t *j);

#endif
