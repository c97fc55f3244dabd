/**
 * Issue 10 item 10: a wrong master key must not boot green. Every app checks
 * at start that each KEK in use is configured and really unwraps a stored data
 * key, and exits 78 naming the KEK ids (never key material) otherwise. And a
 * crypto failure inside a rotation fails it at once, with its own code.
 */
import { randomBytes } from 'node:crypto';
import { SecretType } from '@keyturn/contracts';
import { loadConfig } from '@keyturn/config';
import { ACCESS_KEY_ID_INDEX, EnvelopeCipher, generateMasterKey, keyringFromStrings } from '@keyturn/crypto';
import { requiredPermissions } from '@keyturn/secrets';
import { createApi } from '../../apps/secrets-api/src/bootstrap.js';
import { AwsFixture } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { client, createTestEnv, fakeKey, rawDb, spawnApp, startApi, type Client, type RunningApi, type SpawnedApp, type TestEnv } from './harness.js';

const APPS = ['secrets-api', 'rotation-worker', 'heartbeat-scheduler'] as const;
const idOf = (masterKey: string) => masterKey.split(':')[0];
const materialOf = (masterKey: string) => masterKey.split(':')[1];

/** Runs an app that is expected to refuse to start; one that starts anyway is killed, not leaked. */
async function exitCodeOf(app: (typeof APPS)[number], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const p: SpawnedApp = spawnApp(app, env);
  try {
    const code = await new Promise<number | null>((resolve) => {
      if (p.child.exitCode !== null) resolve(p.child.exitCode);
      else p.child.once('exit', (c) => resolve(c));
      // Started and ready instead of exiting: that is the failure this suite looks for.
      void p.waitFor(/listening on|ready: connected/, 120_000).then(() => resolve(-1), () => undefined);
    });
    return { code, out: p.output() };
  } finally {
    await p.kill('SIGKILL');
  }
}

describe('start-up key check: a wrong master key does not boot', () => {
  let t: TestEnv;
  let k1: string;
  const stored = fakeKey();

  beforeAll(async () => {
    t = await createTestEnv();
    k1 = t.env.KEYTURN_MASTER_KEY;
    // Data sealed with K1: a key secret and a console password.
    const api = await startApi(t);
    const admin = client(api.url, t.adminToken);
    const base = { username: 'ci-bot', accountId: '123456789012' };
    expect((await admin.post('/v1/secrets', { type: 'aws-iam-key', name: 'key', ...base, ...stored })).status).toBe(201);
    expect((await admin.post('/v1/secrets', { type: 'aws-iam-console-password', name: 'pw', ...base, password: 'Tr0ub4dor&3-console' })).status).toBe(201);
    await api.close();
  });
  afterAll(async () => {
    await t?.drop();
  });

  it.each(APPS)('%s configured with another key (K2) exits 78, naming K1 and showing no key material', async (app) => {
    const k2 = generateMasterKey();
    const { code, out } = await exitCodeOf(app, { ...t.env, KEYTURN_MASTER_KEY: k2 });
    expect(code).toBe(78);
    expect(out).toContain(`'${idOf(k1)}'`);
    expect(out).toMatch(/not configured/);
    expect(out).toMatch(/KEYTURN_PREVIOUS_MASTER_KEYS/);
    for (const secret of [materialOf(k1), materialOf(k2), stored.accessKeyId, stored.secretAccessKey]) expect(out).not.toContain(secret);
    // One clear message, not a crash: no stack trace.
    expect(out).not.toMatch(/^\s+at /m);
  });

  it.each(APPS)('%s configured with K1’s id but other key bytes exits 78: the unwrap is real', async (app) => {
    const impostor = `${idOf(k1)}:${randomBytes(32).toString('base64')}`;
    const { code, out } = await exitCodeOf(app, { ...t.env, KEYTURN_MASTER_KEY: impostor });
    expect(code).toBe(78);
    expect(out).toContain(`'${idOf(k1)}'`);
    expect(out).toMatch(/cannot unwrap/);
    for (const secret of [materialOf(k1), materialOf(impostor)]) expect(out).not.toContain(secret);
    expect(out).not.toMatch(/^\s+at /m);
  });

  it('in process, createApi throws a typed MasterKeyMismatchError listing the missing KEK', async () => {
    const env = { ...t.env, KEYTURN_MASTER_KEY: generateMasterKey() };
    await expect(createApi(loadConfig(env), { docs: false })).rejects.toMatchObject({
      name: 'MasterKeyMismatchError',
      code: 'MASTER_KEY_MISMATCH',
      missing: [idOf(k1)],
      wrong: [],
    });
  });

  it.each(APPS)('%s starts with the right key', async (app) => {
    const procs = new Processes(() => t.env);
    try {
      await procs.start(app);
    } finally {
      await procs.stopAll();
    }
  });

  it('starts with a new active key while the old one is listed as previous', async () => {
    const both = { ...t.env, KEYTURN_MASTER_KEY: generateMasterKey(), KEYTURN_PREVIOUS_MASTER_KEYS: k1 };
    const api = await startApi({ ...t, env: both, config: loadConfig(both) });
    await api.close();
  });

  it('an upgraded database (versions without the access key index) gets the index at start, and duplicates are then refused', async () => {
    const db = await rawDb(t);
    try {
      await db.query(`UPDATE secret_versions SET key_id_hmac = NULL`);
      const api = await startApi(t);
      try {
        const { rows } = await db.query(`SELECT key_id_hmac FROM secret_versions v JOIN secrets s ON s.id = v.secret_id ORDER BY s.type`);
        const expected = new EnvelopeCipher(keyringFromStrings(k1)).blindIndex(ACCESS_KEY_ID_INDEX, stored.accessKeyId);
        // The key secret's version is indexed again; the console password has no access key.
        expect(rows.map((r: { key_id_hmac: string | null }) => r.key_id_hmac)).toEqual([null, expected]);
        const dup = await client(api.url, t.adminToken).post('/v1/secrets', {
          type: 'aws-iam-key',
          name: 'again',
          username: 'ci-bot',
          accountId: '123456789012',
          ...stored,
        });
        expect(dup.status).toBe(409);
        expect(dup.body.code).toBe('ACCESS_KEY_ALREADY_STORED');
      } finally {
        await api.close();
      }
    } finally {
      await db.end();
    }
  });
});

describe('a crypto failure in a rotation fails it at once', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
  const ops = vaultOps(() => admin, () => aws.accountId);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
  });
  afterAll(async () => {
    await procs.stopAll();
    await api?.close();
    await t?.drop();
    await aws?.close();
  });

  it('a version sealed under a KEK that is no longer configured: failed with UNKNOWN_KEK on the first attempt, not retried', async () => {
    const u = aws.uniqueName('crypto');
    const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: u, executorUser: u }).policy;
    const k = await aws.user(u, policy);
    const id = await ops.keySecret(u, k);
    await procs.start('rotation-worker');
    // Behind the running worker's back, the stored version now names a KEK nobody has.
    const db = await rawDb(t);
    await db.query(`UPDATE secret_versions SET kek_id = 'kgone' WHERE secret_id = $1`, [id]);
    await db.end();

    const rot = await ops.finished(await ops.rotate(id));
    expect(rot).toMatchObject({ status: 'failed', errorCode: 'UNKNOWN_KEK', attempt: 1 });
    expect(rot.errorMessage).toContain(`'kgone'`);
    expect(rot.errorMessage).not.toContain(materialOf(t.env.KEYTURN_MASTER_KEY));
    expect(await aws.keys(u)).toEqual([{ id: k.accessKeyId, status: 'Active' }]);
  });
});
