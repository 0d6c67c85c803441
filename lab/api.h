/*
 * The lab's HTTP front door: routes /lab/ to the admin API, the Google
 * paths to the Secret Manager and metadata stand-ins, and everything else
 * to the Bright Data account API, applying injected faults on the way.
 */
#ifndef LAB_API_H
#define LAB_API_H

#include <stddef.h>

#include <jansson.h>

#include "http.h"
#include "httpreq.h"

#define API_MAX_COUNT	1000		/* IPs in one POST /zone/ips */
#define API_MAX_LIST	100000		/* IPs in one listing or DELETE */

/* The http_handler_fn of the lab; arg is the struct lab. */
void	api_handle(void *arg, const struct httpreq *req, const char *body,
	    size_t bodylen, const char *peer, struct http_response *resp);
/* A JSON object body, or NULL with a 400 already set in resp. */
json_t	*api_body_object(const char *body, size_t len,
	    struct http_response *resp);

#endif
