/*
 * The billing ledger.  Static IPs accrue their zone's monthly price per day
 * of allocation, a partly used day being charged in full; residential
 * traffic is charged per GB.  Days start at a configurable boundary
 * (milliseconds after UTC midnight).  Money is kept in micro-dollars so the
 * arithmetic is exact; the report adds dollars as decimals for reading.
 *
 * Everything here is pure: times are lab-clock milliseconds passed in.
 */
#ifndef LAB_LEDGER_H
#define LAB_LEDGER_H

#include <stdint.h>

#include <jansson.h>

#define LEDGER_DAY_MS		86400000LL
#define LEDGER_MAX_PERIODS	1000000		/* allocation periods kept */
#define LEDGER_MAX_TRAFFIC	65536		/* (zone, day) byte counters */
#define LEDGER_MAX_REPORT_DAYS	3660		/* days in one report */
#define LEDGER_ZONE_MAX		64

struct ledger;

struct ledger	*ledger_new(int64_t boundary_ms, int64_t days_per_month);
void		 ledger_free(struct ledger *l);

/* Day number of a lab time: days since the epoch's first boundary. */
int64_t	 ledger_day_of(int64_t ms, int64_t boundary_ms);
/* Days charged for [start, end): every day touched, at least one. */
int64_t	 ledger_period_days(int64_t start_ms, int64_t end_ms,
	    int64_t boundary_ms);
/* Price of one IP for one day, rounded to the nearest micro-dollar. */
int64_t	 ledger_daily_price(int64_t monthly_micro, int64_t days_per_month);
/* Price of a byte count at a per-GB (10^9 bytes) price, rounded. */
int64_t	 ledger_bytes_cost(int64_t bytes, int64_t per_gb_micro);

/*
 * Opens a period for an allocated IP and returns its id (>= 0), or
 * -ENOSPC when LEDGER_MAX_PERIODS is reached.
 */
int	 ledger_open(struct ledger *l, uint32_t ip, const char *zone,
	    const char *country, int64_t monthly_micro, int64_t now_ms);
void	 ledger_close(struct ledger *l, int id, int64_t now_ms);
/* -ENOSPC when LEDGER_MAX_TRAFFIC counters are in use. */
int	 ledger_add_bytes(struct ledger *l, const char *zone,
	    int64_t per_gb_micro, int64_t bytes, int64_t now_ms);

/* Totals in micro-dollars up to now_ms. */
int64_t	 ledger_total_micro(const struct ledger *l, int64_t now_ms);

/* The admin view: allocations, charges by day and spend. */
json_t	*ledger_report(const struct ledger *l, int64_t now_ms);
json_t	*ledger_save(const struct ledger *l);
int	 ledger_load(struct ledger *l, const json_t *j);

#endif
