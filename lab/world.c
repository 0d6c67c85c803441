/*
 * The provider's world (see world.h).  A country's ISP addresses are slots
 * 0..inventory-1; slot s is 127.C.(s / 254).(s % 254 + 1).  Each slot
 * points to its allocation or is NULL, which makes "who owns this IP" an
 * array lookup.  Residential sessions live in a small chained hash table.
 */
#include <sys/queue.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "world.h"

#define WORLD_SESSION_BUCKETS	4096

struct alloc {
	TAILQ_ENTRY(alloc)	 entry;
	uint32_t		 ip;
	int			 zone;
	int			 country;	/* index into countries */
	int			 ledger_id;
	int64_t			 since_ms;
};
TAILQ_HEAD(alloc_list, alloc);

struct zone {
	char			 name[WORLD_NAME_MAX];
	enum zone_type		 type;
	char			 password[WORLD_NAME_MAX * 2];
	int64_t			 price_micro;
	struct alloc_list	 allocs;
	size_t			 count;
};

/* A slot's last release: never, a time, or revoked for good. */
#define WORLD_NEVER_RELEASED	0
#define WORLD_REVOKED		INT64_MIN

struct country {
	char			 cc[3];
	int64_t			 inventory;
	struct alloc		**slots;
	int64_t			*released;	/* per slot, lab ms */
	size_t			 nslots;
};

struct ressess {
	struct ressess		*next;
	int			 zone;
	char			 key[WORLD_SESSION_MAX + 4];
	uint32_t		 ip;
	int			 active;
	int64_t			 last_ms;
};

struct world {
	struct ledger		*ledger;
	struct rng		*rng;
	struct zone		 zones[WORLD_MAX_ZONES];
	size_t			 nzones;
	struct country		 countries[WORLD_MAX_COUNTRIES];
	size_t			 ncountries;
	size_t			 nallocs;
	struct ressess		*sessions[WORLD_SESSION_BUCKETS];
	size_t			 nsessions;
};

struct world *
world_new(struct ledger *l, struct rng *r)
{
	struct world	*w;

	w = xcalloc(1, sizeof(*w));
	w->ledger = l;
	w->rng = r;
	return w;
}

