// Baileys' multi-file auth state, in the same file layout as Baileys'
// useMultiFileAuthState (one JSON file per key, creds.json), but every write
// is durable before it is acknowledged: written to a temporary file, fsynced,
// renamed over the old one, and the directory fsynced.  Baileys awaits
// keys.set() before it uses new keys, and the connector awaits every
// saveCreds() before it exits, so a crash or a SIGKILL never loses or tears
// a key update (a lost Signal key update stops messages from decrypting).

import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferJSON, initAuthCreds, proto } from 'baileys';

const fixFileName = (file) => file.replace(/\//g, '__').replace(/:/g, '-');

export async function useDurableMultiFileAuthState(folder) {
	await mkdir(folder, { recursive: true, mode: 0o700 });
	const locks = new Map();
	let seq = 0;

	// Serialises the operations on one file.
	const locked = (path, fn) => {
		const prev = locks.get(path) ?? Promise.resolve();
		const next = prev.catch(() => {}).then(fn);
		locks.set(path, next);
		next.finally(() => {
			if (locks.get(path) === next)
				locks.delete(path);
		}).catch(() => {});
		return next;
	};

	const syncDir = async () => {
		const fh = await open(folder, 'r');
		try {
			await fh.sync();
		} finally {
			await fh.close();
		}
	};

	const writeData = (data, file) => {
		const path = join(folder, fixFileName(file));
		return locked(path, async () => {
			const tmp = `${path}.tmp${process.pid}.${seq++}`;
			const fh = await open(tmp, 'w', 0o600);
			try {
				await fh.writeFile(JSON.stringify(data, BufferJSON.replacer));
				await fh.sync();
			} finally {
				await fh.close();
			}
			await rename(tmp, path);
		});
	};

	const readData = (file) => {
		const path = join(folder, fixFileName(file));
		return locked(path, async () => {
			try {
				return JSON.parse(await readFile(path, 'utf-8'), BufferJSON.reviver);
			} catch (e) {
				if (e.code === 'ENOENT')
					return null;
				throw e;
			}
		});
	};

	const removeData = (file) => {
		const path = join(folder, fixFileName(file));
		return locked(path, () => unlink(path).catch((e) => {
			if (e.code !== 'ENOENT')
				throw e;
		}));
	};

	const creds = (await readData('creds.json')) || initAuthCreds();
	return {
		state: {
			creds,
			keys: {
				get: async (type, ids) => {
					const data = {};
					await Promise.all(ids.map(async (id) => {
						let value = await readData(`${type}-${id}.json`);
						if (type === 'app-state-sync-key' && value)
							value = proto.Message.AppStateSyncKeyData.fromObject(value);
						data[id] = value;
					}));
					return data;
				},
				set: async (data) => {
					const tasks = [];
					for (const category in data) {
						for (const id in data[category]) {
							const value = data[category][id];
							const file = `${category}-${id}.json`;
							tasks.push(value ? writeData(value, file) : removeData(file));
						}
					}
					await Promise.all(tasks);
					await syncDir();
				},
			},
		},
		saveCreds: async () => {
			await writeData(creds, 'creds.json');
			await syncDir();
		},
	};
}
