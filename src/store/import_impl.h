/*
 * What the three files of `respawn import`'s reader share, and nobody
 * else: import_parse.c (the forms: a Firestore export, csv, JSON lines),
 * import_doc.c (a document's fields into its phone's row) and
 * import_value.c (the JSON values of a document, Firestore's REST and
 * Timestamp forms included).
 */
#ifndef RESPAWN_IMPORT_IMPL_H
#define RESPAWN_IMPORT_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store/import_parse.h"

#define IMPORT_MAP_SIZE		32768	/* > 2 * IMPORT_ROWS_MAX, a 2^k */

_Static_assert(IMPORT_MAP_SIZE > 2 * IMPORT_ROWS_MAX, "map too small");

enum import_coll {
	COLL_PHONES,
	COLL_ASSIGNMENTS,
	COLL_RECOVERY,
	COLL_INSTANCES,
	COLL_LINE,	/* a jsonl line: the fields of any of them */
	COLL_N
};

/* What the documents of one phone said, before it becomes a row. */
struct import_acc {
	bool	have_assignment;
	bool	have_status;
	bool	have_type;
	char	doc_country[COUNTRY_CODE_LEN];	/* a phone document's */
	char	requested[COUNTRY_CODE_LEN];
};

struct import_ctx {
	struct import_set	*set;
	struct import_acc	*acc;		/* parallel to set->rows */
	size_t			 cap;
	uint32_t		*map;		/* phone -> row index + 1 */
	enum proxy_type		 default_type;
	bool			 full;		/* IMPORT_ROWS_MAX reached */
};

/*
 * import_value.c.  A document's fields as a plain object (a new
 * reference), unwrapped from Firestore's REST form ({"name", "fields"})
 * when it is in it; NULL: not a document.  The readers of one field
 * answer 1 and *ret, 0 when it is absent or null, -1 for another type (a
 * time: RFC 3339, seconds or milliseconds since the epoch, a Timestamp).
 */
json_t	*import_value_doc(json_t *doc);
int	 import_value_str(json_t *o, const char *name, const char **ret);
int	 import_value_time(json_t *o, const char *name, int64_t *ret);
int	 import_value_bool(json_t *o, const char *name, bool *ret);

/*
 * import_doc.c.  A new row (NULL when the file has too many: c->full);
 * the first reason a row cannot be mapped; one document of a collection
 * (or a jsonl or csv line as one) into its phone's row; and, once every
 * document is in, each row's country and what is still missing.
 */
struct import_row *import_doc_row_new(struct import_ctx *c,
	    const char *where, size_t line);
void	 import_doc_fail(struct import_row *row, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 import_doc_add(struct import_ctx *c, enum import_coll k, json_t *raw,
	    const char *where, size_t line);
void	 import_doc_finish(struct import_ctx *c);

#endif
