// respawn's dashboard: plain JavaScript, no framework, nothing loaded from
// elsewhere.  Every value from the API is put into the page as text
// (textContent, never innerHTML), so a phone number, a user id or an error
// message can never become markup.  The API key lives in this tab's
// session storage and goes out only as the x-api-key header.
'use strict';

const KEY_STORE = 'respawn.apiKey';
const REFRESH_MS = 2000;	// live views poll the API this often
const QR_REFRESH_MS = 2000;	// and the QR code, while one may show
const PAGES_MAX = 10;		// pages of 1000 read for a listing
const STATUSES = ['new', 'starting', 'ready', 'backoff', 'stopping',
	'stopped', 'failed', 'needs_auth', 'dormant'];
const PROXY_STATES = ['active', 'idle', 'reserved', 'releasing',
	'purchasing', 'released', 'lost'];

const state = { timer: null, qrTimer: null, qrUrl: null, page: null };

// --- small helpers ---------------------------------------------------------

// el('td', {class: 'x'}, 'text', child): children are text or nodes.
function el(tag, props, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(props || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k === 'class')
			e.className = v;
		else if (k.startsWith('on'))
			e.addEventListener(k.slice(2), v);
		else
			e.setAttribute(k, v === true ? '' : String(v));
	}
	for (const c of kids.flat()) {
		if (c === undefined || c === null)
			continue;
		e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return e;
}

function badge(text, cls) {
	return el('span', { class: `badge ${cls || text}` }, text);
}

