/*
 * Bringing an existing fleet into the store (`respawn import`): the rows
 * import_parse read, judged against the store and the provider's listing,
 * then written the way the daemon itself would have left them, so that
 * its ordinary recovery reactivates each phone's IP instead of buying one.
 *
 * A session is added with its country, status (desired running or
 * stopped), last activity and graceful-shutdown time; its proxy is
 * recorded as the proxy row the daemon would hold (the provider's
 * country, purchased when the old system assigned it) given to the
 * session with an assignment row (requested country, fallback used, the
 * old system's assignedAt, reason "reused"): active and reserved for the
 * session, as a graceful stop leaves a proxy.  At the next start the
 * daemon's pool finds it as the session's previous proxy (store_proxy_
 * history) and reactivates it; the provider's listing at that start
 * marks it lost if the provider no longer has it, and only then is one
 * bought.  A running daemon claims the new sessions (they are nobody's)
 * and learns the rows of their proxies in the same sync, and does the
 * same.  Nothing in the daemon knows about imports.
 *
 * Over the store's existing operations only, in one batch: everything or,
 * when a write fails, nothing (see import_apply).
 */
#ifndef RESPAWN_IMPORT_H
#define RESPAWN_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/import_parse.h"
#include "store/store.h"

#define IMPORT_REASON		"reused"	/* the assignment's reason */
#define IMPORT_EVENT		"session.imported"

/* One proxy of the provider's listing. */
struct import_listed {
	char	ip[STORE_IP_LEN];
	char	country[COUNTRY_CODE_LEN];	/* "": it does not say */
};

enum import_action {
	IMPORT_ADD,		/* a new session (with its proxy) */
	IMPORT_SAME,		/* in the store already, as the file says */
	IMPORT_REFUSED,		/* cannot be mapped: why says */
};

/* What becomes of one row. */
struct import_step {
	enum import_action	action;
	char			why[IMPORT_ERR_LEN];
	/* The proxy's country as recorded (the provider's when it says). */
	char			country[COUNTRY_CODE_LEN];
	int64_t			proxy_id;	/* a store row (0: a new) */
	bool			relist;		/* that row is lost: listed */
	bool			listed;		/* the provider lists it */
	int64_t			session_id;	/* SAME, and ADD once applied */
};

/* Where the proxies are to be recorded, and what the provider lists. */
struct import_target {
	const char		*provider;	/* "brightdata", "static" */
	const char		*zone;
	bool			 checked;	/* false: not asked */
	const struct import_listed *listed;	/* the provider's listing */
	size_t			 nlisted;
};

/*
 * Judge every row of set against the store and the listing: steps[i] for
 * set->rows[i] (set->n of them).  A row is refused for its parse error; a
 * phone the store has under another user or country, or without this
 * proxy in its history; a proxy the listing does not hold, that another
 * row of the file names, or that the store has in use (or kept, held,
 * being bought or released) for someone else; an IP for a residential
 * session.  A phone the store has as the row says is SAME: a second
 * import changes nothing.  Reads only.
 */
int	import_plan(struct store *st, const struct import_set *set,
	    const struct import_target *tg, struct import_step *steps);
/*
 * Write every ADD step (session_id set in its step), each with a
 * session.imported audit event naming source and the row's place, in one
 * store batch.  On failure every write of the import is undone
 * (store_batch_abort) and the store is left as it was, open for more.
 * -EEXIST when a phone appeared in the store since import_plan.
 */
int	import_apply(struct store *st, const struct import_set *set,
	    const struct import_target *tg, struct import_step *steps,
	    const char *actor, const char *source, int64_t now);

/* What an import decided and did (import_run). */
struct import_outcome {
	size_t	count[IMPORT_REFUSED + 1];	/* rows by action */
	size_t	proxies;	/* good rows naming an IP */
	size_t	listed;		/* rows to add whose IP the provider lists */
	bool	written;	/* the rows to add are in the store */
};

/*
 * An import as `respawn import` and POST /api/import make it: import_plan,
 * then import_apply unless dry_run, nothing is to be added, or a row was
 * refused and partial is not set (all or nothing per file).  0 with *ret
 * (and steps[i] for each row); else the store's negative errno, nothing
 * written (-EEXIST: a phone or an IP of the file was added meanwhile).
 */
int	import_run(struct store *st, const struct import_set *set,
	    const struct import_target *tg, bool dry_run, bool partial,
	    const char *actor, const char *source, int64_t now,
	    struct import_step *steps, struct import_outcome *ret);

/* import_report.c: what an import says, for people and for programs. */
/* "added", "would add", "unchanged", "refused". */
const char *import_action_name(enum import_action a, bool written);
/*
 * The report of an import: its figures and each row's fate, as `respawn
 * import --json` prints it and POST /api/import answers (docs/api/
 * openapi.yaml, ImportReport).  A new reference.
 */
json_t	*import_report(const struct import_set *set,
	    const struct import_step *steps, const struct import_outcome *o,
	    bool dry_run);

#endif
