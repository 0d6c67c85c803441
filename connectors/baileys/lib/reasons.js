// What to do when Baileys closes the connection: the mapping of disconnect
// reasons onto respawn's exit statuses and events (docs/CONNECTORS.md).
// Pure.

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_TEMPFAIL = 75;	// the proxy or its IP was refused
export const EXIT_CONFIG = 78;		// logged out: a QR scan is needed

// Baileys' DisconnectReason values (src/Types/index.ts).
export const Reason = {
	connectionClosed: 428,
	connectionLost: 408,
	timedOut: 408,
	connectionReplaced: 440,
	loggedOut: 401,
	badSession: 500,
	restartRequired: 515,
	multideviceMismatch: 411,
	forbidden: 403,
	unavailableService: 503,
};

// Consecutive in-process reconnects for 515 before giving up.
export const MAX_RESTARTS = 3;

// Socket errors that, before a tunnel is open, mean the proxy itself is
// unreachable or refused us.
const proxyErrnos = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH',
	'ECONNRESET', 'EPIPE']);

const names = Object.fromEntries(Object.entries(Reason).map(([k, v]) => [v, k]));
names[408] = 'connectionLost';

// in: {
//   stopping:     we were asked to stop (SIGTERM),
//   statusCode:   Baileys' close status (lastDisconnect.error.output.statusCode),
//   proxyStatus:  the proxy's answer to our CONNECT (0: none seen),
//   tunnelOpen:   a tunnel through the proxy was established,
//   errorCode:    the underlying socket error code (ECONNREFUSED ...),
//   socksError:   the SOCKS handshake failed,
//   restarts:     515 reconnects already done in a row,
// }
// out: { action: 'stopped' | 'reconnect' | 'exit', exitCode, event, reason }
export function classifyClose(c) {
	const code = c.statusCode ?? 0;
	if (c.stopping)
		return { action: 'stopped', exitCode: EXIT_OK, event: null, reason: 'stopped' };
	if (c.proxyStatus && c.proxyStatus !== 200)
		return { action: 'exit', exitCode: EXIT_TEMPFAIL, event: 'proxy_blocked',
		    reason: `proxy answered CONNECT with ${c.proxyStatus}` };
	if (c.socksError)
		return { action: 'exit', exitCode: EXIT_TEMPFAIL, event: 'proxy_blocked',
		    reason: 'SOCKS proxy refused the connection' };
	if (!c.tunnelOpen && c.errorCode && proxyErrnos.has(c.errorCode))
		return { action: 'exit', exitCode: EXIT_TEMPFAIL, event: 'proxy_blocked',
		    reason: `proxy unreachable (${c.errorCode})` };
	switch (code) {
	case Reason.loggedOut:
		return { action: 'exit', exitCode: EXIT_CONFIG, event: 'logged_out', reason: 'logged out' };
	case Reason.connectionReplaced:
		return { action: 'exit', exitCode: EXIT_FAILURE, event: 'conflict',
		    reason: 'connection replaced by another client' };
	case Reason.restartRequired:
		if ((c.restarts ?? 0) < MAX_RESTARTS)
			return { action: 'reconnect', exitCode: null, event: null, reason: 'restart required' };
		return { action: 'exit', exitCode: EXIT_FAILURE, event: null,
		    reason: `restart required ${MAX_RESTARTS + 1} times in a row` };
	}
	const name = names[code] ?? (code ? `status ${code}` : 'closed');
	return { action: 'exit', exitCode: EXIT_FAILURE, event: null,
	    reason: c.errorCode ? `${name} (${c.errorCode})` : name };
}