function when(t) {
	if (!t)
		return '—';
	const d = new Date(t);
	return isNaN(d) ? String(t) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function money(x) {
	return typeof x === 'number' ? `$${x.toFixed(2)}` : '—';
}

function key() {
	return sessionStorage.getItem(KEY_STORE);
}

class Unauthorized extends Error {}

// The API with the key; JSON (or text or a Blob) back.  A 401 forgets the
// key and shows the prompt.
async function api(path, opts = {}) {
	const headers = { 'x-api-key': key() || '', ...(opts.headers || {}) };
	const r = await fetch(path, { method: opts.method || 'GET', headers,
		cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
	if (r.status === 401) {
		sessionStorage.removeItem(KEY_STORE);
		showKey('The key was refused: enter it again.');
		throw new Unauthorized();
	}
	if (opts.raw)
		return r;
	const type = r.headers.get('Content-Type') || '';
	const body = type.startsWith('application/json') ? await r.json() : await r.text();
	if (!r.ok) {
		const msg = body && body.message ? body.message : `HTTP ${r.status}`;
		const e = new Error(msg);
		e.status = r.status;
		throw e;
	}
	return body;
}

async function listAll(path, field) {
	let items = [], after = 0;
	for (let i = 0; i < PAGES_MAX; i++) {
		const sep = path.includes('?') ? '&' : '?';
		const page = await api(`${path}${sep}limit=1000${after ? `&after=${after}` : ''}`);
		items = items.concat(page[field]);
		if (page.nextAfter === null || page.nextAfter === undefined)
			break;
		after = page.nextAfter;
	}
	return items;
}

function stopTimers() {
	clearInterval(state.timer);
	clearInterval(state.qrTimer);
	state.timer = state.qrTimer = null;
	if (state.qrUrl) {
		URL.revokeObjectURL(state.qrUrl);
		state.qrUrl = null;
	}
}

function live(fn, ms) {
	const tick = () => fn().catch(report);
	tick();
	state.timer = setInterval(tick, ms || REFRESH_MS);
}

function report(e) {
	if (e instanceof Unauthorized)
		return;
	const box = document.getElementById('view-error');
	if (box) {
		box.textContent = e.message;
		box.hidden = false;
	}
}

function stamp() {
	document.getElementById('updated').textContent = `Updated ${when(new Date().toISOString())}`;
}

function view(...kids) {
	const v = document.getElementById('view');
	v.replaceChildren(el('p', { id: 'view-error', class: 'error', role: 'alert', hidden: true }), ...kids);
	v.hidden = false;
	return v;
}

// --- the key ---------------------------------------------------------------

function showKey(message) {
	stopTimers();
	document.getElementById('nav').hidden = true;
	document.getElementById('view').hidden = true;
	document.getElementById('key-page').hidden = false;
	const err = document.getElementById('key-error');
	err.textContent = message || '';
	err.hidden = !message;
	document.getElementById('key-input').focus();
}

async function submitKey(ev) {
	ev.preventDefault();
	const input = document.getElementById('key-input');
	const given = input.value.trim();
	if (!given)
		return;
	// Checked before it is kept: a wrong key is refused here.
	const r = await fetch('/api/sessions?limit=1', { headers: { 'x-api-key': given },
		cache: 'no-store', credentials: 'omit' });
	if (r.status === 401) {
		showKey('The key was refused.');
		return;
	}
	sessionStorage.setItem(KEY_STORE, given);
	input.value = '';
	document.getElementById('key-page').hidden = true;
	if (!location.hash || location.hash === '#/')
		location.hash = '#/sessions';
	else
		route();
}

// --- sessions --------------------------------------------------------------

function sessionsPage(params) {
	const status = el('select', { id: 'f-status' }, el('option', { value: '' }, 'any'),
		STATUSES.map((s) => el('option', { value: s }, s)));
	const country = el('input', { id: 'f-country', size: 4, maxlength: 2, placeholder: 'de' });
	const user = el('input', { id: 'f-user', size: 14, placeholder: 'user id' });
	const phone = el('input', { id: 'f-phone', size: 16, placeholder: '+49…', type: 'search' });
	status.value = params.get('status') || '';
	country.value = params.get('country') || '';
	user.value = params.get('user') || '';
	phone.value = params.get('phone') || '';
	const chips = el('div', { class: 'chips', id: 'status-counts' });
	const body = el('tbody', { id: 'sessions-body' });
	const count = el('span', { class: 'muted', id: 'sessions-count' });
	let lastSig = null;
	const apply = () => {
		const q = new URLSearchParams();
		for (const [k, e] of [['status', status], ['country', country], ['user', user], ['phone', phone]])
			if (e.value.trim())
				q.set(k, e.value.trim());
		history.replaceState(null, '', `#/sessions${q.toString() ? `?${q}` : ''}`);
		refresh().catch(report);
	};
	for (const e of [status, country, user, phone])
		e.addEventListener(e.tagName === 'SELECT' ? 'change' : 'input', apply);
	view(el('div', { class: 'card' },
		el('h1', {}, 'Sessions ', count),
		el('div', { class: 'filters' },
			el('div', {}, el('label', { for: 'f-status' }, 'State'), status),
			el('div', {}, el('label', { for: 'f-country' }, 'Country'), country),
			el('div', {}, el('label', { for: 'f-user' }, 'User'), user),
			el('div', {}, el('label', { for: 'f-phone' }, 'Phone'), phone)),
		chips),
	el('div', { class: 'card scroll' }, el('table', { id: 'sessions-table' },
		el('thead', {}, el('tr', {}, ['Id', 'Phone', 'User', 'Country', 'State',
			'Proxy IP', 'Attempts', 'Last error'].map((h) => el('th', {}, h)))),
		body)));

	async function refresh() {
		const q = new URLSearchParams();
		if (status.value)
			q.set('state', status.value);
		const cc = country.value.trim().toLowerCase();
		if (/^[a-z]{2}$/.test(cc))
			q.set('country', cc);
		const [list, ps] = await Promise.all([
			listAll(`/api/sessions${q.toString() ? `?${q}` : ''}`, 'sessions'),
			api('/api/proxy/status')]);
		const u = user.value.trim(), p = phone.value.trim();
		const shown = list.filter((s) => (!u || s.userId.includes(u)) &&
			(!p || s.phoneNumber.includes(p)));
		stamp();
		// Rows are rebuilt only when something changed, so a link is not
		// replaced under the pointer every refresh.
		const sig = JSON.stringify([shown, ps.sessions]);
		if (sig === lastSig)
			return;
		lastSig = sig;
		body.replaceChildren(...shown.map((s) => el('tr', { 'data-id': s.id, 'data-status': s.state },
			el('td', {}, el('a', { href: `#/session/${Number(s.id)}` }, s.id)),
			el('td', {}, el('a', { href: `#/session/${Number(s.id)}` }, s.phoneNumber)),
			el('td', {}, s.userId),
			el('td', {}, s.country),
			el('td', {}, badge(s.state)),
			el('td', { class: 'ip' }, s.proxyIp || '—'),
			el('td', {}, s.attempts),
			el('td', { class: 'wrap' }, s.lastError || ''))));
		if (shown.length === 0)
			body.append(el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'No session matches.')));
		count.textContent = `${shown.length} shown`;
		const counts = ps.sessions || {};
		chips.replaceChildren(...['total'].concat(STATUSES).filter((k) => counts[k])
			.map((k) => el('span', { class: 'chip' }, k, el('b', {}, counts[k]))));
		stamp();
	}
	live(refresh);
}

// --- one session -----------------------------------------------------------

function sessionPage(id) {
	const facts = el('dl', { class: 'facts', id: 'session-facts' });
	const title = el('h1', {}, `Session ${id}`);
	const status = el('span', { id: 'session-status' });
	const actions = el('div', { class: 'actions' });
	const pairing = el('div', { class: 'card', id: 'pairing', hidden: true });
	const events = el('tbody', { id: 'session-events' });
	const log = el('pre', { class: 'log', id: 'session-log' });
	const message = el('p', { id: 'action-result', class: 'muted' });
	const act = (what) => async () => {
		try {
			await api(`/api/sessions/${id}/${what}`, { method: 'POST' });
			message.textContent = `${what}: asked`;
			refresh().catch(report);
		} catch (e) {
			report(e);
		}
	};
	actions.append(
		el('button', { type: 'button', id: 'btn-start', onclick: act('start') }, 'Start'),
		el('button', { type: 'button', id: 'btn-restart', class: 'secondary', onclick: act('restart') }, 'Restart'),
		el('button', { type: 'button', id: 'btn-stop', class: 'danger', onclick: act('stop') }, 'Stop'));
	view(el('p', {}, el('a', { href: '#/sessions' }, '← Sessions')),
		el('div', { class: 'card' }, title, el('p', {}, status), actions, message),
		pairing,
		el('div', { class: 'grid' },
			el('div', { class: 'card' }, el('h2', {}, 'Session and proxy'), facts),
			el('div', { class: 'card' }, el('h2', {}, 'Recent events'),
				el('table', {}, el('thead', {}, el('tr', {}, ['When', 'Event', 'Detail'].map((h) => el('th', {}, h)))), events))),
		el('div', { class: 'card' }, el('h2', {}, "Connector's log (tail)"), log));

	let proxyCache = { ip: null, row: null };
	async function proxyOf(ip) {
		if (!ip)
			return null;
		if (proxyCache.ip === ip)
			return proxyCache.row;
		const all = await listAll('/api/proxies', 'proxies');
		proxyCache = { ip, row: all.find((p) => p.ip === ip) || null };
		return proxyCache.row;
	}

	async function refresh() {
		const s = await api(`/api/sessions/${id}`);
		const [ev, tail, px] = await Promise.all([
			api(`/api/events?sessionId=${id}&limit=20`),
			api(`/api/sessions/${id}/log?bytes=8192`),
			proxyOf(s.proxyIp)]);
		title.textContent = `${s.phoneNumber} (session ${s.id})`;
		status.replaceChildren(badge(s.state), ' ', el('span', { class: 'muted' }, `desired: ${s.desiredState}`));
		status.dataset.status = s.state;
		const assigned = ev.events.find((e) => e.detail && typeof e.detail === 'object' && e.detail.requestedCountry);
		const fallback = px && px.country !== s.country;
		const rows = [
			['Phone', s.phoneNumber], ['User', s.userId], ['Country', s.country],
			['Proxy IP', s.proxyIp || '—'],
			['Proxy country', px ? [px.country, fallback ? [' ', badge(`fallback from ${s.country}`, 'fallback')] : ''] : '—'],
			['Proxy state', px ? badge(px.state) : '—'],
			['Last assignment', assigned ? `${assigned.detail.requestedCountry} asked, fallback ${assigned.detail.fallbackUsed ? 'used' : 'not used'}` : '—'],
			['Proxy type', s.proxyType], ['Priority', s.priority], ['Attempts', s.attempts],
			['Instance', s.instanceId || '—'], ['Last activity', when(s.lastActivityAt)],
			['Last error', s.lastError || '—'], ['Created', when(s.createdAt)]];
		facts.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
		events.replaceChildren(...ev.events.map((e) => el('tr', {},
			el('td', {}, when(e.occurredAt)), el('td', {}, e.kind),
			el('td', { class: 'wrap' }, typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail)))));
		if (ev.events.length === 0)
			events.append(el('tr', {}, el('td', { colspan: 3, class: 'muted' }, 'No event yet.')));
		const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
		log.textContent = tail || '(empty)';
		if (atEnd)
			log.scrollTop = log.scrollHeight;
		showPairing(s);
		stamp();
	}

	// needs_auth, or a connector started again and waiting for a scan:
	// the QR code (refreshing itself) and the pairing-code button.
	const qrImg = el('img', { id: 'qr-img', alt: 'QR code to scan with WhatsApp' });
	const qrNote = el('p', { class: 'muted', id: 'qr-note' });
	const codeBox = el('p', { class: 'code', id: 'pair-code' });
	const codeBtn = el('button', { type: 'button', id: 'pair-code-btn', class: 'secondary' }, 'Pair with a code instead');
	const showBtn = el('button', { type: 'button', id: 'show-qr-btn' }, 'Show a QR code');
	showBtn.addEventListener('click', act('start'));
	codeBtn.addEventListener('click', async () => {
		try {
			await api(`/api/sessions/${id}/pairing-code`, { method: 'POST' });
			codeBox.textContent = '…';
			message.textContent = 'pairing code: asked';
		} catch (e) {
			report(e);
		}
	});
	pairing.append(el('h2', {}, 'Pair this phone'),
		el('div', { id: 'qr-box' }, qrImg, qrNote, codeBox),
		el('div', { class: 'actions' }, showBtn, codeBtn));

	async function loadQr() {
		const r = await api(`/api/sessions/${id}/qr`, { raw: true, headers: { Accept: 'image/png' } });
		if (r.status === 200 && (r.headers.get('Content-Type') || '').startsWith('image/png')) {
			const url = URL.createObjectURL(await r.blob());
			if (state.qrUrl)
				URL.revokeObjectURL(state.qrUrl);
			state.qrUrl = url;
			qrImg.src = url;
			qrImg.hidden = false;
			qrNote.textContent = 'Scan it in WhatsApp: Settings → Linked devices → Link a device.';
		} else {
			qrImg.hidden = true;
			qrImg.removeAttribute('src');
			qrNote.textContent = 'No QR code yet: the connector shows one once it is started and waits for a scan.';
		}
		const c = await api(`/api/sessions/${id}/pairing-code`, { raw: true });
		if (c.status === 200) {
			const j = await c.json();
			codeBox.textContent = j.code;
			qrNote.textContent = 'Type this code on the phone: Linked devices → Link with phone number.';
		} else if (codeBox.textContent !== '…') {
			codeBox.textContent = '';
		}
	}

	function showPairing(s) {
		const want = s.state === 'needs_auth' || s.state === 'starting' ||
			s.state === 'backoff' || s.state === 'new';
		pairing.hidden = !want;
		showBtn.hidden = s.state !== 'needs_auth';
		codeBtn.disabled = s.state === 'ready';
		if (want && !state.qrTimer) {
			loadQr().catch(report);
			state.qrTimer = setInterval(() => loadQr().catch(report), QR_REFRESH_MS);
		} else if (!want && state.qrTimer) {
			clearInterval(state.qrTimer);
			state.qrTimer = null;
		}
	}
	live(refresh);
}

