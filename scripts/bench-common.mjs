// Shared by the benchmarks: the API in-process with a client for it, and the clean-up of a run's queue prefix.
import { readFileSync, readdirSync } from 'node:fs';
import { Redis } from 'ioredis';

const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU time in these ticks
/**
 * User + system CPU of a process, in ms (0 for one that is gone). `withExitedChildren`: plus what its
 * children that exited spent (Postgres's postmaster: the backends and autovacuum workers that ended, so a
 * sum over the 'postgres' processes stays right when one exits between two readings).
 */
export function cpuMs(pid, withExitedChildren = false) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]) + (withExitedChildren ? Number(f[13]) + Number(f[14]) : 0);
  return (ticks * 1000) / CLK_TCK;
}

/** The pids of the processes whose command name is `comm` (e.g. every Postgres backend: 'postgres'). */
export function pidsNamed(comm) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

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
