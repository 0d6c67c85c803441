/*
 * Splicing two connected sockets: bytes read on one side are written to
 * the other through a stack buffer, and only what the other side cannot
 * take yet is kept on the heap, so an idle relay costs two events and a
 * few pointers.  Used by the super proxy in its own process and by its
 * relay workers (relayworker.h).
 */
#ifndef LAB_RELAY_H
#define LAB_RELAY_H

#include <stddef.h>

#include <event2/event.h>

#define RELAY_CHUNK	16384

/* Bytes moved (either way); called for every chunk. */
typedef void (*relay_bytes_fn)(void *arg, size_t n);
/* The relay ended (EOF or error) and freed itself; it is gone on return. */
typedef void (*relay_done_fn)(void *arg);

struct relay;

/*
 * Takes ownership of both sockets.  to_a/to_b are bytes already due to
 * each side (copied).
 */
struct relay	*relay_new(struct event_base *base, int a, int b,
		    const char *to_a, size_t to_a_len, const char *to_b,
		    size_t to_b_len, relay_bytes_fn bytes, relay_done_fn done,
		    void *arg);
/* Closes both sockets without calling done. */
void		 relay_free(struct relay *r);

#endif
