/*
 * Socket splicing (see relay.h).  Each side has one event whose flags
 * follow what is pending: a side is read only while nothing waits to be
 * written towards the other side, which bounds the heap to one chunk per
 * direction.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/xmalloc.h"
#include "relay.h"

struct relay {
	struct event_base	*base;
	int			 fd[2];
	struct event		 ev[2];
	short			 want[2];
	char			*pend[2];	/* due to side i */
	size_t			 pendlen[2];
	bool			 eof;
	relay_bytes_fn		 bytes;
	relay_done_fn		 done;
	void			*arg;
};

static void	relay_cb(evutil_socket_t fd, short what, void *arg);

static void
relay_pend(struct relay *r, int side, const char *p, size_t n)
{
	if (n == 0)
		return;
	r->pend[side] = xreallocarray(r->pend[side], r->pendlen[side] + n, 1);
	memcpy(r->pend[side] + r->pendlen[side], p, n);
	r->pendlen[side] += n;
}

static void
relay_want(struct relay *r, int side, short want)
{
	if (r->want[side] == want)
		return;
	if (r->want[side] != 0)
		event_del(&r->ev[side]);
	r->want[side] = want;
	if (want == 0)
		return;
	event_assign(&r->ev[side], r->base, r->fd[side], want | EV_PERSIST,
	    relay_cb, r);
	event_add(&r->ev[side], NULL);
}

static void
relay_update(struct relay *r)
{
	short	w[2] = { 0, 0 };
	int	i;

	for (i = 0; i < 2; i++) {
		if (!r->eof && r->pendlen[1 - i] == 0)
			w[i] |= EV_READ;
		if (r->pendlen[i] > 0)
			w[i] |= EV_WRITE;
	}
	relay_want(r, 0, w[0]);
	relay_want(r, 1, w[1]);
}

/* Writes what is due to side; -1 when the socket failed. */
static int
relay_drain(struct relay *r, int side)
{
	ssize_t	n;

	while (r->pendlen[side] > 0) {
		n = write(r->fd[side], r->pend[side], r->pendlen[side]);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		memmove(r->pend[side], r->pend[side] + n,
		    r->pendlen[side] - (size_t)n);
		r->pendlen[side] -= (size_t)n;
	}
	free(r->pend[side]);
	r->pend[side] = NULL;
	return 0;
}

/* Moves one chunk from side to the other; -1 when the relay ends. */
static int
relay_move(struct relay *r, int side)
{
	char	chunk[RELAY_CHUNK];
	ssize_t	n, w;

	n = read(r->fd[side], chunk, sizeof(chunk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		r->eof = true;
		return 0;
	}
	r->bytes(r->arg, (size_t)n);
	w = write(r->fd[1 - side], chunk, (size_t)n);
	if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return -1;
	if (w < 0)
		w = 0;
	relay_pend(r, 1 - side, chunk + w, (size_t)(n - w));
	return 0;
}

static void
relay_end(struct relay *r)
{
	relay_done_fn	 done = r->done;
	void		*arg = r->arg;

	relay_free(r);
	done(arg);
}

static void
relay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r = arg;
	int		 side = fd == r->fd[0] ? 0 : 1;

	if ((what & EV_WRITE) && relay_drain(r, side) != 0) {
		relay_end(r);
		return;
	}
	if ((what & EV_READ) && relay_move(r, side) != 0) {
		relay_end(r);
		return;
	}
	if (r->eof && r->pendlen[0] + r->pendlen[1] == 0) {
		relay_end(r);
		return;
	}
	relay_update(r);
}

struct relay *
relay_new(struct event_base *base, int a, int b, const char *to_a,
    size_t to_a_len, const char *to_b, size_t to_b_len, relay_bytes_fn bytes,
    relay_done_fn done, void *arg)
{
	struct relay	*r;

	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->fd[0] = a;
	r->fd[1] = b;
	r->bytes = bytes;
	r->done = done;
	r->arg = arg;
	relay_pend(r, 0, to_a, to_a_len);
	relay_pend(r, 1, to_b, to_b_len);
	relay_update(r);
	return r;
}

void
relay_free(struct relay *r)
{
	int	i;

	if (r == NULL)
		return;
	for (i = 0; i < 2; i++) {
		if (r->want[i] != 0)
			event_del(&r->ev[i]);
		close(r->fd[i]);
		free(r->pend[i]);
	}
	free(r);
}
