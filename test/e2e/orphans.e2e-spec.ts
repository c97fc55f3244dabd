/**
 * Issue 10 item 1: a rotation never deletes a key another secret holds, an
 * orphan is only a key this rotation's own CreateAccessKey can have made, and
 * one access key is stored in one secret only. Real worker processes, the
 * emulator over HTTP, the real AWS SDK.
 */
import { SecretType } from '@keyturn/contracts';
import { loadConfig } from '@keyturn/config';
import { CREATE_DATE_SLACK_MS, createWindowMs } from '@keyturn/rotation';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import {
  client,
  createApiKey,
  createTestEnv,
  eventually,
  fakeKey,
  rawDb,
  sleep,
  startApi,
  type Client,
  type RunningApi,
  type TestEnv,
} from './harness.js';

const mask = (id: string) => `${id.slice(0, 4)}…${id.slice(-4)}`;
/** Just the two stored fields (the fixture's objects carry more). */
const pair = (k: Creds) => ({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey });

describe('orphans and keys held by other secrets (worker + emulator over HTTP)', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
  const ops = vaultOps(() => admin, () => aws.accountId);
  const { keySecret, rotate, finished } = ops;
  const value = (id: string) => ops.value<Creds>(id);
  // One attempt per SDK call and a short timeout keep this rotation's CreateAccessKey window small.
  const SHORT_WINDOW = { KEYTURN_AWS_MAX_ATTEMPTS: '1', KEYTURN_AWS_TIMEOUT_MS: '2000' };

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
  afterEach(async () => {
    await procs.stopAll();
    aws.emu.resetFaults();
  });

  const arnOf = (user: string) => `arn:aws:iam::${aws.accountId}:user/${user}`;
  const basicPolicy = (user: string) =>
    requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: user, executorUser: user }).policy;

  /**
   * Starts S1's rotation with every CreateAccessKey throttled, waits until an
   * attempt has recorded "about to create" and failed retryably, then stops
   * the worker: the rotation is left queued, to resume when a worker returns.
   */
  async function interruptAfterAboutToCreate(secretId: string): Promise<{ rotationId: string; aboutToCreateAt: Date }> {
    aws.emu.failNext('CreateAccessKey', 1_000, { code: 'Throttling', message: 'Rate exceeded', status: 400 });
    await procs.start('rotation-worker', SHORT_WINDOW);
    const rotationId = await rotate(secretId);
    await eventually(async () => {
      const r = (await admin.get(`/v1/rotations/${rotationId}`)).body;
      return r.errorCode === 'IAM_THROTTLED' && r.step === 'create';
    }, 60_000);
    await procs.stopAll();
    aws.emu.resetFaults();
    const db = await rawDb(t);
    const { rows } = await db.query(`SELECT status, about_to_create_at FROM rotations WHERE id = $1`, [rotationId]);
    await db.end();
    expect(rows[0].status).toBe('queued');
    expect(rows[0].about_to_create_at).toBeInstanceOf(Date);
    return { rotationId, aboutToCreateAt: rows[0].about_to_create_at };
  }

  it("the issue's case: S1 interrupted after 'about to create', S2 stores a new key of U, S1 resumes and leaves S2's key alone", async () => {
    const u = aws.uniqueName('shared');
    const k1 = await aws.user(u, basicPolicy(u));
    const s1 = await keySecret(u, k1);
    const { rotationId } = await interruptAfterAboutToCreate(s1);

    // Inside S1's window, U gets a second key, and S2 stores it.
    const k2 = await aws.createKey(u);
    const s2 = await keySecret(u, k2, { settings: { shouldDeletePreviousKey: true } });

    await procs.start('rotation-worker', SHORT_WINDOW);
    const rot = await finished(rotationId, 120_000);
    // U is at its limit of two, and the other key is S2's: nothing may be deleted, and S1 says why.
    expect(rot).toMatchObject({ status: 'failed', errorCode: 'KEY_HELD_BY_OTHER_SECRET' });
    expect(rot.errorMessage).toContain(s2);
    expect(rot.errorMessage).toContain(mask(k2.accessKeyId));
    expect(rot.errorMessage).not.toContain(k2.accessKeyId);

    // S2's key still authenticates as U, and both stored keys are still there and unchanged.
    expect(await aws.whoAmI(k2)).toBe(arnOf(u));
    expect(await aws.whoAmI(k1)).toBe(arnOf(u));
    expect((await aws.keys(u)).map((k) => k.id).sort()).toEqual([k1.accessKeyId, k2.accessKeyId].sort());
    expect(await value(s1)).toEqual(pair(k1));
    expect(await value(s2)).toEqual(pair(k2));
    expect(rot.warnings.map((w: { code: string }) => w.code)).not.toContain('ORPHAN_DELETED');
  });

  it("a key a person creates for U after S1's window is unmanaged: S1 does not delete it and fails with a clear code", async () => {
    const u = aws.uniqueName('person');
    const k1 = await aws.user(u, basicPolicy(u));
    const s1 = await keySecret(u, k1);
    const { rotationId, aboutToCreateAt } = await interruptAfterAboutToCreate(s1);

    // The window of that attempt's CreateAccessKey, computed the way the worker computes it, then some.
    const window = createWindowMs(loadConfig({ ...t.env, ...aws.env, ...WORKER_ENV, ...SHORT_WINDOW }));
    const after = aboutToCreateAt.getTime() + window + CREATE_DATE_SLACK_MS + 1_500;
    await sleep(Math.max(0, after - Date.now()));
    const k2 = await aws.createKey(u); // a person, by hand, not through Keyturn

    await procs.start('rotation-worker', SHORT_WINDOW);
    const rot = await finished(rotationId, 120_000);
    expect(rot).toMatchObject({ status: 'failed', errorCode: 'KEY_LIMIT_UNMANAGED' });
    expect(rot.errorMessage).toContain(mask(k2.accessKeyId));
    expect(rot.errorMessage).not.toContain(k2.accessKeyId);
    expect(await aws.whoAmI(k2)).toBe(arnOf(u));
    expect((await aws.keys(u)).map((k) => k.id).sort()).toEqual([k1.accessKeyId, k2.accessKeyId].sort());
    expect(await value(s1)).toEqual(pair(k1));
  });

  it('two secrets on one IAM user rotating at once: neither touches the other’s key; both fail naming the other (no room)', async () => {
    const u = aws.uniqueName('pair');
    const k1 = await aws.user(u, basicPolicy(u));
    const k2 = await aws.createKey(u);
    const s1 = await keySecret(u, k1);
    const s2 = await keySecret(u, k2);
    await Promise.all([procs.start('rotation-worker'), procs.start('rotation-worker')]);

    const [r1, r2] = await Promise.all([rotate(s1), rotate(s2)]);
    const [a, b] = await Promise.all([finished(r1, 120_000), finished(r2, 120_000)]);
    for (const [rot, other] of [
      [a, s2],
      [b, s1],
    ] as const) {
      expect(rot).toMatchObject({ status: 'failed', errorCode: 'KEY_HELD_BY_OTHER_SECRET' });
      expect(rot.errorMessage).toContain(other);
    }
    expect(await aws.whoAmI(k1)).toBe(arnOf(u));
    expect(await aws.whoAmI(k2)).toBe(arnOf(u));
    expect(await aws.keys(u)).toEqual(
      expect.arrayContaining([
        { id: k1.accessKeyId, status: 'Active' },
        { id: k2.accessKeyId, status: 'Active' },
      ]),
    );
    expect(await aws.keys(u)).toHaveLength(2);
    expect(await value(s1)).toEqual(pair(k1));
    expect(await value(s2)).toEqual(pair(k2));
  });

  it('a Postgres failure on the write after CreateAccessKey: the new key is deleted again, no orphan, a clear code', async () => {
    const u = aws.uniqueName('pgfail');
    const k1 = await aws.user(u, basicPolicy(u));
    const s1 = await keySecret(u, k1);
    const db = await rawDb(t);
    try {
      await db.query(`
        CREATE FUNCTION e2e_refuse_pending() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'e2e: refusing to store a pending version'; END $$`);
      await db.query(`
        CREATE TRIGGER e2e_refuse_pending BEFORE INSERT ON secret_versions
        FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION e2e_refuse_pending()`);

      // One attempt, so the first failure is the outcome.
      await procs.start('rotation-worker', { KEYTURN_JOB_ATTEMPTS: '1' });
      const callsBefore = aws.emu.callLog().length;
      const rot = await finished(await rotate(s1));
      expect(rot).toMatchObject({ status: 'failed', errorCode: 'NEW_KEY_NOT_STORED' });
      expect(rot.errorMessage).toMatch(/deleted in IAM/);
      expect(rot.errorMessage).toMatch(/current key is unchanged/);
      // AWS made a key, and the compensating delete removed it: IAM holds exactly the original key.
      const calls = aws.emu
        .callLog()
        .slice(callsBefore)
        .filter((c) => c.userName === u && ['CreateAccessKey', 'DeleteAccessKey'].includes(c.action) && !c.errorCode);
      expect(calls.map((c) => c.action)).toEqual(['CreateAccessKey', 'DeleteAccessKey']);
      expect(await aws.keys(u)).toEqual([{ id: k1.accessKeyId, status: 'Active' }]);
      const { rows } = await db.query(`SELECT state FROM secret_versions WHERE secret_id = $1`, [s1]);
      expect(rows).toEqual([{ state: 'current' }]);
      expect(await value(s1)).toEqual(pair(k1));
      await procs.stopAll();
    } finally {
      await db.query(`DROP TRIGGER IF EXISTS e2e_refuse_pending ON secret_versions`);
      await db.query(`DROP FUNCTION IF EXISTS e2e_refuse_pending()`);
      await db.end();
    }

    // With the database healthy again, the next change goes through.
    await procs.start('rotation-worker');
    expect((await finished(await rotate(s1))).status).toBe('succeeded');
    const now = await value(s1);
    expect(await aws.whoAmI(now)).toBe(arnOf(u));
    expect((await aws.keys(u)).map((k) => k.id).sort()).toEqual([k1.accessKeyId, now.accessKeyId].sort());
  });
});

