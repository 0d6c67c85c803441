/*
 * The web dashboard: static files (web/ in the source tree) embedded in
 * the binary at build time (tools/embed.cmake writes dashboard_files[])
 * and served without the key at "/" and beside it.  The page asks for the
 * API key and sends it as a header with every API call; nothing of the
 * dashboard reads a file or the network at run time.
 */
#ifndef RESPAWN_DASHBOARD_H
#define RESPAWN_DASHBOARD_H

#include <stddef.h>

#include "http/httpd.h"

struct dashboard_file {
	const char		*path;		/* "/index.html" */
	const char		*content_type;
	const unsigned char	*data;
	size_t			 len;
};

/* The embedded files, ending with a NULL path (generated). */
extern const struct dashboard_file dashboard_files[];

/* The file a path names ("/" is "/index.html"), or NULL. */
const struct dashboard_file *dashboard_find(const char *path);
/* The handler of the dashboard's routes (src/http/api.c). */
void	dashboard_serve(void *arg, const struct httpd_request *rq,
	    struct httpd_response *rs);

#endif
