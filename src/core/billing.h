/*
 * What proxies cost, and when an idle one should go back to the provider.
 * Pure: the billing model, the policy, the facts about one IP and the time
 * come in as arguments; a decision goes out as data.  The shell applies it
 * (a release is a provider call and a store write) and asks again at the
 * time the decision names.
 *
 * A static IP (Bright Data ISP or datacenter) is priced per IP-month and
 * accrued per unit of allocation: a day by default.  An allocation pays
 * for every unit it touches, so an IP held from 23:59 to 00:01 pays two
 * days.  Releasing an idle IP in the middle of a paid unit saves nothing;
 * releasing it shortly before the next unit starts saves that unit.  The
 * default policy (BILLING_AWARE) follows from this: an idle IP is kept for
 * reuse until a margin before its paid unit ends, then released unless the
 * phone that last used it is expected back or its country expects demand.
 * The seed's policy (release after an hour idle) and buy-and-keep are
 * available for comparison (bench/cost) and for operators who want them.
 *
 * Every time is in milliseconds since the Unix epoch (UTC), the daemon's
 * util_now_ms(); every amount of money is in micro-units of the account's
 * currency (1 USD = 1,000,000).  See docs/internals/billing.md.
 */
#ifndef RESPAWN_CORE_BILLING_H
#define RESPAWN_CORE_BILLING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BILLING_HOUR_MS		INT64_C(3600000)
#define BILLING_DAY_MS		(24 * BILLING_HOUR_MS)
/* A recheck time meaning "never": buy-and-keep never looks again. */
#define BILLING_NEVER		INT64_MAX
/* Limits that keep every product below in 64 bits. */
#define BILLING_PRICE_MAX	INT64_C(1000000000000)	/* 1,000,000 a month */
#define BILLING_DAYS_PER_MONTH_MAX	31
#define BILLING_MARGIN_MAX_MS	(30 * 60 * INT64_C(1000))
#define BILLING_TIMEOUT_MAX_MS	(31 * BILLING_DAY_MS)
/* Reconnect gaps a phone's history carries (billing_expect_back). */
#define BILLING_HISTORY_MAX	8
/* What sparing a phone one IP change is worth by default: 1.00. */
#define BILLING_CHANGE_COST_DEFAULT	INT64_C(1000000)

enum billing_unit {
	BILLING_UNIT_DAY,		/* the default */
	BILLING_UNIT_MONTH,
	BILLING_UNIT_HOUR,
};

/*
 * Where units start.  Calendar units start at boundary_hour_utc every day
 * (and on the 1st of the month, for months; hours on the hour), for every
 * IP alike, as Bright Data deducts its daily charges.  Rolling units start
 * at the IP's own allocation time (a day is then 24 hours from the
 * purchase): a provider that bills this way is described without code.
 */
enum billing_anchor {
	BILLING_ANCHOR_CALENDAR,	/* the default */
	BILLING_ANCHOR_ALLOCATION,
};

/*
 * How the provider bills, a plain record, from configuration.  A unit
 * costs price_micros_per_ip_month / days_per_month for a day, that over
 * 24 for an hour, and the whole price for a month.  Residential traffic is
 * billed by the GB and enters only the spend figures.
 */
struct billing_model {
	enum billing_unit	unit;
	enum billing_anchor	anchor;
	int			boundary_hour_utc;	/* 0..23 */
	int64_t			price_micros_per_ip_month;
	int64_t			residential_price_micros_per_gb;
	int			days_per_month;		/* 28..31, 30 */
};

#define BILLING_MODEL_DEFAULT	{					\
	.unit = BILLING_UNIT_DAY,					\
	.anchor = BILLING_ANCHOR_CALENDAR,				\
	.boundary_hour_utc = 0,						\
	.price_micros_per_ip_month = 0,					\
	.residential_price_micros_per_gb = 0,				\
	.days_per_month = 30,						\
}

/* 0, or -EINVAL and a static reason naming the bad field. */
int	 billing_model_check(const struct billing_model *m, const char **why);

/*
 * The units an allocation held over [allocated_at, released_at) touches:
 * at least one (an allocation pays for the unit it starts in, however
 * short), and a release exactly at a boundary does not touch the next
 * unit.  -EINVAL for a negative time or released_at < allocated_at.
 */
int	 billing_units(const struct billing_model *m, int64_t allocated_at,
	    int64_t released_at, int64_t *ret);
/* What that allocation costs: its units times the unit price, rounded. */
int	 billing_cost(const struct billing_model *m, int64_t allocated_at,
	    int64_t released_at, int64_t *ret_micros);
