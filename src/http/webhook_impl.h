/*
 * What the two files of webhook delivery share, and nobody else:
 * webhook.c (the webhook's parameters and life, the payload of an event
 * and its signature) and webhook_deliver.c (the queue of deliveries, the
 * requests on libcurl multi, retries and drops).  The rest of the daemon
 * knows webhooks through webhook.h.
 */
#ifndef RESPAWN_WEBHOOK_IMPL_H
#define RESPAWN_WEBHOOK_IMPL_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <event2/util.h>

#include "base/rng.h"
#include "core/backoff.h"
#include "http/webhook.h"
#include "sys/curlev.h"

struct event;

/* "scheme://host:port" of a URL, for log lines. */
#define WEBHOOK_LABEL_MAX	300

enum whdel_state {
	WHDEL_QUEUED,
	WHDEL_BACKOFF,
	WHDEL_READY,
	WHDEL_IN_FLIGHT,
};

/* One emitted event, shared by its deliveries to every URL. */
struct whevent {
	unsigned	 refs;
	char		 id[WEBHOOK_ID_LEN];
	char		 name[WEBHOOK_EVENT_MAX + 1];
	char		*body;
	size_t		 bodylen;
};

struct whtarget;
struct whslot;

struct whdel {
	TAILQ_ENTRY(whdel)	 all;		/* webhook's, emission order */
	TAILQ_ENTRY(whdel)	 q;		/* target's queued or ready */
	struct webhook		*w;
	struct whtarget		*t;
	struct whevent		*ev;
	enum whdel_state	 state;
	int			 attempts;	/* made so far */
	struct event		*timer;		/* in BACKOFF only */
	struct whslot		*slot;		/* in IN_FLIGHT only */
};
TAILQ_HEAD(whdel_list, whdel);

struct whtarget {
	char			*url;
	char			 label[WEBHOOK_LABEL_MAX];
	struct whdel_list	 queued;
	struct whdel_list	 ready;
	int			 in_flight;
};

/* A request in flight; the slots are preallocated and reused. */
struct whslot {
	struct webhook		*w;
	struct whdel		*d;		/* NULL: the slot is free */
	CURL			*easy;
	struct curl_slist	*headers;
	size_t			 resp_bytes;
	bool			 resp_over;
	struct curlev_retry	 hdr;		/* Retry-After, Date */
	char			 err[CURL_ERROR_SIZE];
};

struct webhook {
	struct event_base	*base;
	struct curlev		*curl;
	struct event		*kick;

	struct whtarget		 targets[WEBHOOK_URLS_MAX];
	size_t			 ntargets;
	size_t			 rr;		/* next target to serve */
	struct whslot		 slots[WEBHOOK_INFLIGHT_MAX];
	struct whdel_list	 dels;

	unsigned char		*key;		/* wiped when freed */
	size_t			 keylen;
	char			*instance;
	size_t			 queue_max;
	int			 attempts;
	int64_t			 timeout_ms;
	int			 per_url;
	struct backoff_policy	 policy;
	struct rng		 rng;
	uint64_t		 ids;		/* fallback id counter */
	int64_t			 drop_logged_ms;
	int64_t			 drops_unlogged;

	int64_t			 emitted;
	int64_t			 delivered;
	int64_t			 attempts_failed;
	int64_t			 given_up;
	int64_t			 dropped;
	int64_t			 waiting;
	int64_t			 in_flight;
};

/* webhook_deliver.c */

/*
 * Queue one delivery of ev for every URL, dropping the oldest waiting
 * ones past queue_max, and start what the slots allow from the loop.
 */
void	webhook_enqueue(struct webhook *w, struct whevent *ev);
/* Abandon every delivery, in flight or waiting, without calling anyone. */
void	webhook_deliveries_free(struct webhook *w);
/* The kick timer's callback: start what the slots allow. */
void	webhook_kick_event(evutil_socket_t fd, short what, void *arg);
/* curlev's done callback: priv is the slot (CURLOPT_PRIVATE). */
void	webhook_transfer_done(void *priv, CURLcode rc, void *arg);

#endif
