/*
 * The billing ledger (see ledger.h).  Periods live in one growing array
 * indexed by id, so an allocation can close its period in O(1); traffic is
 * a short list of (zone, day) counters searched from the newest end,
 * because nearly every addition is for today.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/xmalloc.h"
#include "ledger.h"

struct period {
	uint32_t	ip;
	char		zone[LEDGER_ZONE_MAX];
	char		country[3];
	int64_t		monthly_micro;
	int64_t		start_ms;
	int64_t		end_ms;		/* -1 while allocated */
};

struct traffic {
	char		zone[LEDGER_ZONE_MAX];
	int64_t		day;
	int64_t		bytes;
	int64_t		per_gb_micro;
};

struct ledger {
	int64_t		 boundary_ms;
	int64_t		 days_per_month;
	struct period	*periods;
	size_t		 nperiods;
	size_t		 capperiods;
	struct traffic	*traffic;
	size_t		 ntraffic;
	size_t		 captraffic;
};

static int64_t
ledger_floor_div(int64_t a, int64_t b)
{
	int64_t	q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t
ledger_day_of(int64_t ms, int64_t boundary_ms)
{
	return ledger_floor_div(ms - boundary_ms, LEDGER_DAY_MS);
}

int64_t
ledger_period_days(int64_t start_ms, int64_t end_ms, int64_t boundary_ms)
{
	int64_t	first, last;

	/* An IP allocated and released in the same instant still touched a day. */
	if (end_ms <= start_ms)
		return 1;
	first = ledger_day_of(start_ms, boundary_ms);
	last = ledger_day_of(end_ms - 1, boundary_ms);
	return last - first + 1;
}

int64_t
ledger_daily_price(int64_t monthly_micro, int64_t days_per_month)
{
	if (days_per_month <= 0)
		return 0;
	return (monthly_micro + days_per_month / 2) / days_per_month;
}

int64_t
ledger_bytes_cost(int64_t bytes, int64_t per_gb_micro)
{
	__int128	v;

	v = (__int128)bytes * per_gb_micro + 500000000;
	return (int64_t)(v / 1000000000);
}

struct ledger *
ledger_new(int64_t boundary_ms, int64_t days_per_month)
{
	struct ledger	*l;

	l = xcalloc(1, sizeof(*l));
	l->boundary_ms = boundary_ms;
	l->days_per_month = days_per_month > 0 ? days_per_month : 30;
	return l;
}

void
ledger_free(struct ledger *l)
{
	if (l == NULL)
		return;
	free(l->periods);
	free(l->traffic);
	free(l);
}

int
ledger_open(struct ledger *l, uint32_t ip, const char *zone,
    const char *country, int64_t monthly_micro, int64_t now_ms)
{
	struct period	*p;

	if (l->nperiods >= LEDGER_MAX_PERIODS)
		return -ENOSPC;
	if (l->nperiods == l->capperiods) {
		l->capperiods = l->capperiods ? l->capperiods * 2 : 256;
		l->periods = xreallocarray(l->periods, l->capperiods,
		    sizeof(*l->periods));
	}
	p = &l->periods[l->nperiods];
	memset(p, 0, sizeof(*p));
	p->ip = ip;
	(void)util_strlcpy(p->zone, zone, sizeof(p->zone));
	(void)util_strlcpy(p->country, country, sizeof(p->country));
	p->monthly_micro = monthly_micro;
	p->start_ms = now_ms;
	p->end_ms = -1;
	return (int)l->nperiods++;
}

void
ledger_close(struct ledger *l, int id, int64_t now_ms)
{
	if (id < 0 || (size_t)id >= l->nperiods || l->periods[id].end_ms >= 0)
		return;
	l->periods[id].end_ms = now_ms;
}

int
ledger_add_bytes(struct ledger *l, const char *zone, int64_t per_gb_micro,
    int64_t bytes, int64_t now_ms)
{
	struct traffic	*t;
	int64_t		 day;
	size_t		 i;

	day = ledger_day_of(now_ms, l->boundary_ms);
	for (i = l->ntraffic; i > 0; i--) {
		t = &l->traffic[i - 1];
		if (t->day == day && strcmp(t->zone, zone) == 0) {
			t->bytes += bytes;
			return 0;
		}
		if (t->day < day)
			break;
	}
	if (l->ntraffic >= LEDGER_MAX_TRAFFIC)
		return -ENOSPC;
	if (l->ntraffic == l->captraffic) {
		l->captraffic = l->captraffic ? l->captraffic * 2 : 64;
		l->traffic = xreallocarray(l->traffic, l->captraffic,
		    sizeof(*l->traffic));
	}
	t = &l->traffic[l->ntraffic++];
	memset(t, 0, sizeof(*t));
	(void)util_strlcpy(t->zone, zone, sizeof(t->zone));
	t->day = day;
	t->bytes = bytes;
	t->per_gb_micro = per_gb_micro;
	return 0;
}

static int64_t
ledger_period_end(const struct period *p, int64_t now_ms)
{
	return p->end_ms >= 0 ? p->end_ms : now_ms;
}

static int64_t
ledger_period_cost(const struct ledger *l, const struct period *p,
    int64_t now_ms)
{
	return ledger_period_days(p->start_ms, ledger_period_end(p, now_ms),
	    l->boundary_ms) * ledger_daily_price(p->monthly_micro,
	    l->days_per_month);
}

int64_t
ledger_total_micro(const struct ledger *l, int64_t now_ms)
{
	int64_t	total = 0;
	size_t	i;

	for (i = 0; i < l->nperiods; i++)
		total += ledger_period_cost(l, &l->periods[i], now_ms);
	for (i = 0; i < l->ntraffic; i++)
		total += ledger_bytes_cost(l->traffic[i].bytes,
		    l->traffic[i].per_gb_micro);
	return total;
}

static json_t *
ledger_usd(int64_t micro)
{
	return json_real((double)micro / 1e6);
}

static void
ledger_fmt_day(const struct ledger *l, int64_t day, char out[16])
{
	char	tbuf[UTIL_TIME_LEN];

	util_fmt_time(day * LEDGER_DAY_MS + l->boundary_ms, tbuf);
	(void)util_strlcpy(out, tbuf, 11);
}

static void
ledger_ip_str(uint32_t ip, char out[INET_ADDRSTRLEN])
{
	struct in_addr	a = { .s_addr = htonl(ip) };

	if (inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN) == NULL)
		out[0] = '\0';
}

