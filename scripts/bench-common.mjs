// Shared by the benchmarks: the API in-process with a client for it, and the clean-up of a run's queue prefix.
import { Redis } from 'ioredis';

/** Deletes every key under `prefix:` (SCAN, never KEYS or FLUSHALL: the Redis may be shared). */
export async function deletePrefix(redisUrl, prefix) {
  const r = new Redis(redisUrl);
  try {
    for (let cursor = '0'; ;) {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await r.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    r.disconnect();
  }
}

/** The API in this process on an ephemeral port, and `call(method, path, body)` as `token`: its JSON, or a thrown error for a status ≥ 300. */
export async function startApi(config, token) {
  const { createApi } = await import('../dist/apps/secrets-api/src/bootstrap.js');
  const api = await createApi(config, { docs: false });
  await api.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${api.getHttpServer().address().port}`;
  const call = async (method, path, body) => {
    const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body && JSON.stringify(body) });
    const json = await r.json();
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  return { api, call };
}

/** Tears down a run: its BullMQ queue (and the connection it was handed), the API, every key under the prefix, the database. */
export async function teardown({ queue, queueConnection, api, redisUrl, prefix, admin, database }) {
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  queueConnection.disconnect();
  await api?.close();
  await deletePrefix(redisUrl, prefix);
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}
