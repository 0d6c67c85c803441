/*
 * Tests of pairing's and the dashboard's pure parts: which Accept header
 * asks GET /api/sessions/{id}/qr for text, the QR code drawn as a PNG
 * (signature, chunks and their CRCs, the image decoded: quiet zone light,
 * finder pattern dark, the size libqrencode's version gives), the
 * dashboard's embedded files, and the API's route table holding the new
 * routes behind the key and the dashboard's in front of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "http/api.h"
#include "http/dashboard.h"
#include "http/httpd.h"
#include "http/qrpng.h"

static void
test_wants_text(void **state)
{
	static const struct {
		const char	*accept;
		bool		 text;
	} cases[] = {
		{ NULL, false },
		{ "", false },
		{ "*/*", false },
		{ "image/png", false },
		{ "image/avif,image/webp,image/apng,image/*,*/*;q=0.8", false },
		{ "text/plain", true },
		{ "TEXT/PLAIN; charset=utf-8", true },
		{ "text/plain, image/png", true },
		{ "image/png, text/plain", false },
		{ "text/html", false },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_int_equal(api_connector_wants_text(cases[i].accept),
		    cases[i].text);
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Decode the PNG qrpng wrote: its side, and the pixels (caller frees). */
static unsigned char *
decode(const struct buf *b, uint32_t *ret_side)
{
	const unsigned char	*p = (const unsigned char *)b->data;
	size_t			 at = 8, n;
	unsigned char		*raw;
	uLongf			 rawlen;
	uint32_t		 side = 0, len;
	uLong			 crc;
	const unsigned char	*idat = NULL;
	size_t			 idatlen = 0;

	assert_memory_equal(p, "\x89PNG\r\n\x1a\n", 8);
	while (at + 12 <= b->len) {
		len = be32(p + at);
		assert_true(at + 12 + len <= b->len);
		crc = crc32(crc32(0L, Z_NULL, 0), p + at + 4, len + 4);
		assert_int_equal(crc, be32(p + at + 8 + len));
		if (memcmp(p + at + 4, "IHDR", 4) == 0) {
			side = be32(p + at + 8);
			assert_int_equal(be32(p + at + 12), side);
			assert_int_equal(p[at + 16], 8);	/* bit depth */
			assert_int_equal(p[at + 17], 0);	/* grayscale */
		} else if (memcmp(p + at + 4, "IDAT", 4) == 0) {
			idat = p + at + 8;
			idatlen = len;
		} else
			assert_memory_equal(p + at + 4, "IEND", 4);
		at += 12 + len;
	}
	assert_int_equal(at, b->len);
	assert_non_null(idat);
	n = (size_t)(side + 1) * side;
	raw = malloc(n);
	rawlen = n;
	assert_int_equal(uncompress(raw, &rawlen, idat, idatlen), Z_OK);
	assert_int_equal(rawlen, n);
	*ret_side = side;
	return raw;
}

static void
test_qrpng(void **state)
{
	static const struct {
		const char	*text;
		uint32_t	 side;	/* 0: refused */
	} cases[] = {
		/* Version 1 (21 modules) holds 14 bytes at level M. */
		{ "hello", (21 + 2 * QRPNG_MARGIN) * QRPNG_SCALE },
		/* A lab QR code: version 4 (33 modules). */
		{ "respawn-lab:+4915100000007:00112233445566778899aabbccddeeff",
		    (33 + 2 * QRPNG_MARGIN) * QRPNG_SCALE },
		{ "", 0 },
	};
	struct buf	 b;
	unsigned char	*px;
	uint32_t	 side;
	size_t		 i, m = QRPNG_MARGIN * QRPNG_SCALE;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_init(&b, HTTPD_TEXT_MAX);
		if (cases[i].side == 0) {
			assert_int_equal(qrpng_render(cases[i].text,
			    strlen(cases[i].text), &b), -EINVAL);
			assert_int_equal(b.len, 0);
			buf_free(&b);
			continue;
		}
		assert_int_equal(qrpng_render(cases[i].text,
		    strlen(cases[i].text), &b), 0);
		px = decode(&b, &side);
		assert_int_equal(side, cases[i].side);
		/* Row 0: filter 0, light (the quiet zone). */
		assert_int_equal(px[0], 0);
		assert_int_equal(px[1], 255);
		/* The top left finder pattern's corner module is dark. */
		assert_int_equal(px[m * (side + 1) + 1 + m], 0);
		/* Its inner ring (module 1,1) is light, its core (3,3) dark. */
		assert_int_equal(px[(m + QRPNG_SCALE) * (side + 1) + 1 + m +
		    QRPNG_SCALE], 255);
		assert_int_equal(px[(m + 3 * QRPNG_SCALE) * (side + 1) + 1 + m +
		    3 * QRPNG_SCALE], 0);
		free(px);
		buf_free(&b);
	}
}

