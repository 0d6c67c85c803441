#!/usr/bin/env node
// respawn reference connector on Baileys: holds one WhatsApp Web session
// under respawn's connector contract (docs/CONNECTORS.md).

import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import makeWASocket, { Browsers } from 'baileys';
import pino from 'pino';
import QRCode from 'qrcode';
import { ConfigError, parseEnv } from 'respawn-connector-common/env';
import { parseProxyUrl } from 'respawn-connector-common/proxy';
import { Notifier, statusText, watchdogIntervalMs } from 'respawn-connector-common/notify';
import { Fence, exitFenced, fenceMs } from 'respawn-connector-common/fence';
import { clearPairing, pairingPhone, pairingRequested,
	writePairingCode } from 'respawn-connector-common/pairing';
import { classifyClose, EXIT_FAILURE, EXIT_OK } from './lib/reasons.js';
import { useDurableMultiFileAuthState } from './lib/auth-state.js';
import { TunnelState, installGlobalDispatcher, makeDispatcher, makeFetchAgent,
	makeWsAgent } from './lib/agents.js';

const log = (...a) => console.error(new Date().toISOString(), 'baileys-connector:', ...a);

let cfg, proxy;
try {
	cfg = parseEnv(process.env);
	proxy = parseProxyUrl(cfg.proxyUrl);
} catch (e) {
	log(e instanceof ConfigError ? e.message : `RESPAWN_PROXY_URL: ${e.message}`);
	process.exit(EXIT_FAILURE);
}

const notifier = new Notifier({ socket: cfg.notifySocket, log });
const authDir = join(cfg.sessionDir, 'baileys-auth');
const qrTxt = join(cfg.sessionDir, 'qr.txt');
const qrPng = join(cfg.sessionDir, 'qr.png');
const tunnel = new TunnelState();
tunnel.onRefused = () => {
	try {
		sock?.end(new Error(`proxy refused the tunnel (${tunnel.proxyStatus})`));
	} catch (e) {
		log(`closing after a refused tunnel failed: ${e.message}`);
	}
};
const wsAgent = makeWsAgent(proxy, cfg.proxyUrl, tunnel);
const fetchAgent = makeFetchAgent(proxy, cfg.proxyUrl);
const dispatcher = makeDispatcher(proxy, cfg.proxyUrl);
installGlobalDispatcher(dispatcher);
const logger = pino({ level: cfg.logLevel }, pino.destination(2));

let sock = null;
let stopping = false;
let exiting = false;
let restarts = 0;
let watchdog = null;
const pendingSaves = new Set();

function notify(fields) {
	return notifier.send(fields);
}

function track(p) {
	pendingSaves.add(p);
	p.catch((e) => log(`saving the auth state failed: ${e.message}`))
	    .finally(() => pendingSaves.delete(p));
	return p;
}

// Atomically replaces a file in the session directory.
async function writeAtomic(path, data) {
	const tmp = `${path}.tmp${process.pid}`;
	await writeFile(tmp, data, { mode: 0o600 });
	await rename(tmp, path);
}

async function showQr(qr) {
	try {
		await writeAtomic(qrTxt, qr + '\n');
		const png = await QRCode.toBuffer(qr, { type: 'png', margin: 2, scale: 6 });
		await writeAtomic(qrPng, png);
	} catch (e) {
		log(`writing the QR code failed: ${e.message}`);
	}
	log(`QR code needed: ${qrTxt}`);
	notify({ STATUS: 'qr' });
}

// A scan is needed.  When respawn asked for a pairing code
// (pairing-code.request), the code is asked for once per socket instead of
// showing the QR code: Baileys' socket is ready for it once it offers a QR.
let codeAsked = null;
async function onQr(s, qr) {
	if (!(await pairingRequested(cfg.sessionDir))) {
		showQr(qr);
		return;
	}
	if (codeAsked === s)
		return;
	codeAsked = s;
	try {
		const code = await writePairingCode(cfg.sessionDir,
		    await s.requestPairingCode(pairingPhone(cfg.phone)));
		await clearQr();
		log(`pairing code written for ${cfg.phone}: type it on the phone`);
		notify({ STATUS: 'pairing-code' });
		return code;
	} catch (e) {
		log(`asking for a pairing code failed (${e.message}): showing the QR code`);
		showQr(qr);
	}
}

async function clearQr() {
	await rm(qrTxt, { force: true });
	await rm(qrPng, { force: true });
}

async function exitWith(code, event, reason, errnoName) {
	if (exiting)
		return;
	exiting = true;
	if (watchdog)
		clearInterval(watchdog);
	log(`exit ${code}: ${reason}`);
	const fields = [];
	if (event)
		fields.push(['X_RESPAWN_EVENT', event]);
	const errno = errnoName ? osConstants.errno[errnoName] : undefined;
	if (errno)
		fields.push(['ERRNO', errno]);
	fields.push(['STATUS', statusText(code === EXIT_OK ? 'stopped' : `closed: ${reason}`)]);
	await Promise.allSettled([...pendingSaves]);
	await notify(fields);
	await notifier.flush();
	process.exit(code);
}

