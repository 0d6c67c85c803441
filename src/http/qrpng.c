/*
 * A QR code as a PNG image: see qrpng.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>
#include <zlib.h>

#include "base/xmalloc.h"
#include "http/qrpng.h"

static void
qrpng_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* One chunk: length, type, data, CRC of type and data. */
static int
qrpng_chunk(struct buf *b, const char type[4], const unsigned char *data,
    size_t len)
{
	unsigned char	hd[8], crc[4];
	uLong		c;

	qrpng_be32(hd, (uint32_t)len);
	memcpy(hd + 4, type, 4);
	c = crc32(0L, Z_NULL, 0);
	c = crc32(c, (const Bytef *)type, 4);
	if (len > 0)
		c = crc32(c, data, (uInt)len);
	qrpng_be32(crc, (uint32_t)c);
	if (buf_append(b, hd, sizeof hd) < 0 ||
	    (len > 0 && buf_append(b, data, len) < 0) ||
	    buf_append(b, crc, sizeof crc) < 0)
		return -ENOBUFS;
	return 0;
}

int
qrpng_render(const char *text, size_t len, struct buf *out)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r',
	    '\n', 0x1a, '\n' };
	QRcode		*qr;
	unsigned char	 ihdr[13], *raw, *z;
	size_t		 side, row, x, y, mod, start = out->len;
	uLongf		 zlen;
	int		 r = 0;

	if (len == 0 || len > QRPNG_TEXT_MAX)
		return -EINVAL;
	if ((qr = QRcode_encodeData((int)len, (const unsigned char *)text, 0,
	    QR_ECLEVEL_M)) == NULL)
		return -EIO;
	mod = (size_t)qr->width + 2 * QRPNG_MARGIN;
	side = mod * QRPNG_SCALE;
	if (side * side > QRPNG_PIXELS_MAX) {
		QRcode_free(qr);
		return -EINVAL;
	}
	/* Rows of one filter byte (0: none) and a byte per pixel. */
	row = side + 1;
	raw = xmalloc(row * side);
	for (y = 0; y < side; y++) {
		unsigned char	*p = raw + y * row;
		size_t		 my = y / QRPNG_SCALE;

		p[0] = 0;
		for (x = 0; x < side; x++) {
			size_t	mx = x / QRPNG_SCALE;
			bool	dark = false;

			if (mx >= QRPNG_MARGIN && my >= QRPNG_MARGIN &&
			    mx < QRPNG_MARGIN + (size_t)qr->width &&
			    my < QRPNG_MARGIN + (size_t)qr->width)
				dark = qr->data[(my - QRPNG_MARGIN) *
				    (size_t)qr->width + (mx - QRPNG_MARGIN)] &
				    1;
			p[1 + x] = dark ? 0 : 255;
		}
	}
	QRcode_free(qr);
	zlen = compressBound((uLong)(row * side));
	z = xmalloc(zlen);
	if (compress2(z, &zlen, raw, (uLong)(row * side), 9) != Z_OK) {
		free(raw);
		free(z);
		return -EIO;
	}
	free(raw);
	qrpng_be32(ihdr, (uint32_t)side);
	qrpng_be32(ihdr + 4, (uint32_t)side);
	ihdr[8] = 8;	/* bits per sample */
	ihdr[9] = 0;	/* grayscale */
	ihdr[10] = 0;	/* deflate */
	ihdr[11] = 0;	/* adaptive filtering */
	ihdr[12] = 0;	/* no interlace */
	if (buf_append(out, sig, sizeof sig) < 0 ||
	    qrpng_chunk(out, "IHDR", ihdr, sizeof ihdr) < 0 ||
	    qrpng_chunk(out, "IDAT", z, zlen) < 0 ||
	    qrpng_chunk(out, "IEND", NULL, 0) < 0)
		r = -ENOBUFS;
	free(z);
	if (r < 0) {
		/* Unchanged on failure. */
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return r;
}
