/*
 * The session.qr webhook: a connector that waits for a scan writes its QR
 * code to RESPAWN_SESSION_DIR/qr.txt (docs/CONNECTORS.md, "Pairing"), and
 * this module, once a second, looks at the qr.txt of every session whose
 * connector is starting; a file it has not seen (a new one, or a new
 * version: another inode or time) is announced through ops (the webhook
 * session.qr, with the code's text).  Polling a file, rather than a
 * message, keeps the contract what it was: a connector only writes it.
 */
#ifndef RESPAWN_DAEMON_QRWATCH_H
#define RESPAWN_DAEMON_QRWATCH_H

#include <stdint.h>

struct dctx;
struct ops;
struct qrwatch;
struct sessions;

#define QRWATCH_TEXT_MAX	2048	/* bytes of a QR code's text read */

struct qrwatch	*qrwatch_new(struct dctx *c, struct sessions *reg,
		    struct ops *ops);
/* Accepts NULL. */
void		 qrwatch_free(struct qrwatch *w);
/* The tick: look at the starting sessions' QR codes. */
void		 qrwatch_tick(struct qrwatch *w);

#endif
