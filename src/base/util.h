/*
 * Small checked helpers every module needs: bounded string copies, number
 * and duration parsers that reject trailing junk and out-of-range values
 * (instead of atoi), clocks and RFC 3339 time stamps, and URLs taken apart
 * and redacted for output.  All return negative errno on failure and write
 * outputs only on success.
 */
#ifndef RESPAWN_UTIL_H
#define RESPAWN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Copy with truncation; returns -ENAMETOOLONG when src did not fit. */
int	 util_strlcpy(char *dst, const char *src, size_t size);

/* Decimal integer in [min, max]; -EINVAL for junk, -ERANGE outside. */
int	 util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
/* true/false, yes/no, on/off, 1/0 (any case). */
int	 util_parse_bool(const char *s, bool *ret);
/*
 * A duration: a number with an optional unit (ms, s, m, h, d).  A bare
 * number is in unit_ms milliseconds, so RECONNECT_DELAY=5000 keeps the
 * seed's meaning.  The result is in milliseconds within [min, max].
 */
int	 util_parse_duration_ms(const char *s, int64_t unit_ms, int64_t min,
	    int64_t max, int64_t *ret);

int64_t	 util_now_ms(void);		/* wall clock, Unix epoch */
int64_t	 util_mono_ms(void);		/* monotonic, for intervals */

#define UTIL_TIME_LEN	64
/* "2026-11-28T21:30:00.123Z" */
void	 util_fmt_time(int64_t ms, char buf[UTIL_TIME_LEN]);
/*
 * The inverse, for times users give: RFC 3339 in UTC ("2026-11-28T21:30:00Z",
 * optionally with up to three fraction digits) between the years 1970 and
 * 9999, or whole seconds since the Unix epoch.  Milliseconds since the
 * epoch; -EINVAL for anything else.
 */
int	 util_parse_time_ms(const char *s, int64_t *ret);

/*
 * Split s in place into at most max fields separated by blanks, tabs,
 * commas or carriage returns (the lines users write or export from a
 * spreadsheet); -E2BIG when there are more.  *ret_n only on success.
 */
int	 util_split_fields(char *s, char **fields, size_t max, size_t *ret_n);

/* Zero memory in a way the compiler may not elide. */
void	 util_wipe(void *p, size_t n);
/*
 * Wait until *flag is true (set by another thread) or ms have passed;
 * returns the flag.  For stopping helper threads with a bound.
 */
bool	 util_thread_wait(const _Atomic bool *flag, int64_t ms);

/* What a redacted secret is shown as. */
#define UTIL_REDACTED		"<redacted>"

/*
 * Where "scheme://user:password@host:port/path?query#fragment" keeps its
 * parts, as offsets into the URL.  The user information ends at the LAST
 * '@' before the host (the authority ends at the first '/', '?' or '#'),
 * as URL parsers read it (RFC 3986, WHATWG), so a password may hold a raw
 * '@' or ':'.  Every module that takes a URL apart goes through here, so
 * what is stored, printed and redacted agrees.
 */
struct util_url {
	size_t	 user;	/* the user information (after "://") */
	size_t	 pass;	/* the password, after the ':'; 0: none */
	size_t	 at;	/* the '@' ending the user information; 0: none */
	size_t	 host;	/* the host */
	size_t	 end;	/* where the authority ends */
	/*
	 * An '@' after the authority while a port is not a number: most
	 * likely a password holding a raw '/', '?' or '#', which ends the
	 * host for a URL parser.  The fields above then read it as a
	 * password up to the last '@' of the URL, so that it is redacted;
	 * a module that would hand the URL on refuses it instead.
	 */
	bool	 raw_delim;
};
/* -EINVAL unless url starts with "scheme://". */
int	 util_url_split(const char *url, struct util_url *ret);

/* One secret inside a longer string: an offset and a length. */
struct util_span {
	size_t	 off;
	size_t	 len;
};
#define UTIL_URL_SECRETS_MAX	32	/* secrets found in one URL */
/*
 * The secrets of a URL as written: its password and the values of its
 * credential parameters (in the query or the fragment, a name holding
 * "pass", "pwd", "secret", "token", "key", "sig", "auth" or "cred", in any
 * case, percent-encoded or not).  Returns how many, at most max; when a
 * URL has more, the last span runs from the last one found to its end.
 */
size_t	 util_url_secrets(const char *url, struct util_span *ret,
	    size_t max);
/* Is this parameter name, as written in a URL, a credential's? */
bool	 util_credential_name(const char *name, size_t len);

/*
 * Text for logs and output, cut to size (a cut never leaves part of a
 * secret).  util_redact_url: the secrets of util_url_secrets replaced by
 * "<redacted>"; a string that is not a URL is copied.
 */
void	 util_redact_url(const char *url, char *out, size_t size);
/*
 * in percent-encoded for a URL's user information: every byte but
 * RFC 3986's unreserved ones (letters, digits, '-', '.', '_', '~') as %XX.
 * 0, or -E2BIG (out untouched past its first byte) when it does not fit.
 */
int	 util_url_encode(const char *in, char *out, size_t size);
/*
 * Free text (an error message, a configuration value, a command line):
 * every URL in it redacted as above (a URL ends at white space or a
 * quote, unless the whole text is one), and the value of every
 * credential-looking name=value or name = 'value' pair.
 */
void	 util_redact_text(const char *text, char *out, size_t size);
/*
 * Every occurrence of any of n known secrets replaced (the longest that
 * matches at each place; empty ones are ignored), in one pass.
 */
void	 util_redact_strings(const char *text, const char *const *secrets,
	    size_t n, char *out, size_t size);

#endif
