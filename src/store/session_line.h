/*
 * One session per line, for `respawn session import`: fleets are added
 * from a file in one transaction instead of one command per phone.
 *
 *     USER PHONE COUNTRY [isp|residential [PRIORITY]]
 *
 * separated by blanks or commas; a blank line or one starting with '#' is
 * skipped.  Every value is validated as `respawn session add` validates
 * it.  Pure: the caller reads the file.
 */
#ifndef RESPAWN_SESSION_LINE_H
#define RESPAWN_SESSION_LINE_H

#include <stddef.h>

#include "store/store.h"

#define SESSION_LINE_MAX	1024	/* bytes of one line, newline included */

/*
 * Parse one line of len bytes (a trailing newline is allowed).  1 and *ret
 * filled for a session (desired running, proxy type default_type unless
 * the line names one); 0 for a line with nothing on it; -EINVAL with a
 * static reason in *why otherwise.  *ret is written only for 1.
 */
int	session_line_parse(const char *line, size_t len,
	    enum proxy_type default_type, struct session_new *ret,
	    const char **why);

#endif
