/*
 * Tests of the bounded buffer in buf.c: appends up to and past the limit
 * (a refused append returns -ENOBUFS and leaves the buffer exactly as it
 * was), buf_printf output longer than its internal stack buffer, and the
 * hand-over of the data by buf_take.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"

/* Check that a buffer holds exactly want, NUL-terminated, within its limit. */
static void
assert_buf(const struct buf *b, const char *want, size_t want_len)
{
	assert_int_equal(b->len, want_len);
	if (want_len == 0 && b->data == NULL)
		return;
	assert_non_null(b->data);
	assert_memory_equal(b->data, want, want_len);
	assert_int_equal(b->data[b->len], '\0');
	assert_true(b->cap <= b->max + 1);
	assert_true(b->len < b->cap);
}

/*
 * Two appends into a buffer of a given limit.  The second one may be
 * refused; then the buffer must still hold just the first.
 */
struct append_case {
	size_t		 max;
	const char	*first;
	const char	*second;
	int		 want_r2;
	const char	*want;
};

static const struct append_case append_cases[] = {
	{ 5, "abc", "de", 0, "abcde" },
	{ 5, "abc", "def", -ENOBUFS, "abc" },
	{ 5, "abcde", "", 0, "abcde" },
	{ 5, "abcde", "f", -ENOBUFS, "abcde" },
	{ 0, "", "", 0, "" },
	{ 0, "", "a", -ENOBUFS, "" },
	{ 1, "", "a", 0, "a" },
	/* Past the first 64-byte allocation, and past the next doubling. */
	{ 100, "0123456789012345678901234567890123456789012345678901234567890",
	  "abcdefghij", 0,
	  "0123456789012345678901234567890123456789012345678901234567890"
	  "abcdefghij" },
	{ 70, "0123456789012345678901234567890123456789012345678901234567890",
	  "abcdefghij", -ENOBUFS,
	  "0123456789012345678901234567890123456789012345678901234567890" },
};

static void
test_append_limits(void **state)
{
	struct buf	 b;
	char		*data;
	size_t		 i, cap;

	(void)state;
	for (i = 0; i < nitems(append_cases); i++) {
		const struct append_case *c = &append_cases[i];

		print_message("case %zu: max %zu, \"%s\" + \"%s\"\n", i, c->max,
		    c->first, c->second);
		buf_init(&b, c->max);
		assert_int_equal(buf_puts(&b, c->first), 0);
		data = b.data;
		cap = b.cap;
		assert_int_equal(buf_puts(&b, c->second), c->want_r2);
		assert_buf(&b, c->want, strlen(c->want));
		if (c->want_r2 != 0) {
			/* A refused append must not even reallocate. */
			assert_ptr_equal(b.data, data);
			assert_int_equal(b.cap, cap);
		}
		buf_free(&b);
	}
}

/* A refused append into a buffer never used allocates nothing. */
static void
test_refused_first_append(void **state)
{
	struct buf	b;

	(void)state;
	buf_init(&b, 3);
	assert_int_equal(buf_append(&b, "abcd", 4), -ENOBUFS);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(buf_printf(&b, "%s", "abcd"), -ENOBUFS);
	assert_null(b.data);
	buf_free(&b);
}

/* Appending one byte at a time fills the buffer exactly to its limit. */
static void
test_fill_to_limit(void **state)
{
	static const size_t	 maxes[] = { 1, 63, 64, 65, 127, 128, 1000 };
	struct buf		 b;
	char			*want;
	size_t			 i, j;

	(void)state;
	for (i = 0; i < nitems(maxes); i++) {
		print_message("max %zu\n", maxes[i]);
		buf_init(&b, maxes[i]);
		want = calloc(maxes[i] + 1, 1);
		assert_non_null(want);
		for (j = 0; j < maxes[i]; j++) {
			want[j] = (char)('a' + j % 26);
			assert_int_equal(buf_append(&b, &want[j], 1), 0);
		}
		assert_int_equal(buf_append(&b, "z", 1), -ENOBUFS);
		assert_buf(&b, want, maxes[i]);
		free(want);
		buf_free(&b);
	}
}

/* Bytes are bytes: an embedded NUL is kept, and the length counts it. */
static void
test_binary(void **state)
{
	struct buf	b;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	assert_buf(&b, "a\0b", 3);
	buf_free(&b);
}