/* The price of one unit. */
int64_t	 billing_unit_price(const struct billing_model *m);
/*
 * The end of the unit an IP allocated at allocated_at is paying for at
 * now: keeping it until then costs nothing more; keeping it one
 * millisecond longer costs another unit.
 */
int	 billing_paid_until(const struct billing_model *m, int64_t allocated_at,
	    int64_t now, int64_t *ret);
/*
 * The part of an allocation's cost charged within [from, to): each unit is
 * charged when it starts, or at the allocation for the first one.  Pass
 * now as released_at for an IP still held.  Summed over the IPs, with
 * billing_day_start, this is today's spend for billing_may_purchase.
 */
int	 billing_charged_in(const struct billing_model *m, int64_t allocated_at,
	    int64_t released_at, int64_t from, int64_t to, int64_t *ret_micros);
/*
 * An IP's span as the store records it: bought (or first known) at
 * allocated_at, given back at released_at (0: held still).
 */
struct billing_span {
	int64_t	allocated_at;
	int64_t	released_at;
};

/*
 * What the provider charges within the spending day containing now, for
 * the n spans: each unit charged when it starts, or at the allocation
 * for the first one (billing_charged_in), so an IP held across the day's
 * start is charged today as much as one bought today.  The one figure of
 * the day's charges the API, /metrics and `respawn status` show.  Spans
 * that make no sense (released before allocated) are skipped; -ERANGE
 * when the sum would overflow.
 */
int	 billing_day_charged(const struct billing_model *m,
	    const struct billing_span *spans, size_t n, int64_t now,
	    int64_t *ret_micros);
/* When the spending day containing now began (at boundary_hour_utc). */
int	 billing_day_start(const struct billing_model *m, int64_t now,
	    int64_t *ret);
/*
 * A daily spend figure: what holding ips static IPs and moving
 * residential_bytes of residential traffic costs per day.  Times
 * days_per_month it is the seed's estimatedMonthlyCost.
 */
int	 billing_daily_micros(const struct billing_model *m, int64_t ips,
	    int64_t residential_bytes, int64_t *ret_micros);

enum billing_policy_kind {
	BILLING_AWARE,		/* see the top of this file */
	BILLING_IDLE_TIMEOUT,	/* the seed's: release after N minutes idle */
	BILLING_KEEP,		/* buy and keep, never release */
	BILLING_STABLE,		/* the default: aware, and IPs held for phones */
};

/*
 * When idle IPs go back, a plain record, from configuration.  margin_ms
 * is how long before the next unit an aware release happens: long enough
 * for the provider call to finish (and be retried) before the boundary.
 * An owner is expected back for twice its longest recent gap (see
 * billing_expect_back), but for no less than affinity_min_ms and no more
 * than affinity_max_ms.  change_cost_micros is what the operator would
 * pay to spare one phone an IP change (BILLING_STABLE): another phone gets
 * an IP held for its owner only when buying one costs more.
 */
struct billing_policy {
	enum billing_policy_kind	kind;
	int64_t				margin_ms;
	int64_t				idle_timeout_ms;
	int64_t				affinity_min_ms;
	int64_t				affinity_max_ms;
	int64_t				change_cost_micros;
};

#define BILLING_POLICY_DEFAULT	{					\
	.kind = BILLING_STABLE,						\
	.margin_ms = 10 * 60 * INT64_C(1000),				\
	.idle_timeout_ms = 60 * 60 * INT64_C(1000),			\
	.affinity_min_ms = 6 * BILLING_HOUR_MS,				\
	.affinity_max_ms = 12 * BILLING_HOUR_MS,			\
	.change_cost_micros = BILLING_CHANGE_COST_DEFAULT,		\
}

/* 0, or -EINVAL and a static reason; the margin must fit in a unit. */
int	 billing_policy_check(const struct billing_policy *p,
	    const struct billing_model *m, const char **why);

/*
 * The facts about one idle IP (no session uses it, none has it reserved).
 * owner_back_by is when the phone that last used it is expected back at
 * the latest (billing_expect_back), or 0 when none is.  idle_rank orders
 * the idle IPs of one country that have no expected owner, 0 for the one
 * most worth keeping: the caller ranks them (the most recently used first
 * is a fine order), and at most demand.expected of them are kept.
 */
struct billing_ip {
	int64_t	allocated_at;
	int64_t	idle_since;
	int64_t	owner_back_by;
	int	idle_rank;
};

/*
 * How many IPs of the IP's country the caller expects to be asked for
 * during the next unit beyond those phones' own IPs: sessions waiting now
 * plus, for instance, the country's new phones over the last day.
 */
struct billing_demand {
	int	expected;
};

