import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import {
  client,
  createTestEnv,
  eventually,
  sleep,
  startApi,
  type Client,
  type RunningApi,
  type TestEnv,
} from './harness.js';

describe('access-key rotation (worker + emulator over HTTP)', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
  const startWorker = (extra: Record<string, string> = {}) => procs.start('rotation-worker', extra);
  const stopWorkers = () => procs.stopAll();
  const ops = vaultOps(() => admin, () => aws.accountId);
  const { keySecret, rotate, finished } = ops;
  const value = (id: string) => ops.value<Creds>(id);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
  });
  afterAll(async () => {
    await stopWorkers();
    await api?.close();
    await t?.drop();
    await aws?.close();
  });
  afterEach(async () => {
    await stopWorkers();
    aws.emu.resetFaults();
  });

  const policyFor = (target: string, executor: string) =>
    requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: target, executorUser: executor }).policy;

  /** The invariant every run must end in: one working stored key, and IAM holds only keys Keyturn stores. */
  async function assertConsistent(secretId: string, userName: string): Promise<Creds> {
    const current = await value(secretId);
    expect(await aws.whoAmI(current)).toBe(`arn:aws:iam::${aws.accountId}:user/${userName}`);
    const db = await import('./harness.js').then((h) => h.rawDb(t));
    const stored = await db.query(`SELECT key_hint FROM secret_versions WHERE secret_id = $1 AND state IN ('current', 'previous')`, [secretId]);
    await db.end();
    const keys = await aws.keys(userName);
    expect(keys.length).toBeLessThanOrEqual(2);
    expect(keys.map((k) => k.id)).toContain(current.accessKeyId);
    // No orphan: every key in IAM is the current or the previous stored version.
    const hints = new Set(stored.rows.map((r: { key_hint: string }) => r.key_hint));
    for (const k of keys) expect(hints.has(`${k.id.slice(0, 4)}…${k.id.slice(-4)}`)).toBe(true);
    return current;
  }

  it('basic mode: a user holding exactly the basic policy rotates its own key', async () => {
    const name = aws.uniqueName('basic');
    const u = await aws.user(name, policyFor(name, name));
    const id = await keySecret(name, u);
    await startWorker();
    const rot = await finished(await rotate(id));
    expect(rot).toMatchObject({ status: 'succeeded', mode: 'basic', step: 'done', errorCode: null });
    const now = await assertConsistent(id, name);
    expect(now.accessKeyId).not.toBe(u.accessKeyId);
    // Default settings inactivate the previous key.
    expect(await aws.keys(name)).toEqual(expect.arrayContaining([{ id: u.accessKeyId, status: 'Inactive' }]));
    expect(await aws.stsError(u)).toBe('InvalidClientTokenId');
  });

  it('privileged mode: an admin holding exactly the privileged policy rotates another user', async () => {
    const target = aws.uniqueName('target');
    const adminUser = aws.uniqueName('rotator');
    const tu = await aws.user(target); // no permissions of its own
    const au = await aws.user(adminUser, policyFor(target, adminUser));
    const adminSecret = await keySecret(adminUser, au);
    const id = await keySecret(target, tu, { privilegedSecretId: adminSecret });
    await startWorker();
    const rot = await finished(await rotate(id));
    expect(rot).toMatchObject({ status: 'succeeded', mode: 'privileged', executorSecretId: adminSecret });
    await assertConsistent(id, target);
  });

  it.each([
    [false, false, 'Active'],
    [true, false, 'Inactive'],
    [false, true, 'deleted'],
    [true, true, 'deleted'],
  ])('previous key with inactivate=%s delete=%s ends %s', async (inactivate, del, expected) => {
    const name = aws.uniqueName('prev');
    const u = await aws.user(name, policyFor(name, name));
    const id = await keySecret(name, u, { settings: { shouldInactivatePreviousKey: inactivate, shouldDeletePreviousKey: del } });
    await startWorker();
    expect((await finished(await rotate(id))).status).toBe('succeeded');
    await assertConsistent(id, name);
    const old = (await aws.keys(name)).find((k) => k.id === u.accessKeyId);
    if (expected === 'deleted') expect(old).toBeUndefined();
    else expect(old?.status).toBe(expected);
    // A second rotation still works whatever the first left behind (two keys at most).
    expect((await finished(await rotate(id))).status).toBe('succeeded');
    await assertConsistent(id, name);
  });

  it('a second, unmanaged key: a clear failure and nothing touched', async () => {
    const name = aws.uniqueName('unmanaged');
    const u = await aws.user(name, policyFor(name, name));
    const extra = await aws.createKey(name);
    const id = await keySecret(name, u);
    const before = await aws.keys(name);
    await startWorker();
    const rot = await finished(await rotate(id));
    expect(rot.status).toBe('failed');
    expect(rot.errorCode).toBe('KEY_LIMIT_UNMANAGED');
    expect(rot.errorMessage).toContain(`${extra.accessKeyId.slice(0, 4)}…${extra.accessKeyId.slice(-4)}`);
    expect(rot.errorMessage).not.toContain(extra.accessKeyId);
    expect(await aws.keys(name)).toEqual(before);
    expect(await value(id)).toEqual({ accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey });
  });

  it('a missing permission fails with the action named and points at the policy', async () => {
    const name = aws.uniqueName('denied');
    const u = await aws.user(name, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['iam:ListAccessKeys'], Resource: '*' }] });
    const id = await keySecret(name, u);
    await startWorker();
    const rot = await finished(await rotate(id));
    expect(rot.status).toBe('failed');
    expect(rot.errorCode).toBe('IAM_ACCESS_DENIED');
    expect(rot.errorMessage).toContain('iam:CreateAccessKey');
    expect(rot.errorMessage).toContain(`/v1/secrets/${id}/required-permissions`);
    expect(await aws.keys(name)).toHaveLength(1);
  });

  it.each(['prepare', 'make-room', 'create', 'create:after-aws', 'verify', 'promote', 'retire', 'retire:after-aws'])(
    'SIGKILL at %s, then a restart: one working current key, no orphan, the secret readable',
    async (point) => {
      const name = aws.uniqueName('crash');
      const u = await aws.user(name, policyFor(name, name));
      const id = await keySecret(name, u);
      // Rotate once first, so there is a previous key for make-room and retire to handle.
      await startWorker();
      expect((await finished(await rotate(id))).status).toBe('succeeded');
      await stopWorkers();

      const doomed = await startWorker({ KEYTURN_TEST_CRASH_AT: point });
      const rotationId = await rotate(id);
      await new Promise<void>((resolve) => doomed.child.once('exit', () => resolve()));
      expect(doomed.child.signalCode).toBe('SIGKILL');
      procs.forget(doomed);

      await startWorker();
      const rot = await finished(rotationId, 90_000);
      expect(rot.status).toBe('succeeded');
      await assertConsistent(id, name);
    },
  );

  it('"answer lost" on CreateAccessKey: the orphan is found and deleted, and the rotation completes', async () => {
    const name = aws.uniqueName('lost');
    const u = await aws.user(name, policyFor(name, name));
    const id = await keySecret(name, u);
    await startWorker();
    aws.emu.loseAnswerNext('CreateAccessKey', 1);
    const rot = await finished(await rotate(id), 90_000);
    expect(rot.status).toBe('succeeded');
    expect(rot.warnings.map((w: { code: string }) => w.code)).toContain('ORPHAN_DELETED');
    await assertConsistent(id, name);
  });

  it('propagation delay within the window: verify waits and succeeds', async () => {
    const name = aws.uniqueName('slow');
    const u = await aws.user(name, policyFor(name, name));
    const id = await keySecret(name, u);
    await startWorker();
    aws.emu.setPropagationDelayMs(4_000);
    const started = Date.now();
    const rot = await finished(await rotate(id));
    expect(rot.status).toBe('succeeded');
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_500);
    aws.emu.setPropagationDelayMs(0);
    await assertConsistent(id, name);
  });

  it('propagation delay longer than the window: clean failure, pending key deleted, current key untouched', async () => {
    const name = aws.uniqueName('never');
    const u = await aws.user(name, policyFor(name, name));
    const id = await keySecret(name, u);
    await startWorker({ KEYTURN_VERIFY_WINDOW_MS: '3000' });
    aws.emu.setPropagationDelayMs(60_000);
    const rot = await finished(await rotate(id));
    expect(rot.status).toBe('failed');
    expect(rot.errorCode).toBe('VERIFY_TIMEOUT');
    expect(rot.errorMessage).toMatch(/current key is unchanged/);
    aws.emu.setPropagationDelayMs(0);
    expect(await aws.keys(name)).toEqual([{ id: u.accessKeyId, status: 'Active' }]);
    expect(await value(id)).toEqual({ accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey });
    expect(await aws.whoAmI(u)).toBe(`arn:aws:iam::${aws.accountId}:user/${name}`);
  });

  it('SIGTERM during a rotation: the worker finishes it, then exits 0', async () => {
    const name = aws.uniqueName('drain');
    const u = await aws.user(name, policyFor(name, name));
    const id = await keySecret(name, u);
    const w = await startWorker();
    aws.emu.setPropagationDelayMs(2_000);
    const rotationId = await rotate(id);
    await eventually(async () => (await admin.get(`/v1/rotations/${rotationId}`)).body.step === 'verify', 20_000, 50);
    const code = await w.kill('SIGTERM');
    procs.forget(w);
    expect(code).toBe(0);
    // It stopped only after the rotation in hand was done: no other worker ran.
    const rot = (await admin.get(`/v1/rotations/${rotationId}`)).body;
    expect(rot.status).toBe('succeeded');
    aws.emu.setPropagationDelayMs(0);
    await assertConsistent(id, name);
  });

  it('Idempotency-Key: a retried request returns the same rotation', async () => {
    const name = aws.uniqueName('idem');
    const u = await aws.user(name, policyFor(name, name));
    const id = await keySecret(name, u);
    const a = await admin.post(`/v1/secrets/${id}/rotations`, undefined, { headers: { 'idempotency-key': 'deploy-42' } });
    const b = await admin.post(`/v1/secrets/${id}/rotations`, undefined, { headers: { 'idempotency-key': 'deploy-42' } });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.body.id).toBe(a.body.id);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    await startWorker();
    expect((await finished(a.body.id)).status).toBe('succeeded');
  });

  it('waves of 20 concurrent requests with two workers: each wave coalesces, rotations serialise, IAM never holds more than two keys', async () => {
    const name = aws.uniqueName('herd');
    const u = await aws.user(name, policyFor(name, name));
    const id = await keySecret(name, u, { settings: { shouldDeletePreviousKey: false, shouldInactivatePreviousKey: true } });
    await Promise.all([startWorker(), startWorker()]);
    let maxKeys = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        maxKeys = Math.max(maxKeys, aws.emu.listKeys(name).length);
        await sleep(10);
      }
    })();
    const ids: string[] = [];
    for (let wave = 0; wave < 5; wave++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => rotate(id)));
      // One waiting rotation takes the whole wave; a second only if a worker started the first mid-wave.
      expect(new Set(answers).size).toBeLessThanOrEqual(2);
      const waveIds = [...new Set(answers)];
      ids.push(...waveIds);
      // The next wave arrives once these have started (so it cannot join them), while they run: the workers serialise.
      for (const r of waveIds) await eventually(async () => (await admin.get(`/v1/rotations/${r}`)).body.startedAt !== null, 120_000);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(5);
    const results = await Promise.all(ids.map((r) => finished(r, 240_000)));
    watching = false;
    await watcher;
    expect(results.map((r) => r.status)).toEqual(Array(ids.length).fill('succeeded'));
    expect(maxKeys).toBeLessThanOrEqual(2);
    // The emulator's call log spans the whole file: look at this user's calls only.
    expect(aws.emu.callLog().filter((c) => c.userName === name && c.errorCode === 'LimitExceeded')).toEqual([]);
    await assertConsistent(id, name);
  }, 300_000);
});