describe('one access key, one secret: 409 ACCESS_KEY_ALREADY_STORED', () => {
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;

  beforeAll(async () => {
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
  });
  afterAll(async () => {
    await api?.close();
    await t?.drop();
  });

  const body = (name: string, folder: string, key: { accessKeyId: string; secretAccessKey: string }) => ({
    type: 'aws-iam-key',
    name,
    folder,
    username: 'ci-bot',
    accountId: '123456789012',
    ...key,
  });

  async function counts(): Promise<{ secrets: number; versions: number }> {
    const db = await rawDb(t);
    try {
      const s = await db.query('SELECT count(*)::int AS n FROM secrets');
      const v = await db.query('SELECT count(*)::int AS n FROM secret_versions');
      return { secrets: s.rows[0].n, versions: v.rows[0].n };
    } finally {
      await db.end();
    }
  }

  it('names the holder to a caller who can see it, hides it from one who cannot, and stores nothing', async () => {
    const key = fakeKey();
    const a = await admin.post('/v1/secrets', body('holder', '/team-a', key));
    expect(a.status).toBe(201);
    const before = await counts();

    const dup = await admin.post('/v1/secrets', body('dup', '/team-b', key));
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ statusCode: 409, code: 'ACCESS_KEY_ALREADY_STORED', message: expect.stringContaining(a.body.id) });
    // The id is what is held, whatever secret key comes with it.
    const sameId = await admin.post('/v1/secrets', body('dup2', '/team-b', { ...fakeKey(), accessKeyId: key.accessKeyId }));
    expect(sameId.status).toBe(409);
    expect(sameId.body.code).toBe('ACCESS_KEY_ALREADY_STORED');

    // A caller limited to /team-b cannot see the holder in /team-a: not named, not hinted at.
    const teamB = client(api.url, (await createApiKey(admin, 'operator', { folderScopes: ['/team-b'] })).token);
    expect((await teamB.get(`/v1/secrets/${a.body.id}`)).status).toBe(404);
    const hidden = await teamB.post('/v1/secrets', body('dup3', '/team-b', key));
    expect(hidden.status).toBe(409);
    expect(hidden.body.code).toBe('ACCESS_KEY_ALREADY_STORED');
    expect(hidden.body.message).not.toContain(a.body.id);
    expect(hidden.body.message).not.toMatch(/team-a|scope|holder/i);
    for (const r of [dup, sameId, hidden]) expect(JSON.stringify(r.body)).not.toContain(key.accessKeyId);

    // A caller who can see it gets the id.
    const teamA = client(api.url, (await createApiKey(admin, 'operator', { folderScopes: ['/team-a'] })).token);
    const visible = await teamA.post('/v1/secrets', body('dup4', '/team-a', key));
    expect(visible.status).toBe(409);
    expect(visible.body.message).toContain(a.body.id);

    expect(await counts()).toEqual(before);
  });

  it('two concurrent stores of one new key: exactly one wins, the others get the same 409', async () => {
    const key = fakeKey();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => admin.post('/v1/secrets', body(`race-${i}`, '/race', key))));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused.map((r) => [r.status, r.body.code])).toEqual(Array(5).fill([409, 'ACCESS_KEY_ALREADY_STORED']));
    const winner = results.find((r) => r.status === 201)!.body.id;
    for (const r of refused) expect(r.body.message).toContain(winner);
    const list = await admin.get('/v1/secrets?folder=/race');
    expect(list.body.items.map((s: { id: string }) => s.id)).toEqual([winner]);
  });

  it('a key whose only version is retired may be stored again; the index never holds the key id itself', async () => {
    const key = fakeKey();
    const first = await admin.post('/v1/secrets', body('was-here', '/retired', key));
    expect(first.status).toBe(201);
    const db = await rawDb(t);
    try {
      const { rows } = await db.query(`SELECT key_id_hmac, to_jsonb(v)::text AS row FROM secret_versions v WHERE secret_id = $1`, [first.body.id]);
      expect(rows[0].key_id_hmac).toMatch(/^[0-9a-f]{64}$/);
      expect(rows[0].row).not.toContain(key.accessKeyId);
      await db.query(`UPDATE secret_versions SET state = 'retired' WHERE secret_id = $1`, [first.body.id]);
    } finally {
      await db.end();
    }
    expect((await admin.post('/v1/secrets', body('is-back', '/retired', key))).status).toBe(201);
  });
});
