import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumArgs, classifyDisconnect, classifyError } from '../lib/reasons.js';

// [reason, exitCode, event]
const disconnects = [
	['LOGOUT', 78, 'logged_out'],
	['UNPAIRED', 78, 'logged_out'],
	['UNPAIRED_IDLE', 78, 'logged_out'],
	['auth_failure', 78, 'logged_out'],
	['CONFLICT', 1, 'conflict'],
	['PROXYBLOCK', 75, 'proxy_blocked'],
	['TOS_BLOCK', 1, null],
	['SMB_TOS_BLOCK', 1, null],
	['DEPRECATED_VERSION', 1, null],
	['UNLAUNCHED', 1, null],
	[undefined, 1, null],
];
for (const [reason, exitCode, event] of disconnects) {
	test(`classifyDisconnect(${reason})`, () => {
		const v = classifyDisconnect(reason);
		assert.equal(v.action, 'exit');
		assert.equal(v.exitCode, exitCode);
		assert.equal(v.event, event);
	});
}

test('classifyDisconnect while stopping', () => {
	assert.deepEqual(classifyDisconnect('CONFLICT', { stopping: true }).exitCode, 0);
});

// [message, exitCode, event]
const errors = [
	['net::ERR_TUNNEL_CONNECTION_FAILED at https://web.whatsapp.com/', 75, 'proxy_blocked'],
	['net::ERR_PROXY_CONNECTION_FAILED at https://web.whatsapp.com/', 75, 'proxy_blocked'],
	['net::ERR_INVALID_AUTH_CREDENTIALS at https://web.whatsapp.com/', 75, 'proxy_blocked'],
	['net::ERR_PROXY_AUTH_REQUESTED at x', 75, 'proxy_blocked'],
	['net::ERR_SOCKS_CONNECTION_FAILED at x', 75, 'proxy_blocked'],
	['net::ERR_NO_SUPPORTED_PROXIES', 75, 'proxy_blocked'],
	['net::ERR_SSL_PROTOCOL_ERROR at https://localhost:1/', 1, null],
	['net::ERR_CONNECTION_CLOSED at https://web.whatsapp.com/', 1, null],
	['net::ERR_NAME_NOT_RESOLVED at https://web.whatsapp.com/', 1, null],
	['Navigation timeout of 30000 ms exceeded', 1, null],
	['Protocol error: Target closed', 1, null],
	['', 1, null],
];
for (const [msg, exitCode, event] of errors) {
	test(`classifyError(${JSON.stringify(msg).slice(0, 50)})`, () => {
		const v = classifyError(msg);
		assert.equal(v.exitCode, exitCode);
		assert.equal(v.event, event);
		assert.ok(v.reason.length > 0);
	});
}

test('classifyError names the Chromium error', () => {
	assert.equal(classifyError('net::ERR_SSL_PROTOCOL_ERROR at https://x/').reason, 'net::ERR_SSL_PROTOCOL_ERROR');
	assert.equal(classifyError('x', { stopping: true }).exitCode, 0);
});

test('chromiumArgs', () => {
	const a = chromiumArgs({ proxyServer: 'brd.superproxy.io:33335', userDataDir: '/s/7/profile' });
	for (const f of ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync',
		'--proxy-server=brd.superproxy.io:33335', '--proxy-bypass-list=<-loopback>', '--user-data-dir=/s/7/profile'])
		assert.ok(a.includes(f), f);
	assert.ok(!a.some((f) => f.includes('@')), 'no credentials in the flags');
});
