/*
 * Fuzz target for import_parse (src/store/import_parse.c), which reads
 * the files `respawn import` is given: Firestore exports, csv and JSON
 * lines.  Besides memory errors it checks the parser's promises: success
 * (0), a file that cannot be read (-EINVAL) or too much (-E2BIG), with a
 * reason and no output; a set within IMPORT_ROWS_MAX; every row placed
 * (a line within the text, or a collection/document) and either refused
 * with a reason or valid (user id, E.164 phone, a known lower-case
 * country, a proxy IP of the store's characters, a priority in range);
 * no phone in two good rows; the same text parsed again as the format it
 * was found to be gives the same rows; and the good rows written out as
 * csv parse back to the same sessions and proxies.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "base/validate.h"
#include "store/import_parse.h"
#include "fuzz.h"

static size_t
fuzz_lines(const uint8_t *data, size_t size)
{
	size_t	i, n = 1;

	for (i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

static void
fuzz_check_row(const struct import_row *row, size_t lines)
{
	const char	*why;
	char		 cc[COUNTRY_CODE_LEN];
	size_t		 i;

	FUZZ_CHECK(memchr(row->where, '\0', sizeof row->where) != NULL);
	FUZZ_CHECK(row->where[0] != '\0');
	FUZZ_CHECK(memchr(row->error, '\0', sizeof row->error) != NULL);
	FUZZ_CHECK(row->line <= lines);
	if (row->error[0] != '\0')
		return;
	FUZZ_CHECK(validate_user_id(row->s.user_id, &why) == 0);
	FUZZ_CHECK(validate_phone(row->s.phone, &why) == 0);
	FUZZ_CHECK(validate_country(row->s.country, cc, &why) == 0);
	FUZZ_CHECK(strcmp(cc, row->s.country) == 0);
	if (row->proxy_country[0] != '\0') {
		FUZZ_CHECK(validate_country(row->proxy_country, cc, &why) == 0);
		FUZZ_CHECK(strcmp(cc, row->proxy_country) == 0);
	}
	FUZZ_CHECK(row->s.priority >= -1000000 && row->s.priority <= 1000000);
	FUZZ_CHECK(row->s.desired == SESSION_DESIRED_RUNNING ||
	    row->s.desired == SESSION_DESIRED_STOPPED);
	FUZZ_CHECK(row->s.proxy_type == PROXY_TYPE_ISP ||
	    row->s.proxy_type == PROXY_TYPE_RESIDENTIAL);
	FUZZ_CHECK(strlen(row->proxy_ip) < STORE_IP_LEN);
	for (i = 0; row->proxy_ip[i] != '\0'; i++)
		FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-_[]",
		    row->proxy_ip[i]) != NULL);
	FUZZ_CHECK(row->s.last_activity_at >= 0 && row->s.shutdown_at >= 0 &&
	    row->assigned_at >= 0);
}

static bool
fuzz_same_row(const struct import_row *a, const struct import_row *b)
{
	return strcmp(a->where, b->where) == 0 &&
	    strcmp(a->error, b->error) == 0 && a->line == b->line &&
	    strcmp(a->s.user_id, b->s.user_id) == 0 &&
	    strcmp(a->s.phone, b->s.phone) == 0 &&
	    strcmp(a->s.country, b->s.country) == 0 &&
	    strcmp(a->proxy_ip, b->proxy_ip) == 0 &&
	    a->s.desired == b->s.desired && a->s.priority == b->s.priority &&
	    a->assigned_at == b->assigned_at &&
	    a->s.last_activity_at == b->s.last_activity_at;
}

/* The good rows as csv, with a header; parsed back, the same sessions. */
static void
fuzz_csv_round_trip(const struct import_set *set)
{
	struct import_set	*again = NULL;
	char			 err[IMPORT_ERR_LEN], line[512];
	char			*text;
	size_t			 i, j, len = 0, cap = 64 + set->n * 512;
	int			 n;

	text = malloc(cap);
	FUZZ_CHECK(text != NULL);
	len = (size_t)snprintf(text, cap, "user,phone,country,proxy,priority,"
	    "type\n");
	for (i = 0; i < set->n; i++) {
		const struct import_row	*r = &set->rows[i];

		if (r->error[0] != '\0')
			continue;
		n = snprintf(line, sizeof line, "%s,%s,%s,%s,%lld,%s\n",
		    r->s.user_id, r->s.phone, r->s.country, r->proxy_ip,
		    (long long)r->s.priority,
		    config_proxy_type_name(r->s.proxy_type));
		FUZZ_CHECK(n > 0 && (size_t)n < sizeof line);
		memcpy(text + len, line, (size_t)n);
		len += (size_t)n;
	}
	FUZZ_CHECK(import_parse(text, len, IMPORT_FORMAT_CSV, PROXY_TYPE_ISP,
	    &again, err) == 0);
	for (i = 0, j = 0; i < set->n; i++) {
		const struct import_row	*r = &set->rows[i];

		if (r->error[0] != '\0')
			continue;
		/*
		 * A user id csv cannot carry: one opening with '#' makes a
		 * comment (no row), one holding a comma or a quote another
		 * row.
		 */
		if (r->s.user_id[0] == '#')
			continue;
		if (strpbrk(r->s.user_id, ",\"") != NULL) {
			j++;
			continue;
		}
		FUZZ_CHECK(j < again->n);
		FUZZ_CHECK(again->rows[j].error[0] == '\0');
		FUZZ_CHECK(strcmp(again->rows[j].s.user_id, r->s.user_id) == 0);
		FUZZ_CHECK(strcmp(again->rows[j].s.phone, r->s.phone) == 0);
		FUZZ_CHECK(strcmp(again->rows[j].s.country, r->s.country) == 0);
		FUZZ_CHECK(strcmp(again->rows[j].proxy_ip, r->proxy_ip) == 0);
		FUZZ_CHECK(again->rows[j].s.priority == r->s.priority);
		FUZZ_CHECK(again->rows[j].s.proxy_type == r->s.proxy_type);
		j++;
	}
	import_set_free(again);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_set	*set = (struct import_set *)(uintptr_t)0x5a5a;
	struct import_set	*again = NULL;
	char			 err[IMPORT_ERR_LEN] = "";
	size_t			 i, j, lines = fuzz_lines(data, size);
	int			 r;

	r = import_parse((const char *)data, size, IMPORT_FORMAT_AUTO,
	    PROXY_TYPE_ISP, &set, err);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -E2BIG);
	if (r < 0) {
		FUZZ_CHECK(set == (struct import_set *)(uintptr_t)0x5a5a);
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err));
		return 0;
	}
	FUZZ_CHECK(set->n <= IMPORT_ROWS_MAX);
	FUZZ_CHECK(set->format != IMPORT_FORMAT_AUTO);
	FUZZ_CHECK(set->instances_running <= set->instances);
	for (i = 0; i < set->n; i++) {
		fuzz_check_row(&set->rows[i], lines);
		if (set->rows[i].error[0] != '\0')
			continue;
		for (j = i + 1; j < set->n; j++)
			FUZZ_CHECK(set->rows[j].error[0] != '\0' ||
			    strcmp(set->rows[i].s.phone,
			    set->rows[j].s.phone) != 0);
	}
	FUZZ_CHECK(import_parse((const char *)data, size, set->format,
	    PROXY_TYPE_ISP, &again, err) == 0);
	FUZZ_CHECK(again->n == set->n && again->format == set->format);
	for (i = 0; i < set->n; i++)
		FUZZ_CHECK(fuzz_same_row(&set->rows[i], &again->rows[i]));
	import_set_free(again);
	if (set->n <= 256)
		fuzz_csv_round_trip(set);
	import_set_free(set);
	return 0;
}
