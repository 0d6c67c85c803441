/*
 * POST /api/import: `respawn import` through the API, for fleets brought
 * by a program rather than by hand.  store/import.h does the work for
 * both, so the command and the API judge, write and report an import the
 * same way.
 *
 * The body is a Firestore export as the command reads it; or {"rows":
 * [ROW, ...]} where each ROW is an object of the command's JSON lines form
 * (userId, phoneNumber, country, proxyIp, ...); or {"text": FILE,
 * "format": "csv"|"jsonl"|"firestore"|"auto"}, a file's whole text as the
 * command reads it (rows named by their line).  ?dryRun, ?partial and
 * ?offline are the command's --dry-run, --partial and --offline.
 *
 * The provider's listing is what lets an IP be recorded as a phone's
 * previous one, and the provider is asked on the loop (asynchronously,
 * like every provider call of the daemon), so the route has a before
 * hook: it reads the body on the loop, asks for the listing when a row
 * names an IP, and hands the rows and the listing to the handler, which
 * runs the import on the store's worker.  A listing that fails imports
 * nothing (502).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/failpoint.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "http/api_impl.h"
#include "provider/provider.h"
#include "store/import.h"

#define API_IMPORT_SOURCE	"POST /api/import"
/*
 * The store's time for an import: 10,000 rows are one transaction of some
 * 30,000 statements on PostgreSQL (bench/import_api), past the 5 s other
 * calls get.
 */
#define API_IMPORT_DEADLINE_MS	60000

/* What the before hook hands the handler. */
struct api_import {
	struct httpd_call	*c;
	struct httpd_response	*rs;
	struct import_set	*set;
	bool			 dry_run, partial, offline;
	bool			 checked;	/* the listing was asked for */
	char			 provider[32];
	char			 zone[64];
	struct import_listed	*listed;
	size_t			 nlisted;
};

static void
api_import_free(void *p)
{
	struct api_import	*imp = p;

	if (imp == NULL)
		return;
	import_set_free(imp->set);
	free(imp->listed);
	free(imp);
}

/*
 * A reason that names another line of the JSON lines form ("phone number
 * P repeats line N") names the element instead.
 */
static void
api_import_rows_why(struct import_row *row)
{
	char		 why[IMPORT_ERR_LEN];
	const char	*at;
	char		*end;
	long		 line;

	if ((at = strstr(row->error, " repeats line ")) == NULL)
		return;
	errno = 0;
	line = strtol(at + strlen(" repeats line "), &end, 10);
	if (errno != 0 || line < 1 || *end != '\0')
		return;
	snprintf(why, sizeof why, "%.*s repeats rows[%ld]",
	    (int)(at - row->error), row->error, line - 1);
	(void)util_strlcpy(row->error, why, sizeof row->error);
}

/*
 * {"rows": [...]}: each element, written back as one line, is a line of
 * the JSON lines form, so the rows are read exactly as the command reads
 * such a file; each row is then named by its place in the array.
 */
static int
api_import_rows(json_t *rows, enum proxy_type type, struct import_set **ret,
    char err[IMPORT_ERR_LEN])
{
	struct buf	 text;
	struct import_set *set;
	json_t		*v;
	size_t		 i;
	char		*line;
	int		 r;

	if (!json_is_array(rows) || json_array_size(rows) == 0 ||
	    json_array_size(rows) > IMPORT_ROWS_MAX) {
		snprintf(err, IMPORT_ERR_LEN, "rows: want an array of 1 to %d "
		    "objects", IMPORT_ROWS_MAX);
		return -EINVAL;
	}
	buf_init(&text, IMPORT_FILE_MAX);
	json_array_foreach(rows, i, v) {
		line = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		r = line == NULL ? -ENOMEM : buf_puts(&text, line);
		if (r == 0)
			r = buf_puts(&text, "\n");
		free(line);
		if (r < 0) {
			buf_free(&text);
			snprintf(err, IMPORT_ERR_LEN, "rows: too large");
			return -E2BIG;
		}
	}
	r = import_parse(text.data, text.len, IMPORT_FORMAT_JSONL,
	    type, &set, err);
	buf_free(&text);
	if (r < 0)
		return r;
	for (i = 0; i < set->n; i++) {
		if (set->rows[i].line == 0)
			continue;
		snprintf(set->rows[i].where, sizeof set->rows[i].where,
		    "rows[%zu]", set->rows[i].line - 1);
		set->rows[i].line = 0;
		api_import_rows_why(&set->rows[i]);
	}
	*ret = set;
	return 0;
}

