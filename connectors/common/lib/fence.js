// Fencing (docs/CONNECTORS.md): with RESPAWN_FENCE_USEC set, a connector
// sends a message to respawn at least every quarter of it and exits once
// none has been taken for all of it.  Its daemon is then gone (killed and
// not restarted, or stopped), and in fleet mode another instance may soon
// run the session: two connections of one phone are what WhatsApp
// punishes.  A daemon restarted or handed over within the deadline takes
// the messages again, and the connector lives on.
//
// Part of respawn-connector-common, used by connectors/baileys and
// connectors/wwebjs.

export const FENCE_RETRY_MS = 200;	// pings while none is taken, at most

// RESPAWN_FENCE_USEC -> the deadline in ms; 0 when there is none.
export function fenceMs(usec) {
	const n = Number(usec);
	if (!Number.isFinite(n) || n <= 0)
		return 0;
	return Math.max(1, Math.floor(n / 1000));
}

// The next ping after one that was taken (ok) or not.
export function fencePingMs(ms, ok) {
	return ok ? Math.max(1, Math.floor(ms / 4)) :
	    Math.max(1, Math.min(FENCE_RETRY_MS, Math.floor(ms / 8)));
}

// notifier: a Notifier (its takenAt says when respawn last took a message);
// onFenced: called once when the deadline passes, and must end the process.
export class Fence {
	constructor({ notifier, ms, onFenced, now = () => performance.now(),
	    setTimer = setTimeout, clearTimer = clearTimeout }) {
		this.notifier = notifier;
		this.ms = ms;
		this.onFenced = onFenced;
		this.now = now;
		this.setTimer = setTimer;
		this.clearTimer = clearTimer;
		this.pingTimer = null;
		this.checkTimer = null;
		this.fenced = false;
	}

	start() {
		if (this.ms <= 0)
			return;
		// The daemon started us a moment ago: that counts as taken.
		if (this.notifier.takenAt === null)
			this.notifier.takenAt = this.now();
		this.ping();
		this.check();
	}

	stop() {
		this.clearTimer(this.pingTimer);
		this.clearTimer(this.checkTimer);
		this.pingTimer = this.checkTimer = null;
	}

	ping() {
		this.notifier.send({ X_RESPAWN_PING: 1 }).then((ok) => {
			if (this.fenced || this.ms <= 0)
				return;
			this.pingTimer = this.setTimer(() => this.ping(), fencePingMs(this.ms, ok));
			this.pingTimer?.unref?.();
		});
	}

	// Runs when the deadline may have passed, measured from the last
	// message taken (any message counts, not only pings).
	check() {
		const left = this.notifier.takenAt + this.ms - this.now();
		if (left <= 0) {
			this.fenced = true;
			this.stop();
			this.onFenced();
			return;
		}
		this.checkTimer = this.setTimer(() => this.check(), left);
		this.checkTimer?.unref?.();
	}
}

// The end of a fenced connector: its whole process group (a browser
// included) at once, without waiting for messages nobody takes.
export function exitFenced(log, exitCode = 1) {
	log('fenced: respawn took no message within RESPAWN_FENCE_USEC; exiting');
	try {
		process.kill(-process.pid, 'SIGKILL');
	} catch {
		// Not a process group leader (started by hand): only ourselves.
	}
	process.exit(exitCode);
}
