#!/usr/bin/env node
// respawn reference connector on whatsapp-web.js: holds one WhatsApp Web
// session in a headless Chromium under respawn's connector contract
// (docs/CONNECTORS.md).

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import QRCode from 'qrcode';
import { ConfigError, parseEnv } from 'respawn-connector-common/env';
import { parseProxyUrl } from 'respawn-connector-common/proxy';
import { Notifier, statusText, watchdogIntervalMs } from 'respawn-connector-common/notify';
import { Fence, exitFenced, fenceMs } from 'respawn-connector-common/fence';
import { clearPairing, pairingPhone, pairingRequested,
	writePairingCode } from 'respawn-connector-common/pairing';
import { chromiumArgs, classifyDisconnect, classifyError, EXIT_FAILURE,
	EXIT_OK } from './lib/reasons.js';

const log = (...a) => console.error(new Date().toISOString(), 'wwebjs-connector:', ...a);
const CHROMIUM = process.env.RESPAWN_CHROMIUM || '/usr/bin/chromium';

let cfg, proxy;
try {
	cfg = parseEnv(process.env);
	proxy = parseProxyUrl(cfg.proxyUrl);
} catch (e) {
	log(e instanceof ConfigError ? e.message : `RESPAWN_PROXY_URL: ${e.message}`);
	process.exit(EXIT_FAILURE);
}
if (proxy.socks && proxy.username !== '') {
	log('Chromium cannot authenticate to a SOCKS proxy: use an HTTP proxy URL');
	process.exit(EXIT_FAILURE);
}

// whatsapp-web.js and the puppeteer it loads (puppeteer-core, through the
// package.json override).  RESPAWN_WA_URL replaces WhatsApp Web's address
// (tests); it must be set before the Client module reads it.
const require = createRequire(import.meta.url);
const wreq = createRequire(require.resolve('whatsapp-web.js'));
const Constants = wreq('./src/util/Constants');
if (cfg.waUrl)
	Constants.WhatsWebURL = cfg.waUrl;
const puppeteer = wreq('puppeteer');
const { PipeTransport } = wreq('puppeteer/lib/cjs/puppeteer/node/PipeTransport.js');
const { Client, LocalAuth } = wreq('./index.js');

const notifier = new Notifier({ socket: cfg.notifySocket, log });
const authDir = join(cfg.sessionDir, 'wwebjs-auth');
const qrTxt = join(cfg.sessionDir, 'qr.txt');
const qrPng = join(cfg.sessionDir, 'qr.png');

let chromium = null;
let browser = null;
let client = null;
let stopping = false;
let exiting = false;
let watchdog = null;

const notify = (fields) => notifier.send(fields);

// Puppeteer starts Chromium detached, in a session of its own, where
// respawn's signals to the connector's process group never reach it.  So
// Chromium is started here, in the connector's group, and puppeteer talks
// to it over --remote-debugging-pipe.
puppeteer.launch = async (opts) => {
	const userDataDir = opts.userDataDir;
	for (const f of ['SingletonLock', 'SingletonSocket', 'SingletonCookie'])
		await rm(join(userDataDir, f), { force: true });
	const args = [...chromiumArgs({ proxyServer: proxy.chromiumServer, userDataDir }),
		...(opts.args ?? []), '--remote-debugging-pipe', 'about:blank'];
	chromium = spawn(CHROMIUM, args, {
		stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
		env: { ...process.env, TMPDIR: cfg.sessionDir },
	});
	chromium.stderr.on('data', (d) => {
		if (cfg.logLevel === 'debug')
			process.stderr.write(d);
	});
	chromium.on('exit', (code, sig) => {
		if (!exiting && !stopping)
			exitWith(EXIT_FAILURE, null, `Chromium exited (${sig ?? code})`);
	});
	await new Promise((resolve, reject) => {
		chromium.once('spawn', resolve);
		chromium.once('error', reject);
	});
	const transport = new PipeTransport(chromium.stdio[3], chromium.stdio[4]);
	browser = await puppeteer.connect({ transport, defaultViewport: null,
		protocolTimeout: 60000 });
	return browser;
};

// Every other process of our process group (Chromium and its helpers).
function groupMembers() {
	let pgrp;
	try {
		pgrp = readFileSync('/proc/self/stat', 'utf-8').split(') ')[1].split(' ')[2];
	} catch {
		return [];
	}
	const pids = [];
	for (const d of readdirSync('/proc')) {
		if (!/^[0-9]+$/.test(d) || Number(d) === process.pid)
			continue;
		try {
			const f = readFileSync(`/proc/${d}/stat`, 'utf-8').split(') ')[1].split(' ');
			if (f[2] === pgrp && f[0] !== 'Z')
				pids.push(Number(d));
		} catch {}
	}
	return pids;
}

async function killBrowser() {
	try {
		if (browser?.connected)
			await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 3000))]);
	} catch {}
	chromium?.kill('SIGKILL');
	// Only when we lead the group (as under respawn) are all its members ours.
	if (process.getpgid?.(0) === process.pid || groupLeader()) {
		for (const pid of groupMembers()) {
			try {
				process.kill(pid, 'SIGKILL');
			} catch {}
		}
	}
}

