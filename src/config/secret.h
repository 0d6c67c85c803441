/*
 * Secrets given by reference.  Configuration never holds a secret itself,
 * only where to find it:
 *
 *   env:NAME        the environment variable NAME
 *   file:PATH       a file; a relative PATH is looked up in systemd's
 *                   $CREDENTIALS_DIRECTORY; group- or world-accessible files
 *                   are refused
 *   exec:COMMAND    the standard output of COMMAND, split into argv and run
 *                   without a shell, bounded in output and time; it starts
 *                   with default signals, and its exit status is heard
 *                   even in a daemon whose loop reaps every child
 *   projects/P/secrets/S/versions/V
 *                   a Google Secret Manager version, fetched over its REST
 *                   API with an access token from the metadata server (both
 *                   base URLs configurable, so tests stand them in)
 *
 * A resolved value lives in memory that is excluded from core dumps
 * (MADV_DONTDUMP), locked when allowed, and wiped when freed.  It is reached
 * only through secret_value(); error messages name the reference, never the
 * value.  One trailing newline is removed, as files and commands add one.
 */
#ifndef RESPAWN_SECRET_H
#define RESPAWN_SECRET_H

#include <sys/types.h>

#include <stddef.h>

#define SECRET_VALUE_MAX	(64 * 1024)
#define SECRET_EXEC_TIMEOUT_MS	5000
#define SECRET_ERR_LEN		256

struct secret;

#define SECRET_GSM_DEFAULT_URL		"https://secretmanager.googleapis.com"
#define SECRET_METADATA_DEFAULT_URL	"http://metadata.google.internal"
#define SECRET_HTTP_TIMEOUT_MS		5000
#define SECRET_HTTP_MAX			(64 * 1024)	/* an answer's bytes */

/*
 * Where Google Secret Manager and the metadata server are (NULL: the
 * defaults above).  The strings must outlive every secret_resolve().
 */
void		 secret_set_google(const char *gsm_url, const char *metadata_url);

/* Check a reference's form without resolving it. */
int		 secret_ref_check(const char *ref, const char **why);
/*
 * Resolve a reference.  On failure returns negative errno and writes a
 * message (without the value) to err.
 */
int		 secret_resolve(const char *ref, struct secret **ret,
		    char err[SECRET_ERR_LEN]);
/*
 * The readers of the answers a Secret Manager reference gets, pure so
 * that tests and fuzzing reach them without a server.  secret_gsm_token
 * copies the metadata server's access_token to tok (-EBADMSG: none, or
 * not an RFC 6750 Bearer token, which is all a header may carry);
 * secret_gsm_payload decodes Secret Manager's payload.data into a new
 * secret (-EBADMSG, -ENOBUFS or -ENODATA, with a reason in why);
 * secret_b64_decode decodes well-formed base64 (standard or URL
 * alphabet, padded or not) in place, returning the length, or -1 for
 * anything else (a byte outside the alphabet, text after the padding, a
 * lone last character).
 */
#define SECRET_TOKEN_MAX	2048
int		 secret_gsm_token(const char *body, size_t len,
		    char tok[SECRET_TOKEN_MAX + 1]);
int		 secret_gsm_payload(const char *body, size_t len,
		    struct secret **ret, const char **why);
ssize_t		 secret_b64_decode(char *s);

const char	*secret_value(const struct secret *s);
size_t		 secret_len(const struct secret *s);
void		 secret_free(struct secret *s);

#endif
