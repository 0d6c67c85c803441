/*
 * Integer-keyed hash map: see intmap.h.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "base/intmap.h"
#include "base/xmalloc.h"

struct intmap_slot {
	int64_t	 key;
	void	*value;
};

struct intmap {
	struct intmap_slot	*slots;
	size_t			 cap;	/* a power of two */
	size_t			 n;
};

static size_t
intmap_hash(int64_t key, size_t cap)
{
	uint64_t	x = (uint64_t)key;

	/* splitmix64's finaliser spreads sequential ids over the table. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (size_t)x & (cap - 1);
}

static void
intmap_init_slots(struct intmap_slot *s, size_t cap)
{
	size_t	i;

	for (i = 0; i < cap; i++) {
		s[i].key = INTMAP_EMPTY;
		s[i].value = NULL;
	}
}

struct intmap *
intmap_new(void)
{
	struct intmap	*m = xcalloc(1, sizeof *m);

	m->cap = 16;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
	intmap_init_slots(m->slots, m->cap);
	return m;
}

void
intmap_free(struct intmap *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

static void
intmap_grow(struct intmap *m)
{
	struct intmap_slot	*old = m->slots;
	size_t			 oldcap = m->cap, i, j;

	m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
	intmap_init_slots(m->slots, m->cap);
	for (i = 0; i < oldcap; i++) {
		if (old[i].key == INTMAP_EMPTY)
			continue;
		j = intmap_hash(old[i].key, m->cap);
		while (m->slots[j].key != INTMAP_EMPTY)
			j = (j + 1) & (m->cap - 1);
		m->slots[j] = old[i];
	}
	free(old);
}

void
intmap_put(struct intmap *m, int64_t key, void *value)
{
	size_t	i;

	/* Keep the load under 3/4 so probes stay short. */
	if ((m->n + 1) * 4 > m->cap * 3)
		intmap_grow(m);
	i = intmap_hash(key, m->cap);
	while (m->slots[i].key != INTMAP_EMPTY && m->slots[i].key != key)
		i = (i + 1) & (m->cap - 1);
	if (m->slots[i].key == INTMAP_EMPTY)
		m->n++;
	m->slots[i].key = key;
	m->slots[i].value = value;
}

void *
intmap_get(const struct intmap *m, int64_t key)
{
	size_t	i = intmap_hash(key, m->cap);

	while (m->slots[i].key != INTMAP_EMPTY) {
		if (m->slots[i].key == key)
			return m->slots[i].value;
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

void *
intmap_del(struct intmap *m, int64_t key)
{
	size_t	 i = intmap_hash(key, m->cap), j, home;
	void	*value;

	while (m->slots[i].key != key) {
		if (m->slots[i].key == INTMAP_EMPTY)
			return NULL;
		i = (i + 1) & (m->cap - 1);
	}
	value = m->slots[i].value;
	/*
	 * Backward-shift: move later entries of the probe run into the hole
	 * when their home slot allows, so no tombstones are needed.
	 */
	j = i;
	for (;;) {
		j = (j + 1) & (m->cap - 1);
		if (m->slots[j].key == INTMAP_EMPTY)
			break;
		home = intmap_hash(m->slots[j].key, m->cap);
		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = INTMAP_EMPTY;
	m->slots[i].value = NULL;
	m->n--;
	return value;
}

size_t
intmap_count(const struct intmap *m)
{
	return m->n;
}

int
intmap_walk(const struct intmap *m, intmap_fn fn, void *arg)
{
	size_t	i;
	int	r;

	for (i = 0; i < m->cap; i++)
		if (m->slots[i].key != INTMAP_EMPTY &&
		    (r = fn(m->slots[i].key, m->slots[i].value, arg)) != 0)
			return r;
	return 0;
}
