import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { WORKER_ENV, vaultOps } from './vault-ops.js';
import { client, createTestEnv, eventually, rawDb, spawnApp, startApi, type Client, type RunningApi, type SpawnedApp, type TestEnv } from './harness.js';

/** More rotations at once than the old fixed pool of 10 connections could ever serve. */
const CONCURRENCY = 16;

/** Waits for the process to end; one still alive after `timeoutMs` is killed, and the test fails with its output. */
function exitOf(app: SpawnedApp, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (app.child.exitCode !== null || app.child.signalCode !== null) return resolve({ code: app.child.exitCode, signal: app.child.signalCode });
    const timer = setTimeout(() => {
      app.child.kill('SIGKILL');
      reject(new Error(`still running after ${timeoutMs} ms; output:\n${app.output().slice(-4000)}`));
    }, timeoutMs);
    app.child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

describe(`one worker at KEYTURN_WORKER_CONCURRENCY=${CONCURRENCY}`, () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  const spawned: SpawnedApp[] = [];
  const ops = vaultOps(() => admin, () => aws.accountId);
  let users: { name: string; key: Creds; secretId: string }[] = [];

  const worker = async (extra: Record<string, string> = {}): Promise<SpawnedApp> => {
    const p = spawnApp('rotation-worker', {
      ...t.env,
      ...aws.env,
      ...WORKER_ENV,
      KEYTURN_WORKER_CONCURRENCY: String(CONCURRENCY),
      // The account's pace is not what this file tests.
      KEYTURN_AWS_RATE_PER_ACCOUNT: '500',
      ...extra,
    });
    spawned.push(p);
    await p.waitFor(/ready: connected/);
    return p;
  };

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    users = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      const name = aws.uniqueName(`load${i}`);
      const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
      const key = await aws.user(name, policy);
      users.push({ name, key, secretId: await ops.keySecret(name, key) });
    }
  });
  afterEach(async () => {
    // A hung worker must not hang the suite: SIGTERM, then SIGKILL.
    for (const p of spawned.splice(0)) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill('SIGTERM');
      await exitOf(p, 60_000).catch(() => undefined);
    }
    aws.emu.resetFaults();
  });
  afterAll(async () => {
    await api?.close();
    await t?.drop();
    await aws?.close();
  });

  /** Every secret's stored key answers as its user, and the key it replaced is inactive in IAM. */
  async function assertRotated(before: Map<string, string>): Promise<void> {
    for (const u of users) {
      const now = await ops.value<Creds>(u.secretId);
      expect(now.accessKeyId).not.toBe(before.get(u.secretId));
      expect(await aws.whoAmI(now)).toBe(`arn:aws:iam::${aws.accountId}:user/${u.name}`);
      const keys = await aws.keys(u.name);
      expect(keys).toEqual(
        expect.arrayContaining([
          { id: now.accessKeyId, status: 'Active' },
          { id: before.get(u.secretId), status: 'Inactive' },
        ]),
      );
    }
  }

  const currentKeys = async () => new Map(await Promise.all(users.map(async (u) => [u.secretId, (await ops.value<Creds>(u.secretId)).accessKeyId] as const)));

  const runningInVerify = async () => {
    const db = await rawDb(t);
    try {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM rotations WHERE status = 'running' AND step = 'verify'`);
      return rows[0].n as number;
    } finally {
      await db.end();
    }
  };

  it(`${CONCURRENCY} IAM users, ${CONCURRENCY} rotations requested at once: every one succeeds`, async () => {
    const before = await currentKeys();
    await worker();
    const started = Date.now();
    const ids = await Promise.all(users.map((u) => ops.rotate(u.secretId)));
    const results = await Promise.all(ids.map((id) => ops.finished(id, 240_000)));
    process.stdout.write(`${CONCURRENCY} rotations at concurrency ${CONCURRENCY} took ${Date.now() - started} ms\n`);
    expect(results.map((r) => ({ status: r.status, errorCode: r.errorCode }))).toEqual(Array(CONCURRENCY).fill({ status: 'succeeded', errorCode: null }));
    await assertRotated(before);
  }, 400_000);

  it('SIGTERM while all of them run: the worker waits for them, says it drained, and exits 0', async () => {
    const before = await currentKeys();
    // New keys take a while to work, so every rotation is in flight (verifying) when SIGTERM arrives.
    aws.emu.setPropagationDelayMs(3_000);
    const p = await worker({ KEYTURN_SHUTDOWN_TIMEOUT_MS: '120000' });
    const ids = await Promise.all(users.map((u) => ops.rotate(u.secretId)));
    await eventually(async () => (await runningInVerify()) === CONCURRENCY, 120_000);
    p.child.kill('SIGTERM');
    const exit = await exitOf(p, 180_000);
    expect({ exit, drained: /drained: every running job finished/.test(p.output()) }).toEqual({ exit: { code: 0, signal: null }, drained: true });
    expect(p.output()).not.toMatch(/Connection terminated|Cannot use a pool/);
    const db = await rawDb(t);
    const { rows } = await db.query(`SELECT status, count(*)::int AS n FROM rotations WHERE id = ANY($1::uuid[]) GROUP BY status`, [ids]);
    await db.end();
    expect(rows).toEqual([{ status: 'succeeded', n: CONCURRENCY }]);
    await assertRotated(before);
  }, 400_000);

  it('SIGTERM with rotations that cannot finish within KEYTURN_SHUTDOWN_TIMEOUT_MS: exits 0, says so, and another worker finishes them', async () => {
    const before = await currentKeys();
    aws.emu.setPropagationDelayMs(15_000);
    const env = { KEYTURN_SHUTDOWN_TIMEOUT_MS: '1000', KEYTURN_VERIFY_WINDOW_MS: '90000' };
    const p = await worker(env);
    const ids = await Promise.all(users.map((u) => ops.rotate(u.secretId)));
    await eventually(async () => (await runningInVerify()) === CONCURRENCY, 120_000);
    p.child.kill('SIGTERM');
    const exit = await exitOf(p, 120_000);
    expect({ exit, gaveUp: /drain timeout: \d+ job\(s\) still running/.test(p.output()) }).toEqual({ exit: { code: 0, signal: null }, gaveUp: true });
    expect(p.output()).not.toMatch(/Connection terminated|Cannot use a pool/);
    // Their leases lapse, and the next worker resumes each one where it stopped.
    await worker(env);
    const results = await Promise.all(ids.map((id) => ops.finished(id, 240_000)));
    expect(results.map((r) => ({ status: r.status, errorCode: r.errorCode }))).toEqual(Array(CONCURRENCY).fill({ status: 'succeeded', errorCode: null }));
    await assertRotated(before);
  }, 400_000);

  it.each<{ what: string; env: Record<string, string>; names: RegExp }>([
    { what: 'a pool below what the concurrency needs', env: { KEYTURN_DB_POOL_SIZE: '10' }, names: /KEYTURN_DB_POOL_SIZE[\s\S]*KEYTURN_WORKER_CONCURRENCY/ },
    { what: 'a concurrency whose pool Postgres could never hold', env: { KEYTURN_WORKER_CONCURRENCY: '256' }, names: /KEYTURN_WORKER_CONCURRENCY[\s\S]*max_connections/ },
  ])('$what is refused at start: exit 78, naming the settings', async ({ env, names }) => {
    const p = spawnApp('rotation-worker', { ...t.env, ...aws.env, ...WORKER_ENV, KEYTURN_WORKER_CONCURRENCY: String(CONCURRENCY), ...env });
    spawned.push(p);
    const exit = await exitOf(p, 60_000);
    expect({ exit, output: p.output() }).toEqual({ exit: { code: 78, signal: null }, output: expect.stringMatching(names) });
    expect(p.output()).not.toMatch(/ready: connected/);
    expect(p.output()).not.toContain(t.env.KEYTURN_MASTER_KEY);
  });
});
