// The dashboard in Debian's chromium (puppeteer-core), against a running
// daemon and respawn-lab (started by run.sh, which exports URL, KEY,
// LAB_API, PHONE, SESSIONS and CHROMIUM).  Each step prints "ok - ..." or
// "not ok - ..."; the last line counts them.  Bounded: 60 s in all.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const { URL: BASE, KEY, LAB_API, PHONE, CHROMIUM } = process.env;
const SESSIONS = Number(process.env.SESSIONS);
const SHOTS = process.env.RESPAWN_SCREENSHOTS || '';
const STEP_MS = 15000;
let passed = 0, failed = 0;

function ok(what) { passed++; console.log(`ok - ${what}`); }
function notOk(what, e) { failed++; console.log(`not ok - ${what}${e ? `: ${e.message ?? e}` : ''}`); }
async function check(what, fn) {
	try {
		await fn();
		ok(what);
	} catch (e) {
		notOk(what, e);
	}
}
function expect(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

async function lab(path, body) {
	const r = await fetch(`${LAB_API}${path}`, { method: 'POST', body: JSON.stringify(body) });
	return r.status;
}

async function api(path, headers = {}) {
	return fetch(`${BASE}${path}`, { headers: { 'x-api-key': KEY, ...headers } });
}

async function shot(page, name) {
	if (!SHOTS)
		return;
	mkdirSync(SHOTS, { recursive: true });
	await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

const deadline = setTimeout(() => {
	console.log('not ok - the browser test ran past 60 s');
	process.exit(1);
}, 60000);

const browser = await puppeteer.launch({
	executablePath: CHROMIUM,
	headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
		'--disable-extensions', '--disable-background-networking'],
});
const cspViolations = [];
try {
	const page = await browser.newPage();
	await page.setViewport({ width: 1280, height: 800 });
	page.setDefaultTimeout(STEP_MS);
	page.on('console', (m) => {
		if (/Content Security Policy|Refused to/i.test(m.text()))
			cspViolations.push(m.text());
	});
	page.on('pageerror', (e) => cspViolations.push(`page error: ${e.message}`));

	await check('the page asks for the key', async () => {
		await page.goto(`${BASE}/`, { waitUntil: 'load' });
		await page.waitForSelector('#key-input', { visible: true });
		expect(await page.$eval('#nav', (n) => n.hidden), 'the navigation shows without a key');
	});

	await check('a wrong key is refused', async () => {
		await page.type('#key-input', 'not-the-key');
		await page.click('#key-submit');
		await page.waitForSelector('#key-error', { visible: true });
		const msg = await page.$eval('#key-error', (e) => e.textContent);
		expect(/refused/.test(msg), `message: ${msg}`);
		expect(await page.evaluate(() => sessionStorage.length) === 0, 'a refused key was kept');
		expect(await page.$eval('#view', (v) => v.hidden), 'the sessions show after a wrong key');
	});

	await check('the right key opens the sessions, all ready', async () => {
		await page.$eval('#key-input', (i) => { i.value = ''; });
		await page.type('#key-input', KEY);
		await page.click('#key-submit');
		await page.waitForFunction((n) => document.querySelectorAll('#sessions-body tr[data-status="ready"]').length === n,
			{}, SESSIONS);
	});

	await check('the key stays in the tab: not in the address, no cookie', async () => {
		expect(!page.url().includes(KEY), `address: ${page.url()}`);
		expect((await page.cookies()).length === 0, 'a cookie was set');
		expect(await page.evaluate(() => sessionStorage.getItem('respawn.apiKey')) === KEY, 'not in session storage');
		expect(await page.evaluate(() => localStorage.length) === 0, 'something in local storage');
	});

	await check('a user id holding markup is shown as text', async () => {
		const cells = await page.$$eval('#sessions-body td', (tds) => tds.map((t) => t.textContent));
		expect(cells.includes('xss<b>x</b><img/src=x/onerror=window.__xss=1>'), 'the user id is not shown as it is');
		expect(await page.$('#sessions-body img, #sessions-body b') === null, 'markup from a user id became elements');
		expect(await page.evaluate(() => window.__xss === undefined), 'a script from a user id ran');
	});
	await shot(page, 'dashboard-sessions');

	const rows = (n) => page.waitForFunction((k) =>
		document.querySelectorAll('#sessions-body tr[data-id]').length === k, {}, n);
	const clear = (sel) => page.$eval(sel, (i) => { i.value = ''; i.dispatchEvent(new Event('input')); });
	await check('filter by user', async () => {
		await page.type('#f-user', 'acme');
		await rows(2);
		await clear('#f-user');
	});
	await check('filter by country', async () => {
		await page.type('#f-country', 'gb');
		await rows(1);
		await clear('#f-country');
		await rows(SESSIONS);
	});
	await check('search by phone', async () => {
		await page.type('#f-phone', PHONE.slice(3));
		await page.waitForFunction((p) => {
			const r = document.querySelectorAll('#sessions-body tr[data-id]');
			return r.length === 1 && r[0].textContent.includes(p);
		}, {}, PHONE);
	});
	await check('filter by state', async () => {
		await page.select('#f-status', 'needs_auth');
		await rows(0);
		await page.select('#f-status', '');
		await rows(1);
	});

	await check("the session's page: proxy, events, log", async () => {
		await page.$eval('#sessions-body tr[data-id] a', (a) => a.click());
		await page.waitForSelector('#session-status[data-status="ready"]');
		await page.waitForFunction(() => document.querySelector('#session-facts').textContent.includes('Proxy country'));
		await page.waitForFunction(() => document.querySelector('#session-log').textContent.includes('connector.ready'));
	});
	await shot(page, 'dashboard-session');

	await check('logged out at the lab: needs_auth', async () => {
		expect(await lab('/lab/wa/phone', { phone: PHONE, state: 'logged_out' }) === 200, 'the lab refused');
		await page.waitForSelector('#session-status[data-status="needs_auth"]');
		await page.waitForSelector('#show-qr-btn', { visible: true });
	});

	await check('the QR code appears and is an image', async () => {
		await page.$eval('#show-qr-btn', (b) => b.click());
		await page.waitForFunction(() => {
			const img = document.querySelector('#qr-img');
			return img && !img.hidden && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 100;
		});
	});
	await shot(page, 'dashboard-qr');

	await check('the phone scans it: ready again', async () => {
		const qr = await (await api(`/api/sessions/${await sessionId(page)}/qr`, { Accept: 'text/plain' })).text();
		expect(qr.startsWith(`respawn-lab:${PHONE}:`), `QR text: ${qr}`);
		expect(await lab('/lab/wa/link', { phone: PHONE, qr }) === 200, 'the lab did not link');
		await page.waitForSelector('#session-status[data-status="ready"]');
		await page.waitForSelector('#pairing', { hidden: true });
	});

	await check('logged out again, paired by code', async () => {
		expect(await lab('/lab/wa/phone', { phone: PHONE, state: 'logged_out' }) === 200, 'the lab refused');
		await page.waitForSelector('#session-status[data-status="needs_auth"]');
		await page.$eval('#pair-code-btn', (b) => b.click());
		await page.waitForFunction(() => /^[A-Z2-9]{4}-[A-Z2-9]{4}$/.test(document.querySelector('#pair-code').textContent));
		await shot(page, 'dashboard-code');
		const code = await page.$eval('#pair-code', (e) => e.textContent);
		expect(await lab('/lab/wa/link', { phone: PHONE, code }) === 200, 'the lab did not link the code');
		await page.waitForSelector('#session-status[data-status="ready"]');
	});

	await check('proxies by country and state, with spend', async () => {
		await page.$eval('#nav a[data-page="proxies"]', (b) => b.click());
		await page.waitForSelector('#proxy-matrix tr[data-country="nl"]');
		const stats = await page.$eval('#proxy-stats', (e) => e.textContent);
		expect(/Bought today\$\d+\.\d\dCharged today\$\d+\.\d\d/.test(stats), stats);
	});
	await shot(page, 'dashboard-proxies');

	await check('recovery runs as a timeline', async () => {
		await page.$eval('#nav a[data-page="recovery"]', (b) => b.click());
		await page.waitForSelector('#recovery-timeline .run');
	});
	await shot(page, 'dashboard-recovery');

	await check('instances', async () => {
		await page.$eval('#nav a[data-page="instances"]', (b) => b.click());
		await page.waitForFunction(() => document.querySelectorAll('#instances-body tr').length >= 1);
	});

	await check('forgetting the key shows the prompt again', async () => {
		await page.$eval('#sign-out', (b) => b.click());
		await page.waitForSelector('#key-input', { visible: true });
		expect(await page.evaluate(() => sessionStorage.length) === 0, 'the key was kept');
	});

	await check('no Content-Security-Policy violation, no script error', async () => {
		expect(cspViolations.length === 0, cspViolations.join(' | '));
	});
} catch (e) {
	notOk('the browser test', e);
} finally {
	await browser.close();
	clearTimeout(deadline);
}

async function sessionId(page) {
	return page.evaluate(() => location.hash.split('/')[2]);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
