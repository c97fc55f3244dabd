import { Redis } from 'ioredis';
import type pg from 'pg';
import { heartbeatJobId, rotationJobId } from '@keyturn/secrets';
import { REDIS_URL, client, createTestEnv, eventually, fakeKey, rawDb, spawnApp, startApi, type ApiResponse, type Client, type RunningApi, type SpawnedApp, type TestEnv } from './harness.js';

/**
 * A secret has at most one waiting (queued, never started) rotation and one
 * waiting heartbeat: a request while one waits gets that one back (202, same
 * id, Idempotent-Replayed: true). No worker runs here, so nothing starts by
 * itself; "in progress" is set on the row the way a worker's claim sets it.
 */
describe('coalesced requests: a bounded backlog per secret', () => {
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  let db: pg.Client;
  let redis: Redis;
  const spawned: SpawnedApp[] = [];

  beforeAll(async () => {
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    db = await rawDb(t);
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for (const p of spawned) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await redis?.quit();
    await db?.end();
    await api?.close();
    await t?.drop();
  });

  const keySecret = async (): Promise<string> => {
    const r = await admin.post('/v1/secrets', { type: 'aws-iam-key', name: `c-${Math.random().toString(36).slice(2, 8)}`, folder: '/c', username: 'u', accountId: '123456789012', ...fakeKey() });
    expect(r.status).toBe(201);
    return r.body.id;
  };

  const burst = (n: number, path: string, headers: Record<string, string> = {}) =>
    Promise.all(Array.from({ length: n }, () => admin.post(path, undefined, { headers })));

  /** Every answer 202, and only the request that made the row answers without Idempotent-Replayed. */
  const expectCoalesced = (answers: ApiResponse[], createdHere: number) => {
    expect(answers.map((a) => a.status)).toEqual(Array(answers.length).fill(202));
    const fresh = answers.filter((a) => a.headers.get('idempotent-replayed') !== 'true');
    expect(fresh).toHaveLength(createdHere);
  };

  /** Job ids waiting in the queue for these rows (BullMQ's wait list, or its prioritized set for jobs with a fair-share priority). */
  const JOB_ID_OF = { rotation: rotationJobId, heartbeat: heartbeatJobId };
  const queued = async (queue: 'rotation' | 'heartbeat', ids: string[]) => {
    const jobIds = [
      ...(await redis.lrange(`${t.env.KEYTURN_QUEUE_PREFIX}:${queue}:wait`, 0, -1)),
      ...(await redis.zrange(`${t.env.KEYTURN_QUEUE_PREFIX}:${queue}:prioritized`, 0, -1)),
    ];
    return jobIds.filter((j) => ids.some((id) => j === JOB_ID_OF[queue](id)));
  };

  const rows = async (table: 'rotations' | 'heartbeats', secretId: string) =>
    (
      await db.query(
        table === 'rotations'
          ? `SELECT id, status, started_at IS NOT NULL AS started, attempt FROM rotations WHERE secret_id = $1 ORDER BY id`
          : `SELECT id, status, attempt FROM heartbeats WHERE secret_id = $1 ORDER BY id`,
        [secretId],
      )
    ).rows;

  it('50 concurrent rotation requests: one rotation, every answer 202 with its id, one job', async () => {
    const id = await keySecret();
    const answers = await burst(50, `/v1/secrets/${id}/rotations`);
    expectCoalesced(answers, 1);
    const ids = new Set(answers.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    expect(await rows('rotations', id)).toEqual([{ id: [...ids][0], status: 'queued', started: false, attempt: 0 }]);
    expect(await queued('rotation', [...ids])).toEqual([`rotation-${[...ids][0]}`]);
  });

  it('while one runs (or waits for a retry): one more may wait, never a third', async () => {
    const id = await keySecret();
    const first = (await admin.post(`/v1/secrets/${id}/rotations`)).body.id;
    // A worker claims it.
    await db.query(`UPDATE rotations SET status = 'running', started_at = now(), attempt = 1, lease_owner = 'w', lease_expires_at = now() + interval '1 hour' WHERE id = $1`, [first]);
    const answers = await burst(50, `/v1/secrets/${id}/rotations`);
    expectCoalesced(answers, 1);
    const second = answers[0].body.id;
    expect(new Set(answers.map((a) => a.body.id))).toEqual(new Set([second]));
    expect(second).not.toBe(first);
    // The running one failed an attempt and went back to queued for a retry: it is still the one in progress.
    await db.query(`UPDATE rotations SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL WHERE id = $1`, [first]);
    const again = await burst(50, `/v1/secrets/${id}/rotations`);
    expectCoalesced(again, 0);
    expect(new Set(again.map((a) => a.body.id))).toEqual(new Set([second]));
    expect((await rows('rotations', id)).map((r) => r.id).sort()).toEqual([first, second].sort());
    expect((await queued('rotation', [first, second])).length).toBeLessThanOrEqual(2);
  });

  it('Idempotency-Key still means the same rotation, before and after the one it joined starts', async () => {
    const id = await keySecret();
    const waiting = (await admin.post(`/v1/secrets/${id}/rotations`)).body.id;
    // Twenty retries of one request at once, while a rotation waits: all join it.
    const joined = await burst(20, `/v1/secrets/${id}/rotations`, { 'idempotency-key': 'deploy-7' });
    expectCoalesced(joined, 0);
    expect(new Set(joined.map((a) => a.body.id))).toEqual(new Set([waiting]));
    await db.query(`UPDATE rotations SET status = 'running', started_at = now(), attempt = 1 WHERE id = $1`, [waiting]);
    // The same key later: the same rotation, not a new one.
    const replay = await admin.post(`/v1/secrets/${id}/rotations`, undefined, { headers: { 'idempotency-key': 'deploy-7' } });
    expect({ status: replay.status, id: replay.body.id, replayed: replay.headers.get('idempotent-replayed') }).toEqual({ status: 202, id: waiting, replayed: 'true' });
    // Another key makes the next waiting rotation, and keeps pointing at it.
    const next = await admin.post(`/v1/secrets/${id}/rotations`, undefined, { headers: { 'idempotency-key': 'deploy-8' } });
    expect(next.status).toBe(202);
    expect(next.headers.get('idempotent-replayed')).toBeNull();
    expect(next.body.id).not.toBe(waiting);
    await db.query(`UPDATE rotations SET status = 'succeeded', finished_at = now() WHERE id = $1`, [waiting]);
    await db.query(`UPDATE rotations SET status = 'running', started_at = now(), attempt = 1 WHERE id = $1`, [next.body.id]);
    const replay8 = await admin.post(`/v1/secrets/${id}/rotations`, undefined, { headers: { 'idempotency-key': 'deploy-8' } });
    expect({ id: replay8.body.id, replayed: replay8.headers.get('idempotent-replayed') }).toEqual({ id: next.body.id, replayed: 'true' });
    expect((await admin.post(`/v1/secrets/${id}/rotations`, undefined, { headers: { 'idempotency-key': 'deploy-7' } })).body.id).toBe(waiting);
  });

  it('50 concurrent heartbeat requests: one heartbeat; one more may wait while it runs; one job each', async () => {
    const id = await keySecret();
    const answers = await burst(50, `/v1/secrets/${id}/heartbeats`);
    expectCoalesced(answers, 1);
    const first = answers[0].body.id;
    expect(new Set(answers.map((a) => a.body.id))).toEqual(new Set([first]));
    // A worker claims it.
    await db.query(`UPDATE heartbeats SET status = 'running', attempt = 1, lease_expires_at = now() + interval '1 hour' WHERE id = $1`, [first]);
    const more = await burst(50, `/v1/secrets/${id}/heartbeats`);
    expectCoalesced(more, 1);
    const second = more[0].body.id;
    expect(new Set(more.map((a) => a.body.id))).toEqual(new Set([second]));
    expect(await rows('heartbeats', id)).toEqual([
      { id: first, status: 'running', attempt: 1 },
      { id: second, status: 'queued', attempt: 0 },
    ]);
    expect((await queued('heartbeat', [first, second])).sort()).toEqual([first, second].sort());
  });

  it('the scheduler adds no heartbeat for a due secret that already has one waiting', async () => {
    const id = await keySecret();
    const waiting = (await admin.post(`/v1/secrets/${id}/heartbeats`)).body.id;
    const other = await keySecret();
    await db.query(`UPDATE heartbeat_due SET due_at = now() - interval '1 minute' WHERE secret_id = ANY($1::uuid[])`, [[id, other]]);
    const p = spawnApp('heartbeat-scheduler', { ...t.env, KEYTURN_SCHEDULER_TICK_MS: '200' });
    spawned.push(p);
    await p.waitFor(/ready: connected/);
    // The other due secret gets its heartbeat: the tick ran.
    await eventually(async () => (await rows('heartbeats', other)).length === 1, 60_000);
    // A second tick would find `id` due again only after the claim horizon; give the scheduler a few more ticks anyway.
    await eventually(async () => (await db.query(`SELECT due_at > now() AS claimed FROM heartbeat_due WHERE secret_id = $1`, [id])).rows[0].claimed, 60_000);
    p.child.kill('SIGTERM');
    await new Promise((r) => p.child.once('exit', r));
    expect((await rows('heartbeats', id)).map((r) => r.id)).toEqual([waiting]);
    expect(p.output()).not.toMatch(/heartbeats failed/);
  });
});