enum billing_action {
	BILLING_ACTION_KEEP,
	BILLING_ACTION_RELEASE,
};

enum billing_reason {
	BILLING_WHY_PAID,	/* keep: the current unit is paid anyway */
	BILLING_WHY_OWNER,	/* keep: its phone is expected back */
	BILLING_WHY_DEMAND,	/* keep: its country expects demand */
	BILLING_WHY_IDLE_SHORT,	/* keep: idle less than the timeout */
	BILLING_WHY_KEEP_ALL,	/* keep: the policy never releases */
	BILLING_WHY_UNIT_ENDS,	/* release: the next unit would be charged */
	BILLING_WHY_IDLE_LONG,	/* release: idle past the timeout */
};

struct billing_decision {
	enum billing_action	action;
	enum billing_reason	reason;
	int64_t			recheck_at;	/* KEEP: ask again then */
	int64_t			paid_until;	/* the current unit's end */
};

/*
 * Keep or release one idle IP at now.  A kept IP is looked at again at
 * recheck_at (BILLING_NEVER under BILLING_KEEP); nothing about it needs a
 * look before then unless its facts change.  -EINVAL for times out of
 * order (idle before allocation, now before either).
 */
int	 billing_decide(const struct billing_model *m,
	    const struct billing_policy *p, const struct billing_ip *ip,
	    const struct billing_demand *demand, int64_t now,
	    struct billing_decision *ret);

/*
 * When a phone idle since idle_since is expected back at the latest:
 * idle_since plus twice the longest of its recent reconnect gaps (the time
 * from a disconnect to the next connect, newest first, at most
 * BILLING_HISTORY_MAX), clamped to the policy's affinity bounds.  A phone
 * with no history is given affinity_min_ms.  Returns 0 (not expected)
 * when the policy's affinity_max_ms is 0.
 */
int64_t	 billing_expect_back(const struct billing_policy *p,
	    const int64_t *gaps_ms, size_t ngaps, int64_t idle_since);

/*
 * Whether an idle IP whose phone is expected back by owner_back_by (0:
 * none) is still held for that phone at now.  The aware policy keeps such
 * an IP over a boundary; a pool that wants the share of reconnects on the
 * same IP high also offers it to no other phone meanwhile (bench/cost's
 * "affinity pool"), buying instead.
 */
bool	 billing_owner_expected(int64_t owner_back_by, int64_t now);

/*
 * Purchase limits, a plain record, from configuration; 0 means no limit.
 * The spending limit counts what today's purchases would add to today's
 * spend (one unit each); the rate limit counts purchases in the last
 * window_ms.  When refused, respawn serves from the idle pool or leaves
 * sessions waiting.
 */
struct billing_limits {
	int64_t	daily_spend_max_micros;
	int	purchases_max;
	int64_t	window_ms;
};

/*
 * How many of count purchases may go ahead now: count, or fewer when a
 * limit allows only some (the caller buys those), or a negative errno
 * when none may: -EDQUOT (the daily spending limit) or -EAGAIN (the
 * purchase rate), with a static reason in why; -EINVAL for bad input.
 */
int	 billing_may_purchase(const struct billing_model *m,
	    const struct billing_limits *l, int64_t spent_today_micros,
	    int purchases_in_window, int count, int64_t now, const char **why);

/*
 * What the limits count, kept by the caller as plain data: today's spend
 * on purchases and the times of recent purchases (a ring of the last
 * BILLING_LEDGER_MAX).  Zero-initialised is empty.
 */
#define BILLING_LEDGER_MAX	4096	/* purchase times remembered */

struct billing_ledger {
	int64_t	day;			/* the billing day spent counts */
	int64_t	spent_micros;		/* bought that day */
	int64_t	times[BILLING_LEDGER_MAX];
	size_t	n;			/* times kept */
	size_t	next;			/* the slot written next */
};

/*
 * billing_may_purchase with the ledger's figures at now: how many of
 * count may be bought (count, fewer, or a negative errno and why).
 */
int	 billing_ledger_allow(struct billing_ledger *lg,
	    const struct billing_model *m, const struct billing_limits *l,
	    int count, int64_t now, const char **why);
/* n IPs were bought at now: one unit each is today's spend. */
void	 billing_ledger_record(struct billing_ledger *lg,
	    const struct billing_model *m, int n, int64_t now);
/* Today's spend at now (0 once the billing day has turned). */
int64_t	 billing_ledger_spent(const struct billing_ledger *lg,
	    const struct billing_model *m, int64_t now);

const char	*billing_unit_name(enum billing_unit u);
const char	*billing_policy_name(enum billing_policy_kind k);
const char	*billing_reason_name(enum billing_reason r);

#endif
