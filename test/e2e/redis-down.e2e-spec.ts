import { Redis } from 'ioredis';
import type pg from 'pg';
import { generateToken } from '@keyturn/auth';
import { OwnRedis } from './own-redis.js';
import { checkedFetch, client, createTestEnv, eventually, fakeKey, freePort, rawDb, spawnApp, type Client, type SpawnedApp, type TestEnv } from './harness.js';

describe('Redis down: the API keeps authenticating, reading and accepting rotations', () => {
  let t: TestEnv;
  let redis: OwnRedis;
  let api: SpawnedApp | undefined;
  let scheduler: SpawnedApp | undefined;
  let db: pg.Client;
  let url: string;
  let admin: Client;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await createTestEnv({ REDIS_URL: redis.url, KEYTURN_TRUST_PROXY: 'true' });
    db = await rawDb(t);
    const port = await freePort();
    api = spawnApp('secrets-api', { ...t.env, PORT: String(port) });
    await api.waitFor(/listening on/);
    url = `http://127.0.0.1:${port}`;
    admin = client(url, t.adminToken);
  });
  afterAll(async () => {
    for (const app of [api, scheduler]) if (app && app.child.exitCode === null && app.child.signalCode === null) await app.kill('SIGKILL');
    await redis?.stop();
    await db?.end();
    await t?.drop();
  });

  /** POST …/rotations with a generous bound, so a request held by a dead Redis fails the test instead of hanging it. */
  const requestRotation = async (secretId: string) => {
    const res = await checkedFetch(`${url}/v1/secrets/${secretId}/rotations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}` },
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, body: (await res.json()) as { id: string; status: string } };
  };

  it('serves authentication and reads, stores rotations (202) and reports not ready; the scheduler enqueues them when Redis is back', async () => {
    const secrets: string[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await admin.post('/v1/secrets', { type: 'aws-iam-key', name: `redis down ${i}`, folder: '/redis', username: 'u', accountId: '123456789012', ...fakeKey() });
      expect(s.status).toBe(201);
      secrets.push(s.body.id);
    }
    expect((await admin.get('/health/ready')).status).toBe(200);

    await redis.stop();
    const ready = await eventually(async () => {
      const r = await admin.get('/health/ready');
      return r.status === 503 ? r : null;
    });
    expect(ready.body).toEqual({ status: 'unavailable', checks: { postgres: 'ok', redis: 'down' } });

    // Authentication and reads.
    const list = await admin.get('/v1/secrets', { headers: { 'x-forwarded-for': '198.51.100.1' } });
    expect(list.status).toBe(200);
    expect(list.body.items.map((s: { id: string }) => s.id).sort()).toEqual([...secrets].sort());
    expect((await admin.get(`/v1/secrets/${secrets[0]}/value`)).status).toBe(200);
    // A wrong key is still a 401 (the failure cannot be counted, so the limiter lets requests through, with a warning).
    const wrong = await client(url, generateToken()).get('/v1/secrets', { headers: { 'x-forwarded-for': '198.51.100.2' } });
    expect([wrong.status, wrong.body.code]).toEqual([401, 'INVALID_API_KEY']);
    await api!.waitFor(/failed-authentication limiter is off/);

    // Rotations: the row is stored and the answer is 202; the enqueue fails fast. The first
    // request meets a queue that never connected, the second one a queue known to be down.
    const rotations: string[] = [];
    for (const id of secrets) {
      const r = await requestRotation(id);
      expect([r.status, r.body.status]).toEqual([202, 'queued']);
      rotations.push(r.body.id);
    }
    // The job counts live in Redis: an operator is told so, not handed an internal error.
    const queues = await admin.get('/v1/queues');
    expect([queues.status, queues.body.code]).toEqual([503, 'QUEUES_UNAVAILABLE']);
    const rows = await db.query(`SELECT id, status FROM rotations ORDER BY id`);
    expect(rows.rows).toEqual(rotations.map((id) => ({ id, status: 'queued' })));

    // Redis returns (empty: it keeps nothing on disk); a scheduler's reconciler enqueues the stored rotations.
    await redis.start();
    scheduler = spawnApp('heartbeat-scheduler', { ...t.env, KEYTURN_RECONCILE_AFTER_MS: '1000', KEYTURN_SCHEDULER_TICK_MS: '500' });
    await scheduler.waitFor(/ready/);
    const check = new Redis(redis.url);
    try {
      for (const id of rotations) {
        await eventually(async () => (await check.exists(`${t.config.redis.prefix}:rotation:rotation-${id}`)) === 1);
      }
    } finally {
      check.disconnect();
    }
    await eventually(async () => (await admin.get('/health/ready')).status === 200);
  });
});
