/*
 * Relay worker processes.  A tunnel costs the super proxy two file
 * descriptors, so one process can hold only half its open-file limit in
 * tunnels.  With --proxy-workers N, the lab forks N workers at start; once
 * a tunnel is open the super proxy hands both sockets to a worker
 * (SCM_RIGHTS over a SOCK_SEQPACKET pair) and keeps only its record.  The
 * worker splices the bytes, reports them per zone for billing, and reports
 * each tunnel's end; the parent can ask it to close a tunnel (a revoked
 * IP).
 */
#ifndef LAB_RELAYWORKER_H
#define LAB_RELAYWORKER_H

#include <stdint.h>
#include <sys/types.h>

#define RELAYWORKER_MAX		16
#define RELAYWORKER_BYTES_MS	200	/* how often bytes are reported */

enum relayworker_msg_type {
	RELAYWORKER_ADD = 1,	/* parent -> worker, with two fds */
	RELAYWORKER_CLOSE,	/* parent -> worker */
	RELAYWORKER_CLOSED,	/* worker -> parent */
	RELAYWORKER_BYTES,	/* worker -> parent: n bytes for zone */
};

struct relayworker_msg {
	uint32_t	type;
	uint32_t	zone;
	uint64_t	id;
	uint64_t	n;
};

struct relayworker {
	pid_t	pid;
	int	ctl;		/* the parent's end */
};

/*
 * Forks n workers.  Returns 0 in the parent with workers[0..n) filled; a
 * worker never returns (it exits when the parent's end closes).
 */
int	relayworker_spawn(int n, struct relayworker *workers);
/* Closes the parent's ends and reaps the workers. */
void	relayworker_stop(struct relayworker *workers, int n);
/* Sends one message (and fds when nfds is 2); -EAGAIN when full. */
int	relayworker_send(int ctl, const struct relayworker_msg *m,
	    const int *fds, int nfds);

#endif
