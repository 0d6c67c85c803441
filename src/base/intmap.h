/*
 * A map from 64-bit integer keys to pointers: open addressing with linear
 * probing and backward-shift deletion.  The daemon keys sessions by id and
 * by connector pid, and the pool keys proxies by id, so lookups stay O(1)
 * at 10,000 sessions.  Keys must not be INTMAP_EMPTY.
 */
#ifndef RESPAWN_INTMAP_H
#define RESPAWN_INTMAP_H

#include <stddef.h>
#include <stdint.h>

#define INTMAP_EMPTY	INT64_MIN

struct intmap;

struct intmap	*intmap_new(void);
void		 intmap_free(struct intmap *m);
/* Insert or replace. */
void		 intmap_put(struct intmap *m, int64_t key, void *value);
void		*intmap_get(const struct intmap *m, int64_t key);
/* Returns the removed value, or NULL. */
void		*intmap_del(struct intmap *m, int64_t key);
size_t		 intmap_count(const struct intmap *m);
/*
 * Every entry, in no particular order; a non-zero answer stops the walk
 * and is returned.  fn must not add or remove entries.
 */
typedef int	(*intmap_fn)(int64_t key, void *value, void *arg);
int		 intmap_walk(const struct intmap *m, intmap_fn fn, void *arg);

#endif
