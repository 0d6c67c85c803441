/*
 * Fuzz target for bdjson.c, the parsers of Bright Data's account API
 * answers, the first bytes respawn reads from the provider.  Besides
 * memory errors it checks the parsers' promises: success and failure are
 * exclusive (outputs written only on success, a message only on failure,
 * only the documented errors), every IP returned is a valid address that
 * fits its field, every country is empty or two lower-case letters, no
 * more than BDJSON_IPS_MAX entries come back, and a count is within range.
 * The snippet must be short printable ASCII, and a plan built from
 * arbitrary extra fields must be a JSON object with our country in it.
 *
 * Input layout: byte 0 picks the parser (mod 6): the listing, "new_ips",
 * "ips", the count, the snippet (byte 1 then gives the buffer size), or
 * the plan; the rest is the answer body.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "provider/bdjson.h"
#include "fuzz.h"

#define FUZZ_ERR_LEN	256
#define FUZZ_POISON	0x5a

static void
fuzz_check_error(int r, const char *err)
{
	FUZZ_CHECK(r == -EBADMSG || r == -EMSGSIZE || r == -E2BIG);
	FUZZ_CHECK(err[0] != '\0');
	FUZZ_CHECK(strlen(err) < FUZZ_ERR_LEN);
}

static void
fuzz_check_ips(const struct bdjson_ip *ips, size_t n, int countries)
{
	size_t	i;

	FUZZ_CHECK(n <= BDJSON_IPS_MAX);
	FUZZ_CHECK((n == 0) == (ips == NULL));
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(memchr(ips[i].ip, '\0', sizeof(ips[i].ip)) != NULL);
		FUZZ_CHECK(bdjson_ip_valid(ips[i].ip));
		FUZZ_CHECK(ips[i].country[0] == '\0' ||
		    (countries && strlen(ips[i].country) == 2 &&
		    ips[i].country[0] >= 'a' && ips[i].country[0] <= 'z' &&
		    ips[i].country[1] >= 'a' && ips[i].country[1] <= 'z'));
	}
}

static void
fuzz_ips(const char *body, size_t len, int which)
{
	struct bdjson_ip	*ips, *poison = (struct bdjson_ip *)&ips;
	char			 err[FUZZ_ERR_LEN] = "";
	size_t			 n = 12345;
	int			 r;

	ips = poison;
	if (which == 0)
		r = bdjson_parse_list(body, len, &ips, &n, err, sizeof(err));
	else
		r = bdjson_parse_ip_strings(body, len, which == 1 ?
		    "new_ips" : "ips", &ips, &n, err, sizeof(err));
	if (r != 0) {
		fuzz_check_error(r, err);
		FUZZ_CHECK(ips == poison && n == 12345);
		return;
	}
	FUZZ_CHECK(err[0] == '\0');
	fuzz_check_ips(ips, n, which == 0);
	free(ips);
}

static void
fuzz_count(const char *body, size_t len)
{
	char	err[FUZZ_ERR_LEN] = "";
	int64_t	count = -1;
	int	r;

	r = bdjson_parse_count(body, len, &count, err, sizeof(err));
	if (r != 0) {
		fuzz_check_error(r, err);
		FUZZ_CHECK(count == -1);
		return;
	}
	FUZZ_CHECK(count >= 0 && count <= BDJSON_COUNT_MAX);
}

static void
fuzz_snippet(const char *body, size_t len, size_t size)
{
	char	out[256];
	size_t	i, n;

	memset(out, FUZZ_POISON, sizeof(out));
	bdjson_snippet(body, len, out, size);
	if (size == 0) {
		FUZZ_CHECK((unsigned char)out[0] == FUZZ_POISON);
		return;
	}
	n = strlen(out);
	FUZZ_CHECK(n < size && n <= BDJSON_SNIPPET_MAX);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(out[i] >= ' ' && out[i] < 0x7f);
	FUZZ_CHECK(n == 0 || (out[0] != ' ' && out[n - 1] != ' '));
}

static void
fuzz_plan(const char *body, size_t len)
{
	json_t	*j;
	char	*extra, *s;

	/* The extra fields come from configuration: a C string. */
	if ((extra = malloc(len + 1)) == NULL)
		return;
	memcpy(extra, body, len);
	extra[len] = '\0';
	if (bdjson_build_plan("de", extra, &s) == 0) {
		j = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
		FUZZ_CHECK(json_is_object(j));
		FUZZ_CHECK(strcmp(json_string_value(json_object_get(j,
		    "country")), "de") == 0);
		json_decref(j);
		free(s);
	}
	free(extra);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*body;
	size_t		 len;

	if (size < 2)
		return 0;
	body = (const char *)data + 2;
	len = size - 2;
	switch (data[0] % 6) {
	case 0:
	case 1:
	case 2:
		fuzz_ips(body, len, data[0] % 6);
		break;
	case 3:
		fuzz_count(body, len);
		break;
	case 4:
		fuzz_snippet(body, len, data[1]);
		break;
	default:
		fuzz_plan(body, len);
		break;
	}
	return 0;
}
