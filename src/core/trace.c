/*
 * Traces of connected intervals: see trace.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/intmap.h"
#include "base/rng.h"
#include "base/util.h"
#include "base/validate.h"
#include "base/xmalloc.h"
#include "core/trace.h"

#define TRACE_SEC		INT64_C(1000)
#define TRACE_MIN		(60 * TRACE_SEC)
#define TRACE_HOUR		(60 * TRACE_MIN)
#define TRACE_DAY		(24 * TRACE_HOUR)
#define TRACE_FIELDS		5

struct trace {
	struct trace_phone	*phones;
	size_t			 nphones, pcap;
	struct intmap		*by_number;	/* E.164 digits -> index + 1 */
	struct trace_interval	*iv;
	size_t			 n, cap;
	bool			 finished;
};

struct trace *
trace_new(void)
{
	struct trace	*t = xcalloc(1, sizeof *t);

	t->by_number = intmap_new();
	return t;
}

void
trace_free(struct trace *t)
{
	if (t == NULL)
		return;
	intmap_free(t->by_number);
	free(t->phones);
	free(t->iv);
	free(t);
}

/* The phone's index, added on first sight; its country must not change. */
static int
trace_phone_index(struct trace *t, const char *phone, const char *country,
    size_t *ret, const char **why)
{
	char		 cc[COUNTRY_CODE_LEN];
	int64_t		 number;
	uintptr_t	 v;

	if (validate_phone(phone, why) < 0)
		return -EINVAL;
	if (validate_country(country, cc, why) < 0)
		return -EINVAL;
	if (country_index(cc) < 0) {
		*why = "is not an ISO 3166-1 alpha-2 country code";
		return -EINVAL;
	}
	/* Fifteen digits at most: the number fits, and names the phone. */
	if (util_parse_i64(phone + 1, 1, INT64_MAX, &number) < 0) {
		*why = "must have 8 to 15 digits after '+' (E.164)";
		return -EINVAL;
	}
	if ((v = (uintptr_t)intmap_get(t->by_number, number)) != 0) {
		if (strcmp(t->phones[v - 1].country, cc) != 0) {
			*why = "phone appears with two countries";
			return -EINVAL;
		}
		*ret = v - 1;
		return 0;
	}
	if (t->nphones >= TRACE_PHONES_MAX) {
		*why = "more phones than a trace may hold (100,000)";
		return -E2BIG;
	}
	if (t->nphones == t->pcap) {
		t->pcap = t->pcap ? t->pcap * 2 : 256;
		t->phones = xreallocarray(t->phones, t->pcap,
		    sizeof *t->phones);
	}
	(void)util_strlcpy(t->phones[t->nphones].phone, phone, PHONE_LEN);
	memcpy(t->phones[t->nphones].country, cc, COUNTRY_CODE_LEN);
	intmap_put(t->by_number, number, (void *)(uintptr_t)(t->nphones + 1));
	*ret = t->nphones++;
	return 0;
}

int
trace_add(struct trace *t, const char *phone, const char *country,
    int64_t start, int64_t end, bool restart, size_t line, const char **why)
{
	size_t	idx;
	int	r;

	if (start < 0 || end <= start) {
		*why = "end must come after start";
		return -EINVAL;
	}
	if (end - start > TRACE_SPAN_MAX_MS) {
		*why = "an interval may span at most 366 days";
		return -EINVAL;
	}
	if (t->n >= TRACE_INTERVALS_MAX) {
		*why = "more intervals than a trace may hold (5,000,000)";
		return -E2BIG;
	}
	if ((r = trace_phone_index(t, phone, country, &idx, why)) < 0)
		return r;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4096;
		t->iv = xreallocarray(t->iv, t->cap, sizeof *t->iv);
	}
	t->iv[t->n++] = (struct trace_interval){ .phone = idx, .start = start,
	    .end = end, .restart = restart, .line = line };
	t->finished = false;
	return 0;
}

