import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fence, fenceMs, fencePingMs } from '../lib/fence.js';

const ms = [[undefined, 0], ['', 0], [0, 0], [-1, 0], ['x', 0], [1, 1], [999, 1],
	[4000000, 4000], ['7500000', 7500]];
for (const [usec, want] of ms)
	test(`fenceMs(${usec}) = ${want}`, () => assert.equal(fenceMs(usec), want));

const ping = [[4000, true, 1000], [4000, false, 200], [800, false, 100], [4, false, 1], [2, true, 1]];
for (const [d, ok, want] of ping)
	test(`fencePingMs(${d}, ${ok}) = ${want}`, () => assert.equal(fencePingMs(d, ok), want));

// A fake clock and timers: run() advances time to each timer in turn.
function world(answers) {
	let now = 0;
	const timers = [];
	const sent = [];
	const notifier = {
		takenAt: null,
		send(fields) {
			sent.push({ at: now, fields });
			const ok = answers(now);
			if (ok)
				notifier.takenAt = now;
			return { then: (f) => f(ok) };
		},
	};
	return {
		notifier, sent,
		now: () => now,
		setTimer: (f, d) => { const t = { at: now + d, f }; timers.push(t); return t; },
		clearTimer: (t) => { const i = timers.indexOf(t); if (i >= 0) timers.splice(i, 1); },
		run(until) {
			while (timers.length > 0) {
				timers.sort((a, b) => a.at - b.at);
				if (timers[0].at > until)
					break;
				const t = timers.shift();
				now = t.at;
				t.f();
			}
			now = until;
		},
	};
}

const cases = [
	// name, daemon takes messages when, deadline, run until, fenced at
	['a daemon that takes everything', () => true, 4000, 60000, null],
	['no daemon from the start', () => false, 4000, 60000, 4000],
	['a daemon gone at 10 s', (t) => t < 10000, 4000, 60000, 13000],
	['a daemon back within the deadline', (t) => t < 10000 || t > 12000, 4000, 60000, null],
	['a daemon back too late', (t) => t < 10000 || t > 15000, 4000, 60000, 13000],
];
for (const [name, answers, d, until, want] of cases) {
	test(`fence: ${name}`, () => {
		const w = world(answers);
		let fencedAt = null;
		const f = new Fence({ notifier: w.notifier, ms: d, now: w.now,
			setTimer: w.setTimer, clearTimer: w.clearTimer,
			onFenced: () => { fencedAt = w.now(); } });
		f.start();
		w.run(until);
		assert.equal(fencedAt, want);
		// Pinged at least every quarter of the deadline while taken.
		const gaps = w.sent.slice(1).map((s, i) => s.at - w.sent[i].at);
		assert.ok(gaps.every((g) => g <= d / 4), `gaps ${gaps}`);
	});
}

test('fence: none without RESPAWN_FENCE_USEC', () => {
	const w = world(() => false);
	let fenced = false;
	new Fence({ notifier: w.notifier, ms: 0, now: w.now, setTimer: w.setTimer,
		clearTimer: w.clearTimer, onFenced: () => { fenced = true; } }).start();
	w.run(60000);
	assert.equal(fenced, false);
	assert.equal(w.sent.length, 0);
});