// Logged out: the keys are worthless and the next start must show a QR
// code, so they are moved aside (kept, never deleted).
async function retireAuth() {
	try {
		await Promise.allSettled([...pendingSaves]);
		await rename(authDir, `${authDir}.logged-out-${Date.now()}`);
	} catch (e) {
		log(`moving the logged-out auth state aside failed: ${e.message}`);
	}
}

function onClose(lastDisconnect) {
	const err = lastDisconnect?.error;
	const cause = err?.data instanceof Error ? err.data : err;
	const verdict = classifyClose({
		stopping,
		statusCode: err?.output?.statusCode,
		proxyStatus: tunnel.proxyStatus,
		tunnelOpen: tunnel.tunnelOpen,
		socksError: tunnel.socksError,
		errorCode: cause?.code,
		restarts,
	});
	log(`connection closed: ${err?.message ?? 'no error'}` +
	    `${tunnel.proxyStatus ? ` (CONNECT ${tunnel.target || 'WhatsApp'} -> ${tunnel.proxyStatus})` : ''}` +
	    ` -> ${verdict.action}: ${verdict.reason}`);
	sock = null;
	switch (verdict.action) {
	case 'reconnect':
		restarts++;
		start().catch((e) => exitWith(EXIT_FAILURE, null, `reconnect failed: ${e.message}`));
		return;
	case 'stopped':
		exitWith(EXIT_OK, null, 'stopped on request');
		return;
	}
	if (verdict.event === 'logged_out') {
		retireAuth().then(() => exitWith(verdict.exitCode, verdict.event, verdict.reason));
		return;
	}
	exitWith(verdict.exitCode, verdict.event, verdict.reason, cause?.code);
}

let authState = null;

async function start() {
	if (authState === null)
		authState = await useDurableMultiFileAuthState(authDir);
	const { state, saveCreds } = authState;
	tunnel.reset();
	notify({ STATUS: 'connecting' });
	const s = makeWASocket({
		auth: state,
		logger,
		agent: wsAgent,
		fetchAgent,
		options: { dispatcher },
		browser: Browsers.ubuntu('Chrome'),
		markOnlineOnConnect: false,
		syncFullHistory: false,
		...(cfg.waUrl ? { waWebSocketUrl: cfg.waUrl } : {}),
	});
	sock = s;
	s.ev.on('creds.update', () => track(saveCreds()));
	s.ev.on('connection.update', (u) => {
		if (s !== sock && !(u.connection === 'close'))
			return;
		if (u.qr)
			onQr(s, u.qr);
		if (u.connection === 'open') {
			restarts = 0;
			clearQr().catch(() => {});
			clearPairing(cfg.sessionDir).catch(() => {});
			log(`connected as ${state.creds.me?.id ?? '?'} through ${proxy.redacted}`);
			notifier.ready([['READY', 1], ['STATUS', 'open']]);
		} else if (u.connection === 'close' && s === sock) {
			notifier.notReady();
			onClose(u.lastDisconnect);
		}
	});
}

function stop(sig) {
	if (stopping)
		return;
	stopping = true;
	notifier.notReady();
	log(`${sig}: closing the connection (no logout)`);
	notify([['STOPPING', 1], ['STATUS', 'stopping']]);
	if (sock === null) {
		exitWith(EXIT_OK, null, 'stopped on request');
		return;
	}
	// end() emits connection.update close, which exits (see onClose).
	try {
		sock.end(undefined);
	} catch (e) {
		log(`closing failed: ${e.message}`);
	}
	setTimeout(() => exitWith(EXIT_OK, null, 'stopped on request'), 3000).unref();
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('uncaughtException', (e) => {
	log(`uncaught: ${e.stack ?? e}`);
	exitWith(EXIT_FAILURE, null, `uncaught ${e.message}`);
});
// Nothing left to wait for is a failure, never a silent exit 0.
process.on('beforeExit', () => exitWith(EXIT_FAILURE, null, 'nothing left to do'));
process.on('unhandledRejection', (e) => {
	log(`unhandled rejection: ${e?.stack ?? e}`);
});

// Fencing: no message taken for RESPAWN_FENCE_USEC means no daemon.
new Fence({ notifier, ms: fenceMs(process.env.RESPAWN_FENCE_USEC),
	onFenced: () => exitFenced(log, EXIT_FAILURE) }).start();

const wdMs = watchdogIntervalMs(cfg.watchdogUsec);
if (wdMs > 0) {
	watchdog = setInterval(() => {
		if (!exiting && !stopping)
			notify({ WATCHDOG: 1 });
	}, wdMs);
}

await mkdir(cfg.sessionDir, { recursive: true, mode: 0o700 });
log(`session ${cfg.sessionId} ${cfg.phone} (${cfg.country}) through ${proxy.redacted}` +
    `${cfg.waUrl ? `, WhatsApp at ${cfg.waUrl}` : ''}`);
start().catch((e) => exitWith(EXIT_FAILURE, null, `start failed: ${e.message}`));