int
trace_parse_line(struct trace *t, const char *line, size_t len,
    size_t lineno, const char **why)
{
	char	 buf[TRACE_LINE_MAX + 1], *f[TRACE_FIELDS];
	int64_t	 start, end;
	size_t	 n, i;
	bool	 restart = false;

	if (len > TRACE_LINE_MAX) {
		*why = "line longer than 1024 bytes";
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		if (line[i] == '\0') {
			*why = "line holds a NUL byte";
			return -EINVAL;
		}
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	/* A comment may say anything. */
	if (buf[strspn(buf, " \t\r")] == '#')
		return 0;
	if (util_split_fields(buf, f, TRACE_FIELDS, &n) < 0) {
		*why = "too many fields: want PHONE COUNTRY START END "
		    "[stop|restart]";
		return -EINVAL;
	}
	if (n == 0)
		return 0;
	if (n < 4) {
		*why = "too few fields: want PHONE COUNTRY START END "
		    "[stop|restart]";
		return -EINVAL;
	}
	if (util_parse_time_ms(f[2], &start) < 0 ||
	    util_parse_time_ms(f[3], &end) < 0) {
		*why = "START and END must be RFC 3339 UTC "
		    "(2026-03-02T08:00:00Z) or Unix seconds";
		return -EINVAL;
	}
	if (n == 5) {
		if (strcmp(f[4], "restart") == 0)
			restart = true;
		else if (strcmp(f[4], "stop") != 0) {
			*why = "the last field must be stop or restart";
			return -EINVAL;
		}
	}
	return trace_add(t, f[0], f[1], start, end, restart, lineno, why);
}

static int
trace_cmp(const void *a, const void *b)
{
	const struct trace_interval	*x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->phone != y->phone)
		return x->phone < y->phone ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

int
trace_finish(struct trace *t, const char **why, size_t *line)
{
	int64_t	*last_end, from, to;
	size_t	*last_line, i;

	if (t->n == 0) {
		*why = "the trace holds no interval";
		*line = 0;
		return -ENODATA;
	}
	qsort(t->iv, t->n, sizeof *t->iv, trace_cmp);
	last_end = xcalloc(t->nphones, sizeof *last_end);
	last_line = xcalloc(t->nphones, sizeof *last_line);
	for (i = 0; i < t->nphones; i++)
		last_end[i] = -1;
	for (i = 0; i < t->n; i++) {
		const struct trace_interval *iv = &t->iv[i];

		if (iv->start < last_end[iv->phone]) {
			*why = "a phone's intervals overlap";
			*line = iv->line != 0 ? iv->line :
			    last_line[iv->phone];
			free(last_end);
			free(last_line);
			return -EINVAL;
		}
		last_end[iv->phone] = iv->end;
		last_line[iv->phone] = iv->line;
	}
	free(last_end);
	free(last_line);
	trace_span(t, &from, &to);
	if (to - from > TRACE_SPAN_MAX_MS) {
		*why = "the trace spans more than 366 days";
		*line = 0;
		return -EINVAL;
	}
	t->finished = true;
	return 0;
}

size_t
trace_nphones(const struct trace *t)
{
	return t->nphones;
}

const struct trace_phone *
trace_phone_at(const struct trace *t, size_t i)
{
	return i < t->nphones ? &t->phones[i] : NULL;
}

size_t
trace_nintervals(const struct trace *t)
{
	return t->n;
}

const struct trace_interval *
trace_interval_at(const struct trace *t, size_t i)
{
	return i < t->n ? &t->iv[i] : NULL;
}

void
trace_span(const struct trace *t, int64_t *ret_from, int64_t *ret_to)
{
	int64_t	from = 0, to = 0;
	size_t	i;

	for (i = 0; i < t->n; i++) {
		if (i == 0 || t->iv[i].start < from)
			from = t->iv[i].start;
		if (t->iv[i].end > to)
			to = t->iv[i].end;
	}
	*ret_from = from;
	*ret_to = to;
}

/* --- the generator ------------------------------------------------------ */

/*
 * The generator's assumptions, each a constant here and a line in
 * docs/BENCHMARKS.md:
 *
 *   - half the phone slots are always-on phones: online all the time but
 *     for network drops (70 % of a few minutes, 25 % of hours, 5 % of one
 *     to four days), with online stretches of two days on average;
 *   - 35 % are intermittent: on for 1 to 8 hours, off for 5 minutes to 2
 *     hours, or (60 % of the time, at their country's night) until the
 *     local morning;
 *   - the rest are churning numbers: a number lives 1 to 10 days (always
 *     on or intermittent), leaves for good, and a new number, perhaps of
 *     another country, takes the slot after up to 2 days;
 *   - a daily deploy at 03:00 UTC: every connected session ends by a
 *     restart and reconnects 1 to 20 seconds later;
 *   - countries by a Zipf-like weight (a few big ones, a long tail).
 */
#define TRACE_ALWAYS_PCT	50
#define TRACE_INTERMITTENT_PCT	35
#define TRACE_DEPLOY_HOUR	3

enum trace_kind { TRACE_ALWAYS, TRACE_INTERMITTENT, TRACE_CHURN };

/* The generator's countries and their UTC offsets, for their nights. */
static const struct {
	const char	*code;
	int		 utc_offset;
} trace_countries[TRACE_COUNTRIES_MAX] = {
	{ "br", -3 }, { "in", 5 }, { "de", 1 }, { "tr", 3 }, { "us", -5 },
	{ "id", 7 }, { "gb", 0 }, { "es", 1 }, { "eg", 2 }, { "mx", -6 },
	{ "ph", 8 }, { "sa", 3 }, { "it", 1 }, { "ve", -4 }, { "ae", 4 },
	{ "fr", 1 }, { "jp", 9 }, { "za", 2 }, { "ar", -3 }, { "pt", 0 },
};

struct trace_gen_state {
	struct trace	*t;
	struct rng	 rng;
	int		 ncountries;
	int64_t		 start, end;
	int		 failed;	/* a negative errno once a limit hits */
};

/* Uniform in [lo, hi]. */
static int64_t
trace_uniform(struct trace_gen_state *g, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rng_next(&g->rng) % (uint64_t)(hi - lo + 1));
}

