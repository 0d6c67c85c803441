/*
 * Prometheus text exposition (format 0.0.4) for /metrics: a writer that
 * renders metric families into a bounded buffer, and a fixed-bucket
 * histogram.  It holds no registry: the daemon owns its counters where
 * they change and renders them when scraped, so a scrape costs one pass
 * over state the daemon already has, and nothing is counted twice.
 *
 * Each family is announced once (# HELP, # TYPE) and its samples follow
 * it, as the format requires.  Label values are escaped (\\, \", \n);
 * names are the caller's constants.
 */
#ifndef RESPAWN_METRICS_H
#define RESPAWN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define METRICS_OUT_MAX		(8 * 1024 * 1024)	/* one scrape */
#define METRICS_BUCKETS_MAX	16
#define METRICS_LABELS_MAX	512	/* one sample's label set */

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

/* Fixed upper bounds (seconds), ascending; +Inf is implicit. */
struct metrics_hist {
	double		bounds[METRICS_BUCKETS_MAX];
	size_t		nbounds;
	uint64_t	counts[METRICS_BUCKETS_MAX + 1];	/* not cumulative */
	double		sum;
	uint64_t	count;
};

/* bounds: nbounds ascending values (at most METRICS_BUCKETS_MAX). */
void	metrics_hist_init(struct metrics_hist *h, const double *bounds,
	    size_t nbounds);
void	metrics_hist_observe(struct metrics_hist *h, double v);

/* # HELP and # TYPE of a family. */
int	metrics_family(struct buf *b, const char *name, enum metrics_type t,
	    const char *help);
/*
 * One sample.  labels is NULL or a list of name, value pairs ending with
 * NULL: metrics_sample(b, "x", v, "country", "de", NULL).
 */
int	metrics_sample(struct buf *b, const char *name, double v, ...)
	    __attribute__((sentinel));
/* A histogram's _bucket, _sum and _count samples, with optional labels. */
int	metrics_hist_write(struct buf *b, const char *name,
	    const struct metrics_hist *h, ...) __attribute__((sentinel));

#endif
