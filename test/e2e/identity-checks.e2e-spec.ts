/**
 * The identity checks of a rotation (key-rotation prepare/verify, password-change
 * prepare), each driven into its failure against the emulator over real HTTP:
 * the exact code, and nothing changed that should not have been.
 */
import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { client, createTestEnv, rawDb, startApi, type Client, type RunningApi, type TestEnv } from './harness.js';

/** Meets AWS's default password policy, so CreateLoginProfile takes it. */
const INITIAL_PASSWORD = 'Initial-Passw0rd!';

const mask = (id: string) => `${id.slice(0, 4)}…${id.slice(-4)}`;

describe('identity checks (worker + emulator over HTTP)', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
  const ops = vaultOps(() => admin, () => aws.accountId);
  const { keySecret, passwordSecret, rotate, finished } = ops;
  const value = (id: string) => ops.value<Record<string, string>>(id);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    await procs.start('rotation-worker');
  });
  afterAll(async () => {
    await procs.stopAll();
    await api?.close();
    await t?.drop();
    await aws?.close();
  });
  afterEach(() => {
    aws.emu.resetFaults();
  });

  const arn = (user: string) => `arn:aws:iam::${aws.accountId}:user/${user}`;
  const permissions = (type: SecretType, targetUser: string, executorUser: string) =>
    requiredPermissions({ type, partition: 'aws', accountId: aws.accountId, targetUser, executorUser });
  const keyPolicy = (target: string, executor: string) => permissions(SecretType.AwsIamKey, target, executor).policy;

  async function versionStates(secretId: string): Promise<string[]> {
    const db = await rawDb(t);
    try {
      const { rows } = await db.query(`SELECT state FROM secret_versions WHERE secret_id = $1 ORDER BY version`, [secretId]);
      return rows.map((r: { state: string }) => r.state);
    } finally {
      await db.end();
    }
  }

  it('KEY_BELONGS_TO_OTHER_USER: a secret whose stored key is another user’s fails before any IAM change', async () => {
    const alice = aws.uniqueName('alice');
    const bob = aws.uniqueName('bob');
    await aws.user(alice, keyPolicy(alice, alice));
    const bobKey = await aws.user(bob, keyPolicy(bob, bob));
    const id = await keySecret(alice, bobKey); // the API checks shape only: bob's key filed under alice
    const before = { alice: await aws.keys(alice), bob: await aws.keys(bob) };

    const rot = await finished(await rotate(id));
    expect(rot).toMatchObject({ status: 'failed', errorCode: 'KEY_BELONGS_TO_OTHER_USER' });
    expect(rot.errorMessage).toContain(arn(bob));
    expect(rot.errorMessage).not.toContain(bobKey.accessKeyId);
    expect({ alice: await aws.keys(alice), bob: await aws.keys(bob) }).toEqual(before);
    expect(await value(id)).toEqual({ accessKeyId: bobKey.accessKeyId, secretAccessKey: bobKey.secretAccessKey });
    expect(await versionStates(id)).toEqual(['current']);
  });

  it('CURRENT_KEY_INVALID: basic mode with the stored key deleted in IAM fails, and nothing is created', async () => {
    const name = aws.uniqueName('deadkey');
    const u = await aws.user(name, keyPolicy(name, name));
    const id = await keySecret(name, u);
    await aws.deleteKey(name, u.accessKeyId);

    const rot = await finished(await rotate(id));
    expect(rot).toMatchObject({ status: 'failed', errorCode: 'CURRENT_KEY_INVALID', mode: 'basic' });
    expect(rot.errorMessage).toMatch(/privilegedSecretId/);
    expect(await aws.keys(name)).toEqual([]);
    expect(await versionStates(id)).toEqual(['current']);
  });

  it('CURRENT_KEY_INVALID as a warning: in privileged mode the executor rotates a dead stored key to a working one', async () => {
    const target = aws.uniqueName('deadtarget');
    const rotator = aws.uniqueName('rotator');
    const tu = await aws.user(target);
    const ru = await aws.user(rotator, keyPolicy(target, rotator));
    const id = await keySecret(target, tu, { privilegedSecretId: await keySecret(rotator, ru) });
    await aws.deleteKey(target, tu.accessKeyId);

    const rot = await finished(await rotate(id));
    expect(rot).toMatchObject({ status: 'succeeded', mode: 'privileged', errorCode: null });
    expect(rot.warnings.map((w: { code: string }) => w.code)).toContain('CURRENT_KEY_INVALID');
    const now = (await value(id)) as unknown as Creds;
    expect(await aws.whoAmI(now)).toBe(arn(target));
    expect(await aws.stsError(tu)).toBe('InvalidClientTokenId');
  });

  it('USER_RECREATED (access key): the user deleted and re-created under the same name is not rotated', async () => {
    const target = aws.uniqueName('reborn');
    const rotator = aws.uniqueName('rotator');
    const tu = await aws.user(target);
    const ru = await aws.user(rotator, keyPolicy(target, rotator));
    // iam:GetUser lets the executor read the UserId once the stored key no longer works.
    await aws.putPolicy(rotator, permissions(SecretType.AwsIamKey, target, rotator).recommended, 'keyturn-recommended');
    const id = await keySecret(target, tu, { privilegedSecretId: await keySecret(rotator, ru) });
    expect((await finished(await rotate(id))).status).toBe('succeeded');
    const firstUserId = aws.emu.getUser(target)!.userId;

    // Someone deletes the user and creates another one with the same name (and a key of its own).
    await aws.deleteUser(target);
    const newcomer = await aws.user(target);
    expect(aws.emu.getUser(target)!.userId).not.toBe(firstUserId);
    const storedBefore = await value(id);

    const rot = await finished(await rotate(id));
    expect(rot).toMatchObject({ status: 'failed', errorCode: 'USER_RECREATED', mode: 'privileged' });
    expect(rot.errorMessage).toContain(firstUserId);
    expect(rot.errorMessage).toContain(aws.emu.getUser(target)!.userId);
    expect(rot.warnings.map((w: { code: string }) => w.code)).toContain('CURRENT_KEY_INVALID');
    // The newcomer's keys are not touched, and the secret still holds what it held.
    expect(await aws.keys(target)).toEqual([{ id: newcomer.accessKeyId, status: 'Active' }]);
    expect(await value(id)).toEqual(storedBefore);
  });

  it('USER_RECREATED (console password): after the user is re-created, a new key secret attached by PATCH does not change the old secret’s password', async () => {
    const user = aws.uniqueName('rebornpw');
    const u = await aws.user(user, permissions(SecretType.AwsIamConsolePassword, user, user).policy);
    await aws.loginProfile(user, INITIAL_PASSWORD);
    const id = await passwordSecret(user, INITIAL_PASSWORD, { privilegedSecretId: await keySecret(user, u) });
    expect((await finished(await rotate(id))).status).toBe('succeeded');
    const firstUserId = aws.emu.getUser(user)!.userId;

    await aws.deleteUser(user);
    const again = await aws.user(user, permissions(SecretType.AwsIamConsolePassword, user, user).policy);
    await aws.loginProfile(user, INITIAL_PASSWORD);
    const newKeySecret = await keySecret(user, again);
    const patched = await admin.patch(`/v1/secrets/${id}`, { privilegedSecretId: newKeySecret });
    expect(patched.status).toBe(200);

    const rot = await finished(await rotate(id));
    expect(rot).toMatchObject({ status: 'failed', errorCode: 'USER_RECREATED', mode: 'basic', executorSecretId: newKeySecret });
    expect(rot.errorMessage).toContain(firstUserId);
    expect(aws.emu.getPassword(user)).toBe(INITIAL_PASSWORD);
  });

  it('PRIVILEGED_KEY_INVALID: a console password whose associated key AWS rejects is left as it is', async () => {
    const target = aws.uniqueName('pwtarget');
    const executor = aws.uniqueName('pwadmin');
    await aws.bareUser(target);
    await aws.loginProfile(target, INITIAL_PASSWORD);
    const ex = await aws.user(executor, permissions(SecretType.AwsIamConsolePassword, target, executor).policy);
    const executorSecret = await keySecret(executor, ex);
    const id = await passwordSecret(target, INITIAL_PASSWORD, { privilegedSecretId: executorSecret });
    await aws.deleteKey(executor, ex.accessKeyId);

    const rot = await finished(await rotate(id));
    expect(rot).toMatchObject({ status: 'failed', errorCode: 'PRIVILEGED_KEY_INVALID', mode: 'privileged', executorSecretId: executorSecret });
    expect(rot.errorMessage).toContain(executorSecret);
    expect(aws.emu.getPassword(target)).toBe(INITIAL_PASSWORD);
    expect(await value(id)).toEqual({ password: INITIAL_PASSWORD });
    expect(await versionStates(id)).toEqual(['current']);
  });

  it('PENDING_KEY_WRONG_USER: a new key that answers as another user is never promoted, is discarded, and the next rotation works', async () => {
    const name = aws.uniqueName('wrongnew');
    const other = aws.uniqueName('bystander');
    const u = await aws.user(name, keyPolicy(name, name));
    await aws.bareUser(other);
    const id = await keySecret(name, u);
    aws.emu.misdirectNextCreateAccessKey(name, other);

    const rot = await finished(await rotate(id));
    expect(rot).toMatchObject({ status: 'failed', errorCode: 'PENDING_KEY_WRONG_USER', mode: 'basic' });
    const [stray] = await aws.keys(other);
    expect(stray).toBeDefined();
    expect(rot.errorMessage).toContain(arn(other));
    expect(rot.errorMessage).toContain(mask(stray.id));
    expect(rot.errorMessage).not.toContain(stray.id);
    // The current key is untouched and still works; the wrong key was not kept as pending.
    expect(await value(id)).toEqual({ accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey });
    expect(await aws.whoAmI(u)).toBe(arn(name));
    expect(await aws.keys(name)).toEqual([{ id: u.accessKeyId, status: 'Active' }]);
    expect(await versionStates(id)).toEqual(['current', 'discarded']);

    // The fault was for one call: the secret is not stuck on the discarded key.
    const next = await finished(await rotate(id));
    expect(next).toMatchObject({ status: 'succeeded', mode: 'basic', errorCode: null });
    expect(await aws.whoAmI((await value(id)) as unknown as Creds)).toBe(arn(name));
  });
});
