import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyClose, MAX_RESTARTS } from '../lib/reasons.js';

// [name, input, action, exitCode, event]
const cases = [
	['SIGTERM', { stopping: true, statusCode: 428 }, 'stopped', 0, null],
	['stopping wins over a proxy error', { stopping: true, proxyStatus: 403 }, 'stopped', 0, null],
	['logged out', { statusCode: 401, tunnelOpen: true }, 'exit', 78, 'logged_out'],
	['connection replaced', { statusCode: 440, tunnelOpen: true }, 'exit', 1, 'conflict'],
	['restart required', { statusCode: 515, tunnelOpen: true, restarts: 0 }, 'reconnect', null, null],
	['restart required again', { statusCode: 515, tunnelOpen: true, restarts: MAX_RESTARTS - 1 }, 'reconnect', null, null],
	['restart required in a loop', { statusCode: 515, tunnelOpen: true, restarts: MAX_RESTARTS }, 'exit', 1, null],
	['CONNECT 407', { statusCode: 407, proxyStatus: 407 }, 'exit', 75, 'proxy_blocked'],
	['CONNECT 400 (IP not in zone)', { statusCode: 400, proxyStatus: 400 }, 'exit', 75, 'proxy_blocked'],
	['CONNECT 403', { statusCode: 403, proxyStatus: 403 }, 'exit', 75, 'proxy_blocked'],
	['CONNECT 502', { statusCode: 502, proxyStatus: 502 }, 'exit', 75, 'proxy_blocked'],
	['CONNECT 503', { statusCode: 500, proxyStatus: 503 }, 'exit', 75, 'proxy_blocked'],
	['proxy port closed', { statusCode: 408, errorCode: 'ECONNREFUSED' }, 'exit', 75, 'proxy_blocked'],
	['proxy unreachable', { statusCode: 408, errorCode: 'EHOSTUNREACH' }, 'exit', 75, 'proxy_blocked'],
	['proxy reset the CONNECT', { statusCode: 408, errorCode: 'ECONNRESET' }, 'exit', 75, 'proxy_blocked'],
	['SOCKS refused', { statusCode: 500, socksError: true }, 'exit', 75, 'proxy_blocked'],
	['reset after the tunnel opened', { statusCode: 408, errorCode: 'ECONNRESET', tunnelOpen: true }, 'exit', 1, null],
	['TLS failure in the tunnel', { statusCode: 408, errorCode: 'EPROTO', tunnelOpen: true }, 'exit', 1, null],
	['proxy host unknown (DNS)', { statusCode: 408, errorCode: 'ENOTFOUND' }, 'exit', 1, null],
	['WhatsApp 403 (ban)', { statusCode: 403, proxyStatus: 200, tunnelOpen: true }, 'exit', 1, null],
	['connection lost', { statusCode: 408, tunnelOpen: true }, 'exit', 1, null],
	['connection closed', { statusCode: 428, tunnelOpen: true }, 'exit', 1, null],
	['bad session', { statusCode: 500, tunnelOpen: true }, 'exit', 1, null],
	['multidevice mismatch', { statusCode: 411, tunnelOpen: true }, 'exit', 1, null],
	['unavailable', { statusCode: 503, tunnelOpen: true }, 'exit', 1, null],
	['no status at all', {}, 'exit', 1, null],
];

for (const [name, input, action, exitCode, event] of cases) {
	test(`classifyClose: ${name}`, () => {
		const v = classifyClose(input);
		assert.equal(v.action, action);
		assert.equal(v.exitCode, exitCode);
		assert.equal(v.event, event);
		assert.equal(typeof v.reason, 'string');
	});
}

test('never a reconnect except for 515', () => {
	for (const statusCode of [0, 401, 403, 408, 411, 428, 440, 500, 503])
		for (const tunnelOpen of [false, true])
			assert.notEqual(classifyClose({ statusCode, tunnelOpen }).action, 'reconnect');
});
