/*
 * The bytes of Bright Data's account API, both ways: strict parsers for
 * its answers and builders for its request bodies.
 *
 * An answer is untrusted input from the network, so every parser checks a
 * size limit before parsing, refuses duplicate keys and NUL bytes, checks
 * the type of every field it reads, bounds every array and validates every
 * IP address and country code.  A malformed answer is an error with a
 * message, never a crash and never a partial result.  Fields it does not
 * read are ignored, so the provider may add some.  The module is pure: no
 * I/O, no clock; the fuzz target tests/fuzz/fuzz_bdjson.c drives it.
 *
 * The shapes (docs/internals/bdclient.md has the sources):
 *   GET /zone/ips                 {"ips":[{"ip":"1.1.1.1","maxmind":"au",...}]}
 *   POST /zone/ips                {"ips":[...all...],"new_ips":["1.1.1.1"]}
 *   DELETE /zone/ips              {"ips":["1.1.1.1"]}
 *   GET /zone/count_available_ips {"count":1234}
 */
#ifndef RESPAWN_BDJSON_H
#define RESPAWN_BDJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/country.h"

/* An answer longer than this is refused unparsed. */
#define BDJSON_BODY_MAX		(4 * 1024 * 1024)
/* IPs in one listing, purchase or release (the lab's own cap). */
#define BDJSON_IPS_MAX		100000
/* Room for the longest textual IPv6 address and its NUL (INET6_ADDRSTRLEN). */
#define BDJSON_IP_LEN		46
/* A count_available_ips answer above this is taken as a broken answer. */
#define BDJSON_COUNT_MAX	INT64_C(1000000000)
/* Printable bytes of an error body kept for a message. */
#define BDJSON_SNIPPET_MAX	120
/* Extra plan fields for count_available_ips, as JSON text. */
#define BDJSON_PLAN_MAX		1024

/* One IP as the provider lists it. */
struct bdjson_ip {
	char	ip[BDJSON_IP_LEN];
	char	country[COUNTRY_CODE_LEN];	/* lower case; "" = unknown */
};

/*
 * GET /zone/ips: every {"ip","maxmind"} of "ips".  "maxmind" must be a
 * string of two ASCII letters (lower-cased here) or empty (no country
 * known).  On success *ret (free() it; NULL when the list is empty) and
 * *ret_n are written; on failure a negative errno (-EMSGSIZE too long,
 * -EBADMSG malformed, -E2BIG too many IPs) and a message in err.
 */
int	 bdjson_parse_list(const char *body, size_t len,
	    struct bdjson_ip **ret, size_t *ret_n, char *err, size_t errlen);

/*
 * An array of IP strings under field: "new_ips" of a POST /zone/ips
 * answer, "ips" of a DELETE /zone/ips answer.  The countries are left
 * empty; errors as bdjson_parse_list.
 */
int	 bdjson_parse_ip_strings(const char *body, size_t len,
	    const char *field, struct bdjson_ip **ret, size_t *ret_n,
	    char *err, size_t errlen);

/* GET /zone/count_available_ips: "count", an integer 0..BDJSON_COUNT_MAX. */
int	 bdjson_parse_count(const char *body, size_t len, int64_t *ret,
	    char *err, size_t errlen);

/*
 * A short printable copy of an error body (plain text, as the API sends
 * for errors) for a message: at most BDJSON_SNIPPET_MAX bytes, runs of
 * blanks and control bytes made one space, other non-ASCII bytes '?',
 * trimmed.  out always gets a NUL-terminated string.
 */
void	 bdjson_snippet(const char *body, size_t len, char *out, size_t size);

/* True when s is a textual IPv4 or IPv6 address. */
bool	 bdjson_ip_valid(const char *s);

/*
 * Request bodies.  Each writes a malloc'd NUL-terminated JSON text to *ret
 * (free() it) or returns -EINVAL for a bad argument.  country may be NULL
 * (any country); it must already be a lower-case code.
 */
int	 bdjson_build_add(const char *customer, const char *zone, int count,
	    const char *country, char **ret);
int	 bdjson_build_remove(const char *zone, const char *const *ips,
	    size_t n, char **ret);
/*
 * The plan of a per-country count_available_ips query: {"country":cc}
 * merged into extra (a JSON object such as {"ips_type":"dedicated"}, or
 * NULL).  -EINVAL when extra is not a JSON object of at most
 * BDJSON_PLAN_MAX bytes.
 */
int	 bdjson_build_plan(const char *country, const char *extra,
	    char **ret);

#endif
