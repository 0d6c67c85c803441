/*
 * The configuration's billing records: see config_billing.h.
 */
#include <errno.h>
#include <string.h>

#include "config/config_billing.h"

int
config_billing_policy_kind(const char *name, enum billing_policy_kind *ret)
{
	static const enum billing_policy_kind kinds[] = {
		BILLING_STABLE, BILLING_AWARE, BILLING_IDLE_TIMEOUT,
		BILLING_KEEP,
	};
	size_t	i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (strcmp(name, billing_policy_name(kinds[i])) == 0) {
			*ret = kinds[i];
			return 0;
		}
	}
	return -EINVAL;
}

int
config_billing_load(const struct config *cfg, struct config_billing *ret,
    const char **why)
{
	struct config_billing	b;

	memset(&b, 0, sizeof b);
	b.model = (struct billing_model)BILLING_MODEL_DEFAULT;
	b.model.unit = strcmp(cfg->billing_unit, "month") == 0 ?
	    BILLING_UNIT_MONTH : strcmp(cfg->billing_unit, "hour") == 0 ?
	    BILLING_UNIT_HOUR : BILLING_UNIT_DAY;
	b.model.boundary_hour_utc = (int)cfg->billing_boundary_hour;
	b.model.price_micros_per_ip_month = cfg->ip_month_price_micros;
	b.policy = (struct billing_policy)BILLING_POLICY_DEFAULT;
	if (config_billing_policy_kind(cfg->release_policy,
	    &b.policy.kind) < 0) {
		*why = "unknown release policy";
		return -EINVAL;
	}
	b.policy.margin_ms = cfg->release_margin_ms;
	b.policy.idle_timeout_ms = cfg->idle_timeout_ms;
	b.policy.change_cost_micros = cfg->ip_change_cost_micros;
	b.limits.daily_spend_max_micros = cfg->daily_spend_limit_micros;
	b.limits.purchases_max = (int)cfg->purchases_max;
	b.limits.window_ms = cfg->purchase_window_ms;
	if (billing_model_check(&b.model, why) < 0 ||
	    billing_policy_check(&b.policy, &b.model, why) < 0)
		return -EINVAL;
	*ret = b;
	return 0;
}