function groupLeader() {
	try {
		return readFileSync('/proc/self/stat', 'utf-8').split(') ')[1].split(' ')[2] === String(process.pid);
	} catch {
		return false;
	}
}

async function writeAtomic(path, data) {
	const tmp = `${path}.tmp${process.pid}`;
	await writeFile(tmp, data, { mode: 0o600 });
	await rename(tmp, path);
}

async function showQr(qr) {
	try {
		await writeAtomic(qrTxt, qr + '\n');
		await writeAtomic(qrPng, await QRCode.toBuffer(qr, { type: 'png', margin: 2, scale: 6 }));
	} catch (e) {
		log(`writing the QR code failed: ${e.message}`);
	}
	log(`QR code needed: ${qrTxt}`);
	notify({ STATUS: 'qr' });
}

// A scan is needed.  When respawn asked for a pairing code
// (pairing-code.request), whatsapp-web.js is asked for one, once, instead
// of showing the QR code (its page is ready for it once it offers a QR).
let codeAsked = false;
async function onQr(qr) {
	if (!(await pairingRequested(cfg.sessionDir))) {
		showQr(qr);
		return;
	}
	if (codeAsked)
		return;
	codeAsked = true;
	try {
		await writePairingCode(cfg.sessionDir,
		    await client.requestPairingCode(pairingPhone(cfg.phone), true));
		await rm(qrTxt, { force: true });
		await rm(qrPng, { force: true });
		log(`pairing code written for ${cfg.phone}: type it on the phone`);
		notify({ STATUS: 'pairing-code' });
	} catch (e) {
		log(`asking for a pairing code failed (${e.message}): showing the QR code`);
		showQr(qr);
	}
}

async function exitWith(code, event, reason) {
	if (exiting)
		return;
	exiting = true;
	if (watchdog)
		clearInterval(watchdog);
	log(`exit ${code}: ${reason}`);
	const fields = [];
	if (event)
		fields.push(['X_RESPAWN_EVENT', event]);
	fields.push(['STATUS', statusText(code === EXIT_OK ? 'stopped' : `closed: ${reason}`)]);
	const sent = notify(fields);
	await killBrowser();
	await sent;
	await notifier.flush();
	process.exit(code);
}

function verdict(v) {
	if (v.action === 'stopped')
		return exitWith(EXIT_OK, null, 'stopped on request');
	return exitWith(v.exitCode, v.event, v.reason);
}

async function start() {
	await mkdir(authDir, { recursive: true, mode: 0o700 });
	notify({ STATUS: 'connecting' });
	client = new Client({
		authStrategy: new LocalAuth({ dataPath: authDir }),
		puppeteer: { headless: true, args: [] },
		proxyAuthentication: proxy.username !== '' ?
		    { username: proxy.username, password: proxy.password } : undefined,
		webVersionCache: { type: 'none' },
		takeoverOnConflict: false,
		qrMaxRetries: 0,
	});
	client.on('qr', onQr);
	client.on('authenticated', () => notify({ STATUS: 'authenticated' }));
	client.on('ready', () => {
		rm(qrTxt, { force: true }).catch(() => {});
		rm(qrPng, { force: true }).catch(() => {});
		clearPairing(cfg.sessionDir).catch(() => {});
		log(`connected through ${proxy.redacted}`);
		notifier.ready([['READY', 1], ['STATUS', 'open']]);
	});
	client.on('auth_failure', (m) => {
		log(`auth failure: ${m}`);
		verdict(classifyDisconnect('auth_failure', { stopping }));
	});
	client.on('disconnected', (reason) => {
		notifier.notReady();
		log(`disconnected: ${reason}`);
		verdict(classifyDisconnect(reason, { stopping }));
	});
	await client.initialize();
}

function stop(sig) {
	if (stopping)
		return;
	stopping = true;
	notifier.notReady();
	log(`${sig}: closing the browser (no logout)`);
	notify([['STOPPING', 1], ['STATUS', 'stopping']]);
	exitWith(EXIT_OK, null, 'stopped on request');
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('uncaughtException', (e) => {
	log(`uncaught: ${e.stack ?? e}`);
	verdict(classifyError(e.message, { stopping }));
});
process.on('unhandledRejection', (e) => {
	log(`unhandled rejection: ${e?.stack ?? e}`);
});
process.on('beforeExit', () => exitWith(EXIT_FAILURE, null, 'nothing left to do'));

// Fencing: no message taken for RESPAWN_FENCE_USEC means no daemon.
new Fence({ notifier, ms: fenceMs(process.env.RESPAWN_FENCE_USEC),
	onFenced: () => exitFenced(log, EXIT_FAILURE) }).start();

const wdMs = watchdogIntervalMs(cfg.watchdogUsec);
if (wdMs > 0) {
	watchdog = setInterval(() => {
		if (!exiting && !stopping && (browser === null || browser.connected))
			notify({ WATCHDOG: 1 });
	}, wdMs);
}

await mkdir(cfg.sessionDir, { recursive: true, mode: 0o700 });
log(`session ${cfg.sessionId} ${cfg.phone} (${cfg.country}) through ${proxy.redacted}` +
    `${cfg.waUrl ? `, WhatsApp Web at ${cfg.waUrl}` : ''}`);
start().catch((e) => {
	log(`start failed: ${e.message}`);
	verdict(classifyError(e.message, { stopping }));
});
