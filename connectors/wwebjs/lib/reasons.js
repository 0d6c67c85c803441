// What to do when whatsapp-web.js stops: the mapping of its disconnect
// reasons, and of Chromium's network errors, onto respawn's exit statuses
// and events (docs/CONNECTORS.md).  Pure.

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_TEMPFAIL = 75;	// the proxy or its IP was refused
export const EXIT_CONFIG = 78;		// logged out: a QR scan is needed

// Chromium's net errors that mean the proxy refused or failed us.
const proxyErrors = /net::ERR_(TUNNEL_CONNECTION_FAILED|PROXY_CONNECTION_FAILED|PROXY_AUTH_UNSUPPORTED|PROXY_AUTH_REQUESTED(_WITH_NO_CONNECTION)?|PROXY_CERTIFICATE_INVALID|NO_SUPPORTED_PROXIES|SOCKS_CONNECTION_FAILED|SOCKS_CONNECTION_HOST_UNREACHABLE|MANDATORY_PROXY_CONFIGURATION_FAILED|PROXY_HTTP_1_1_REQUIRED|INVALID_AUTH_CREDENTIALS|UNEXPECTED_PROXY_AUTH)\b/;

const exit = (exitCode, event, reason) => ({ action: 'exit', exitCode, event, reason });

// A 'disconnected' reason (a WAState, or "LOGOUT"), or "auth_failure".
export function classifyDisconnect(reason, { stopping = false } = {}) {
	if (stopping)
		return { action: 'stopped', exitCode: EXIT_OK, event: null, reason: 'stopped' };
	switch (reason) {
	case 'LOGOUT':
	case 'UNPAIRED':
	case 'UNPAIRED_IDLE':
		return exit(EXIT_CONFIG, 'logged_out', `logged out (${reason})`);
	case 'auth_failure':
		return exit(EXIT_CONFIG, 'logged_out', 'the saved session was refused');
	case 'CONFLICT':
		return exit(EXIT_FAILURE, 'conflict', 'connection replaced by another client');
	case 'PROXYBLOCK':
		return exit(EXIT_TEMPFAIL, 'proxy_blocked', 'WhatsApp blocked the proxy');
	}
	return exit(EXIT_FAILURE, null, `disconnected (${reason || 'unknown'})`);
}

// An error thrown while starting or running (page.goto, the browser).
export function classifyError(message, { stopping = false } = {}) {
	if (stopping)
		return { action: 'stopped', exitCode: EXIT_OK, event: null, reason: 'stopped' };
	const m = String(message ?? '');
	const net = m.match(proxyErrors);
	if (net)
		return exit(EXIT_TEMPFAIL, 'proxy_blocked', `proxy refused: ${net[0]}`);
	const other = m.match(/net::ERR_[A-Z_0-9]+/);
	return exit(EXIT_FAILURE, null, other ? other[0] : (m.split('\n')[0] || 'failed'));
}

// Chromium's flags (see the README): headless, working as root, nothing
// talking to Google, every connection through the proxy (loopback too).
export function chromiumArgs({ proxyServer, userDataDir }) {
	return [
		'--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
		'--no-first-run', '--no-default-browser-check',
		'--disable-background-networking', '--disable-component-update',
		'--disable-sync', '--disable-dev-shm-usage', '--mute-audio',
		'--disable-extensions', '--disable-default-apps',
		'--disable-client-side-phishing-detection', '--disable-domain-reliability',
		'--disable-features=Translate,OptimizationHints,MediaRouter,' +
		    'DialMediaRouteProvider,AutofillServerCommunication',
		`--proxy-server=${proxyServer}`, '--proxy-bypass-list=<-loopback>',
		`--user-data-dir=${userDataDir}`,
	];
}
