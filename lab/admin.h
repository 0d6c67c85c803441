/*
 * The lab's own JSON API under /lab/ on the account API's port: the
 * ledger, the WhatsApp view, the super proxy's CONNECT log, fault
 * injection, revocation, inventory, the clock, state saving and the
 * webhook sink (webhooks.h).  It needs no key: the lab only ever listens
 * on loopback.
 */
#ifndef LAB_ADMIN_H
#define LAB_ADMIN_H

#include <stddef.h>

#include "http.h"
#include "httpreq.h"

struct lab;

void	admin_handle(struct lab *lab, const struct httpreq *req,
	    const char *body, size_t bodylen, struct http_response *resp);

#endif
