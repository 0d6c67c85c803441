/*
 * Prometheus text exposition: see metrics.h.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/metrics.h"

void
metrics_hist_init(struct metrics_hist *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof *h);
	if (n > METRICS_BUCKETS_MAX)
		n = METRICS_BUCKETS_MAX;
	memcpy(h->bounds, bounds, n * sizeof *bounds);
	h->nbounds = n;
}

void
metrics_hist_observe(struct metrics_hist *h, double v)
{
	size_t	i;

	for (i = 0; i < h->nbounds && v > h->bounds[i]; i++)
		;
	h->counts[i]++;
	h->sum += v;
	h->count++;
}

static const char *
metrics_type_name(enum metrics_type t)
{
	switch (t) {
	case METRICS_COUNTER:
		return "counter";
	case METRICS_GAUGE:
		return "gauge";
	default:
		return "histogram";
	}
}

/* HELP text escapes only backslash and newline. */
int
metrics_family(struct buf *b, const char *name, enum metrics_type t,
    const char *help)
{
	const char	*p;
	int		 r;

	if ((r = buf_printf(b, "# HELP %s ", name)) < 0)
		return r;
	for (p = help; *p != '\0'; p++) {
		if (*p == '\\')
			r = buf_puts(b, "\\\\");
		else if (*p == '\n')
			r = buf_puts(b, "\\n");
		else
			r = buf_append(b, p, 1);
		if (r < 0)
			return r;
	}
	return buf_printf(b, "\n# TYPE %s %s\n", name, metrics_type_name(t));
}

/* {a="x",b="y"} from name, value pairs; "" when there are none. */
static int
metrics_labels(struct buf *b, va_list ap, const char *extra_name,
    const char *extra_value)
{
	const char	*n, *v, *p;
	int		 first = 1, r = 0;
	bool		 args_done = false;

	for (;;) {
		/* The caller's pairs first, then the extra one; never past NULL. */
		if (!args_done && (n = va_arg(ap, const char *)) != NULL) {
			v = va_arg(ap, const char *);
		} else {
			args_done = true;
			if (extra_name == NULL)
				break;
			n = extra_name;
			v = extra_value;
			extra_name = NULL;
		}
		if ((r = buf_puts(b, first ? "{" : ",")) < 0 ||
		    (r = buf_printf(b, "%s=\"", n)) < 0)
			return r;
		first = 0;
		for (p = v; *p != '\0' && r >= 0; p++) {
			if (*p == '\\')
				r = buf_puts(b, "\\\\");
			else if (*p == '"')
				r = buf_puts(b, "\\\"");
			else if (*p == '\n')
				r = buf_puts(b, "\\n");
			else
				r = buf_append(b, p, 1);
		}
		if (r < 0 || (r = buf_puts(b, "\"")) < 0)
			return r;
	}
	return first ? 0 : buf_puts(b, "}");
}

static void
metrics_truncate(struct buf *b, size_t mark)
{
	if (b->data != NULL) {
		b->len = mark;
		b->data[mark] = '\0';
	}
}

/* Go's and Prometheus' own spelling of the special values. */
static int
metrics_value(struct buf *b, double v)
{
	if (isnan(v))
		return buf_puts(b, " NaN\n");
	if (isinf(v))
		return buf_puts(b, v > 0 ? " +Inf\n" : " -Inf\n");
	if (v == (double)(int64_t)v && fabs(v) < 9e15)
		return buf_printf(b, " %lld\n", (long long)v);
	return buf_printf(b, " %.17g\n", v);
}

int
metrics_sample(struct buf *b, const char *name, double v, ...)
{
	va_list	ap;
	size_t	mark = b->len;
	int	r;

	va_start(ap, v);
	if ((r = buf_puts(b, name)) >= 0 &&
	    (r = metrics_labels(b, ap, NULL, NULL)) >= 0)
		r = metrics_value(b, v);
	va_end(ap);
	if (r < 0)	/* leave no half line behind */
		metrics_truncate(b, mark);
	return r;
}

int
metrics_hist_write(struct buf *b, const char *name,
    const struct metrics_hist *h, ...)
{
	va_list		 ap;
	char		 le[32];
	uint64_t	 cum = 0;
	size_t		 i, mark = b->len;
	int		 r = 0;

	for (i = 0; i <= h->nbounds && r >= 0; i++) {
		cum += h->counts[i];
		if (i < h->nbounds)
			snprintf(le, sizeof le, "%.17g", h->bounds[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		va_start(ap, h);
		if ((r = buf_printf(b, "%s_bucket", name)) >= 0 &&
		    (r = metrics_labels(b, ap, "le", le)) >= 0)
			r = metrics_value(b, (double)cum);
		va_end(ap);
	}
	if (r >= 0) {
		va_start(ap, h);
		if ((r = buf_printf(b, "%s_sum", name)) >= 0 &&
		    (r = metrics_labels(b, ap, NULL, NULL)) >= 0)
			r = metrics_value(b, h->sum);
		va_end(ap);
	}
	if (r >= 0) {
		va_start(ap, h);
		if ((r = buf_printf(b, "%s_count", name)) >= 0 &&
		    (r = metrics_labels(b, ap, NULL, NULL)) >= 0)
			r = metrics_value(b, (double)h->count);
		va_end(ap);
	}
	if (r < 0)
		metrics_truncate(b, mark);
	return r;
}
