// The sd_notify protocol (docs/CONNECTORS.md): message formatting, the
// watchdog interval, and a sender.
//
// Node's dgram module has no AF_UNIX datagram sockets, so the sender runs
// systemd-notify(1) (Debian package "systemd"), one process per message, in
// order.  respawn accepts a message from any process of the connector's
// process session, and systemd-notify waits (BARRIER=1) until respawn has
// read the message, so the sender's pid still exists when it is checked.
// systemd-notify handles both a path and an abstract "@name" NOTIFY_SOCKET.
//
// Part of respawn-connector-common, used by connectors/baileys and
// connectors/wwebjs.

import { spawn as nodeSpawn } from 'node:child_process';

export const NOTIFY_MAX = 4096;

// fields: an object or an array of [key, value] pairs, in order.
// Returns the lines ("KEY=VALUE"), throwing on anything the protocol forbids.
export function notifyLines(fields) {
	const pairs = Array.isArray(fields) ? fields : Object.entries(fields);
	if (pairs.length === 0)
		throw new RangeError('empty message');
	const lines = pairs.map(([k, v]) => {
		if (!/^[A-Z_][A-Z0-9_]*$/.test(k))
			throw new RangeError(`bad key: ${k}`);
		const s = String(v);
		if (/[\n\0]/.test(s))
			throw new RangeError(`value of ${k} has a newline or NUL`);
		return `${k}=${s}`;
	});
	if (Buffer.byteLength(lines.join('\n')) > NOTIFY_MAX)
		throw new RangeError(`message longer than ${NOTIFY_MAX} bytes`);
	return lines;
}

export function formatNotify(fields) {
	return notifyLines(fields).join('\n');
}

// A one-line STATUS= value: newlines folded, cut to fit.
export function statusText(s, max = 200) {
	const t = String(s).replace(/[\r\n\0]+/g, ' ').trim();
	return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

// WATCHDOG_USEC -> the interval at which to send WATCHDOG=1 (half of it),
// in ms; 0 when there is no watchdog.
export function watchdogIntervalMs(usec) {
	const n = Number(usec);
	if (!Number.isFinite(n) || n <= 0)
		return 0;
	return Math.max(1, Math.floor(n / 2000));
}

export function isAbstractSocket(path) {
	return path.startsWith('@');
}

// Sends messages in order through systemd-notify.  send() resolves to true
// when systemd-notify reported success, false otherwise (no socket, respawn
// gone: a connector must outlive the daemon, so failures are only logged).
export const READY_REPEAT_MS = 30000;	// READY=1 again, while ready
export const READY_RETRY_MS = 1000;	// ... sooner while nobody takes it

export class Notifier {
	constructor({ socket, command = 'systemd-notify', spawn = nodeSpawn,
	    log = () => {}, timeoutMs = 6000, repeatMs = READY_REPEAT_MS,
	    retryMs = READY_RETRY_MS, setTimer = setTimeout,
	    clearTimer = clearTimeout } = {}) {
		this.socket = socket || '';
		this.command = command;
		this.spawn = spawn;
		this.log = log;
		this.timeoutMs = timeoutMs;
		this.tail = Promise.resolve();
		this.missing = false;
		this.repeatMs = repeatMs;
		this.retryMs = retryMs;
		this.setTimer = setTimer;
		this.clearTimer = clearTimer;
		this.readyFields = null;
		this.readyTimer = null;
		this.takenAt = null;	// when respawn last took a message (fence.js)
	}

	// READY=1 (with fields), and again: every retryMs while the daemon
	// does not take it (it is down or handing over), every repeatMs once
	// it has, until notReady().  A daemon that took the connector over
	// after a crash knows it is ready only from a READY=1 it receives.
	ready(fields) {
		this.notReady();
		this.readyFields = fields;
		this.sayReady();
	}

	notReady() {
		if (this.readyTimer !== null)
			this.clearTimer(this.readyTimer);
		this.readyTimer = null;
		this.readyFields = null;
	}

	sayReady() {
		const fields = this.readyFields;
		if (fields === null)
			return;
		this.send(fields).then((ok) => {
			if (this.readyFields !== fields)
				return;
			const ms = ok ? this.repeatMs : this.retryMs;
			if (ms > 0) {
				this.readyTimer = this.setTimer(() => this.sayReady(), ms);
				this.readyTimer?.unref?.();
			}
		});
	}

	argv(fields) {
		return ['--', ...notifyLines(fields)];
	}

	send(fields) {
		const args = this.argv(fields);
		const p = this.tail.then(() => this.run(args));
		this.tail = p.catch(() => {});
		return p;
	}

	// Resolves once every message queued so far is out.
	flush() {
		return this.tail;
	}

	run(args) {
		if (this.socket === '' || this.missing)
			return Promise.resolve(false);
		return new Promise((resolve) => {
			let done = false, child;
			const finish = (ok, why) => {
				if (done)
					return;
				done = true;
				clearTimeout(timer);
				if (ok)
					this.takenAt = performance.now();
				if (!ok)
					this.log(`notify: ${args.slice(1).join(' ')}: ${why}`);
				resolve(ok);
			};
			const timer = setTimeout(() => {
				child?.kill('SIGKILL');
				finish(false, 'timed out');
			}, this.timeoutMs);
			try {
				child = this.spawn(this.command, args, {
					stdio: ['ignore', 'ignore', 'inherit'],
					env: { ...process.env, NOTIFY_SOCKET: this.socket },
				});
			} catch (e) {
				finish(false, e.message);
				return;
			}
			child.on('error', (e) => {
				if (e.code === 'ENOENT')
					this.missing = true;
				finish(false, e.code === 'ENOENT' ?
				    `${this.command} not found (install Debian's systemd package)` : e.message);
			});
			child.on('exit', (code, sig) => finish(code === 0,
			    sig ? `killed by ${sig}` : `exit ${code}`));
		});
	}
}
