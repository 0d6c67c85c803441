/*
 * Validation of user-supplied identifiers: see validate.h.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base/validate.h"

int
validate_phone(const char *s, const char **why)
{
	size_t	n, i;

	if (s == NULL || s[0] != '+') {
		*why = "must start with '+' and the country calling code (E.164)";
		return -EINVAL;
	}
	n = strnlen(s + 1, PHONE_MAX_DIGITS + 1);
	for (i = 0; i < n; i++) {
		if (s[1 + i] < '0' || s[1 + i] > '9') {
			*why = "must contain only digits after '+' (E.164)";
			return -EINVAL;
		}
	}
	if (n < PHONE_MIN_DIGITS || n > PHONE_MAX_DIGITS) {
		*why = "must have 8 to 15 digits after '+' (E.164)";
		return -EINVAL;
	}
	if (s[1] == '0') {
		*why = "country calling code cannot start with 0 (E.164)";
		return -EINVAL;
	}
	return 0;
}

int
validate_country(const char *s, char ret[COUNTRY_CODE_LEN], const char **why)
{
	if (s == NULL || strlen(s) != 2) {
		*why = "must be a two-letter ISO 3166-1 alpha-2 code";
		return -EINVAL;
	}
	if (country_find(s, ret) == NULL) {
		/* The one mistake everybody makes gets its own hint. */
		if (strcasecmp(s, "uk") == 0)
			*why = "is not an ISO 3166-1 code (the United Kingdom is 'gb')";
		else
			*why = "is not an ISO 3166-1 alpha-2 country code";
		return -EINVAL;
	}
	return 0;
}

int
validate_user_id(const char *s, const char **why)
{
	size_t	n, i;

	n = s == NULL ? 0 : strnlen(s, USER_ID_MAX + 1);
	if (n == 0) {
		*why = "must not be empty";
		return -EINVAL;
	}
	if (n > USER_ID_MAX) {
		*why = "must be at most 128 bytes";
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f) {
			*why = "must be printable ASCII without blanks";
			return -EINVAL;
		}
	}
	return 0;
}
