/*
 * Stand-ins for Google Secret Manager's REST API and the metadata
 * server's token endpoint, so the daemon's "projects/P/secrets/S/
 * versions/V" secret references work without the internet:
 *
 *   GET /computeMetadata/v1/instance/service-accounts/default/token
 *       (requires "Metadata-Flavor: Google")
 *   GET /v1/projects/P/secrets/S/versions/V:access
 *       (requires "Authorization: Bearer <a token from above>")
 */
#ifndef LAB_GSM_H
#define LAB_GSM_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "http.h"
#include "httpreq.h"
#include "rng.h"

#define GSM_MAX_SECRETS		256
#define GSM_MAX_VERSIONS	64
#define GSM_MAX_TOKENS		16
#define GSM_VALUE_MAX		(64 * 1024)

struct lab;
struct gsm;

/* secrets: {"projects/P/secrets/S": "value" | ["v1", "v2", ...]} */
int	 gsm_new(const json_t *secrets, int64_t token_ttl_s, struct gsm **ret);
void	 gsm_free(struct gsm *g);
bool	 gsm_owns(const char *path);
void	 gsm_handle(struct lab *lab, const struct httpreq *req,
	    const char *path, struct http_response *resp);
/* Adds a new version; returns its number or a negative errno. */
int	 gsm_add_version(struct gsm *g, const char *name, const char *value);
json_t	*gsm_json(const struct gsm *g);	/* names and version counts */
json_t	*gsm_save(const struct gsm *g);
int	 gsm_load(struct gsm *g, const json_t *j);
/* CRC-32C (Castagnoli), as in the payload's dataCrc32c. */
uint32_t gsm_crc32c(const void *data, size_t n);

#endif
