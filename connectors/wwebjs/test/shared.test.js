// lib/env.js, lib/proxy.js and lib/notify.js are shared verbatim with
// connectors/baileys: the copies must not drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
for (const f of ['env.js', 'proxy.js', 'notify.js']) {
	const other = here(`../../baileys/lib/${f}`);
	test(`lib/${f} equals connectors/baileys/lib/${f}`, { skip: !existsSync(other) }, () => {
		assert.equal(readFileSync(here(`../lib/${f}`), 'utf-8'), readFileSync(other, 'utf-8'));
	});
}