// --- proxies ---------------------------------------------------------------

function proxiesPage() {
	const stats = el('div', { class: 'stats', id: 'proxy-stats' });
	const matrix = el('table', { id: 'proxy-matrix' });
	const list = el('tbody', { id: 'proxy-list' });
	view(el('div', { class: 'card' }, el('h1', {}, 'Proxies'), stats),
		el('div', { class: 'card' }, el('h2', {}, 'By country and state'), matrix),
		el('div', { class: 'card scroll' }, el('h2', {}, 'Every proxy'), el('table', {},
			el('thead', {}, el('tr', {}, ['Id', 'IP', 'Country', 'State', 'Type', 'Session', 'Since'].map((h) => el('th', {}, h)))),
			list)));
	async function refresh() {
		const [ps, all] = await Promise.all([api('/api/proxy/status'), listAll('/api/proxies', 'proxies')]);
		const stat = (label, v) => el('div', {}, el('div', { class: 'muted' }, label), el('div', { class: 'stat' }, v));
		stats.replaceChildren(stat('Held', ps.total), stat('Active', ps.active), stat('Idle', ps.idle),
			stat('Bought today', money(ps.spendToday)),
			stat('Charged today', ps.chargedToday === null ? '—' : money(ps.chargedToday)),
			stat('Daily limit', ps.dailySpendLimit === null ? 'none' : money(ps.dailySpendLimit)),
			stat('Monthly estimate', money(ps.estimatedMonthlyCost)),
			stat('Provider', `${ps.provider ? ps.provider.name : '?'}`));
		const by = new Map();
		for (const p of all) {
			if (!by.has(p.country))
				by.set(p.country, {});
			by.get(p.country)[p.state] = (by.get(p.country)[p.state] || 0) + 1;
		}
		const states = PROXY_STATES.filter((s) => all.some((p) => p.state === s));
		matrix.replaceChildren(el('thead', {}, el('tr', {}, el('th', {}, 'Country'), states.map((s) => el('th', {}, s)))),
			el('tbody', {}, [...by.keys()].sort().map((cc) => el('tr', { 'data-country': cc }, el('td', {}, cc),
				states.map((s) => el('td', {}, by.get(cc)[s] || ''))))));
		list.replaceChildren(...all.map((p) => el('tr', {},
			el('td', {}, p.id), el('td', { class: 'ip' }, p.ip), el('td', {}, p.country), el('td', {}, badge(p.state)),
			el('td', {}, p.type),
			el('td', {}, p.sessionId ? el('a', { href: `#/session/${Number(p.sessionId)}` }, p.sessionId) : '—'),
			el('td', {}, when(p.assignedAt || p.idleAt || p.purchasedAt)))));
		stamp();
	}
	live(refresh, 5000);
}