static void
test_qrpng_limits(void **state)
{
	struct buf	 b;
	char		*big = malloc(QRPNG_TEXT_MAX + 1);

	(void)state;
	memset(big, 'a', QRPNG_TEXT_MAX + 1);
	buf_init(&b, HTTPD_TEXT_MAX);
	assert_int_equal(qrpng_render(big, QRPNG_TEXT_MAX + 1, &b), -EINVAL);
	assert_int_equal(b.len, 0);
	/* A buffer too small for the image: -ENOBUFS, and left as it was. */
	buf_free(&b);
	buf_init(&b, 64);
	assert_int_equal(buf_puts(&b, "kept"), 0);
	assert_int_equal(qrpng_render("hello", 5, &b), -ENOBUFS);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "kept");
	buf_free(&b);
	free(big);
}

static void
test_dashboard_files(void **state)
{
	static const struct {
		const char	*path;
		const char	*type;	/* NULL: none */
	} cases[] = {
		{ "/", "text/html; charset=utf-8" },
		{ "/index.html", "text/html; charset=utf-8" },
		{ "/app.js", "text/javascript; charset=utf-8" },
		{ "/app.css", "text/css; charset=utf-8" },
		{ "/nothing.js", NULL },
		{ "/../app.js", NULL },
		{ "", NULL },
	};
	const struct dashboard_file	*f;
	size_t				 i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		f = dashboard_find(cases[i].path);
		if (cases[i].type == NULL) {
			assert_null(f);
			continue;
		}
		assert_non_null(f);
		assert_string_equal(f->content_type, cases[i].type);
		assert_true(f->len > 0);
	}
	/* The page loads its script from a file: no inline script. */
	f = dashboard_find("/");
	assert_non_null(memmem(f->data, f->len, "<script src=\"app.js\"", 20));
	assert_null(memmem(f->data, f->len, "<script>", 8));
	assert_null(memmem(f->data, f->len, "style=", 6));
	/* Nothing from elsewhere. */
	assert_null(memmem(f->data, f->len, "http", 4));
}

static void
test_routes(void **state)
{
	static const struct {
		enum httpd_method	 m;
		const char		*path;
		bool			 auth;
	} cases[] = {
		{ HTTPD_GET, "/", false },
		{ HTTPD_GET, "/app.js", false },
		{ HTTPD_GET, "/app.css", false },
		{ HTTPD_GET, "/api/sessions/3/qr", true },
		{ HTTPD_POST, "/api/sessions/3/pairing-code", true },
		{ HTTPD_GET, "/api/sessions/3/pairing-code", true },
		{ HTTPD_GET, "/api/sessions/3/log", true },
	};
	size_t	i, idx;
	int64_t	id;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(httpd_match(api_routes, cases[i].m,
		    cases[i].path, &idx, &id), 0);
		assert_int_equal(api_routes[idx].auth, cases[i].auth);
	}
	/* Under /api, an unknown path is guarded; beside the page, not. */
	assert_true(httpd_guarded(api_routes, "/api/sessions/3/qr.png"));
	assert_false(httpd_guarded(api_routes, "/favicon.ico"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wants_text),
		cmocka_unit_test(test_qrpng),
		cmocka_unit_test(test_qrpng_limits),
		cmocka_unit_test(test_dashboard_files),
		cmocka_unit_test(test_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
