// RESPAWN_PROXY_URL parsing.  Pure.
//
// Part of respawn-connector-common, used by connectors/baileys and
// connectors/wwebjs.

export class ProxyUrlError extends Error {}

const defaultPorts = {
	http: 80, https: 443, socks: 1080, socks4: 1080, socks4a: 1080,
	socks5: 1080, socks5h: 1080,
};

// Returns { scheme, host, port, username, password, hostPort, socks,
// chromiumServer, redacted }.  Credentials are percent-decoded.
export function parseProxyUrl(s) {
	let u;
	try {
		u = new URL(s);
	} catch {
		throw new ProxyUrlError('not a URL');
	}
	const scheme = u.protocol.replace(/:$/, '').toLowerCase();
	if (!(scheme in defaultPorts))
		throw new ProxyUrlError(`unsupported proxy scheme: ${scheme}`);
	if (u.hostname === '')
		throw new ProxyUrlError('no host');
	if (u.pathname !== '' && u.pathname !== '/' || u.search !== '' || u.hash !== '')
		throw new ProxyUrlError('a proxy URL has no path, query or fragment');
	const port = u.port === '' ? defaultPorts[scheme] : Number(u.port);
	let username, password;
	try {
		username = decodeURIComponent(u.username);
		password = decodeURIComponent(u.password);
	} catch {
		throw new ProxyUrlError('bad percent-encoding in the credentials');
	}
	// URL keeps IPv6 literals bracketed in hostname.
	const host = u.hostname;
	const hostPort = `${host}:${port}`;
	const socks = scheme.startsWith('socks');
	return {
		scheme,
		host: host.replace(/^\[|\]$/g, ''),
		port,
		username,
		password,
		hostPort,
		socks,
		// Chromium ignores credentials in --proxy-server: they go through
		// page.authenticate (and Chromium cannot authenticate to SOCKS).
		chromiumServer: socks ? `${scheme === 'socks5h' ? 'socks5' : scheme}://${hostPort}` :
		    scheme === 'https' ? `https://${hostPort}` : hostPort,
		redacted: `${scheme}://${username !== '' ? encodeURIComponent(username) + ':***@' : ''}${hostPort}`,
	};
}
