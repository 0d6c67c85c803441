import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearPairing, formatPairingCode, pairingPhone, pairingRequested,
	writePairingCode, PAIRING_CODE, PAIRING_REQUEST } from '../lib/pairing.js';

test('pairingPhone takes E.164 to digits', () => {
	const cases = [
		['+4915112345678', '4915112345678'],
		['14155551234', '14155551234'],
		['+0123456789', null],
		['+12', null],
		['', null],
		['+1415555x234', null],
	];
	for (const [phone, want] of cases) {
		if (want === null)
			assert.throws(() => pairingPhone(phone), RangeError, phone);
		else
			assert.equal(pairingPhone(phone), want, phone);
	}
});

test('formatPairingCode reads as ABCD-EFGH', () => {
	const cases = [
		['ABCD1234', 'ABCD-1234'],
		['abcd-1234', 'ABCD-1234'],
		['ABCD 12 34', 'ABCD-1234'],
		['ABC123', null],
		['ABCDE12345', null],
		[undefined, null],
	];
	for (const [code, want] of cases) {
		if (want === null)
			assert.throws(() => formatPairingCode(code), RangeError, String(code));
		else
			assert.equal(formatPairingCode(code), want, code);
	}
});

test('request, code and clearing in a session directory', async () => {
	const dir = await mkdtemp(join(tmpdir(), 'respawn-pairing-'));
	try {
		assert.equal(await pairingRequested(dir), false);
		await writeFile(join(dir, PAIRING_REQUEST), '+4915112345678\n');
		assert.equal(await pairingRequested(dir), true);
		assert.equal(await writePairingCode(dir, 'wxyz9876'), 'WXYZ-9876');
		assert.equal(await readFile(join(dir, PAIRING_CODE), 'utf8'), 'WXYZ-9876\n');
		assert.equal((await stat(join(dir, PAIRING_CODE))).mode & 0o777, 0o600);
		await clearPairing(dir);
		assert.equal(await pairingRequested(dir), false);
		await assert.rejects(stat(join(dir, PAIRING_CODE)));
		await clearPairing(dir);	// nothing there: no error
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
});
