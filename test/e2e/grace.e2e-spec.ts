/**
 * Issue 12 items 3 and 6: the grace period of the previous key. With
 * previousKeyGraceSeconds the old key keeps working after a change (an app
 * that has not re-read yet is not broken), `?version=previous` serves it, and
 * at retireAt it is inactivated (or deleted) per the settings. Postgres holds
 * retireAt, so neither a SIGKILLed worker nor a Redis FLUSHALL loses the
 * retire. A change requested during a grace ends it early (AWS allows two
 * keys), with a warning and in the previous-key.retired event.
 *
 * The suite runs on its own redis-server (the shared one is never flushed).
 */
import type pg from 'pg';
import { SecretType, WarningCode } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { OwnRedis } from './own-redis.js';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { client, createTestEnv, eventually, rawDb, startApi, type Client, type RunningApi, type SpawnedApp, type TestEnv } from './harness.js';

describe('grace period of the previous key', () => {
  let aws: AwsFixture;
  let redis: OwnRedis;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  let db: pg.Client;
  let scheduler: SpawnedApp;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV, KEYTURN_SCHEDULER_TICK_MS: '500', KEYTURN_RECONCILE_AFTER_MS: '1000' }));
  const ops = vaultOps(() => admin, () => aws.accountId);

  const keySecretFor = async (prefix: string, settings: Record<string, unknown>) => {
    const name = aws.uniqueName(prefix);
    const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
    const u = await aws.user(name, policy);
    return { name, u, id: await ops.keySecret(name, u, { settings }) };
  };
  const arnOf = (name: string) => `arn:aws:iam::${aws.accountId}:user/${name}`;
  const events = async (secretId: string) =>
    (await db.query<{ type: string; payload: any }>(`SELECT type, payload FROM events WHERE secret_id = $1 AND type IN ('rotation.succeeded', 'rotation.failed', 'previous-key.retired') ORDER BY created_at, id`, [secretId])).rows;
  /** The rotation once the retire after its grace has run. */
  const retired = async (rotationId: string, timeoutMs = 60_000) =>
    eventually(async () => {
      const r = await admin.get(`/v1/rotations/${rotationId}`);
      return r.body.retiredAt ? r.body : null;
    }, timeoutMs);
  /** Right after `succeeded`: the old key still works, is served as previous, and its retire is owed at retireAt. */
  const inGrace = async (s: { name: string; u: Creds; id: string }, rotationId: string) => {
    const rot = await ops.finished(rotationId);
    expect(rot).toMatchObject({ status: 'succeeded', retirePending: true, retiredAt: null, step: 'retire' });
    expect(Date.parse(rot.retireAt)).toBeGreaterThan(Date.parse(rot.finishedAt) - 1_000);
    expect(await aws.whoAmI(s.u)).toBe(arnOf(s.name));
    const prev = await admin.get(`/v1/secrets/${s.id}/value?version=previous`);
    expect([prev.status, prev.body.version, prev.body.fields]).toEqual([200, 1, { accessKeyId: s.u.accessKeyId, secretAccessKey: s.u.secretAccessKey }]);
    return rot;
  };

  beforeAll(async () => {
    aws = await AwsFixture.start();
    redis = await OwnRedis.start();
    t = await createTestEnv({ REDIS_URL: redis.url });
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    db = await rawDb(t);
    scheduler = await procs.start('heartbeat-scheduler');
  });
  afterAll(async () => {
    await procs.stopAll();
    await db?.end();
    await api?.close();
    await t?.drop();
    await redis?.stop();
    await aws?.close();
  });

  it('keeps the old key working for 10 s after succeeded (served as previous), then inactivates it; both events carry the times', async () => {
    const worker = await procs.start('rotation-worker');
    try {
      const s = await keySecretFor('grace', { previousKeyGraceSeconds: 10 });
      const rotationId = await ops.rotate(s.id);
      const rot = await inGrace(s, rotationId);

      const done = await retired(rotationId);
      expect(done).toMatchObject({ status: 'succeeded', retirePending: false, step: 'done', retireAt: rot.retireAt });
      expect(Date.parse(done.retiredAt)).toBeGreaterThanOrEqual(Date.parse(rot.retireAt));
      expect(await aws.stsError(s.u)).toBe('InvalidClientTokenId');
      expect((await aws.keys(s.name)).find((k) => k.id === s.u.accessKeyId)?.status).toBe('Inactive');

      const ev = await events(s.id);
      expect(ev.map((e) => e.type)).toEqual(['rotation.succeeded', 'previous-key.retired']);
      expect(ev[0].payload).toMatchObject({ rotationId, version: 2, previousKeyRetireAt: rot.retireAt });
      expect(ev[1].payload).toMatchObject({ rotationId, version: 1, action: 'inactivated', retireAt: rot.retireAt, retiredAt: done.retiredAt, endedEarlyBy: null });
      expect(JSON.stringify(ev)).not.toContain(s.u.secretAccessKey);
    } finally {
      await worker.kill('SIGTERM');
      procs.forget(worker);
    }
  });

  it('a worker SIGKILLed during the grace does not lose the retire (deleted per the settings)', async () => {
    const doomed = await procs.start('rotation-worker');
    const s = await keySecretFor('gracekill', { previousKeyGraceSeconds: 10, shouldDeletePreviousKey: true });
    const rotationId = await ops.rotate(s.id);
    await inGrace(s, rotationId);
    await doomed.kill('SIGKILL');
    procs.forget(doomed);

    const worker = await procs.start('rotation-worker');
    try {
      expect(await retired(rotationId)).toMatchObject({ retirePending: false, step: 'done' });
      expect((await aws.keys(s.name)).map((k) => k.id)).not.toContain(s.u.accessKeyId);
      expect(await aws.stsError(s.u)).toBe('InvalidClientTokenId');
      const prev = await admin.get(`/v1/secrets/${s.id}/value?version=previous`);
      expect([prev.status, prev.body.code]).toEqual([404, 'VERSION_NOT_READABLE']);
    } finally {
      await worker.kill('SIGTERM');
      procs.forget(worker);
    }
  });

  it('a Redis FLUSHALL during the grace does not lose the retire: the reconciler re-enqueues it from Postgres', async () => {
    const worker = await procs.start('rotation-worker');
    try {
      const s = await keySecretFor('graceflush', { previousKeyGraceSeconds: 10 });
      const rotationId = await ops.rotate(s.id);
      await inGrace(s, rotationId);
      const logged = scheduler.output().length;
      await redis.flushAll();
      // The delayed job went with Redis: only the reconciler, reading Postgres, can bring it back.
      await eventually(async () => /re-enqueued [1-9]\d* rotation\(s\)/.test(scheduler.output().slice(logged)), 30_000);
      expect(await retired(rotationId)).toMatchObject({ retirePending: false, step: 'done' });
      expect(await aws.stsError(s.u)).toBe('InvalidClientTokenId');
    } finally {
      await worker.kill('SIGTERM');
      procs.forget(worker);
    }
  });

  it('a rotation requested during the grace ends it early with GRACE_ENDED_EARLY, and the user never holds more than 2 keys', async () => {
    const worker = await procs.start('rotation-worker');
    try {
      const s = await keySecretFor('graceearly', { previousKeyGraceSeconds: 600 });
      const first = await ops.rotate(s.id);
      await inGrace(s, first);
      expect(await aws.keys(s.name)).toHaveLength(2);

      const second = await ops.finished(await ops.rotate(s.id));
      expect(second.status).toBe('succeeded');
      expect(second.warnings.map((w: { code: string }) => w.code)).toEqual([WarningCode.GRACE_ENDED_EARLY]);
      expect(second.warnings[0].message).toContain(first);
      expect(await aws.keys(s.name)).toHaveLength(2);
      expect((await aws.keys(s.name)).map((k) => k.id)).not.toContain(s.u.accessKeyId);

      const firstNow = (await admin.get(`/v1/rotations/${first}`)).body;
      expect(firstNow).toMatchObject({ retirePending: false, step: 'done' });
      expect(firstNow.retiredAt).not.toBeNull();
      const ev = await events(s.id);
      expect(ev.map((e) => e.type)).toEqual(['rotation.succeeded', 'previous-key.retired', 'rotation.succeeded']);
      expect(ev[1].payload).toMatchObject({ rotationId: first, version: 1, action: 'inactivated', endedEarlyBy: second.id });
      // The second change is in its own grace: the key the first one made still works.
      expect(second).toMatchObject({ retirePending: true, retiredAt: null });
      expect(ev[2].payload.previousKeyRetireAt).toBe(second.retireAt);
    } finally {
      await worker.kill('SIGTERM');
      procs.forget(worker);
    }
  });

  it('refuses a grace below 0 or above 30 days with 400 naming the field, changing nothing', async () => {
    const s = await keySecretFor('gracebad', {});
    const before = [(await admin.get(`/v1/secrets/${s.id}`)).body.settings, (await admin.get('/v1/settings')).body];
    for (const bad of [-1, 2_592_001, 1.5, 'ten']) {
      const r = await admin.patch(`/v1/secrets/${s.id}`, { settings: { previousKeyGraceSeconds: bad } });
      expect([r.status, JSON.stringify(r.body)]).toEqual([400, expect.stringContaining('previousKeyGraceSeconds')]);
      const g = await admin.put('/v1/settings', { previousKeyGraceSeconds: bad });
      expect([g.status, JSON.stringify(g.body)]).toEqual([400, expect.stringContaining('previousKeyGraceSeconds')]);
    }
    expect([(await admin.get(`/v1/secrets/${s.id}`)).body.settings, (await admin.get('/v1/settings')).body]).toEqual(before);
    expect(before[1].previousKeyGraceSeconds).toBe(0);
  });
});
