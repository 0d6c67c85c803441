// The connector contract's environment (docs/CONNECTORS.md), parsed and
// checked.  Pure: takes an env object, returns a config or throws.
//
// Part of respawn-connector-common, used by connectors/baileys and
// connectors/wwebjs.

export class ConfigError extends Error {}

const required = ['RESPAWN_SESSION_DIR', 'RESPAWN_PROXY_URL'];

export function parseEnv(env) {
	for (const k of required) {
		if (!env[k])
			throw new ConfigError(`${k} is not set (run me from respawn)`);
	}
	if (!env.RESPAWN_SESSION_DIR.startsWith('/'))
		throw new ConfigError('RESPAWN_SESSION_DIR must be an absolute path');
	const phone = env.RESPAWN_PHONE || '';
	if (phone !== '' && !/^\+[1-9][0-9]{6,14}$/.test(phone))
		throw new ConfigError(`RESPAWN_PHONE is not E.164: ${phone}`);
	const country = (env.RESPAWN_COUNTRY || '').toLowerCase();
	if (country !== '' && !/^[a-z]{2}$/.test(country))
		throw new ConfigError(`RESPAWN_COUNTRY is not ISO 3166-1 alpha-2: ${country}`);
	let watchdogUsec = 0;
	if (env.WATCHDOG_USEC !== undefined && env.WATCHDOG_USEC !== '') {
		if (!/^[0-9]+$/.test(env.WATCHDOG_USEC))
			throw new ConfigError(`WATCHDOG_USEC is not a number: ${env.WATCHDOG_USEC}`);
		watchdogUsec = Number(env.WATCHDOG_USEC);
	}
	const waUrl = env.RESPAWN_WA_URL || '';
	if (waUrl !== '' && !/^(wss?|https?):\/\/[^\s]+$/.test(waUrl))
		throw new ConfigError(`RESPAWN_WA_URL is not a ws(s) or http(s) URL: ${waUrl}`);
	return {
		sessionId: env.RESPAWN_SESSION_ID || '',
		userId: env.RESPAWN_USER_ID || '',
		phone,
		country,
		proxyUrl: env.RESPAWN_PROXY_URL,
		sessionDir: env.RESPAWN_SESSION_DIR.replace(/\/+$/, '') || '/',
		notifySocket: env.NOTIFY_SOCKET || '',
		watchdogUsec,
		waUrl,
		logLevel: env.RESPAWN_CONNECTOR_LOG_LEVEL || 'warn',
	};
}
