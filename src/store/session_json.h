/*
 * The JSON form of a session, shared by the CLI and (later) the HTTP API,
 * so both speak the seed's vocabulary (userId, phoneNumber, country,
 * gracefulShutdown, shutdownAt, instanceId, proxyIp ...).
 */
#ifndef RESPAWN_SESSION_JSON_H
#define RESPAWN_SESSION_JSON_H

#include <jansson.h>

#include "store/store.h"

/* A new reference to the session's JSON object. */
json_t	*session_json_new(const struct session *s);

#endif