json_t *
ledger_report(const struct ledger *l, int64_t now_ms)
{
	json_t		*root, *allocs, *days, *byzone, *a, *d;
	int64_t		 first = INT64_MAX, last = INT64_MIN, nday, day;
	int64_t		*static_micro, *static_ips, *res_bytes, *res_micro;
	int64_t		 tot_static = 0, tot_res = 0, cost, d0, d1, k;
	char		 tbuf[UTIL_TIME_LEN], ipbuf[INET_ADDRSTRLEN], dbuf[16];
	size_t		 i;

	allocs = json_array();
	byzone = json_object();
	for (i = 0; i < l->nperiods; i++) {
		const struct period *p = &l->periods[i];
		int64_t end = ledger_period_end(p, now_ms);
		int64_t zsum;

		cost = ledger_period_cost(l, p, now_ms);
		tot_static += cost;
		zsum = json_integer_value(json_object_get(byzone, p->zone));
		json_object_set_new(byzone, p->zone, json_integer(zsum + cost));
		d0 = ledger_day_of(p->start_ms, l->boundary_ms);
		if (d0 < first)
			first = d0;
		d1 = ledger_day_of(end > p->start_ms ? end - 1 : end,
		    l->boundary_ms);
		if (d1 > last)
			last = d1;
		ledger_ip_str(p->ip, ipbuf);
		a = json_object();
		json_object_set_new(a, "ip", json_string(ipbuf));
		json_object_set_new(a, "zone", json_string(p->zone));
		json_object_set_new(a, "country", json_string(p->country));
		util_fmt_time(p->start_ms, tbuf);
		json_object_set_new(a, "allocated_at", json_string(tbuf));
		if (p->end_ms >= 0) {
			util_fmt_time(p->end_ms, tbuf);
			json_object_set_new(a, "released_at", json_string(tbuf));
		} else
			json_object_set_new(a, "released_at", json_null());
		json_object_set_new(a, "days_charged", json_integer(
		    ledger_period_days(p->start_ms, end, l->boundary_ms)));
		json_object_set_new(a, "charged_micro_usd", json_integer(cost));
		json_object_set_new(a, "charged_usd", ledger_usd(cost));
		json_array_append_new(allocs, a);
	}
	for (i = 0; i < l->ntraffic; i++) {
		const struct traffic *t = &l->traffic[i];
		int64_t zsum;

		cost = ledger_bytes_cost(t->bytes, t->per_gb_micro);
		tot_res += cost;
		zsum = json_integer_value(json_object_get(byzone, t->zone));
		json_object_set_new(byzone, t->zone, json_integer(zsum + cost));
		if (t->day < first)
			first = t->day;
		if (t->day > last)
			last = t->day;
	}

	/* Charges by day; the newest LEDGER_MAX_REPORT_DAYS days are shown. */
	days = json_array();
	if (first <= last) {
		if (last - first + 1 > LEDGER_MAX_REPORT_DAYS)
			first = last - LEDGER_MAX_REPORT_DAYS + 1;
		nday = last - first + 1;
		static_micro = xcalloc((size_t)nday, sizeof(int64_t));
		static_ips = xcalloc((size_t)nday, sizeof(int64_t));
		res_bytes = xcalloc((size_t)nday, sizeof(int64_t));
		res_micro = xcalloc((size_t)nday, sizeof(int64_t));
		for (i = 0; i < l->nperiods; i++) {
			const struct period *p = &l->periods[i];
			int64_t end = ledger_period_end(p, now_ms);
			int64_t price = ledger_daily_price(p->monthly_micro,
			    l->days_per_month);

			d0 = ledger_day_of(p->start_ms, l->boundary_ms);
			d1 = ledger_day_of(end > p->start_ms ? end - 1 : end,
			    l->boundary_ms);
			if (d1 < d0)
				d1 = d0;
			for (day = d0 < first ? first : d0; day <= d1; day++) {
				static_micro[day - first] += price;
				static_ips[day - first]++;
			}
		}
		for (i = 0; i < l->ntraffic; i++) {
			const struct traffic *t = &l->traffic[i];

			if (t->day < first)
				continue;
			res_bytes[t->day - first] += t->bytes;
			res_micro[t->day - first] += ledger_bytes_cost(t->bytes,
			    t->per_gb_micro);
		}
		for (k = 0; k < nday; k++) {
			d = json_object();
			ledger_fmt_day(l, first + k, dbuf);
			json_object_set_new(d, "day", json_string(dbuf));
			json_object_set_new(d, "static_ips",
			    json_integer(static_ips[k]));
			json_object_set_new(d, "static_micro_usd",
			    json_integer(static_micro[k]));
			json_object_set_new(d, "residential_bytes",
			    json_integer(res_bytes[k]));
			json_object_set_new(d, "residential_micro_usd",
			    json_integer(res_micro[k]));
			json_object_set_new(d, "total_micro_usd",
			    json_integer(static_micro[k] + res_micro[k]));
			json_object_set_new(d, "total_usd",
			    ledger_usd(static_micro[k] + res_micro[k]));
			json_array_append_new(days, d);
		}
		free(static_micro);
		free(static_ips);
		free(res_bytes);
		free(res_micro);
	}

	root = json_object();
	util_fmt_time(now_ms, tbuf);
	json_object_set_new(root, "now", json_string(tbuf));
	json_object_set_new(root, "day_boundary_ms",
	    json_integer(l->boundary_ms));
	json_object_set_new(root, "days_per_month",
	    json_integer(l->days_per_month));
	json_object_set_new(root, "allocations", allocs);
	json_object_set_new(root, "days", days);
	a = json_object();
	json_object_set_new(a, "static_micro_usd", json_integer(tot_static));
	json_object_set_new(a, "residential_micro_usd", json_integer(tot_res));
	json_object_set_new(a, "total_micro_usd",
	    json_integer(tot_static + tot_res));
	json_object_set_new(a, "total_usd", ledger_usd(tot_static + tot_res));
	json_object_set_new(a, "by_zone_micro_usd", byzone);
	json_object_set_new(root, "spend", a);
	return root;
}

