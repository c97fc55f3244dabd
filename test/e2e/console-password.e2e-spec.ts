import { AwsFixture } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import {
  client,
  createTestEnv,
  fakeKey,
  rawDb,
  startApi,
  type Client,
  type RunningApi,
  type TestEnv,
} from './harness.js';

/** Meets AWS's default policy (8 characters, three classes), so CreateLoginProfile takes it. */
const INITIAL_PASSWORD = 'Initial-Passw0rd!';
/** The characters AWS's password policy counts as symbols. */
const AWS_SYMBOLS = "!@#$%^&*()_+-=[]{}|'";
const hasSymbol = (pw: string) => [...pw].some((c) => AWS_SYMBOLS.includes(c));

describe('console password change (worker + emulator over HTTP)', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
  const startWorker = (extra: Record<string, string> = {}) => procs.start('rotation-worker', extra);
  const stopWorkers = () => procs.stopAll();
  const { keySecret, passwordSecret, rotate, finished, value } = vaultOps(() => admin, () => aws.accountId);

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
    await aws.clearPasswordPolicy();
  });

  const storedPassword = async (secretId: string) => (await value(secretId)).password;

  /** The policy document the API says the executor needs, for putting on it as-is. */
  async function requiredPolicy(secretId: string): Promise<{ mode: string; policy: any; recommended: any }> {
    const r = await admin.get(`/v1/secrets/${secretId}/required-permissions`);
    expect({ status: r.status, body: r.body }).toMatchObject({ status: 200 });
    return r.body;
  }

  const actionsOf = (doc: { Statement: { Action: string[] }[] }) => doc.Statement.flatMap((s) => s.Action);
  const recommendedStatement = (doc: { Statement: { Action: string[] }[] }, action: string) => {
    const s = doc.Statement.find((x) => x.Action.includes(action));
    expect(s).toBeDefined();
    return s!;
  };

  /** A console user with a login profile, changed by a separate admin user (privileged mode). */
  async function privilegedSetup(opts: { withLoginProfile?: boolean } = {}) {
    const target = aws.uniqueName('console');
    await aws.bareUser(target);
    if (opts.withLoginProfile !== false) await aws.loginProfile(target, INITIAL_PASSWORD);
    const executor = aws.uniqueName('pwadmin');
    const ex = await aws.user(executor);
    const executorSecret = await keySecret(executor, ex);
    const id = await passwordSecret(target, INITIAL_PASSWORD, { privilegedSecretId: executorSecret });
    return { target, executor, executorSecret, id };
  }

  /** A console user whose own access key (stored as a key secret) changes its password (basic mode). */
  async function basicSetup() {
    const user = aws.uniqueName('selfpw');
    const u = await aws.user(user);
    await aws.loginProfile(user, INITIAL_PASSWORD);
    const ownKeySecret = await keySecret(user, u);
    const id = await passwordSecret(user, INITIAL_PASSWORD, { privilegedSecretId: ownKeySecret });
    return { user, ownKeySecret, id };
  }

  describe('changes', () => {
    it('privileged mode with only iam:UpdateLoginProfile: AWS ends with the stored, new password', async () => {
      const { target, executor, executorSecret, id } = await privilegedSetup();
      const req = await requiredPolicy(id);
      expect(req.mode).toBe('privileged');
      expect(actionsOf(req.policy)).toEqual(['iam:UpdateLoginProfile']);
      await aws.putPolicy(executor, req.policy);

      await startWorker();
      const rot = await finished(await rotate(id));
      expect(rot).toMatchObject({ status: 'succeeded', mode: 'privileged', executorSecretId: executorSecret, step: 'done', errorCode: null });
      const stored = await storedPassword(id);
      expect(stored).not.toBe(INITIAL_PASSWORD);
      expect(aws.emu.getPassword(target)).toBe(stored);
    });

    it('basic mode with only iam:ChangePassword (the user’s own key associated): AWS has the stored password', async () => {
      const { user, ownKeySecret, id } = await basicSetup();
      const req = await requiredPolicy(id);
      expect(req.mode).toBe('basic');
      expect(actionsOf(req.policy)).toEqual(['iam:ChangePassword']);
      await aws.putPolicy(user, req.policy);

      await startWorker();
      const rot = await finished(await rotate(id));
      expect(rot).toMatchObject({ status: 'succeeded', mode: 'basic', executorSecretId: ownKeySecret, step: 'done', errorCode: null });
      const stored = await storedPassword(id);
      expect(stored).not.toBe(INITIAL_PASSWORD);
      expect(aws.emu.getPassword(user)).toBe(stored);
    });

    it('a second change goes from the first one’s password (basic mode needs the old one right)', async () => {
      const { user, id } = await basicSetup();
      await aws.putPolicy(user, (await requiredPolicy(id)).policy);
      await startWorker();
      expect((await finished(await rotate(id))).status).toBe('succeeded');
      const first = await storedPassword(id);
      expect((await finished(await rotate(id))).status).toBe('succeeded');
      const second = await storedPassword(id);
      expect(second).not.toBe(first);
      expect(aws.emu.getPassword(user)).toBe(second);
    });
  });

  describe('the account password policy', () => {
    const strictPolicy = {
      MinimumPasswordLength: 32,
      RequireSymbols: true,
      RequireNumbers: true,
      RequireUppercaseCharacters: true,
      RequireLowercaseCharacters: true,
    };
    const complies = (pw: string) => {
      expect(pw.length).toBeGreaterThanOrEqual(32);
      expect(pw).toMatch(/[A-Z]/);
      expect(pw).toMatch(/[a-z]/);
      expect(pw).toMatch(/[0-9]/);
      expect(hasSymbol(pw)).toBe(true);
    };

    it('read where allowed: 32 characters with symbols and every class, accepted by AWS first time', async () => {
      const { target, executor, id } = await privilegedSetup();
      const req = await requiredPolicy(id);
      await aws.putPolicy(executor, {
        Version: '2012-10-17',
        Statement: [...req.policy.Statement, recommendedStatement(req.recommended, 'iam:GetAccountPasswordPolicy')],
      });
      // Set after the login profile exists: the initial password is shorter than this policy allows.
      await aws.passwordPolicy(strictPolicy);
      aws.emu.clearCallLog();

      await startWorker();
      const rot = await finished(await rotate(id));
      expect(rot).toMatchObject({ status: 'succeeded', errorCode: null });
      const stored = await storedPassword(id);
      complies(stored);
      expect(aws.emu.getPassword(target)).toBe(stored);
      // The policy was read, so no warning and no refused attempt.
      expect(rot.warnings).toEqual([]);
      const calls = aws.emu.callLog().filter((c) => c.userName === target && c.action === 'UpdateLoginProfile');
      expect(calls.map((c) => c.errorCode ?? null)).toEqual([null]);
    });

    it('GetAccountPasswordPolicy denied: still succeeds, with a warning, and the password complies', async () => {
      const { target, executor, id } = await privilegedSetup();
      await aws.putPolicy(executor, (await requiredPolicy(id)).policy);
      await aws.passwordPolicy(strictPolicy);

      await startWorker();
      const rot = await finished(await rotate(id));
      expect(rot).toMatchObject({ status: 'succeeded', errorCode: null });
      expect(rot.warnings.map((w: { code: string }) => w.code)).toContain('PASSWORD_POLICY_UNREAD');
      const stored = await storedPassword(id);
      complies(stored);
      expect(aws.emu.getPassword(target)).toBe(stored);
      // Warnings speak of lengths and actions, never of the password.
      for (const w of rot.warnings) expect(w.message).not.toContain(stored);
    });

    it('no account policy set: AWS’s default applies and the change succeeds', async () => {
      const { target, executor, id } = await privilegedSetup();
      const req = await requiredPolicy(id);
      await aws.putPolicy(executor, {
        Version: '2012-10-17',
        Statement: [...req.policy.Statement, recommendedStatement(req.recommended, 'iam:GetAccountPasswordPolicy')],
      });
      await startWorker();
      const rot = await finished(await rotate(id));
      expect(rot).toMatchObject({ status: 'succeeded', warnings: [] });
      expect(aws.emu.getPassword(target)).toBe(await storedPassword(id));
    });
  });

  describe('clear failures, nothing changed', () => {
    it('no association: 422 PRIVILEGED_ACCOUNT_REQUIRED saying how to associate, and no rotation row', async () => {
      const target = aws.uniqueName('lonely');
      await aws.bareUser(target);
      await aws.loginProfile(target, INITIAL_PASSWORD);
      const id = await passwordSecret(target, INITIAL_PASSWORD);

      const r = await admin.post(`/v1/secrets/${id}/rotations`);
      expect(r.status).toBe(422);
      expect(r.body.code).toBe('PRIVILEGED_ACCOUNT_REQUIRED');
      expect(r.body.message).toContain(`PATCH /v1/secrets/${id}`);
      expect(r.body.message).toContain('privilegedSecretId');

      expect((await admin.get(`/v1/secrets/${id}/rotations`)).body.items).toEqual([]);
      const db = await rawDb(t);
      try {
        const rows = await db.query('SELECT count(*)::int AS n FROM rotations WHERE secret_id = $1', [id]);
        expect(rows.rows[0].n).toBe(0);
      } finally {
        await db.end();
      }
      expect(aws.emu.getPassword(target)).toBe(INITIAL_PASSWORD);
      expect(await storedPassword(id)).toBe(INITIAL_PASSWORD);
    });

    it('no login profile: failed LOGIN_PROFILE_MISSING, no profile created, stored value unchanged', async () => {
      const { target, executor, id } = await privilegedSetup({ withLoginProfile: false });
      await aws.putPolicy(executor, (await requiredPolicy(id)).policy);
      await startWorker();
      const rot = await finished(await rotate(id));
      expect(rot.status).toBe('failed');
      expect(rot.errorCode).toBe('LOGIN_PROFILE_MISSING');
      expect(rot.errorMessage).toContain(target);
      expect(aws.emu.getPassword(target)).toBeUndefined();
      expect(await storedPassword(id)).toBe(INITIAL_PASSWORD);
    });

    it('privileged, permission denied: failed IAM_ACCESS_DENIED naming iam:UpdateLoginProfile', async () => {
      const { target, executor, id } = await privilegedSetup();
      // Something unrelated, so the user has a policy but not the one it needs.
      await aws.putPolicy(executor, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['iam:GetUser'], Resource: '*' }] });
      await startWorker();
      const rot = await finished(await rotate(id));
      expect(rot.status).toBe('failed');
      expect(rot.errorCode).toBe('IAM_ACCESS_DENIED');
      expect(rot.errorMessage).toContain('iam:UpdateLoginProfile');
      expect(rot.errorMessage).toContain(`/v1/secrets/${id}/required-permissions`);
      expect(rot.errorMessage).not.toContain(INITIAL_PASSWORD);
      expect(aws.emu.getPassword(target)).toBe(INITIAL_PASSWORD);
      expect(await storedPassword(id)).toBe(INITIAL_PASSWORD);
    });

    it('basic, permission denied: failed IAM_ACCESS_DENIED naming iam:ChangePassword', async () => {
      const { user, id } = await basicSetup();
      await startWorker();
      const rot = await finished(await rotate(id));
      expect(rot.status).toBe('failed');
      expect(rot.errorCode).toBe('IAM_ACCESS_DENIED');
      expect(rot.errorMessage).toContain('iam:ChangePassword');
      expect(rot.errorMessage).not.toContain(INITIAL_PASSWORD);
      expect(aws.emu.getPassword(user)).toBe(INITIAL_PASSWORD);
      expect(await storedPassword(id)).toBe(INITIAL_PASSWORD);
    });

    it('settings that leave no symbol to use: a clear failure naming the setting, not an internal error', async () => {
      const { target, executor, id } = await privilegedSetup();
      await aws.putPolicy(executor, (await requiredPolicy(id)).policy);
      const patched = await admin.patch(`/v1/secrets/${id}`, { settings: { passwordExcludeCharacters: AWS_SYMBOLS, passwordRequireSymbols: true } });
      expect(patched.status).toBe(200);
      await startWorker();
      const rot = await finished(await rotate(id));
      expect(rot.status).toBe('failed');
      expect(rot.errorCode).toBe('PASSWORD_SETTINGS_INVALID');
      expect(rot.errorMessage).toContain('passwordExcludeCharacters');
      // Refused before any attempt: a configuration error is not worth retrying.
      expect(rot.attempt).toBe(1);
      expect(aws.emu.getPassword(target)).toBe(INITIAL_PASSWORD);
      expect(await storedPassword(id)).toBe(INITIAL_PASSWORD);
    });

    it('a key secret of another AWS account: 422 on create and on PATCH, nothing stored or changed', async () => {
      const otherAccount = aws.accountId === '210987654321' ? '123456789012' : '210987654321';
      const foreign = await admin.post('/v1/secrets', {
        type: 'aws-iam-key',
        name: `foreign-${Math.random().toString(36).slice(2, 8)}`,
        folder: '/e2e',
        username: 'foreign-admin',
        accountId: otherAccount,
        ...fakeKey(),
      });
      expect(foreign.status).toBe(201);
      const target = aws.uniqueName('cross');
      const name = `${target}-console`;

      const created = await admin.post('/v1/secrets', {
        type: 'aws-iam-console-password',
        name,
        folder: '/e2e',
        username: target,
        accountId: aws.accountId,
        password: INITIAL_PASSWORD,
        privilegedSecretId: foreign.body.id,
      });
      expect(created.status).toBe(422);
      expect(created.body.code).toBe('PRIVILEGED_SECRET_OTHER_ACCOUNT');
      expect(created.body.message).toContain(otherAccount);
      const listed = await admin.get('/v1/secrets?folder=/e2e&type=aws-iam-console-password&limit=500');
      expect(listed.body.items.map((s: { name: string }) => s.name)).not.toContain(name);

      const { id, executorSecret } = await privilegedSetup();
      const patched = await admin.patch(`/v1/secrets/${id}`, { privilegedSecretId: foreign.body.id });
      expect(patched.status).toBe(422);
      expect(patched.body.code).toBe('PRIVILEGED_SECRET_OTHER_ACCOUNT');
      expect((await admin.get(`/v1/secrets/${id}`)).body.privilegedSecretId).toBe(executorSecret);
    });
  });

  describe('lost answers and reuse prevention', () => {
    /** AWS refuses any of the last 5 passwords, including the one it has now. */
    const reusePolicy = {
      MinimumPasswordLength: 12,
      RequireSymbols: true,
      RequireNumbers: true,
      RequireUppercaseCharacters: true,
      RequireLowercaseCharacters: true,
      PasswordReusePrevention: 5,
    };

    it('privileged, UpdateLoginProfile applied but its answer lost (the SDK sends it again): stored = AWS', async () => {
      const { target, executor, id } = await privilegedSetup();
      const req = await requiredPolicy(id);
      await aws.putPolicy(executor, {
        Version: '2012-10-17',
        Statement: [...req.policy.Statement, recommendedStatement(req.recommended, 'iam:GetAccountPasswordPolicy')],
      });
      await aws.fullPasswordPolicy(reusePolicy);
      await startWorker();
      aws.emu.loseAnswerNext('UpdateLoginProfile', 1);
      const rot = await finished(await rotate(id), 90_000);
      expect(rot).toMatchObject({ status: 'succeeded', errorCode: null });
      const stored = await storedPassword(id);
      expect(stored).not.toBe(INITIAL_PASSWORD);
      expect(aws.emu.getPassword(target)).toBe(stored);
    });

    it('basic, ChangePassword applied but its answer lost (the SDK sends it again): stored = AWS', async () => {
      const { user, id } = await basicSetup();
      await aws.putPolicy(user, (await requiredPolicy(id)).policy);
      await aws.fullPasswordPolicy(reusePolicy);
      await startWorker();
      aws.emu.loseAnswerNext('ChangePassword', 1);
      const rot = await finished(await rotate(id), 90_000);
      expect(rot).toMatchObject({ status: 'succeeded', errorCode: null });
      const stored = await storedPassword(id);
      expect(stored).not.toBe(INITIAL_PASSWORD);
      expect(aws.emu.getPassword(user)).toBe(stored);
    });

    it.each(['privileged', 'basic'])(
      '%s, SIGKILL after AWS took the password, reuse prevention on, longest passwords: stored = AWS after restart',
      async (mode) => {
        let user: string;
        let id: string;
        if (mode === 'privileged') {
          const s = await privilegedSetup();
          ({ target: user, id } = s);
          await aws.putPolicy(s.executor, (await requiredPolicy(id)).policy);
        } else {
          const s = await basicSetup();
          ({ user, id } = s);
          await aws.putPolicy(user, (await requiredPolicy(id)).policy);
        }
        // No room to try a longer password: the resumed change must not depend on one.
        expect((await admin.patch(`/v1/secrets/${id}`, { settings: { passwordLength: 128 } })).status).toBe(200);
        await aws.fullPasswordPolicy(reusePolicy);

        const doomed = await startWorker({ KEYTURN_TEST_CRASH_AT: 'apply:after-aws' });
        const rotationId = await rotate(id);
        await new Promise<void>((resolve) => {
          if (doomed.child.exitCode !== null || doomed.child.signalCode !== null) return resolve();
          doomed.child.once('exit', () => resolve());
        });
        expect(doomed.child.signalCode).toBe('SIGKILL');
        procs.forget(doomed);
        expect(aws.emu.getPassword(user)).not.toBe(INITIAL_PASSWORD);

        await startWorker();
        const rot = await finished(rotationId, 90_000);
        expect(rot).toMatchObject({ status: 'succeeded', errorCode: null });
        const stored = await storedPassword(id);
        expect(stored).toHaveLength(128);
        expect(aws.emu.getPassword(user)).toBe(stored);
      },
    );
  });

  describe('crash safety', () => {
    const points = ['prepare', 'generate:after-store', 'apply', 'apply:after-aws', 'promote'];
    const cases = points.flatMap((p) => [
      ['privileged', p],
      ['basic', p],
    ]);

    it.each(cases)('%s mode, SIGKILL at %s, then a restart: the stored password is the one AWS has', async (mode, point) => {
      let user: string;
      let id: string;
      if (mode === 'privileged') {
        const s = await privilegedSetup();
        user = s.target;
        id = s.id;
        await aws.putPolicy(s.executor, (await requiredPolicy(id)).policy);
      } else {
        const s = await basicSetup();
        user = s.user;
        id = s.id;
        await aws.putPolicy(user, (await requiredPolicy(id)).policy);
      }

      const doomed = await startWorker({ KEYTURN_TEST_CRASH_AT: point });
      const rotationId = await rotate(id);
      await new Promise<void>((resolve) => {
        if (doomed.child.exitCode !== null || doomed.child.signalCode !== null) return resolve();
        doomed.child.once('exit', () => resolve());
      });
      expect(doomed.child.signalCode).toBe('SIGKILL');
      procs.forget(doomed);
      // Killed before promote: the stored (current) password is still the old one.
      expect(await storedPassword(id)).toBe(INITIAL_PASSWORD);
      if (point === 'apply:after-aws' || point === 'promote') {
        // AWS already moved on: the window this protocol exists for.
        expect(aws.emu.getPassword(user)).not.toBe(INITIAL_PASSWORD);
      } else {
        expect(aws.emu.getPassword(user)).toBe(INITIAL_PASSWORD);
      }

      await startWorker();
      const rot = await finished(rotationId, 90_000);
      expect(rot).toMatchObject({ status: 'succeeded', step: 'done', errorCode: null });
      const stored = await storedPassword(id);
      expect(stored).not.toBe(INITIAL_PASSWORD);
      expect(aws.emu.getPassword(user)).toBe(stored);

      // And the secret keeps working: the next change starts from what AWS has.
      expect((await finished(await rotate(id))).status).toBe('succeeded');
      expect(aws.emu.getPassword(user)).toBe(await storedPassword(id));
    });
  });
});
