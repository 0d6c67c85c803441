import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Notifier, formatNotify, isAbstractSocket, notifyLines, statusText,
	watchdogIntervalMs } from '../lib/notify.js';

const fmt = [
	[{ READY: 1 }, 'READY=1'],
	[[['READY', 1], ['STATUS', 'open']], 'READY=1\nSTATUS=open'],
	[[['X_RESPAWN_EVENT', 'proxy_blocked'], ['ERRNO', 111]], 'X_RESPAWN_EVENT=proxy_blocked\nERRNO=111'],
	[{ STATUS: 'closed: a=b' }, 'STATUS=closed: a=b'],
	[{ STATUS: '' }, 'STATUS='],
];
for (const [fields, want] of fmt)
	test(`formatNotify ${JSON.stringify(fields)}`, () => assert.equal(formatNotify(fields), want));

const refused = [
	[{}, 'empty'],
	[{ ready: 1 }, 'bad key'],
	[{ 'A B': 1 }, 'bad key'],
	[{ STATUS: 'a\nREADY=1' }, 'newline'],
	[{ STATUS: 'a\0' }, 'NUL'],
	[{ STATUS: 'x'.repeat(4090) }, '4096'],
];
for (const [fields, msg] of refused)
	test(`formatNotify refuses ${JSON.stringify(fields).slice(0, 40)}`,
	    () => assert.throws(() => notifyLines(fields), (e) => e.message.includes(msg)));

test('a message of exactly 4096 bytes is accepted', () => {
	assert.equal(formatNotify({ STATUS: 'x'.repeat(4096 - 7) }).length, 4096);
});

const wd = [[undefined, 0], [0, 0], ['', 0], [-5, 0], ['abc', 0], [1, 1], [1000, 1],
	[3000, 1], [4000, 2], [30000000, 15000], ['20000000', 10000]];
for (const [usec, ms] of wd)
	test(`watchdogIntervalMs(${usec}) = ${ms}`, () => assert.equal(watchdogIntervalMs(usec), ms));

const st = [['open', 'open'], ['a\nb', 'a b'], ['  x\r\n', 'x'], ['y'.repeat(300), 'y'.repeat(199) + '…']];
for (const [s, want] of st)
	test(`statusText(${JSON.stringify(s).slice(0, 20)})`, () => assert.equal(statusText(s), want));

test('isAbstractSocket', () => {
	assert.equal(isAbstractSocket('@respawn/n'), true);
	assert.equal(isAbstractSocket('/run/respawn/notify.sock'), false);
});

// A fake spawn: records calls, exits with the given codes.
function fakeSpawn(codes, calls) {
	return (cmd, args, opts) => {
		const c = new EventEmitter();
		c.kill = () => {};
		calls.push({ cmd, args, socket: opts.env.NOTIFY_SOCKET });
		const code = codes.shift();
		setTimeout(() => code === 'ENOENT' ?
		    c.emit('error', Object.assign(new Error('spawn'), { code: 'ENOENT' })) :
		    c.emit('exit', code, null), 5);
		return c;
	};
}

test('Notifier sends in order through systemd-notify', async () => {
	const calls = [];
	const n = new Notifier({ socket: '@sock', spawn: fakeSpawn([0, 1, 0], calls) });
	const r = await Promise.all([n.send({ STATUS: 'connecting' }),
		n.send([['READY', 1], ['STATUS', 'open']]), n.send({ WATCHDOG: 1 })]);
	assert.deepEqual(r, [true, false, true]);
	assert.deepEqual(calls.map((c) => c.args), [['--', 'STATUS=connecting'],
		['--', 'READY=1', 'STATUS=open'], ['--', 'WATCHDOG=1']]);
	assert.ok(calls.every((c) => c.cmd === 'systemd-notify' && c.socket === '@sock'));
});

test('Notifier without a socket sends nothing', async () => {
	const calls = [];
	const n = new Notifier({ socket: '', spawn: fakeSpawn([0], calls) });
	assert.equal(await n.send({ READY: 1 }), false);
	assert.equal(calls.length, 0);
});

test('Notifier stops trying when systemd-notify is missing', async () => {
	const calls = [], logs = [];
	const n = new Notifier({ socket: '/s', spawn: fakeSpawn(['ENOENT', 0], calls), log: (m) => logs.push(m) });
	assert.equal(await n.send({ READY: 1 }), false);
	assert.equal(await n.send({ READY: 1 }), false);
	assert.equal(calls.length, 1);
	assert.match(logs[0], /systemd package/);
});

test('Notifier times out a stuck systemd-notify', async () => {
	let killed = false;
	const spawn = () => {
		const c = new EventEmitter();
		c.kill = () => { killed = true; };
		return c;
	};
	const n = new Notifier({ socket: '/s', spawn, timeoutMs: 20 });
	assert.equal(await n.send({ READY: 1 }), false);
	assert.equal(killed, true);
});

test('Notifier refuses a bad message at once', () => {
	const n = new Notifier({ socket: '/s', spawn: fakeSpawn([], []) });
	assert.throws(() => n.send({ STATUS: 'a\nb' }));
});

test('Notifier.ready says READY=1 again: soon while refused, then at the repeat', async () => {
	const calls = [], timers = [];
	// Refused twice (no daemon), then taken, then taken again.
	const n = new Notifier({ socket: '/s', spawn: fakeSpawn([1, 1, 0, 0], calls),
		repeatMs: 30000, retryMs: 1000,
		setTimer: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
		clearTimer: () => {} });
	n.ready([['READY', 1], ['STATUS', 'open']]);
	for (let i = 0; i < 3; i++) {
		await n.flush();
		await new Promise((r) => setImmediate(r));
		timers[i].fn();
	}
	await n.flush();
	await new Promise((r) => setImmediate(r));
	assert.deepEqual(timers.map((t) => t.ms), [1000, 1000, 30000, 30000]);
	assert.equal(calls.length, 4);
	assert.ok(calls.every((c) => c.args.includes('READY=1')));
});

test('Notifier.notReady stops the repeats', async () => {
	const calls = [], timers = [];
	const n = new Notifier({ socket: '/s', spawn: fakeSpawn([0, 0], calls),
		setTimer: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
		clearTimer: () => {} });
	n.ready({ READY: 1 });
	await n.flush();
	await new Promise((r) => setImmediate(r));
	n.notReady();
	timers[0].fn();
	await n.flush();
	assert.equal(calls.length, 1);
});
