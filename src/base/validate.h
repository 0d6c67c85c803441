/*
 * Validation of the identifiers that come from users: phone numbers,
 * countries and user ids.  Every check returns 0 or -EINVAL and, on
 * failure, a short static reason suitable for an error message that names
 * the offending value.
 */
#ifndef RESPAWN_VALIDATE_H
#define RESPAWN_VALIDATE_H

#include "base/country.h"

#define PHONE_MIN_DIGITS	8
#define PHONE_MAX_DIGITS	15
#define PHONE_LEN		(1 + PHONE_MAX_DIGITS + 1)	/* '+', digits, NUL */
#define USER_ID_MAX		128
#define USER_ID_LEN		(USER_ID_MAX + 1)

/* E.164: '+', then 8 to 15 digits, the first not zero. */
int	validate_phone(const char *s, const char **why);
/* An ISO 3166-1 alpha-2 code in any case; ret gets the lower-case form. */
int	validate_country(const char *s, char ret[COUNTRY_CODE_LEN],
	    const char **why);
/* 1 to 128 printable ASCII bytes, no blanks. */
int	validate_user_id(const char *s, const char **why);

#endif