static bool
trace_chance(struct trace_gen_state *g, int pct)
{
	return (int)(rng_next(&g->rng) % 100) < pct;
}

static int
trace_pick_country(struct trace_gen_state *g)
{
	int64_t	total = 0, x;
	int	c;

	for (c = 0; c < g->ncountries; c++)
		total += 1000 / (c + 1);
	x = trace_uniform(g, 0, total - 1);
	for (c = 0; c < g->ncountries; c++) {
		x -= 1000 / (c + 1);
		if (x < 0)
			return c;
	}
	return g->ncountries - 1;
}

static void
trace_gen_add(struct trace_gen_state *g, const char *phone, int country,
    int64_t s, int64_t e, bool restart)
{
	const char	*why;
	int		 r;

	if (g->failed != 0)
		return;
	if ((r = trace_add(g->t, phone, trace_countries[country].code, s, e,
	    restart, 0, &why)) < 0)
		g->failed = r;
}

/*
 * One online stretch [s, e), split at every deploy inside it: the
 * session ends by a restart and is back seconds later.
 */
static void
trace_online(struct trace_gen_state *g, const char *phone, int country,
    int64_t s, int64_t e)
{
	int64_t	d, back;

	if (e > g->end)
		e = g->end;
	if (s >= e)
		return;
	d = (s - g->start) / TRACE_DAY * TRACE_DAY + g->start +
	    TRACE_DEPLOY_HOUR * TRACE_HOUR;
	for (; d < e; d += TRACE_DAY) {
		if (d <= s)
			continue;
		back = d + trace_uniform(g, TRACE_SEC, 20 * TRACE_SEC);
		if (back >= e)
			break;
		trace_gen_add(g, phone, country, s, d, true);
		s = back;
	}
	trace_gen_add(g, phone, country, s, e, false);
}

static int64_t
trace_always_gap(struct trace_gen_state *g)
{
	int	x = (int)(rng_next(&g->rng) % 100);

	if (x < 70)
		return trace_uniform(g, TRACE_MIN, 30 * TRACE_MIN);
	if (x < 95)
		return trace_uniform(g, TRACE_HOUR, 8 * TRACE_HOUR);
	return trace_uniform(g, TRACE_DAY, 4 * TRACE_DAY);
}

