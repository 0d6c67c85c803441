/*
 * The web dashboard's files: see dashboard.h.
 */
#include <string.h>

#include "http/dashboard.h"

const struct dashboard_file *
dashboard_find(const char *path)
{
	const struct dashboard_file	*f;

	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (f = dashboard_files; f->path != NULL; f++)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

void
dashboard_serve(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	const struct dashboard_file	*f;

	(void)arg;
	if ((f = dashboard_find(rq->path)) == NULL) {
		httpd_error(rs, 404, NULL, "no such path");
		return;
	}
	/* A query is ignored: the page reads its own (#) state. */
	if (buf_append(&rs->text, f->data, f->len) < 0) {
		httpd_error(rs, 500, NULL, "the page is too large");
		return;
	}
	rs->content_type = f->content_type;
}
