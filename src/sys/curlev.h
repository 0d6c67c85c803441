/*
 * libcurl's multi interface on the daemon's libevent loop, shared by the
 * modules that make HTTP requests (bdclient_req.c, webhook_deliver.c) so
 * that the glue between the two libraries exists once.
 *
 * It is the "socket action" way libcurl documents (the hiperfifo
 * pattern): curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION)
 * and when to wake it (CURLMOPT_TIMERFUNCTION); libevent tells curl what
 * happened (curl_multi_socket_action).  Nothing waits on the network.
 *
 * The owner builds its easy handles (curlev_easy_new gives the settings
 * every request of the daemon shares), sets CURLOPT_PRIVATE to its own
 * record of the request and adds them; when a transfer is over, the done
 * callback gets that record and curl's result, from the loop.
 */
#ifndef RESPAWN_CURLEV_H
#define RESPAWN_CURLEV_H

#include <stdint.h>

#include <curl/curl.h>

struct event_base;
struct curlev;

/*
 * A transfer is over: priv is the easy handle's CURLOPT_PRIVATE (handles
 * without one are not reported) and result curl's verdict.  The handle is
 * still in the multi; the callback removes it (curlev_remove) and may add
 * others, free its own records or free the curlev itself.
 */
typedef void	(*curlev_done_cb)(void *priv, CURLcode result, void *arg);

/*
 * A multi handle driven by base, with at most max_connections open
 * connections.  Calls curl_global_init (libcurl counts these; curlev_free
 * balances it).  -EIO when curl_global_init fails, -ENOMEM otherwise.
 */
int	 curlev_new(struct event_base *base, long max_connections,
	    curlev_done_cb done, void *arg, struct curlev **ret);
/* Starts a transfer: 0, or -EIO when curl refuses the handle. */
int	 curlev_add(struct curlev *c, CURL *easy);
/* Takes a handle out (finished, or not); one never added is ignored. */
void	 curlev_remove(struct curlev *c, CURL *easy);
/*
 * Frees the multi handle, its sockets' events and its timer.  Handles
 * still added are left to their owner, who should have removed them.
 * Accepts NULL.
 */
void	 curlev_free(struct curlev *c);

/*
 * A new easy handle with what every request of the daemon shares: no
 * signals, a total time limit of timeout_ms and a connection time limit of
 * the smaller of that and connect_ms, http and https only, no redirects
 * followed, no proxy whatever *_proxy says, TCP keepalive and
 * close-on-exec sockets.  0, or -ENOMEM or -EINVAL (ret untouched).
 */
int	 curlev_easy_new(int64_t timeout_ms, int64_t connect_ms, CURL **ret);

/* Retry-After and Date values longer than this are not dates. */
#define CURLEV_HEADER_LEN	128

/* The headers of an answer that time a retry: Retry-After, and its Date. */
struct curlev_retry {
	char	retry_after[CURLEV_HEADER_LEN];	/* "" when absent */
	char	date[CURLEV_HEADER_LEN];
};

/*
 * A CURLOPT_HEADERFUNCTION that keeps them, trimmed, in the struct
 * curlev_retry given as CURLOPT_HEADERDATA; the owner empties it before
 * each attempt.
 */
size_t	 curlev_retry_header(char *p, size_t size, size_t nmemb, void *arg);

#endif
