/*
 * The billing model, release policy and purchase limits the configuration
 * describes (RESPAWN_BILLING_*, RESPAWN_RELEASE_*, RESPAWN_IP_*,
 * RESPAWN_PURCHASE*), as the core's plain records.  The daemon and
 * `respawn cost simulate` both build them here, so the simulator replays
 * the policy the daemon would run.
 */
#ifndef RESPAWN_CONFIG_BILLING_H
#define RESPAWN_CONFIG_BILLING_H

#include "config/config.h"
#include "core/billing.h"

struct config_billing {
	struct billing_model	model;
	struct billing_policy	policy;
	struct billing_limits	limits;
};

/* 0, or -EINVAL with a static reason (already checked by the core). */
int	config_billing_load(const struct config *cfg,
	    struct config_billing *ret, const char **why);
/* A policy's name ("stable", "aware", ...) as its kind; -EINVAL if none. */
int	config_billing_policy_kind(const char *name,
	    enum billing_policy_kind *ret);

#endif