// --- recovery runs ---------------------------------------------------------

function recoveryPage() {
	const line = el('div', { class: 'timeline', id: 'recovery-timeline' });
	view(el('div', { class: 'card' }, el('h1', {}, 'Recovery runs'), line));
	async function refresh() {
		const r = await api('/api/recovery?limit=50');
		line.replaceChildren(...r.runs.map((run) => {
			const total = Math.max(run.sessionCount, 1);
			const ok = el('span', { class: 'ok' }), bad = el('span', { class: 'bad' });
			ok.style.width = `${(100 * run.recovered) / total}%`;
			bad.style.width = `${(100 * run.failed) / total}%`;
			return el('div', { class: `run${run.failed ? ' partial' : ''}` },
				el('div', {}, el('b', {}, when(run.startedAt)), ' ', badge(run.cause, 'info'),
					' ', el('span', { class: 'muted' }, `on ${run.instanceId}`)),
				el('div', { class: 'bar' }, ok, bad),
				el('div', { class: 'muted' },
					`${run.recovered}/${run.sessionCount} recovered, ${run.failed} failed in ${run.durationMs} ms; ` +
					`${run.reactivated} reactivated, ${run.reused} reused, ${run.purchased} bought, ` +
					`${run.fallbacks} on a fallback country; ${run.avgRecoveryMs} ms each` +
					`${run.finishedAt ? '' : ' (running)'}`));
		}));
		if (r.runs.length === 0)
			line.append(el('p', { class: 'muted' }, 'No recovery run yet.'));
		stamp();
	}
	live(refresh, 5000);
}