/*
 * buf_printf formats into a 256-byte stack buffer first; longer output
 * takes a second path that must give the same result and the same limit.
 */
struct printf_case {
	size_t	len;		/* length of the formatted string */
	size_t	max;
	int	want_r;
};

static const struct printf_case printf_cases[] = {
	{ 0, 16, 0 },
	{ 255, 1024, 0 },
	{ 256, 1024, 0 },
	{ 257, 1024, 0 },
	{ 1000, 1024, 0 },
	{ 1024, 1024, 0 },
	{ 1025, 1024, -ENOBUFS },
	{ 100000, 200000, 0 },
	{ 100000, 99999, -ENOBUFS },
	{ 300, 299, -ENOBUFS },
	{ 200, 199, -ENOBUFS },
};

static void
test_printf_long(void **state)
{
	struct buf	 b;
	char		*s;
	size_t		 i, j;

	(void)state;
	for (i = 0; i < nitems(printf_cases); i++) {
		const struct printf_case *c = &printf_cases[i];

		print_message("case %zu: %zu bytes, max %zu\n", i, c->len,
		    c->max);
		/* The string is len bytes of letters, with no format directives. */
		s = malloc(c->len + 1);
		assert_non_null(s);
		for (j = 0; j < c->len; j++)
			s[j] = (char)('A' + j % 26);
		s[c->len] = '\0';
		buf_init(&b, c->max);
		assert_int_equal(buf_printf(&b, "%s", s), c->want_r);
		if (c->want_r == 0)
			assert_buf(&b, s, c->len);
		else
			assert_buf(&b, "", 0);
		buf_free(&b);
		free(s);
	}
}

/* Formatted appends accumulate, and a refused one keeps what came before. */
static void
test_printf_append(void **state)
{
	struct buf	b;
	char		long_word[600];

	(void)state;
	memset(long_word, 'w', sizeof long_word - 1);
	long_word[sizeof long_word - 1] = '\0';
	buf_init(&b, 620);
	assert_int_equal(buf_printf(&b, "%d-%s;", 42, "x"), 0);
	assert_int_equal(buf_printf(&b, "%s", long_word), 0);
	assert_int_equal(b.len, 5 + 599);
	assert_int_equal(buf_printf(&b, "%s%s", "0123456789", "0123456789"),
	    -ENOBUFS);
	assert_int_equal(b.len, 5 + 599);
	assert_memory_equal(b.data, "42-x;", 5);
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);
}

/* buf_take hands over the data and leaves an empty, reusable buffer. */
static void
test_take(void **state)
{
	static const char *const contents[] = { "", "x", "hello, world" };
	struct buf	 b;
	char		*p;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(contents); i++) {
		print_message("case %zu: \"%s\"\n", i, contents[i]);
		buf_init(&b, 64);
		if (contents[i][0] != '\0')
			assert_int_equal(buf_puts(&b, contents[i]), 0);
		p = buf_take(&b);
		/* Even a buffer never written gives an empty string to free. */
		assert_non_null(p);
		assert_string_equal(p, contents[i]);
		assert_null(b.data);
		assert_int_equal(b.len, 0);
		assert_int_equal(b.cap, 0);
		/* The limit survives, so the buffer can be used again. */
		assert_int_equal(b.max, 64);
		assert_int_equal(buf_puts(&b, "again"), 0);
		assert_buf(&b, "again", 5);
		free(p);
		buf_free(&b);
	}
}

/* buf_reset empties the data but keeps the allocation; free is idempotent. */
static void
test_reset_free(void **state)
{
	struct buf	 b;
	char		*data;

	(void)state;
	buf_init(&b, 32);
	buf_reset(&b);
	assert_null(b.data);
	assert_int_equal(buf_puts(&b, "abc"), 0);
	data = b.data;
	buf_reset(&b);
	assert_ptr_equal(b.data, data);
	assert_buf(&b, "", 0);
	assert_string_equal(b.data, "");
	buf_free(&b);
	assert_null(b.data);
	buf_free(&b);
	buf_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_limits),
		cmocka_unit_test(test_refused_first_append),
		cmocka_unit_test(test_fill_to_limit),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_printf_long),
		cmocka_unit_test(test_printf_append),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_reset_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