/*
 * {"text": FILE, "format": F}: a file's text, read as the command reads a
 * file of that form (format "auto" when absent: told by the content).
 */
static int
api_import_text(json_t *root, json_t *text, enum proxy_type type,
    struct import_set **ret, struct httpd_response *rs)
{
	enum import_format	 format = IMPORT_FORMAT_AUTO;
	const char		*key;
	json_t			*v;
	char			 err[IMPORT_ERR_LEN], echo[HTTPD_ECHO_LEN];

	json_object_foreach(root, key, v) {
		if (strcmp(key, "text") != 0 && strcmp(key, "format") != 0) {
			httpd_error(rs, 400, key, "%s: a body with text holds "
			    "only format besides it", httpd_echo(echo,
			    sizeof echo, key, 64));
			return -EINVAL;
		}
	}
	if (!json_is_string(text)) {
		httpd_error(rs, 400, "text", "text: want a string (a file's "
		    "whole text)");
		return -EINVAL;
	}
	if ((v = json_object_get(root, "format")) != NULL &&
	    (!json_is_string(v) ||
	    import_format_parse(json_string_value(v), &format) < 0)) {
		httpd_error(rs, 400, "format", "format: want auto, firestore, "
		    "csv or jsonl");
		return -EINVAL;
	}
	if (import_parse(json_string_value(text), json_string_length(text),
	    format, type, ret, err) < 0) {
		httpd_error(rs, 400, "text", "%s: nothing imported", err);
		return -EINVAL;
	}
	return 0;
}

int
api_import_parse(const char *body, size_t len, enum proxy_type type,
    struct import_set **ret, struct httpd_response *rs)
{
	json_error_t	 je;
	json_t		*root, *rows, *text;
	char		 err[IMPORT_ERR_LEN];
	int		 r;

	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		httpd_error(rs, 400, NULL, "the body is not JSON: line %d: %s",
		    je.line, je.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		httpd_error(rs, 400, NULL, "the body must be a Firestore "
		    "export (an object of collections), {\"rows\": [...]} or "
		    "{\"text\": ..., \"format\": ...}");
		return -EINVAL;
	}
	if ((text = json_object_get(root, "text")) != NULL) {
		r = api_import_text(root, text, type, ret, rs);
		json_decref(root);
		return r;
	}
	if ((rows = json_object_get(root, "rows")) != NULL) {
		if (json_object_size(root) != 1) {
			json_decref(root);
			httpd_error(rs, 400, NULL, "a body with rows holds "
			    "nothing else");
			return -EINVAL;
		}
		r = api_import_rows(rows, type, ret, err);
		json_decref(root);
		if (r < 0)
			httpd_error(rs, 400, "rows", "%s", err);
		return r < 0 ? -EINVAL : 0;
	}
	json_decref(root);
	if (import_parse(body, len, IMPORT_FORMAT_FIRESTORE, type, ret,
	    err) < 0) {
		httpd_error(rs, 400, NULL, "%s: nothing imported", err);
		return -EINVAL;
	}
	return 0;
}

/* The listing came: on to the handler, or a 502 and nothing imported. */
static void
api_import_listed(const struct provider_result *r, void *arg)
{
	struct api_import	*imp = arg;
	struct httpd_call	*c = imp->c;
	size_t			 i;

	if (r->outcome != PROVIDER_OK) {
		log_warn("api.import_listing", LOGF_S("error", r->message));
		httpd_error(imp->rs, 502, NULL, "the provider did not list its "
		    "proxies: %s: nothing imported (offline=true imports "
		    "without checking)", r->message != NULL ? r->message :
		    "failed");
		api_import_free(imp);
		httpd_call_answer(c);
		return;
	}
	imp->listed = xcalloc(r->n + 1, sizeof *imp->listed);
	for (i = 0; i < r->n; i++) {
		(void)util_strlcpy(imp->listed[i].ip, r->proxies[i].key,
		    sizeof imp->listed[i].ip);
		(void)util_strlcpy(imp->listed[i].country,
		    r->proxies[i].country, sizeof imp->listed[i].country);
	}
	imp->nlisted = r->n;
	httpd_call_proceed(c, imp, api_import_free);
}

