// Pairing by code (docs/CONNECTORS.md, "Pairing"): respawn asks for a
// pairing code by writing RESPAWN_SESSION_DIR/pairing-code.request and
// restarting the connector; a connector that must link the device then
// asks WhatsApp for a code instead of showing a QR code, writes it to
// pairing-code.txt and says STATUS=pairing-code.  Once linked it removes
// both files.
//
// Part of respawn-connector-common, used by connectors/baileys and
// connectors/wwebjs.

import { access, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PAIRING_REQUEST = 'pairing-code.request';
export const PAIRING_CODE = 'pairing-code.txt';

// Is a pairing code asked for?
export async function pairingRequested(sessionDir) {
	try {
		await access(join(sessionDir, PAIRING_REQUEST));
		return true;
	} catch {
		return false;
	}
}

// The phone as WhatsApp's pairing call wants it: digits only.
export function pairingPhone(phone) {
	const digits = String(phone || '').replace(/^\+/, '');
	if (!/^[1-9][0-9]{6,14}$/.test(digits))
		throw new RangeError(`not an E.164 number: ${phone}`);
	return digits;
}

// WhatsApp's code ("ABCD1234") as people read it ("ABCD-1234").
export function formatPairingCode(code) {
	const c = String(code || '').replace(/[^A-Za-z0-9]/g, '').toUpperCase();
	if (c.length !== 8)
		throw new RangeError(`not an 8-character pairing code: ${code}`);
	return `${c.slice(0, 4)}-${c.slice(4)}`;
}

// Write the code for respawn (GET /api/sessions/{id}/pairing-code),
// replacing the file atomically.  Returns the code as written.
export async function writePairingCode(sessionDir, code) {
	const text = formatPairingCode(code);
	const path = join(sessionDir, PAIRING_CODE);
	const tmp = `${path}.tmp${process.pid}`;
	await writeFile(tmp, `${text}\n`, { mode: 0o600 });
	await rename(tmp, path);
	return text;
}

// Linked: the request and the code are done with.
export async function clearPairing(sessionDir) {
	await rm(join(sessionDir, PAIRING_CODE), { force: true });
	await rm(join(sessionDir, PAIRING_REQUEST), { force: true });
}