static int64_t
trace_intermittent_gap(struct trace_gen_state *g, int country, int64_t t)
{
	int64_t	local = t + trace_countries[country].utc_offset * TRACE_HOUR;
	int64_t	hour, morning;

	hour = (local % TRACE_DAY + TRACE_DAY) % TRACE_DAY / TRACE_HOUR;
	if ((hour >= 23 || hour < 6) && trace_chance(g, 60)) {
		morning = local - (local % TRACE_DAY + TRACE_DAY) % TRACE_DAY +
		    7 * TRACE_HOUR + (hour >= 23 ? TRACE_DAY : 0);
		return morning - local + trace_uniform(g, 0, 2 * TRACE_HOUR);
	}
	return trace_uniform(g, 5 * TRACE_MIN, 2 * TRACE_HOUR);
}

/*
 * The natural logarithm of x > 0, without libm (the core links with libc
 * alone): x = m * 2^e with m in [1, 2), and ln m = 2 atanh((m-1)/(m+1)),
 * whose series converges fast for z <= 1/3.
 */
static double
trace_ln(double x)
{
	const double	ln2 = 0.69314718055994530942;
	double		z, z2, term, sum = 0;
	int		e = 0, k;

	while (x >= 2) {
		x /= 2;
		e++;
	}
	while (x < 1) {
		x *= 2;
		e--;
	}
	z = (x - 1) / (x + 1);
	z2 = z * z;
	term = z;
	for (k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= z2;
	}
	return 2 * sum + e * ln2;
}

/* A number's life from born to gone: online and offline in turn. */
static void
trace_life(struct trace_gen_state *g, const char *phone, int country,
    enum trace_kind kind, int64_t born, int64_t gone)
{
	int64_t	t = born, on;

	while (t < gone && g->failed == 0) {
		if (kind == TRACE_ALWAYS)
			/* Exponential, two days on average. */
			on = (int64_t)(-trace_ln(1 - rng_double(&g->rng)) *
			    2 * TRACE_DAY);
		else
			on = trace_uniform(g, TRACE_HOUR, 8 * TRACE_HOUR);
		if (on < TRACE_MIN)
			on = TRACE_MIN;
		if (t + on > gone)
			on = gone - t;
		trace_online(g, phone, country, t, t + on);
		t += on;
		t += kind == TRACE_ALWAYS ? trace_always_gap(g) :
		    trace_intermittent_gap(g, country, t);
	}
}

int
trace_generate(struct trace *t, const struct trace_gen *gen)
{
	struct trace_gen_state	 g = { .t = t };
	char			 phone[PHONE_LEN];
	const char		*why;
	int64_t			 born, gone;
	size_t			 line, number = 0;
	int			 s, x, country;
	enum trace_kind		 slot, kind;

	if (gen->phones < 1 || gen->phones > TRACE_PHONES_MAX ||
	    gen->days < 1 || gen->days > TRACE_DAYS_MAX ||
	    gen->countries < 1 || gen->countries > TRACE_COUNTRIES_MAX ||
	    gen->start < 0 || gen->start % TRACE_DAY != 0)
		return -EINVAL;
	rng_seed_with(&g.rng, gen->seed);
	g.ncountries = gen->countries;
	g.start = gen->start;
	g.end = gen->start + gen->days * TRACE_DAY;
	for (s = 0; s < gen->phones && g.failed == 0; s++) {
		x = (int)(rng_next(&g.rng) % 100);
		slot = x < TRACE_ALWAYS_PCT ? TRACE_ALWAYS :
		    x < TRACE_ALWAYS_PCT + TRACE_INTERMITTENT_PCT ?
		    TRACE_INTERMITTENT : TRACE_CHURN;
		born = g.start + trace_uniform(&g, 0, 10 * TRACE_MIN);
		do {
			country = trace_pick_country(&g);
			kind = slot;
			gone = g.end;
			if (slot == TRACE_CHURN) {
				kind = trace_chance(&g, 50) ? TRACE_ALWAYS :
				    TRACE_INTERMITTENT;
				gone = born + trace_uniform(&g, TRACE_DAY,
				    10 * TRACE_DAY);
			}
			/* +1 555 and eight digits: one number each. */
			if (number >= TRACE_PHONES_MAX) {
				g.failed = -E2BIG;
				break;
			}
			snprintf(phone, sizeof phone, "+1555%08zu", number++);
			trace_life(&g, phone, country, kind, born, gone);
			born = gone + trace_uniform(&g, 0, 2 * TRACE_DAY);
		} while (slot == TRACE_CHURN && born < g.end);
	}
	if (g.failed != 0)
		return g.failed;
	return trace_finish(t, &why, &line);
}
