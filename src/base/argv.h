/*
 * Splitting a command line into argv without a shell.  Commands given in
 * configuration (a connector, an exec: secret) are executed directly, so
 * no shell ever sees session data or secrets.  The rules are the common
 * subset of sh(1): blanks separate words, '...' is literal, "..." allows
 * \" and \\, and a backslash outside quotes escapes the next byte.
 */
#ifndef RESPAWN_ARGV_H
#define RESPAWN_ARGV_H

#include <stddef.h>

#define ARGV_MAX_ARGS	64
#define ARGV_MAX_LEN	4096

/*
 * On success *ret is a NULL-terminated vector owned by the caller (free it
 * with argv_free) and the count is returned.  -EINVAL for an empty command
 * or an unterminated quote, -E2BIG past the limits above.
 */
int	argv_split(const char *cmd, char ***ret);
void	argv_free(char **argv);

#endif