void
world_free(struct world *w)
{
	struct alloc	*a;
	struct ressess	*s, *next;
	size_t		 i;

	if (w == NULL)
		return;
	for (i = 0; i < w->nzones; i++) {
		while ((a = TAILQ_FIRST(&w->zones[i].allocs)) != NULL) {
			TAILQ_REMOVE(&w->zones[i].allocs, a, entry);
			free(a);
		}
	}
	for (i = 0; i < w->ncountries; i++) {
		free(w->countries[i].slots);
		free(w->countries[i].released);
	}
	for (i = 0; i < WORLD_SESSION_BUCKETS; i++) {
		for (s = w->sessions[i]; s != NULL; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(w);
}

int
world_add_zone(struct world *w, const char *name, enum zone_type type,
    const char *password, int64_t price_micro)
{
	struct zone	*z;

	if (name[0] == '\0' || strlen(name) >= WORLD_NAME_MAX ||
	    strlen(password) >= sizeof(z->password) || strchr(name, '-'))
		return -EINVAL;
	if (world_zone_find(w, name) >= 0)
		return -EEXIST;
	if (w->nzones >= WORLD_MAX_ZONES)
		return -ENOSPC;
	z = &w->zones[w->nzones];
	(void)util_strlcpy(z->name, name, sizeof(z->name));
	(void)util_strlcpy(z->password, password, sizeof(z->password));
	z->type = type;
	z->price_micro = price_micro;
	TAILQ_INIT(&z->allocs);
	return (int)w->nzones++;
}

int
world_zone_find(const struct world *w, const char *name)
{
	size_t	i;

	for (i = 0; i < w->nzones; i++)
		if (strcmp(w->zones[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

size_t
world_nzones(const struct world *w)
{
	return w->nzones;
}

const char *
world_zone_name(const struct world *w, int z)
{
	return w->zones[z].name;
}

enum zone_type
world_zone_type(const struct world *w, int z)
{
	return w->zones[z].type;
}

const char *
world_zone_password(const struct world *w, int z)
{
	return w->zones[z].password;
}

int64_t
world_zone_price(const struct world *w, int z)
{
	return w->zones[z].price_micro;
}

size_t
world_zone_count(const struct world *w, int z)
{
	return w->zones[z].count;
}

bool
world_cc_valid(const char *cc)
{
	return cc != NULL && cc[0] >= 'a' && cc[0] <= 'z' &&
	    cc[1] >= 'a' && cc[1] <= 'z' && cc[2] == '\0';
}

static int
world_country_index(const struct world *w, const char *cc)
{
	size_t	i;

	for (i = 0; i < w->ncountries; i++)
		if (strcmp(w->countries[i].cc, cc) == 0)
			return (int)i;
	return -ENOENT;
}

/* Finds or adds a country; a new one has no ISP inventory. */
static int
world_country_get(struct world *w, const char *cc)
{
	int	i;

	if (!world_cc_valid(cc))
		return -EINVAL;
	if ((i = world_country_index(w, cc)) >= 0)
		return i;
	if (w->ncountries >= WORLD_MAX_COUNTRIES)
		return -ENOSPC;
	memcpy(w->countries[w->ncountries].cc, cc, 3);
	return (int)w->ncountries++;
}

int
world_set_inventory(struct world *w, const char *cc, int64_t count)
{
	struct country	*c;
	int		 i;

	if (count < 0 || count > WORLD_MAX_SLOTS)
		return -ERANGE;
	if ((i = world_country_get(w, cc)) < 0)
		return i;
	c = &w->countries[i];
	if ((size_t)count > c->nslots) {
		c->slots = xreallocarray(c->slots, (size_t)count,
		    sizeof(*c->slots));
		memset(c->slots + c->nslots, 0,
		    ((size_t)count - c->nslots) * sizeof(*c->slots));
		c->released = xreallocarray(c->released, (size_t)count,
		    sizeof(*c->released));
		memset(c->released + c->nslots, 0,
		    ((size_t)count - c->nslots) * sizeof(*c->released));
		c->nslots = (size_t)count;
	}
	c->inventory = count;
	return 0;
}

static int64_t
world_country_available(const struct country *c)
{
	int64_t	n = 0, s;

	for (s = 0; s < c->inventory; s++)
		if (c->slots[s] == NULL && c->released[s] != WORLD_REVOKED)
			n++;
	return n;
}

int64_t
world_available(const struct world *w, const char *cc)
{
	int64_t	n = 0;
	size_t	i;
	int	ci;

	if (cc != NULL) {
		if ((ci = world_country_index(w, cc)) < 0)
			return 0;
		return world_country_available(&w->countries[ci]);
	}
	for (i = 0; i < w->ncountries; i++)
		n += world_country_available(&w->countries[i]);
	return n;
}

int64_t
world_inventory(const struct world *w, const char *cc)
{
	int	ci;

	if ((ci = world_country_index(w, cc)) < 0)
		return 0;
	return w->countries[ci].inventory;
}

size_t
world_ncountries(const struct world *w)
{
	return w->ncountries;
}

const char *
world_country_cc(const struct world *w, size_t i)
{
	return w->countries[i].cc;
}

static uint32_t
world_slot_ip(int country, int64_t slot, bool residential)
{
	uint32_t	h, l;

	h = (uint32_t)(slot / WORLD_HOSTS_PER_H) + (residential ? 128 : 0);
	l = (uint32_t)(slot % WORLD_HOSTS_PER_H) + 1;
	return (127U << 24) | ((uint32_t)(country + 1) << 16) | (h << 8) | l;
}

/* Decodes an ISP address into its country index and slot. */
static int
world_ip_slot(const struct world *w, uint32_t ip, int *country, int64_t *slot)
{
	uint32_t	c, h, l;

	c = (ip >> 16) & 0xff;
	h = (ip >> 8) & 0xff;
	l = ip & 0xff;
	if ((ip >> 24) != 127 || c == 0 || c > w->ncountries || h >= 128 ||
	    l == 0 || l > WORLD_HOSTS_PER_H)
		return -ENOENT;
	*country = (int)c - 1;
	*slot = (int64_t)h * WORLD_HOSTS_PER_H + (l - 1);
	return 0;
}

static struct alloc *
world_find_alloc(const struct world *w, uint32_t ip)
{
	const struct country	*c;
	int64_t			 slot;
	int			 ci;

	if (world_ip_slot(w, ip, &ci, &slot) != 0)
		return NULL;
	c = &w->countries[ci];
	if ((size_t)slot >= c->nslots)
		return NULL;
	return c->slots[slot];
}

/* Places one allocation in a given slot; the slot must be free. */
static struct alloc *
world_place(struct world *w, int z, int ci, int64_t slot, int64_t since_ms,
    int ledger_id)
{
	struct alloc	*a;

	a = xcalloc(1, sizeof(*a));
	a->ip = world_slot_ip(ci, slot, false);
	a->zone = z;
	a->country = ci;
	a->since_ms = since_ms;
	a->ledger_id = ledger_id;
	w->countries[ci].slots[slot] = a;
	TAILQ_INSERT_TAIL(&w->zones[z].allocs, a, entry);
	w->zones[z].count++;
	w->nallocs++;
	return a;
}

/*
 * Takes one free slot of a country with stock, chosen at random.  Like a
 * provider, it does not sell an address again the day it was released
 * unless nothing else is left, and never sells a revoked one.
 */
static int
world_take_one(struct world *w, int z, int ci, int64_t now_ms, uint32_t *ip)
{
	struct country	*c = &w->countries[ci];
	int64_t		 start, k, slot, rel;
	int		 id, pass;

	if (c->inventory <= 0 || w->nallocs >= WORLD_MAX_ALLOCS)
		return -ENOSPC;
	start = (int64_t)rng_below(w->rng, (uint64_t)c->inventory);
	for (k = 0, pass = 0; pass < 2; k++) {
		if (k == c->inventory) {
			k = -1;
			pass++;
			continue;
		}
		slot = (start + k) % c->inventory;
		rel = c->released[slot];
		if (c->slots[slot] != NULL || rel == WORLD_REVOKED)
			continue;
		if (pass == 0 && rel != WORLD_NEVER_RELEASED &&
		    now_ms - rel < WORLD_REUSE_AFTER_MS)
			continue;
		id = ledger_open(w->ledger, world_slot_ip(ci, slot, false),
		    w->zones[z].name, c->cc, w->zones[z].price_micro, now_ms);
		if (id < 0)
			return id;
		*ip = world_place(w, z, ci, slot, now_ms, id)->ip;
		return 0;
	}
	return -ENOSPC;
}

int
world_allocate(struct world *w, int z, const char *cc, int count,
    int64_t now_ms, uint32_t *ips)
{
	int	ci, i, r, candidates[WORLD_MAX_COUNTRIES], ncand = 0;
	size_t	k;

	if (w->zones[z].type != ZONE_ISP)
		return -EINVAL;
	if (count <= 0)
		return -EINVAL;
	if (w->nallocs + (size_t)count > WORLD_MAX_ALLOCS)
		return -ENOSPC;
	if (cc != NULL) {
		if ((ci = world_country_index(w, cc)) < 0)
			return -ENOSPC;
	} else {
		for (k = 0; k < w->ncountries; k++)
			if (world_country_available(&w->countries[k]) >= count)
				candidates[ncand++] = (int)k;
		if (ncand == 0)
			return -ENOSPC;
		ci = candidates[rng_below(w->rng, (uint64_t)ncand)];
	}
	if (world_country_available(&w->countries[ci]) < count)
		return -ENOSPC;
	for (i = 0; i < count; i++) {
		if ((r = world_take_one(w, z, ci, now_ms, &ips[i])) != 0) {
			/* Only a full ledger gets here; undo this call. */
			while (i-- > 0)
				(void)world_release(w, z, ips[i], now_ms);
			return r;
		}
	}
	return count;
}

static int
world_release_slot(struct world *w, int z, uint32_t ip, int64_t now_ms,
    bool revoke)
{
	struct alloc	*a;
	int64_t		 slot;
	int		 ci;

	a = world_find_alloc(w, ip);
	if (a == NULL || a->zone != z)
		return -ENOENT;
	/* An allocation's IP always has a slot; a broken table has none. */
	if (world_ip_slot(w, ip, &ci, &slot) != 0)
		return -ENOENT;
	w->countries[ci].slots[slot] = NULL;
	/* Time 0 means "never released"; the epoch itself is close enough. */
	w->countries[ci].released[slot] = revoke ? WORLD_REVOKED :
	    (now_ms != WORLD_NEVER_RELEASED ? now_ms : 1);
	TAILQ_REMOVE(&w->zones[z].allocs, a, entry);
	w->zones[z].count--;
	w->nallocs--;
	ledger_close(w->ledger, a->ledger_id, now_ms);
	free(a);
	return 0;
}

int
world_release(struct world *w, int z, uint32_t ip, int64_t now_ms)
{
	return world_release_slot(w, z, ip, now_ms, false);
}

int
world_revoke(struct world *w, int z, uint32_t ip, int64_t now_ms)
{
	return world_release_slot(w, z, ip, now_ms, true);
}

int
world_refresh(struct world *w, int z, const uint32_t *ips, size_t n,
    const char *cc, int64_t now_ms, uint32_t *out)
{
	int64_t		 need[WORLD_MAX_COUNTRIES] = { 0 };
	struct alloc	*a;
	size_t		 i, k;
	int		 ci, target = -1, r;

	if (w->zones[z].type != ZONE_ISP)
		return -EINVAL;
	if (cc != NULL && (target = world_country_index(w, cc)) < 0)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		a = world_find_alloc(w, ips[i]);
		if (a == NULL || a->zone != z)
			return -ENOENT;
		need[target >= 0 ? target : a->country]++;
	}
	for (k = 0; k < w->ncountries; k++)
		if (need[k] > world_country_available(&w->countries[k]))
			return -ENOSPC;
	/* Take the new address first so the old one cannot come back. */
	for (i = 0; i < n; i++) {
		ci = target >= 0 ? target : world_find_alloc(w, ips[i])->country;
		if ((r = world_take_one(w, z, ci, now_ms, &out[i])) != 0)
			return r;
		(void)world_release(w, z, ips[i], now_ms);
	}
	return 0;
}

size_t
world_zone_ips(const struct world *w, int z, uint32_t *ips, size_t max)
{
	const struct alloc	*a;
	size_t			 n = 0;

	TAILQ_FOREACH(a, &w->zones[z].allocs, entry) {
		if (n == max)
			break;
		ips[n++] = a->ip;
	}
	return n;
}

int
world_ip_zone(const struct world *w, uint32_t ip)
{
	const struct alloc	*a;

	if ((a = world_find_alloc(w, ip)) == NULL)
		return -ENOENT;
	return a->zone;
}

int
world_ip_country(const struct world *w, uint32_t ip, char cc[3])
{
	const struct alloc	*a;
	uint32_t		 c, h;

	if ((a = world_find_alloc(w, ip)) != NULL) {
		memcpy(cc, w->countries[a->country].cc, 3);
		return 0;
	}
	/* Residential exits carry their country in the address. */
	c = (ip >> 16) & 0xff;
	h = (ip >> 8) & 0xff;
	if ((ip >> 24) == 127 && c >= 1 && c <= w->ncountries && h >= 128) {
		memcpy(cc, w->countries[c - 1].cc, 3);
		return 0;
	}
	return -ENOENT;
}

static uint32_t
world_hash(int z, const char *key)
{
	uint32_t	h = 2166136261U ^ (uint32_t)z;

	for (; *key != '\0'; key++)
		h = (h ^ (uint8_t)*key) * 16777619U;
	return h % WORLD_SESSION_BUCKETS;
}

static void
world_res_key(const char *cc, const char *session, char *key, size_t size)
{
	(void)snprintf(key, size, "%s:%s", cc, session);
}

/* Drops idle sessions past their expiry, to make room for new ones. */
static void
world_res_purge(struct world *w, int64_t now_ms, int64_t idle_ms)
{
	struct ressess	**pp, *s;
	size_t		  i;

	for (i = 0; i < WORLD_SESSION_BUCKETS; i++) {
		for (pp = &w->sessions[i]; (s = *pp) != NULL;) {
			if (s->active == 0 && now_ms - s->last_ms > idle_ms) {
				*pp = s->next;
				free(s);
				w->nsessions--;
			} else
				pp = &s->next;
		}
	}
}

int
world_res_pick(struct world *w, int z, const char *cc, const char *session,
    int64_t now_ms, int64_t idle_ms, uint32_t *ip)
{
	struct ressess	*s;
	char		 key[WORLD_SESSION_MAX + 4];
	uint32_t	 h;
	int		 ci;

	if (w->zones[z].type != ZONE_RESIDENTIAL)
		return -EINVAL;
	if (cc != NULL) {
		if ((ci = world_country_get(w, cc)) < 0)
			return ci;
	} else if (w->ncountries == 0)
		return -ENOSPC;
	else
		ci = (int)rng_below(w->rng, w->ncountries);
	if (session == NULL || strlen(session) >= WORLD_SESSION_MAX) {
		*ip = world_slot_ip(ci, (int64_t)rng_below(w->rng,
		    WORLD_MAX_SLOTS), true);
		return 0;
	}
	world_res_key(w->countries[ci].cc, session, key, sizeof(key));
	h = world_hash(z, key);
	for (s = w->sessions[h]; s != NULL; s = s->next)
		if (s->zone == z && strcmp(s->key, key) == 0)
			break;
	if (s != NULL && s->active == 0 && now_ms - s->last_ms > idle_ms) {
		/* The session idled out: same name, new peer. */
		s->ip = world_slot_ip(ci, (int64_t)rng_below(w->rng,
		    WORLD_MAX_SLOTS), true);
	}
	if (s == NULL) {
		if (w->nsessions >= WORLD_MAX_SESSIONS)
			world_res_purge(w, now_ms, idle_ms);
		if (w->nsessions >= WORLD_MAX_SESSIONS)
			return -ENOSPC;
		s = xcalloc(1, sizeof(*s));
		s->zone = z;
		(void)util_strlcpy(s->key, key, sizeof(s->key));
		s->ip = world_slot_ip(ci, (int64_t)rng_below(w->rng,
		    WORLD_MAX_SLOTS), true);
		s->next = w->sessions[h];
		w->sessions[h] = s;
		w->nsessions++;
	}
	s->active++;
	s->last_ms = now_ms;
	*ip = s->ip;
	return 0;
}

void
world_res_done(struct world *w, int z, const char *cc, const char *session,
    int64_t now_ms)
{
	struct ressess	*s;
	char		 key[WORLD_SESSION_MAX + 4];

	if (session == NULL || cc == NULL)
		return;
	world_res_key(cc, session, key, sizeof(key));
	for (s = w->sessions[world_hash(z, key)]; s != NULL; s = s->next) {
		if (s->zone == z && strcmp(s->key, key) == 0) {
			if (s->active > 0)
				s->active--;
			s->last_ms = now_ms;
			return;
		}
	}
}

void
world_ip_str(uint32_t ip, char out[WORLD_IPSTR_MAX])
{
	struct in_addr	a = { .s_addr = htonl(ip) };

	if (inet_ntop(AF_INET, &a, out, WORLD_IPSTR_MAX) == NULL)
		out[0] = '\0';
}

int
world_ip_parse(const char *s, uint32_t *ip)
{
	struct in_addr	a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	return 0;
}

json_t *
world_save(const struct world *w)
{
	const struct alloc	*a;
	json_t			*root, *cs, *as;
	char			 ip[WORLD_IPSTR_MAX];
	size_t			 i;

	cs = json_array();
	for (i = 0; i < w->ncountries; i++)
		json_array_append_new(cs, json_pack("{s:s,s:I}", "cc",
		    w->countries[i].cc, "inventory",
		    (json_int_t)w->countries[i].inventory));
	as = json_array();
	for (i = 0; i < w->nzones; i++) {
		TAILQ_FOREACH(a, &w->zones[i].allocs, entry) {
			world_ip_str(a->ip, ip);
			json_array_append_new(as, json_pack(
			    "{s:s,s:s,s:I,s:i}", "zone", w->zones[i].name,
			    "ip", ip, "since", (json_int_t)a->since_ms,
			    "ledger", a->ledger_id));
		}
	}
	root = json_object();
	json_object_set_new(root, "countries", cs);
	json_object_set_new(root, "allocations", as);
	return root;
}

int
world_load(struct world *w, const json_t *j)
{
	const char	*cc, *zone, *ipstr;
	json_int_t	 inv, since;
	json_t		*v;
	uint32_t	 ip;
	int64_t		 slot;
	size_t		 i;
	int		 z, ci, id, r;

	/*
	 * Countries first, in saved order, so the indices in addresses hold;
	 * the configured inventory is replaced by the saved one.
	 */
	for (i = 0; i < w->ncountries; i++) {
		free(w->countries[i].slots);
		free(w->countries[i].released);
	}
	memset(w->countries, 0, sizeof(w->countries));
	w->ncountries = 0;
	json_array_foreach(json_object_get(j, "countries"), i, v) {
		if (json_unpack(v, "{s:s,s:I}", "cc", &cc, "inventory",
		    &inv) != 0)
			return -EINVAL;
		if ((r = world_set_inventory(w, cc, inv)) != 0)
			return r;
	}
	json_array_foreach(json_object_get(j, "allocations"), i, v) {
		if (json_unpack(v, "{s:s,s:s,s:I,s:i}", "zone", &zone, "ip",
		    &ipstr, "since", &since, "ledger", &id) != 0)
			return -EINVAL;
		if ((z = world_zone_find(w, zone)) < 0 ||
		    world_ip_parse(ipstr, &ip) != 0 ||
		    world_ip_slot(w, ip, &ci, &slot) != 0)
			return -EINVAL;
		if ((size_t)slot >= w->countries[ci].nslots ||
		    w->countries[ci].slots[slot] != NULL)
			return -EINVAL;
		(void)world_place(w, z, ci, slot, since, id);
	}
	return 0;
}
