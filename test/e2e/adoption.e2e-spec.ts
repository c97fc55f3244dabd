/**
 * Issue 15 item 3: adoption of a discovered key whose secret nobody knows. A
 * privileged secret creates a fresh key for the user; the adopted key becomes
 * the previous version (secret unknown: never served) and is retired by the
 * settings after the grace. A full user needs the other key named
 * (deleteFindingId), which is deleted first; without it nothing changes.
 *
 * The findings are seeded straight into discovery_runs / discovery_findings
 * (the schema of libs/store's discovery migration) with the blind index under
 * the test's master key, so this suite does not depend on a discovery run.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { GetUserCommand } from '@aws-sdk/client-iam';
import { ACCESS_KEY_ID_INDEX, EnvelopeCipher, keyringFromStrings } from '@keyturn/crypto';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { operatorCli } from './cli-run.js';
import { client, createTestEnv, eventually, freePort, rawDb, type Client, type TestEnv } from './harness.js';

const ALL_KEYS_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey', 'iam:ListAccessKeys', 'iam:GetUser'],
      Resource: 'arn:aws:iam::*:user/*',
    },
  ],
};

describe('adoption of a discovered key whose secret is unknown', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let admin: Client;
  let db: pg.Client;
  let keeperId: string;
  let runId: string;
  let cipher: EnvelopeCipher;
  let apiUrl: string;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
  const ops = vaultOps(() => admin, () => aws.accountId);

  /** A finding of `run` for `key` of `user`, as a discovery run records it (never the key id itself). */
  const finding = async (run: string, user: { userName: string }, keyId: string, managedSecretId: string | null = null): Promise<string> => {
    const id = randomUUID();
    const u = await aws.iam.send(new GetUserCommand({ UserName: user.userName }));
    await db.query(
      `INSERT INTO discovery_findings (id, run_id, user_name, user_id, user_arn, access_key_id_masked, key_id_hmac, key_status, managed_secret_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'Active', $8)`,
      [id, run, user.userName, u.User!.UserId, u.User!.Arn, `${keyId.slice(0, 4)}…${keyId.slice(-4)}`, cipher.blindIndex(ACCESS_KEY_ID_INDEX, keyId), managedSecretId],
    );
    return id;
  };
  const newRun = async (): Promise<string> => {
    const id = randomUUID();
    await db.query(
      `INSERT INTO discovery_runs (id, executor_secret_id, trigger, requested_by, status, phase, users_scanned, finished_at)
       VALUES ($1, $2, 'api', 'e2e', 'succeeded', 'done', 0, now())`,
      [id, keeperId],
    );
    return id;
  };
  const adopt = (run: string, findingId: string, body: Record<string, unknown> = {}) =>
    admin.post(`/v1/discoveries/${run}/findings/${findingId}/adopt`, { name: `adopted-${randomUUID().slice(0, 8)}`, folder: '/e2e', privilegedSecretId: keeperId, ...body });
  const keyIds = async (userName: string) => (await aws.keys(userName)).map((k) => k.id).sort();
  const secretCount = async () => Number((await db.query(`SELECT count(*) FROM secrets`)).rows[0].count);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    cipher = new EnvelopeCipher(keyringFromStrings(t.env.KEYTURN_MASTER_KEY));
    // Its own process: the API's AWS SDK reads the emulator's endpoint from the environment.
    const port = await freePort();
    await procs.start('secrets-api', { PORT: String(port) });
    apiUrl = `http://127.0.0.1:${port}`;
    admin = client(apiUrl, t.adminToken);
    db = await rawDb(t);
    const keeper = await aws.user(aws.uniqueName('keeper'), ALL_KEYS_POLICY);
    keeperId = await ops.keySecret(keeper.userName, keeper);
    runId = await newRun();
    await procs.start('rotation-worker');
  });
  afterAll(async () => {
    await procs.stopAll();
    await db?.end();
    await t?.drop();
    await aws?.close();
  });

  it('with a free slot: the new key works as the user, the old key keeps working for the grace and is then inactive; its value is never served', async () => {
    const alice = await aws.user(aws.uniqueName('alice'));
    const f = await finding(runId, alice, alice.accessKeyId);

    const r = await adopt(runId, f, { settings: { previousKeyGraceSeconds: 10 } });
    expect(r.status).toBe(202);
    expect(r.headers.get('location')).toBe(`/v1/rotations/${r.body.rotationId}`);
    expect(r.body.rotation).toMatchObject({ id: r.body.rotationId, secretId: r.body.secretId });
    expect(JSON.stringify(r.body)).not.toContain(alice.accessKeyId);

    const rot = await ops.finished(r.body.rotationId);
    expect(rot).toMatchObject({ status: 'succeeded', mode: 'privileged', executorSecretId: keeperId, retirePending: true, retiredAt: null });
    const value = await admin.get(`/v1/secrets/${r.body.secretId}/value`);
    expect([value.status, value.body.version]).toEqual([200, 2]);
    expect(await aws.whoAmI(value.body.fields)).toBe(`arn:aws:iam::${aws.accountId}:user/${alice.userName}`);
    // The adopted key: still working during the grace, listed as version 1 with its secret unknown, never served.
    expect(await aws.whoAmI(alice)).toBe(`arn:aws:iam::${aws.accountId}:user/${alice.userName}`);
    const versions = await admin.get(`/v1/secrets/${r.body.secretId}/versions`);
    expect(versions.body.items.map((v: any) => [v.version, v.state, v.secretUnknown])).toEqual([
      [2, 'current', false],
      [1, 'previous', true],
    ]);
    const prev = await admin.get(`/v1/secrets/${r.body.secretId}/value?version=previous`);
    expect([prev.status, prev.body.code]).toEqual([409, 'SECRET_VALUE_UNKNOWN']);

    const done = await eventually(async () => {
      const g = await admin.get(`/v1/rotations/${r.body.rotationId}`);
      return g.body.retiredAt ? g.body : null;
    }, 60_000);
    expect(done).toMatchObject({ retirePending: false, step: 'done' });
    expect(await aws.stsError(alice)).toBe('InvalidClientTokenId');
    expect((await aws.keys(alice.userName)).find((k) => k.id === alice.accessKeyId)?.status).toBe('Inactive');

    const audit = await db.query(`SELECT action, outcome, secret_id, target_type, target_id FROM audit_events WHERE action = 'discovery.finding.adopt'`);
    expect(audit.rows).toContainEqual({ action: 'discovery.finding.adopt', outcome: 'success', secret_id: r.body.secretId, target_type: 'discovery', target_id: runId });
  });

  it('a user with two keys: without deleteFindingId a clear 409 and IAM unchanged; with it the named key is deleted first', async () => {
    const bob = await aws.user(aws.uniqueName('bob'));
    const second = await aws.createKey(bob.userName);
    const f1 = await finding(runId, bob, bob.accessKeyId);
    const f2 = await finding(runId, bob, second.accessKeyId);
    const before = await keyIds(bob.userName);
    const secrets = await secretCount();

    const refused = await adopt(runId, f1);
    expect([refused.status, refused.body.code]).toEqual([409, 'ADOPTION_KEY_LIMIT']);
    expect(refused.body.message).toContain('deleteFindingId');
    expect(await keyIds(bob.userName)).toEqual(before);
    expect(await secretCount()).toBe(secrets);

    const r = await adopt(runId, f1, { deleteFindingId: f2, settings: { shouldDeletePreviousKey: true } });
    expect(r.status).toBe(202);
    const rot = await ops.finished(r.body.rotationId);
    expect(rot.status).toBe('succeeded');
    expect(rot.warnings.map((w: any) => w.code)).toEqual(['NAMED_KEY_DELETED']);
    const value = await ops.value<Creds>(r.body.secretId);
    expect(await keyIds(bob.userName)).toEqual([value.accessKeyId]);
    expect(await aws.stsError(second)).toBe('InvalidClientTokenId');
    expect(await aws.stsError(bob)).toBe('InvalidClientTokenId');
  });

  it('adopting a key a secret already manages → 409 ACCESS_KEY_ALREADY_STORED, nothing created', async () => {
    const carol = await aws.user(aws.uniqueName('carol'));
    const managedBy = await ops.keySecret(carol.userName, carol);
    const f = await finding(runId, carol, carol.accessKeyId);
    const secrets = await secretCount();
    const r = await adopt(runId, f);
    expect([r.status, r.body.code]).toEqual([409, 'ACCESS_KEY_ALREADY_STORED']);
    expect(r.body.message).toContain(managedBy);
    expect(await secretCount()).toBe(secrets);
    expect(await keyIds(carol.userName)).toEqual([carol.accessKeyId]);
  });

  it('bad input answers a 4xx with its code, and nothing changes in Keyturn or IAM', async () => {
    const dave = await aws.user(aws.uniqueName('dave'));
    const second = await aws.createKey(dave.userName);
    const f1 = await finding(runId, dave, dave.accessKeyId);
    const erin = await aws.user(aws.uniqueName('erin'));
    const ofErin = await finding(runId, erin, erin.accessKeyId);
    const otherRun = await newRun();
    const ofOtherRun = await finding(otherRun, dave, second.accessKeyId);
    const before = await keyIds(dave.userName);
    const secrets = await secretCount();

    const cases: [Record<string, unknown>, string, string, number, string][] = [
      [{}, randomUUID(), f1, 404, 'DISCOVERY_NOT_FOUND'],
      [{}, runId, ofOtherRun, 404, 'DISCOVERY_FINDING_NOT_FOUND'],
      [{}, runId, randomUUID(), 404, 'DISCOVERY_FINDING_NOT_FOUND'],
      [{ deleteFindingId: ofOtherRun }, runId, f1, 404, 'DISCOVERY_FINDING_NOT_FOUND'],
      [{ deleteFindingId: f1 }, runId, f1, 422, 'ADOPTION_DELETE_FINDING_INVALID'],
      [{ deleteFindingId: ofErin }, runId, f1, 422, 'ADOPTION_DELETE_FINDING_INVALID'],
      [{ privilegedSecretId: randomUUID() }, runId, f1, 422, 'PRIVILEGED_SECRET_NOT_FOUND'],
      [{ name: '' }, runId, f1, 400, 'VALIDATION_FAILED'],
      [{ privilegedSecretId: 'nope' }, runId, f1, 400, 'VALIDATION_FAILED'],
      [{ folder: 'no-slash' }, runId, f1, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, run, f, status, code] of cases) {
      const r = await adopt(run, f, body);
      expect([JSON.stringify(body), r.status, r.body.code]).toEqual([JSON.stringify(body), status, code]);
    }
    const bad = await admin.post(`/v1/discoveries/not-a-uuid/findings/${f1}/adopt`, { name: 'x', privilegedSecretId: keeperId });
    expect([bad.status, bad.body.code]).toEqual([400, 'INVALID_ID']);

    // A deleteFindingId another secret manages (at scan time): 422 managed.
    const frank = await aws.user(aws.uniqueName('frank'));
    const frankSecond = await aws.createKey(frank.userName);
    const frankManaged = await ops.keySecret(frank.userName, frankSecond);
    const g1 = await finding(runId, frank, frank.accessKeyId);
    const g2 = await finding(runId, frank, frankSecond.accessKeyId, frankManaged);
    const m = await adopt(runId, g1, { deleteFindingId: g2 });
    expect([m.status, m.body.code, m.body.message]).toEqual([422, 'ADOPTION_DELETE_FINDING_INVALID', expect.stringContaining('manages')]);

    // The key deleted in AWS since the run: 409 ADOPTED_KEY_GONE.
    await aws.deleteKey(erin.userName, erin.accessKeyId);
    const gone = await adopt(runId, ofErin);
    expect([gone.status, gone.body.code]).toEqual([409, 'ADOPTED_KEY_GONE']);

    expect(await keyIds(dave.userName)).toEqual(before);
    expect(await keyIds(frank.userName)).toEqual([frank.accessKeyId, frankSecond.accessKeyId].sort());
    expect(await secretCount()).toBe(secrets + 1);
  });

  it('until its rotation replaces it, the adopted key is never used: a heartbeat ends SECRET_VALUE_UNKNOWN without an STS call with it, and the value read answers 409', async () => {
    // A privileged secret that may look at the user's keys but not create one: the adoption is accepted,
    // its rotation fails, and the adopted key (secret unknown) stays the current version.
    const weak = await aws.user(aws.uniqueName('weak'), {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['iam:ListAccessKeys', 'iam:GetUser'], Resource: 'arn:aws:iam::*:user/*' }],
    });
    const weakId = await ops.keySecret(weak.userName, weak);
    const hank = await aws.user(aws.uniqueName('hank'));
    const f = await finding(runId, hank, hank.accessKeyId);
    const r = await adopt(runId, f, { privilegedSecretId: weakId });
    expect(r.status).toBe(202);
    const rot = await ops.finished(r.body.rotationId);
    expect([rot.status, rot.errorCode]).toEqual(['failed', 'IAM_ACCESS_DENIED']);
    const versions = await admin.get(`/v1/secrets/${r.body.secretId}/versions`);
    expect(versions.body.items.map((v: any) => [v.version, v.state, v.secretUnknown])).toEqual([[1, 'current', true]]);

    // The API's value read (the secret with its current version in one query) knows the secret is unknown.
    const value = await admin.get(`/v1/secrets/${r.body.secretId}/value`);
    expect([value.status, value.body.code]).toEqual([409, 'SECRET_VALUE_UNKNOWN']);
    expect(JSON.stringify(value.body)).not.toContain(hank.accessKeyId);

    // The worker's heartbeat claim (the secret and its current version in one query) knows it too.
    aws.emu.clearCallLog();
    const started = await admin.post(`/v1/secrets/${r.body.secretId}/heartbeats`);
    expect(started.status).toBe(202);
    const hb = await eventually(async () => {
      const g = await admin.get(`/v1/heartbeats/${started.body.id}`);
      return g.body.status === 'done' ? g.body : null;
    }, 60_000);
    expect([hb.errorCode, hb.outcome]).toEqual(['SECRET_VALUE_UNKNOWN', null]);
    expect(aws.emu.callLog().filter((c) => c.accessKeyId === hank.accessKeyId)).toEqual([]);
    // The heartbeat leaves the secret's status as it was (nothing was checked).
    const secret = await admin.get(`/v1/secrets/${r.body.secretId}`);
    expect(secret.body.heartbeatStatus).toBe('unknown');
  });

  it('the CLI: discoveries adopt --wait follows the rotation and exits 0; a refused adoption exits 1 with its code', async () => {
    const cli = operatorCli(apiUrl, t.adminToken);
    const gina = await aws.user(aws.uniqueName('gina'));
    const f = await finding(runId, gina, gina.accessKeyId);
    const base = ['discoveries', 'adopt', runId, f, '--name', `gina-${randomUUID().slice(0, 6)}`, '--folder', '/e2e', '--privileged-secret-id', keeperId];

    const ok = await cli([...base, '--wait', '--settings', '{"shouldDeletePreviousKey":true}']);
    expect([ok.code, ok.stderr]).toEqual([0, '']);
    expect(ok.stdout).toMatch(/rotation [0-9a-f-]{36} succeeded/);
    expect(ok.stdout).not.toContain(gina.accessKeyId);
    expect(await keyIds(gina.userName)).not.toContain(gina.accessKeyId);

    const again = await cli(base);
    expect([again.code, again.stderr.trim()]).toEqual([1, expect.stringMatching(/^keyturn: ADOPTED_KEY_GONE: /)]);
  });
});
