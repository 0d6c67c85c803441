// Node agents that route every connection through RESPAWN_PROXY_URL: one for
// the WebSocket (it records how the proxy answered, so that a refused tunnel
// is told apart from WhatsApp refusing us), one for media uploads (Node's
// https), and an undici dispatcher for fetch() (media and history
// downloads), installed as the global dispatcher so nothing bypasses the
// proxy.

import tls from 'node:tls';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { SocksClient } from 'socks';
import { Agent, ProxyAgent, setGlobalDispatcher } from 'undici';

// What happened to the last tunnel the WebSocket asked for.
export class TunnelState {
	constructor() {
		this.reset();
	}

	reset() {
		this.proxyStatus = 0;
		this.tunnelOpen = false;
		this.socksError = false;
		this.target = '';
	}

	// Called when the proxy refuses a tunnel (set by the connector).
	refused() {
		this.onRefused?.();
	}
}

export function makeWsAgent(proxy, url, tunnel) {
	if (proxy.socks) {
		class TrackingSocksAgent extends SocksProxyAgent {
			async connect(req, opts) {
				tunnel.target = `${opts.host}:${opts.port}`;
				try {
					const s = await super.connect(req, opts);
					tunnel.tunnelOpen = true;
					return s;
				} catch (e) {
					if (!e.code || /socks/i.test(e.message))
						tunnel.socksError = true;
					throw e;
				}
			}
		}
		return new TrackingSocksAgent(url);
	}
	const agent = new HttpsProxyAgent(url);
	agent.on('proxyConnect', (res) => {
		tunnel.proxyStatus = res.statusCode;
		tunnel.tunnelOpen = res.statusCode === 200;
		// https-proxy-agent hands a refused CONNECT's answer to the HTTP
		// client on a dummy socket, where the WebSocket may wait for ever.
		if (res.statusCode !== 200)
			setImmediate(() => tunnel.refused());
	});
	return agent;
}

export function makeFetchAgent(proxy, url) {
	return proxy.socks ? new SocksProxyAgent(url) : new HttpsProxyAgent(url);
}

function socksType(scheme) {
	return scheme.startsWith('socks4') ? 4 : 5;
}

// An undici dispatcher for fetch(): ProxyAgent for HTTP proxies, an Agent
// whose connections are opened through the SOCKS proxy otherwise.
export function makeDispatcher(proxy, url) {
	if (!proxy.socks)
		return new ProxyAgent({ uri: url });
	return new Agent({
		connect(opts, cb) {
			const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
			SocksClient.createConnection({
				proxy: {
					host: proxy.host, port: proxy.port, type: socksType(proxy.scheme),
					userId: proxy.username || undefined, password: proxy.password || undefined,
				},
				command: 'connect',
				destination: { host: opts.hostname, port },
				timeout: 20000,
			}).then(({ socket }) => {
				if (opts.protocol !== 'https:')
					return cb(null, socket);
				const s = tls.connect({ socket, servername: opts.servername || opts.hostname,
				    ALPNProtocols: ['http/1.1'] });
				s.once('secureConnect', () => cb(null, s));
				s.once('error', (e) => cb(e));
			}, (e) => cb(e));
		},
	});
}

export function installGlobalDispatcher(dispatcher) {
	setGlobalDispatcher(dispatcher);
}