// --- instances -------------------------------------------------------------

function instancesPage() {
	const body = el('tbody', { id: 'instances-body' });
	view(el('div', { class: 'card' }, el('h1', {}, 'Instances'),
		el('p', { class: 'muted' }, 'The daemons sharing this store (one, unless in fleet mode).'),
		el('table', {}, el('thead', {}, el('tr', {}, ['Instance', 'Host', 'Pid', 'Status', 'Started',
			'Heartbeat', 'Recovery'].map((h) => el('th', {}, h)))), body)));
	async function refresh() {
		const r = await api('/api/instances');
		body.replaceChildren(...r.instances.map((i) => el('tr', {},
			el('td', {}, i.id), el('td', {}, i.hostname), el('td', {}, i.pid),
			el('td', {}, badge(i.state, i.state === 'running' ? 'ready' : 'info')),
			el('td', {}, when(i.startedAt)), el('td', {}, when(i.heartbeatAt)),
			el('td', {}, i.recoveryInProgress ? `${i.recoveryDone}/${i.recoveryTotal}` : `done ${when(i.recoveryCompletedAt)}`))));
		stamp();
	}
	live(refresh, 5000);
}

// --- routing ---------------------------------------------------------------

function route() {
	stopTimers();
	if (!key()) {
		showKey();
		return;
	}
	document.getElementById('key-page').hidden = true;
	document.getElementById('nav').hidden = false;
	const [path, query] = (location.hash.replace(/^#/, '') || '/sessions').split('?');
	const params = new URLSearchParams(query || '');
	const parts = path.split('/').filter(Boolean);
	const page = parts[0] || 'sessions';
	for (const a of document.querySelectorAll('#nav a'))
		a.classList.toggle('active', a.dataset.page === (page === 'session' ? 'sessions' : page));
	if (page === 'session' && /^[1-9][0-9]*$/.test(parts[1] || ''))
		sessionPage(parts[1]);
	else if (page === 'proxies')
		proxiesPage();
	else if (page === 'recovery')
		recoveryPage();
	else if (page === 'instances')
		instancesPage();
	else
		sessionsPage(params);
}

document.getElementById('key-form').addEventListener('submit', (ev) => submitKey(ev).catch(report));
document.getElementById('sign-out').addEventListener('click', () => {
	sessionStorage.removeItem(KEY_STORE);
	showKey();
});
window.addEventListener('hashchange', route);
route();