/* On the loop: the options, the rows, and the listing when one is needed. */
void
api_import_before(void *arg, struct httpd_call *c,
    const struct httpd_request *rq, struct httpd_response *rs)
{
	static const char *const allowed[] = { "dryRun", "partial", "offline",
		NULL };
	struct api		*a = arg;
	struct api_import	*imp = xcalloc(1, sizeof *imp);
	struct provider		*p = a->d.provider;
	size_t			 i, nproxies = 0;
	int			 r;

	imp->c = c;
	imp->rs = rs;
	if (httpd_query_check(rq, allowed, rs) < 0 ||
	    httpd_query_bool(rq, "dryRun", false, &imp->dry_run, rs) < 0 ||
	    httpd_query_bool(rq, "partial", false, &imp->partial, rs) < 0 ||
	    httpd_query_bool(rq, "offline", false, &imp->offline, rs) < 0 ||
	    api_import_parse(rq->body, rq->bodylen, a->cfg->bd_proxy_type,
	    &imp->set, rs) < 0) {
		api_import_free(imp);
		httpd_call_answer(c);
		return;
	}
	for (i = 0; i < imp->set->n; i++)
		if (imp->set->rows[i].error[0] == '\0' &&
		    imp->set->rows[i].proxy_ip[0] != '\0')
			nproxies++;
	/* Copied: the provider may be gone when the worker runs. */
	if (p != NULL) {
		(void)util_strlcpy(imp->provider, provider_name(p),
		    sizeof imp->provider);
		(void)util_strlcpy(imp->zone, provider_zone(p),
		    sizeof imp->zone);
	}
	httpd_call_deadline(c, API_IMPORT_DEADLINE_MS);
	if (nproxies == 0 || imp->offline) {
		httpd_call_proceed(c, imp, api_import_free);
		return;
	}
	imp->checked = true;
	if (p == NULL || (r = provider_list(p, api_import_listed, imp)) < 0) {
		httpd_error(rs, 502, NULL, "the provider cannot be asked for "
		    "its listing: nothing imported (offline=true imports "
		    "without checking)");
		api_import_free(imp);
		httpd_call_answer(c);
	}
}

/* On the store's worker: the import itself, and its report. */
void
api_import(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api		*a = arg;
	struct api_import	*imp = rq->prepared;
	struct store		*st = api_st(a, rq);
	struct import_target	 tg = { 0 };
	struct import_outcome	 io;
	struct import_step	*steps;
	int			 r;

	tg.provider = imp->provider;
	tg.zone = imp->zone;
	tg.checked = imp->checked;
	tg.listed = imp->listed;
	tg.nlisted = imp->nlisted;
	steps = xcalloc(imp->set->n + 1, sizeof *steps);
	if ((r = import_run(st, imp->set, &tg, imp->dry_run, imp->partial,
	    API_ACTOR, API_IMPORT_SOURCE, util_now_ms(), steps, &io)) < 0) {
		if (r == -EEXIST)
			httpd_error(rs, 409, NULL, "a phone or an IP of the "
			    "import was added meanwhile: nothing imported; "
			    "send it again");
		else
			api_store_error(st, rs, r);
		free(steps);
		return;
	}
	rs->json = import_report(imp->set, steps, &io, imp->dry_run);
	/* All or nothing: refused rows without partial are the client's. */
	rs->status = io.count[IMPORT_REFUSED] > 0 && !imp->partial ? 422 : 200;
	/*
	 * A test's crash: committed, not answered.  The client hears
	 * nothing and sends again, which changes nothing (test_import_api).
	 */
	if (io.written) {
		(void)failpoint("import.applied");
		log_info("api.imported", LOGF_I("added",
		    (int64_t)io.count[IMPORT_ADD]), LOGF_I("unchanged",
		    (int64_t)io.count[IMPORT_SAME]), LOGF_I("refused",
		    (int64_t)io.count[IMPORT_REFUSED]));
	}
	free(steps);
}
