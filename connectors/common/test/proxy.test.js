import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyUrlError, parseProxyUrl } from '../lib/proxy.js';

const ok = [
	['http://brd-customer-c-zone-z-ip-1.2.3.4:pw@brd.superproxy.io:33335',
		{ scheme: 'http', host: 'brd.superproxy.io', port: 33335, username: 'brd-customer-c-zone-z-ip-1.2.3.4',
			password: 'pw', socks: false, chromiumServer: 'brd.superproxy.io:33335',
			redacted: 'http://brd-customer-c-zone-z-ip-1.2.3.4:***@brd.superproxy.io:33335' }],
	['http://127.0.0.1:8080', { port: 8080, username: '', password: '', redacted: 'http://127.0.0.1:8080' }],
	['http://h', { port: 80, hostPort: 'h:80' }],
	['https://u:p@h', { scheme: 'https', port: 443, chromiumServer: 'https://h:443' }],
	['socks5://u:p@10.0.0.1:1080', { scheme: 'socks5', socks: true, chromiumServer: 'socks5://10.0.0.1:1080' }],
	['socks5h://h', { port: 1080, chromiumServer: 'socks5://h:1080' }],
	['socks4://h:9', { chromiumServer: 'socks4://h:9' }],
	['http://us%40er:p%3Ass@h:1', { username: 'us@er', password: 'p:ss' }],
	['HTTP://H:1', { scheme: 'http', host: 'h' }],
	['http://[::1]:3128', { host: '::1', hostPort: '[::1]:3128', chromiumServer: '[::1]:3128' }],
	['http://u:p@h:1/', { port: 1 }],
];

for (const [url, want] of ok) {
	test(`parseProxyUrl ok: ${url}`, () => {
		const got = parseProxyUrl(url);
		for (const [k, v] of Object.entries(want))
			assert.deepEqual(got[k], v, k);
	});
}

const bad = [
	['', 'not a URL'],
	['h:1', 'scheme'],
	['ftp://h:1', 'scheme'],
	['http://u:p@h:1/path', 'path'],
	['http://h:1?x=1', 'path'],
	['http://u:%zz@h:1', 'percent'],
];

for (const [url, msg] of bad) {
	test(`parseProxyUrl refuses: ${JSON.stringify(url)}`, () => {
		assert.throws(() => parseProxyUrl(url), (e) => e instanceof ProxyUrlError && e.message.includes(msg));
	});
}
