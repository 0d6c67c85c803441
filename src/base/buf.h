/*
 * A growable byte buffer with a hard limit, as curl's dynbuf: every use
 * names its own maximum, and an append past it fails with -ENOBUFS and
 * leaves the buffer as it was.  The data is always NUL-terminated.  The
 * struct is open so a buffer can live on the stack or inside another object.
 */
#ifndef RESPAWN_BUF_H
#define RESPAWN_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

void	 buf_init(struct buf *b, size_t max);
int	 buf_append(struct buf *b, const void *p, size_t n);
int	 buf_puts(struct buf *b, const char *s);
int	 buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_reset(struct buf *b);
void	 buf_free(struct buf *b);
/* Hand the data to the caller (who frees it) and reset the buffer. */
char	*buf_take(struct buf *b);

#endif
