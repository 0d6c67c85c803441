/*
 * Allocation that cannot fail.  respawn treats running out of memory as a
 * broken invariant, as tmux and the OpenBSD daemons do: the process logs and
 * exits, and its supervisor restarts it.  Callers therefore never test for
 * NULL, and sizes are checked for overflow here, once.
 */
#ifndef RESPAWN_XMALLOC_H
#define RESPAWN_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t n, size_t size);
void	*xreallocarray(void *p, size_t n, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
