/*
 * The WhatsApp stand-in: a TCP server speaking the line protocol of
 * waproto.h.  It answers each HELLO with OK, LOGGED_OUT or BLOCKED, pings
 * live connections, and closes the older of two live connections of one
 * phone with CONFLICT (WhatsApp's 440 "connection replaced").  Per phone
 * it records whether it is connected, from which address and country (the
 * provider's allocation table), and how often it connected, conflicted,
 * changed address and connected from an address other phones were
 * connected from (IP sharing, also counted for the whole stand-in).
 */
#ifndef LAB_WA_H
#define LAB_WA_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define WA_MAX_PHONES		200000
#define WA_MAX_BLOCKED_IPS	1024
#define WA_HELLO_TIMEOUT_MS	10000
#define WA_PAIR_TIMEOUT_MS	120000	/* a device waiting to be linked */
#define WA_PAIR_CODE_LEN	10	/* "ABCD-EFGH" and NUL */
/* The text of the lab's QR codes: the prefix, then "<phone>:<token>". */
#define WA_QR_PREFIX		"respawn-lab:"

enum wa_phone_state {
	WA_PHONE_OK,
	WA_PHONE_LOGGED_OUT,
	WA_PHONE_BLOCKED,
};

struct lab;
struct wa;

int	 wa_new(struct lab *lab, const char *addr, int port, struct wa **ret,
	    int *ret_port);
void	 wa_free(struct wa *wa);
int	 wa_state_parse(const char *s, enum wa_phone_state *ret);
/* Sets a phone's state; a live connection is told and closed. */
int	 wa_set_phone(struct wa *wa, const char *phone,
	    enum wa_phone_state state);
/*
 * The phone links the device waiting for it (PAIR, PAIRCODE): by the QR
 * code's text or by the pairing code (exactly one of qr and code).  The
 * device is told PAIRED and its token becomes the phone's pairing (a
 * logout is cleared).  -ENOENT: no device waits for the phone; -EACCES:
 * the QR code or the code is not the one shown; -EINVAL.
 */
int	 wa_link(struct wa *wa, const char *phone, const char *qr,
	    const char *code);
int	 wa_set_ip_blocked(struct wa *wa, uint32_t ip, bool blocked);
json_t	*wa_json(const struct wa *wa);
json_t	*wa_save(const struct wa *wa);
int	 wa_load(struct wa *wa, const json_t *j);

#endif
