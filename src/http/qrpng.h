/*
 * A QR code as a PNG image: the text a connector wrote to qr.txt, encoded
 * with libqrencode and written as an 8-bit grayscale PNG (zlib for the
 * image data and the checksums).  Connectors need only write the text;
 * GET /api/sessions/{id}/qr draws it.
 */
#ifndef RESPAWN_QRPNG_H
#define RESPAWN_QRPNG_H

#include <stddef.h>

#include "base/buf.h"

#define QRPNG_TEXT_MAX		2048	/* bytes of a QR code text */
#define QRPNG_SCALE		6	/* pixels per module */
#define QRPNG_MARGIN		4	/* quiet zone, in modules */
#define QRPNG_PIXELS_MAX	(1024 * 1024)	/* of the image, a bound */

/*
 * Append the PNG of text (len bytes, 1 to QRPNG_TEXT_MAX) to out: 0, or
 * -EINVAL (empty or too long), -ENOBUFS (out's limit), -EIO (the encoder
 * failed); out is unchanged on failure.
 */
int	qrpng_render(const char *text, size_t len, struct buf *out);

#endif
