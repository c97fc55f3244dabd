import { connect } from 'node:net';
import type pg from 'pg';
import { checkedFetch, client, createTestEnv, eventually, fakeKey, freePort, rawDb, spawnApp, type SpawnedApp, type TestEnv } from './harness.js';

/** True once the API no longer takes new requests: refused connections, or fastify's 503 while it closes. */
async function refusesNewRequests(url: string): Promise<boolean> {
  try {
    const res = await checkedFetch(`${url}/health/live`, { headers: { connection: 'close' } });
    await res.arrayBuffer();
    return res.status === 503;
  } catch (e) {
    if ((e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') return true;
    throw e;
  }
}

describe('secrets-api: SIGTERM while a request is in flight', () => {
  let t: TestEnv;
  let api: SpawnedApp | undefined;
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    if (api && api.child.exitCode === null && api.child.signalCode === null) api.child.kill('SIGKILL');
    for (const c of clients) await c.end();
    await t?.drop();
  });

  it('closes the HTTP server and lets the request finish before the database pool closes, then exits 0 without waiting on idle connections', async () => {
    const port = await freePort();
    api = spawnApp('secrets-api', { ...t.env, PORT: String(port) });
    await api.waitFor(/listening on/);
    const url = `http://127.0.0.1:${port}`;
    const admin = client(url, t.adminToken);
    const created = await admin.post('/v1/secrets', { type: 'aws-iam-key', name: 'in flight', folder: '/shutdown', username: 'u', accountId: '123456789012', ...fakeKey() });
    expect(created.status).toBe(201);
    const id: string = created.body.id;

    // Hold the row, so the PATCH below is deterministically in flight (waiting on the lock) when SIGTERM arrives.
    const locker = await rawDb(t);
    const watcher = await rawDb(t);
    clients.push(locker, watcher);
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM secrets WHERE id = $1 FOR UPDATE', [id]);
    const patch = admin.patch(`/v1/secrets/${id}`, { name: 'renamed while shutting down' });
    await eventually(async () => {
      const r = await watcher.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`, [t.name]);
      return r.rows[0].n === 1;
    });

    // A connection with a request half sent: it is not idle, so it stays open through the drain.
    const late = connect(port, '127.0.0.1');
    const lateAnswer = new Promise<string>((resolve, reject) => {
      let text = '';
      late.on('data', (c) => (text += c.toString()));
      late.on('close', () => resolve(text));
      late.on('error', reject);
    });
    await new Promise<void>((resolve) => late.write(`GET /v1/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\n`, () => resolve()));

    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      api!.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    api.child.kill('SIGTERM');
    // The server stops taking requests at once, while the one in flight drains.
    await eventually(() => refusesNewRequests(url), 30_000);
    expect(api.child.exitCode).toBeNull();
    // Finished now, that request is refused in the API's error shape.
    late.end('\r\n');
    const lateText = await lateAnswer;
    expect(lateText).toMatch(/^HTTP\/1\.1 503 /);
    expect(JSON.parse(lateText.slice(lateText.indexOf('\r\n\r\n') + 4))).toEqual({ statusCode: 503, code: 'SHUTTING_DOWN', message: expect.stringMatching(/shutting down/) });

    await locker.query('COMMIT');
    const res = await patch;
    expect([res.status, res.body.name]).toEqual([200, 'renamed while shutting down']);
    // Once the last request is answered the process ends: an idle keep-alive connection (here the
    // test's own, in production a load balancer's) must not hold it open until it times out (72 s).
    const ended = await Promise.race([exit, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000).unref())]);
    expect(ended).toEqual({ code: 0, signal: null });
    expect(api.output()).not.toMatch(/Connection terminated|Cannot use a pool after calling end|request failed/);
    const row = await watcher.query('SELECT name FROM secrets WHERE id = $1', [id]);
    expect(row.rows[0].name).toBe('renamed while shutting down');
    // The change was audited before the pool closed.
    const audit = await watcher.query(`SELECT outcome FROM audit_events WHERE action = 'secret.update' AND secret_id = $1`, [id]);
    expect(audit.rows).toEqual([{ outcome: 'success' }]);
  });
});