json_t *
ledger_save(const struct ledger *l)
{
	json_t	*root, *ps, *ts;
	size_t	 i;

	ps = json_array();
	for (i = 0; i < l->nperiods; i++) {
		const struct period *p = &l->periods[i];

		json_array_append_new(ps, json_pack("{s:I,s:s,s:s,s:I,s:I,s:I}",
		    "ip", (json_int_t)p->ip, "zone", p->zone, "country",
		    p->country, "monthly_micro", (json_int_t)p->monthly_micro,
		    "start", (json_int_t)p->start_ms, "end",
		    (json_int_t)p->end_ms));
	}
	ts = json_array();
	for (i = 0; i < l->ntraffic; i++) {
		const struct traffic *t = &l->traffic[i];

		json_array_append_new(ts, json_pack("{s:s,s:I,s:I,s:I}",
		    "zone", t->zone, "day", (json_int_t)t->day, "bytes",
		    (json_int_t)t->bytes, "per_gb_micro",
		    (json_int_t)t->per_gb_micro));
	}
	root = json_object();
	json_object_set_new(root, "periods", ps);
	json_object_set_new(root, "traffic", ts);
	return root;
}

int
ledger_load(struct ledger *l, const json_t *j)
{
	json_t		*v;
	size_t		 i;
	json_int_t	 ip, monthly, start, end, day, bytes, price;
	const char	*zone, *country;
	int		 id;

	json_array_foreach(json_object_get(j, "periods"), i, v) {
		if (json_unpack((json_t *)v, "{s:I,s:s,s:s,s:I,s:I,s:I}", "ip",
		    &ip, "zone", &zone, "country", &country, "monthly_micro",
		    &monthly, "start", &start, "end", &end) != 0)
			return -EINVAL;
		id = ledger_open(l, (uint32_t)ip, zone, country, monthly, start);
		if (id < 0)
			return id;
		if (end >= 0)
			ledger_close(l, id, end);
	}
	json_array_foreach(json_object_get(j, "traffic"), i, v) {
		if (json_unpack((json_t *)v, "{s:s,s:I,s:I,s:I}", "zone", &zone,
		    "day", &day, "bytes", &bytes, "per_gb_micro", &price) != 0)
			return -EINVAL;
		if (ledger_add_bytes(l, zone, price, bytes,
		    day * LEDGER_DAY_MS + l->boundary_ms) != 0)
			return -ENOSPC;
	}
	return 0;
}
