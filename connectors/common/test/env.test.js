import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseEnv } from '../lib/env.js';

const base = { RESPAWN_SESSION_DIR: '/var/lib/respawn/sessions/7', RESPAWN_PROXY_URL: 'http://u:p@h:1' };

test('parseEnv accepts the contract', () => {
	const c = parseEnv({ ...base, RESPAWN_SESSION_ID: '7', RESPAWN_USER_ID: 'u1',
		RESPAWN_PHONE: '+14155551234', RESPAWN_COUNTRY: 'US', NOTIFY_SOCKET: '@respawn/notify',
		WATCHDOG_USEC: '30000000' });
	assert.deepEqual(c, { sessionId: '7', userId: 'u1', phone: '+14155551234', country: 'us',
		proxyUrl: 'http://u:p@h:1', sessionDir: '/var/lib/respawn/sessions/7',
		notifySocket: '@respawn/notify', watchdogUsec: 30000000, waUrl: '', logLevel: 'warn' });
});

const cases = [
	// [name, env overrides, error substring or null, check]
	['minimal', {}, null, (c) => assert.equal(c.watchdogUsec, 0)],
	['trailing slash stripped', { RESPAWN_SESSION_DIR: '/s/7//' }, null, (c) => assert.equal(c.sessionDir, '/s/7')],
	['no session dir', { RESPAWN_SESSION_DIR: '' }, 'RESPAWN_SESSION_DIR'],
	['relative session dir', { RESPAWN_SESSION_DIR: 'sessions/7' }, 'absolute'],
	['no proxy', { RESPAWN_PROXY_URL: undefined }, 'RESPAWN_PROXY_URL'],
	['bad phone', { RESPAWN_PHONE: '0044123' }, 'E.164'],
	['bad country', { RESPAWN_COUNTRY: 'usa' }, 'alpha-2'],
	['bad watchdog', { WATCHDOG_USEC: '5s' }, 'WATCHDOG_USEC'],
	['empty watchdog', { WATCHDOG_USEC: '' }, null, (c) => assert.equal(c.watchdogUsec, 0)],
	['wa url', { RESPAWN_WA_URL: 'wss://localhost:5222/ws/chat' }, null,
		(c) => assert.equal(c.waUrl, 'wss://localhost:5222/ws/chat')],
	['bad wa url', { RESPAWN_WA_URL: 'ftp://x' }, 'RESPAWN_WA_URL'],
	['log level', { RESPAWN_CONNECTOR_LOG_LEVEL: 'debug' }, null, (c) => assert.equal(c.logLevel, 'debug')],
];

for (const [name, over, err, check] of cases) {
	test(`parseEnv: ${name}`, () => {
		const env = { ...base, ...over };
		for (const k of Object.keys(env))
			if (env[k] === undefined)
				delete env[k];
		if (err) {
			assert.throws(() => parseEnv(env), (e) => e instanceof ConfigError && e.message.includes(err));
		} else {
			check(parseEnv(env));
		}
	});
}
