import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import {
  client,
  createTestEnv,
  eventually,
  freePort,
  type Client,
  type TestEnv,
} from './harness.js';
import { without, type PolicyDoc, type Statement } from './policy-doc.js';

const INITIAL_PASSWORD = 'Initial-Passw0rd!';
const KEY_ACTIONS = ['iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey', 'iam:ListAccessKeys'];

/**
 * The API (spawned with the emulator as its AWS endpoint, so `?check=true`
 * really asks IAM), a spawned rotation-worker, and the emulator over HTTP.
 */
describe('required permissions: exact, sufficient and minimal', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let admin: Client;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
  const { keySecret, passwordSecret: storePassword, rotate, finished, value } = vaultOps(() => admin, () => aws.accountId);
  const passwordSecret = (userName: string, extra: Record<string, unknown> = {}) => storePassword(userName, INITIAL_PASSWORD, extra);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    const port = await freePort();
    // One attempt per AWS call, so an unreachable endpoint answers quickly.
    await procs.start('secrets-api', { PORT: String(port), KEYTURN_AWS_MAX_ATTEMPTS: '1' });
    admin = client(`http://127.0.0.1:${port}`, t.adminToken);
    await procs.start('rotation-worker');
  });
  afterAll(async () => {
    await procs.stopAll();
    await t?.drop();
    await aws?.close();
  });
  afterEach(() => {
    aws.emu.resetFaults();
  });

  const userArn = (name: string) => `arn:aws:iam::${aws.accountId}:user/${name}`;
  /** Basic mode's resource: one policy fits every user that changes itself. */
  const ownUserArn = () => `arn:aws:iam::${aws.accountId}:user/\${aws:username}`;

  async function required(secretId: string, check = false): Promise<any> {
    const r = await admin.get(`/v1/secrets/${secretId}/required-permissions${check ? '?check=true' : ''}`);
    expect({ status: r.status, body: r.body }).toMatchObject({ status: 200 });
    return r.body;
  }

  /** The least-privilege table of docs/architecture.md, written out independently of the code that builds it. */
  function expectDocument(doc: PolicyDoc, actions: string[], resource: string): void {
    expect(doc.Version).toBe('2012-10-17');
    expect(doc.Statement).toHaveLength(1);
    const [s] = doc.Statement;
    expect(Object.keys(s).sort()).toEqual(['Action', 'Effect', 'Resource', 'Sid'].filter((k) => k !== 'Sid' || s.Sid !== undefined).sort());
    expect(s.Effect).toBe('Allow');
    expect([...s.Action].sort()).toEqual([...actions].sort());
    expect(s.Resource).toBe(resource);
  }

  // ---- the four set-ups: (key | console password) × (basic | privileged) ----

  /** A key secret that rotates itself. */
  async function keyBasic(settings: Record<string, unknown> = {}) {
    const user = aws.uniqueName('kbasic');
    const u = await aws.user(user);
    const id = await keySecret(user, u, { settings });
    return { id, target: user, executor: user, originalKey: u };
  }

  /** A key secret rotated by another user's key secret. */
  async function keyPrivileged(settings: Record<string, unknown> = {}) {
    const target = aws.uniqueName('ktarget');
    const executor = aws.uniqueName('krotator');
    const tu = await aws.user(target);
    const eu = await aws.user(executor);
    const executorSecret = await keySecret(executor, eu);
    const id = await keySecret(target, tu, { privilegedSecretId: executorSecret, settings });
    return { id, target, executor, executorSecret, originalKey: tu };
  }

  async function consoleBasic() {
    const user = aws.uniqueName('pbasic');
    const u = await aws.user(user);
    await aws.loginProfile(user, INITIAL_PASSWORD);
    const own = await keySecret(user, u);
    const id = await passwordSecret(user, { privilegedSecretId: own });
    return { id, target: user, executor: user, executorSecret: own };
  }

  async function consolePrivileged() {
    const target = aws.uniqueName('ptarget');
    const executor = aws.uniqueName('psetter');
    await aws.bareUser(target);
    await aws.loginProfile(target, INITIAL_PASSWORD);
    const eu = await aws.user(executor);
    const executorSecret = await keySecret(executor, eu);
    const id = await passwordSecret(target, { privilegedSecretId: executorSecret });
    return { id, target, executor, executorSecret };
  }

  describe('the document (docs/architecture.md, Least privilege)', () => {
    it('access key, basic: the four key actions on user/${aws:username}', async () => {
      const { id, executor } = await keyBasic();
      const r = await required(id);
      expect(r).toMatchObject({ secretId: id, mode: 'basic', executorUser: executor });
      expectDocument(r.policy, KEY_ACTIONS, ownUserArn());
      expect(r.check).toBeUndefined();
    });

    it('access key, privileged: the four key actions on the target user’s ARN', async () => {
      const { id, target, executor } = await keyPrivileged();
      const r = await required(id);
      expect(r).toMatchObject({ secretId: id, mode: 'privileged', executorUser: executor });
      expectDocument(r.policy, KEY_ACTIONS, userArn(target));
    });

    it('access key associated with another key secret of the same user: basic', async () => {
      const user = aws.uniqueName('ksame');
      const u = await aws.user(user);
      const second = await aws.createKey(user);
      const other = await keySecret(user, second);
      const id = await keySecret(user, u, { privilegedSecretId: other });
      const r = await required(id);
      expect(r.mode).toBe('basic');
      expectDocument(r.policy, KEY_ACTIONS, ownUserArn());
    });

    it('console password, basic: iam:ChangePassword on user/${aws:username}', async () => {
      const { id, executor } = await consoleBasic();
      const r = await required(id);
      expect(r).toMatchObject({ secretId: id, mode: 'basic', executorUser: executor });
      expectDocument(r.policy, ['iam:ChangePassword'], ownUserArn());
    });

    it('console password, privileged: iam:UpdateLoginProfile on the target user’s ARN', async () => {
      const { id, target, executor } = await consolePrivileged();
      const r = await required(id);
      expect(r).toMatchObject({ secretId: id, mode: 'privileged', executorUser: executor });
      expectDocument(r.policy, ['iam:UpdateLoginProfile'], userArn(target));
    });

    it('the optional extras are listed apart, never in the required document', async () => {
      const { id } = await consolePrivileged();
      const r = await required(id);
      const extras = r.recommended.Statement.flatMap((s: Statement) => s.Action);
      expect(extras).toEqual(expect.arrayContaining(['iam:GetUser', 'iam:SimulatePrincipalPolicy', 'iam:GetAccountPasswordPolicy']));
      for (const a of extras) expect(r.policy.Statement.flatMap((s: Statement) => s.Action)).not.toContain(a);
    });

    it('console password without association: 422 PRIVILEGED_ACCOUNT_REQUIRED', async () => {
      const user = aws.uniqueName('plone');
      await aws.bareUser(user);
      const id = await passwordSecret(user);
      for (const q of ['', '?check=true']) {
        const r = await admin.get(`/v1/secrets/${id}/required-permissions${q}`);
        expect(r.status).toBe(422);
        expect(r.body.code).toBe('PRIVILEGED_ACCOUNT_REQUIRED');
        expect(r.body.message).toContain('privilegedSecretId');
      }
    });

    it('the document follows the association: PATCHing it moves from basic to privileged', async () => {
      const { id, target } = await consoleBasic();
      const other = aws.uniqueName('psetter2');
      const otherSecret = await keySecret(other, await aws.user(other));
      expect((await admin.patch(`/v1/secrets/${id}`, { privilegedSecretId: otherSecret })).status).toBe(200);
      const r = await required(id);
      expect(r).toMatchObject({ mode: 'privileged', executorUser: other });
      expectDocument(r.policy, ['iam:UpdateLoginProfile'], userArn(target));
    });
  });

  describe('sufficient: exactly the document on the executor, and the change works', () => {
    it('access key, basic', async () => {
      const { id, target, executor, originalKey } = await keyBasic();
      await aws.putPolicy(executor, (await required(id)).policy);
      const rot = await finished(await rotate(id));
      expect(rot).toMatchObject({ status: 'succeeded', mode: 'basic', errorCode: null, retirePending: false });
      expect(rot.warnings.map((w: { code: string }) => w.code)).not.toContain('RETIRE_FAILED');
      const now = await value(id);
      expect(await aws.whoAmI(now as unknown as Creds)).toBe(userArn(target));
      // Default settings: the previous key is inactivated, which needs UpdateAccessKey.
      expect(await aws.keys(target)).toEqual(expect.arrayContaining([{ id: originalKey.accessKeyId, status: 'Inactive' }]));
      // A second rotation: make-room must delete that previous key (DeleteAccessKey).
      const again = await finished(await rotate(id));
      expect(again).toMatchObject({ status: 'succeeded', errorCode: null });
      expect((await aws.keys(target)).map((k) => k.id)).not.toContain(originalKey.accessKeyId);
    });

    it('access key, privileged', async () => {
      const { id, target, executor, originalKey } = await keyPrivileged();
      await aws.putPolicy(executor, (await required(id)).policy);
      const rot = await finished(await rotate(id));
      expect(rot).toMatchObject({ status: 'succeeded', mode: 'privileged', errorCode: null, retirePending: false });
      expect(await aws.keys(target)).toEqual(expect.arrayContaining([{ id: originalKey.accessKeyId, status: 'Inactive' }]));
      expect((await finished(await rotate(id))).status).toBe('succeeded');
      expect((await aws.keys(target)).map((k) => k.id)).not.toContain(originalKey.accessKeyId);
      expect(await aws.whoAmI((await value(id)) as unknown as Creds)).toBe(userArn(target));
    });

    it('access key with shouldDeletePreviousKey, basic', async () => {
      const { id, target, executor, originalKey } = await keyBasic({ shouldDeletePreviousKey: true });
      await aws.putPolicy(executor, (await required(id)).policy);
      const rot = await finished(await rotate(id));
      expect(rot).toMatchObject({ status: 'succeeded', errorCode: null, retirePending: false });
      expect((await aws.keys(target)).map((k) => k.id)).toEqual([(await value(id)).accessKeyId]);
      expect(originalKey.accessKeyId).not.toBe((await value(id)).accessKeyId);
    });

    it('console password, basic', async () => {
      const { id, target, executor } = await consoleBasic();
      await aws.putPolicy(executor, (await required(id)).policy);
      const rot = await finished(await rotate(id));
      expect(rot).toMatchObject({ status: 'succeeded', mode: 'basic', errorCode: null });
      const pw = (await value(id)).password;
      expect(pw).not.toBe(INITIAL_PASSWORD);
      expect(aws.emu.getPassword(target)).toBe(pw);
    });

    it('console password, privileged', async () => {
      const { id, target, executor } = await consolePrivileged();
      await aws.putPolicy(executor, (await required(id)).policy);
      const rot = await finished(await rotate(id));
      expect(rot).toMatchObject({ status: 'succeeded', mode: 'privileged', errorCode: null });
      const pw = (await value(id)).password;
      expect(pw).not.toBe(INITIAL_PASSWORD);
      expect(aws.emu.getPassword(target)).toBe(pw);
    });
  });

  describe('minimal: without any one action of the document, the change fails', () => {
    const expectDenied = (rot: any, action: string) => {
      expect(rot.status).toBe('failed');
      expect(rot.errorCode).toBe('IAM_ACCESS_DENIED');
      expect(rot.errorMessage).toContain(action);
    };

    describe.each([
      ['basic', keyBasic],
      ['privileged', keyPrivileged],
    ] as const)('access key, %s', (_mode, setup) => {
      it('without iam:ListAccessKeys: make-room cannot look, nothing is created', async () => {
        const { id, target, executor, originalKey } = await setup();
        await aws.putPolicy(executor, without((await required(id)).policy, 'iam:ListAccessKeys'));
        expectDenied(await finished(await rotate(id)), 'iam:ListAccessKeys');
        expect(await aws.keys(target)).toEqual([{ id: originalKey.accessKeyId, status: 'Active' }]);
        expect((await value(id)).accessKeyId).toBe(originalKey.accessKeyId);
      });

      it('without iam:CreateAccessKey: no new key, the stored one unchanged', async () => {
        const { id, target, executor, originalKey } = await setup();
        await aws.putPolicy(executor, without((await required(id)).policy, 'iam:CreateAccessKey'));
        expectDenied(await finished(await rotate(id)), 'iam:CreateAccessKey');
        expect(await aws.keys(target)).toEqual([{ id: originalKey.accessKeyId, status: 'Active' }]);
        expect((await value(id)).accessKeyId).toBe(originalKey.accessKeyId);
      });

      it('without iam:DeleteAccessKey: the second rotation cannot make room (the previous key must go)', async () => {
        const { id, target, executor } = await setup();
        const doc = (await required(id)).policy;
        await aws.putPolicy(executor, doc);
        expect((await finished(await rotate(id))).status).toBe('succeeded');
        const afterFirst = await aws.keys(target);
        const storedAfterFirst = await value(id);
        expect(afterFirst).toHaveLength(2);

        await aws.putPolicy(executor, without(doc, 'iam:DeleteAccessKey'));
        expectDenied(await finished(await rotate(id)), 'iam:DeleteAccessKey');
        expect(await aws.keys(target)).toEqual(afterFirst);
        expect(await value(id)).toEqual(storedAfterFirst);
      });

      it('without iam:DeleteAccessKey and shouldDeletePreviousKey: the previous key cannot be deleted', async () => {
        const { id, target, executor, originalKey } = await setup({ shouldDeletePreviousKey: true });
        await aws.putPolicy(executor, without((await required(id)).policy, 'iam:DeleteAccessKey'));
        const rot = await retireFailed(await rotate(id));
        expect(rot.warnings.find((w: { code: string }) => w.code === 'RETIRE_FAILED').message).toContain('iam:DeleteAccessKey');
        // The previous key is still there and still works: the setting was not carried out.
        expect((await aws.keys(target)).find((k) => k.id === originalKey.accessKeyId)?.status).toBe('Active');
        expect(await aws.whoAmI(originalKey)).toBe(userArn(target));
      });

      it('without iam:UpdateAccessKey: the previous key cannot be inactivated', async () => {
        const { id, target, executor, originalKey } = await setup();
        await aws.putPolicy(executor, without((await required(id)).policy, 'iam:UpdateAccessKey'));
        const rot = await retireFailed(await rotate(id));
        expect(rot.warnings.find((w: { code: string }) => w.code === 'RETIRE_FAILED').message).toContain('iam:UpdateAccessKey');
        expect((await aws.keys(target)).find((k) => k.id === originalKey.accessKeyId)?.status).toBe('Active');
        expect(await aws.whoAmI(originalKey)).toBe(userArn(target));
      });
    });

    /**
     * Retire runs after promotion (docs/architecture.md, rotation step 6): the new key is stored and works, so
     * its failure leaves the rotation succeeded with a RETIRE_FAILED warning and retire owed.
     */
    async function retireFailed(rotationId: string): Promise<any> {
      return eventually(async () => {
        const r = (await admin.get(`/v1/rotations/${rotationId}`)).body;
        if (r.status === 'failed') throw new Error(`rotation failed: ${r.errorCode} ${r.errorMessage}`);
        return r.status === 'succeeded' && r.retirePending && r.warnings.some((w: { code: string }) => w.code === 'RETIRE_FAILED') ? r : null;
      }, 60_000);
    }

    it.each([
      ['basic', 'iam:ChangePassword'],
      ['privileged', 'iam:UpdateLoginProfile'],
    ] as const)('console password, %s: without %s', async (mode, action) => {
      const { id, target, executor } = await (mode === 'basic' ? consoleBasic() : consolePrivileged());
      const doc = (await required(id)).policy;
      expect(doc.Statement.flatMap((s: Statement) => s.Action)).toEqual([action]);
      const rest = without(doc, action);
      if (rest.Statement.length) await aws.putPolicy(executor, rest);
      expectDenied(await finished(await rotate(id)), action);
      expect(aws.emu.getPassword(target)).toBe(INITIAL_PASSWORD);
      expect((await value(id)).password).toBe(INITIAL_PASSWORD);
    });
  });

  describe('?check=true', () => {
    const withSimulate = (req: { policy: PolicyDoc; recommended: PolicyDoc }): PolicyDoc => ({
      Version: '2012-10-17',
      Statement: [...req.policy.Statement, ...req.recommended.Statement.filter((s) => s.Action.includes('iam:SimulatePrincipalPolicy'))],
    });

    it.each([
      ['access key, basic', keyBasic, KEY_ACTIONS],
      ['access key, privileged', keyPrivileged, KEY_ACTIONS],
      ['console password, basic', consoleBasic, ['iam:ChangePassword']],
      ['console password, privileged', consolePrivileged, ['iam:UpdateLoginProfile']],
    ] as const)('%s: with SimulatePrincipalPolicy allowed, every action reported allowed', async (_name, setup, actions) => {
      const { id, target, executor } = await setup();
      await aws.putPolicy(executor, withSimulate(await required(id)));
      const r = await required(id, true);
      expect(r.check).toMatchObject({ available: true, allAllowed: true });
      expect(r.check.results.map((x: { action: string }) => x.action).sort()).toEqual([...actions].sort());
      for (const x of r.check.results) {
        expect(x).toMatchObject({ decision: 'allowed', resource: userArn(target) });
      }
    });

    it('reports the missing action as denied, with the rest allowed', async () => {
      const { id, executor } = await keyPrivileged();
      const req = await required(id);
      await aws.putPolicy(executor, without(withSimulate(req), 'iam:DeleteAccessKey'));
      const r = await required(id, true);
      expect(r.check).toMatchObject({ available: true, allAllowed: false });
      const decisions = Object.fromEntries(r.check.results.map((x: { action: string; decision: string }) => [x.action, x.decision]));
      expect(decisions).toEqual({
        'iam:CreateAccessKey': 'allowed',
        'iam:UpdateAccessKey': 'allowed',
        'iam:ListAccessKeys': 'allowed',
        'iam:DeleteAccessKey': 'implicitDeny',
      });
    });

    it('without SimulatePrincipalPolicy: available false with a reason, and still the document', async () => {
      const { id, target, executor } = await consolePrivileged();
      await aws.putPolicy(executor, (await required(id)).policy);
      const r = await required(id, true);
      expect(r.check.available).toBe(false);
      expect(r.check.reason).toContain('iam:SimulatePrincipalPolicy');
      expect(r.check.results).toBeUndefined();
      expectDocument(r.policy, ['iam:UpdateLoginProfile'], userArn(target));
    });

    it('the executor key rejected by AWS: available false, never a 5xx', async () => {
      const { id, executor, executorSecret } = await keyPrivileged();
      await aws.putPolicy(executor, withSimulate(await required(id)));
      await aws.deleteKey(executor, (await value(executorSecret)).accessKeyId);
      const r = await required(id, true);
      expect(r.check.available).toBe(false);
      expect(typeof r.check.reason).toBe('string');
      expect(r.check.reason).not.toContain((await value(executorSecret)).secretAccessKey);
    });

    it('AWS failing or throttling: available false, never a 5xx', async () => {
      const { id, executor } = await consoleBasic();
      await aws.putPolicy(executor, withSimulate(await required(id)));
      for (const fault of [
        { code: 'ServiceFailure', status: 500, message: 'internal failure' },
        { code: 'Throttling', status: 400, message: 'Rate exceeded' },
      ]) {
        aws.emu.failNext('SimulatePrincipalPolicy', 10, fault);
        const r = await admin.get(`/v1/secrets/${id}/required-permissions?check=true`);
        expect(r.status).toBe(200);
        expect(r.body.check.available).toBe(false);
        expect(typeof r.body.check.reason).toBe('string');
        aws.emu.resetFaults();
      }
    });

    it('a bad check value is a 400, not a 5xx', async () => {
      const { id } = await keyBasic();
      const r = await admin.get(`/v1/secrets/${id}/required-permissions?check=maybe`);
      expect(r.status).toBe(400);
    });
  });
});
