import { ErrorCode, IamErrorCode, KeyturnError, SecretType, WarningCode } from '@keyturn/contracts';
import type { PasswordPolicy } from '@keyturn/iam';
import type { RotationEntity, SecretEntity } from '@keyturn/store';
import { SimulatedCrash, WorkerWorld, iamErrors, type FakeKey } from '../../../../test/unit-fakes/worker.fixture.js';

// Every step and resume branch of the console password change
// (docs/architecture.md, "Console password change"): prepare → generate →
// apply → promote, in privileged mode (UpdateLoginProfile) and basic mode
// (ChangePassword with the user's own key).

const POLICY: PasswordPolicy = {
  minimumPasswordLength: 20,
  requireSymbols: true,
  requireNumbers: true,
  requireUppercaseCharacters: true,
  requireLowercaseCharacters: true,
  allowUsersToChangePassword: true,
  passwordReusePrevention: 3,
};

async function attempt(w: WorkerWorld, rotationId: string): Promise<unknown> {
  try {
    await w.passwordChange().run(rotationId);
    return undefined;
  } catch (e) {
    return e;
  }
}

const codeOf = (e: unknown) => (e instanceof KeyturnError ? e.code : undefined);

interface World {
  w: WorkerWorld;
  secret: SecretEntity;
  rot: RotationEntity;
  executor: SecretEntity;
  executorKey: FakeKey;
}

/** bob's console password, changed by admin's key secret. */
function privilegedMode(): World {
  const w = new WorkerWorld();
  w.iam.addUser('admin', { keys: 1 });
  w.iam.addUser('bob', { password: 'Old-password-1!' });
  const executorKey = w.iam.user('admin').keys[0];
  const executor = w.keySecret('admin', executorKey);
  const secret = w.passwordSecret('bob', 'Old-password-1!', executor.id);
  const rot = w.store.addRotation({ secretId: secret.id });
  return { w, secret, rot, executor, executorKey };
}

/** bob's console password, changed by bob's own key secret (ChangePassword). */
function basicMode(): World {
  const w = new WorkerWorld();
  w.iam.addUser('bob', { keys: 1, password: 'Old-password-1!' });
  const executorKey = w.iam.user('bob').keys[0];
  const executor = w.keySecret('bob', executorKey);
  const secret = w.passwordSecret('bob', 'Old-password-1!', executor.id);
  const rot = w.store.addRotation({ secretId: secret.id });
  return { w, secret, rot, executor, executorKey };
}

const states = (w: WorkerWorld, secretId: string) => w.store.versionsOf(secretId).map(([v, s]) => [v, s]);

describe('PasswordChangeUseCase, privileged mode (UpdateLoginProfile through another user)', () => {
  it('runs prepare → generate → apply → promote: AWS and the vault end with the same new password', async () => {
    const { w, secret, rot, executor } = privilegedMode();
    w.iam.policy = POLICY;
    await w.passwordChange().run(rot.id);
    const current = w.store.fieldsIn(secret.id, 'current')!.password;
    expect(w.iam.user('bob').password).toBe(current);
    expect(current).toHaveLength(24);
    expect(states(w, secret.id)).toEqual([
      [1, 'previous'],
      [2, 'current'],
    ]);
    expect(w.iam.calls).toEqual(['getCallerIdentity admin', 'getAccountPasswordPolicy admin', 'updateLoginProfile admin bob']);
    expect(w.store.rotation(rot.id)).toMatchObject({ step: 'done', mode: 'privileged', executorSecretId: executor.id, pendingVersion: 2, warnings: [] });
    // A console password has no heartbeat: promotion leaves its due time alone.
    expect(w.store.secret(secret.id)).toMatchObject({ lastRotatedAt: new Date(w.clock.now()), nextHeartbeatAt: null });
    expect(w.faults.passed).toEqual(['prepare', 'generate:after-store', 'apply', 'apply:after-aws', 'promote']);
  });

  it("the policy's minimum length wins over a shorter setting", async () => {
    const { w, secret, rot } = privilegedMode();
    w.iam.policy = { ...POLICY, minimumPasswordLength: 40 };
    await w.passwordChange().run(rot.id);
    expect(w.store.fieldsIn(secret.id, 'current')!.password).toHaveLength(40);
  });

  it("the secret's own settings shape the password (length, no symbols, excluded characters)", async () => {
    const { w, secret, rot } = privilegedMode();
    w.store.secret(secret.id).settings = { passwordLength: 30, passwordRequireSymbols: false, passwordExcludeCharacters: 'abc' };
    await w.passwordChange().run(rot.id);
    const p = w.store.fieldsIn(secret.id, 'current')!.password;
    expect(p).toHaveLength(30);
    expect(p).toMatch(/^[^abc]+$/);
  });

  describe('prepare', () => {
    it('without an associated key secret: PRIVILEGED_ACCOUNT_REQUIRED, no IAM call', async () => {
      const w = new WorkerWorld();
      const secret = w.passwordSecret('bob', 'pw', null);
      const rot = w.store.addRotation({ secretId: secret.id });
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.PRIVILEGED_ACCOUNT_REQUIRED);
      expect(w.iam.calls).toEqual([]);
    });

    it('a secret without a current value: SECRET_HAS_NO_VALUE', async () => {
      const { w, secret, rot } = privilegedMode();
      w.store.t.versions = w.store.t.versions.filter((v) => v.secretId !== secret.id);
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.SECRET_HAS_NO_VALUE);
    });

    it('an executor key AWS rejects: PRIVILEGED_KEY_INVALID', async () => {
      const { w, rot, executor, executorKey } = privilegedMode();
      executorKey.status = 'Inactive';
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(ErrorCode.PRIVILEGED_KEY_INVALID);
      expect((e as KeyturnError).params).toEqual({ privilegedSecretId: executor.id });
    });

    it('an associated secret that is not an access key: PRIVILEGED_SECRET_NOT_FOUND', async () => {
      const { w, secret, rot } = privilegedMode();
      const other = w.passwordSecret('carol', 'x', null);
      w.store.secret(secret.id).privilegedSecretId = other.id;
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.PRIVILEGED_SECRET_NOT_FOUND);
    });
  });

  describe('generate', () => {
    it('a denied policy read warns PASSWORD_POLICY_UNREAD and generates with all four classes', async () => {
      const { w, secret, rot } = privilegedMode();
      w.iam.policy = 'denied';
      await w.passwordChange().run(rot.id);
      expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.PASSWORD_POLICY_UNREAD]);
      expect(w.store.fieldsIn(secret.id, 'current')!.password).toMatch(/(?=.*[A-Z])(?=.*[a-z])(?=.*\d)(?=.*[^A-Za-z0-9])/);
    });

    it('any other failure reading the policy ends the attempt before anything is stored', async () => {
      const { w, secret, rot } = privilegedMode();
      w.iam.failNext('getAccountPasswordPolicy', iamErrors.unreachable('getAccountPasswordPolicy'));
      expect(codeOf(await attempt(w, rot.id))).toBe(IamErrorCode.Unreachable);
      expect(states(w, secret.id)).toEqual([[1, 'current']]);
    });

    it('stores the new password as pending (step apply) before AWS sees it', async () => {
      const { w, secret, rot } = privilegedMode();
      w.faults.crashAt('apply');
      expect(await attempt(w, rot.id)).toBeInstanceOf(SimulatedCrash);
      expect(states(w, secret.id)).toEqual([
        [1, 'current'],
        [2, 'pending'],
      ]);
      expect(w.store.rotation(rot.id)).toMatchObject({ step: 'apply', pendingVersion: 2 });
      expect(w.iam.callsOf('updateLoginProfile')).toEqual([]);
      expect(w.iam.user('bob').password).toBe('Old-password-1!');
    });

    it('reads the last passwordReuseHistory values to avoid them (a history of 0 reads none)', async () => {
      const { w, secret, rot } = privilegedMode();
      const newest = w.store.versions.newest.bind(w.store.versions);
      const asked: number[] = [];
      w.store.versions.newest = (id, st, n) => {
        asked.push(n);
        expect(st).toEqual(['current', 'previous', 'retired']);
        return newest(id, st, n);
      };
      w.store.secret(secret.id).settings = { passwordReuseHistory: 7 };
      await w.passwordChange().run(rot.id);
      expect(asked).toEqual([7]);

      const b = privilegedMode();
      b.w.store.secret(b.secret.id).settings = { passwordReuseHistory: 0 };
      b.w.store.versions.newest = () => Promise.reject(new Error('not read'));
      await b.w.passwordChange().run(b.rot.id);
      expect(b.w.store.rotation(b.rot.id).step).toBe('done');
    });
  });

  describe('apply', () => {
    it('a missing login profile (or user): LOGIN_PROFILE_MISSING; the pending value stays for a resume', async () => {
      const { w, secret, rot } = privilegedMode();
      w.iam.user('bob').password = null;
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(ErrorCode.LOGIN_PROFILE_MISSING);
      expect(states(w, secret.id)).toEqual([
        [1, 'current'],
        [2, 'pending'],
      ]);
    });

    it('a policy violation with a known policy is IAM_PASSWORD_POLICY with password-settings advice (after one fresh try)', async () => {
      const { w, rot } = privilegedMode();
      w.iam.policy = POLICY;
      w.iam.failNext('updateLoginProfile', iamErrors.passwordPolicy('updateLoginProfile'), iamErrors.passwordPolicy('updateLoginProfile'));
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(IamErrorCode.PasswordPolicy);
      expect((e as KeyturnError).params).toMatchObject({ advice: { kind: 'password-settings' } });
      expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.PASSWORD_REGENERATED]);
    });

    it('an unknown policy refusing the password: PASSWORD_POLICY_RETRY, 16 characters longer each time', async () => {
      const { w, secret, rot } = privilegedMode();
      w.iam.policy = 'denied';
      w.iam.failNext('updateLoginProfile', iamErrors.passwordPolicy('updateLoginProfile'), iamErrors.passwordPolicy('updateLoginProfile'));
      await w.passwordChange().run(rot.id);
      expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.PASSWORD_POLICY_UNREAD, WarningCode.PASSWORD_POLICY_RETRY, WarningCode.PASSWORD_POLICY_RETRY]);
      expect(w.store.fieldsIn(secret.id, 'current')!.password).toHaveLength(24 + 32);
      expect(states(w, secret.id)).toEqual([
        [1, 'previous'],
        [2, 'discarded'],
        [3, 'discarded'],
        [4, 'current'],
      ]);
    });

    it('other IAM failures end the attempt as they are', async () => {
      const { w, rot } = privilegedMode();
      w.iam.denied.add('updateLoginProfile');
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(IamErrorCode.AccessDenied);
      expect((e as KeyturnError).params).not.toHaveProperty('advice');
    });
  });

  describe('resuming', () => {
    it('crash before AWS saw the pending password: the resume applies the same pending value', async () => {
      const { w, secret, rot } = privilegedMode();
      w.faults.crashAt('apply');
      await attempt(w, rot.id);
      const pending = w.store.fieldsIn(secret.id, 'pending')!.password;
      w.iam.calls.length = 0;
      await w.passwordChange().run(rot.id);
      expect(w.iam.calls).toEqual(['getCallerIdentity admin', 'updateLoginProfile admin bob']);
      expect(w.iam.user('bob').password).toBe(pending);
      expect(w.store.fieldsIn(secret.id, 'current')!.password).toBe(pending);
    });

    it('crash after AWS took it, with reuse prevention: the resume (policy not read again) is refused, PASSWORD_POLICY_RETRY, and a longer one is set', async () => {
      const { w, secret, rot } = privilegedMode();
      w.iam.policy = POLICY;
      w.faults.crashAt('apply:after-aws');
      await attempt(w, rot.id);
      const applied = w.store.fieldsIn(secret.id, 'pending')!.password;
      expect(w.iam.user('bob').password).toBe(applied);
      w.iam.calls.length = 0;
      await w.passwordChange().run(rot.id);
      expect(w.iam.calls).toEqual(['getCallerIdentity admin', 'updateLoginProfile admin bob', 'updateLoginProfile admin bob']);
      expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.PASSWORD_POLICY_RETRY]);
      const current = w.store.fieldsIn(secret.id, 'current')!.password;
      expect(current).toHaveLength(applied.length + 16);
      expect(w.iam.user('bob').password).toBe(current);
      expect(states(w, secret.id)).toEqual([
        [1, 'previous'],
        [2, 'discarded'],
        [3, 'current'],
      ]);
    });

    it('a resumed apply refused at 128 characters (the longest) gets one fresh password of that length: PASSWORD_REGENERATED', async () => {
      const { w, secret, rot } = privilegedMode();
      w.store.secret(secret.id).settings = { passwordLength: 128 };
      w.iam.policy = POLICY;
      w.faults.crashAt('apply:after-aws');
      await attempt(w, rot.id);
      const applied = w.store.fieldsIn(secret.id, 'pending')!.password;
      await w.passwordChange().run(rot.id);
      expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.PASSWORD_REGENERATED]);
      const current = w.store.fieldsIn(secret.id, 'current')!.password;
      expect(current).not.toBe(applied);
      expect(current).toHaveLength(128);
      expect(w.iam.user('bob').password).toBe(current);
    });

    it('step promote on record: only the promotion runs', async () => {
      const { w, secret, rot } = privilegedMode();
      w.faults.crashAt('promote');
      await attempt(w, rot.id);
      expect(w.store.rotation(rot.id).step).toBe('promote');
      w.iam.calls.length = 0;
      await w.passwordChange().run(rot.id);
      expect(w.iam.calls).toEqual([]);
      expect(states(w, secret.id)).toEqual([
        [1, 'previous'],
        [2, 'current'],
      ]);
      expect(w.store.rotation(rot.id).step).toBe('done');
    });

    it('step done: nothing happens', async () => {
      const { w, secret, rot } = privilegedMode();
      w.store.rotation(rot.id).step = 'done';
      await w.passwordChange().run(rot.id);
      expect(w.iam.calls).toEqual([]);
      expect(states(w, secret.id)).toEqual([[1, 'current']]);
    });
  });
});

describe('PasswordChangeUseCase, basic mode (ChangePassword with the user\'s own key)', () => {
  it('changes the password from the current one, without reading the policy through UpdateLoginProfile', async () => {
    const { w, secret, rot, executor } = basicMode();
    await w.passwordChange().run(rot.id);
    const current = w.store.fieldsIn(secret.id, 'current')!.password;
    expect(w.iam.user('bob').password).toBe(current);
    expect(w.iam.calls).toEqual(['getCallerIdentity bob', 'getAccountPasswordPolicy bob', 'changePassword bob']);
    expect(w.store.rotation(rot.id)).toMatchObject({ mode: 'basic', executorSecretId: executor.id, step: 'done' });
    expect(w.store.secret(secret.id).iamUserId).toBe('AIDABOB');
  });

  it('an executor key of another user: EXECUTOR_KEY_MISMATCH', async () => {
    const { w, rot, executorKey } = basicMode();
    w.iam.addUser('mallory');
    w.iam.answersAs.set(executorKey.accessKeyId, 'mallory');
    expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.EXECUTOR_KEY_MISMATCH);
    expect(w.iam.calls).toEqual(['getCallerIdentity bob']);
  });

  it('a re-created user: USER_RECREATED', async () => {
    const { w, secret, rot } = basicMode();
    w.store.secret(secret.id).iamUserId = 'AIDAOLDBOB';
    expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.USER_RECREATED);
  });

  it('ChangePassword denied: IAM_ACCESS_DENIED with the change-own-password advice', async () => {
    const { w, secret, rot } = basicMode();
    w.iam.denied.add('changePassword');
    const e = await attempt(w, rot.id);
    expect(codeOf(e)).toBe(IamErrorCode.AccessDenied);
    expect((e as KeyturnError).params).toMatchObject({ advice: { kind: 'change-own-password', secretId: secret.id } });
  });

  it('a policy violation is not regenerated in basic mode with a known policy: IAM_PASSWORD_POLICY', async () => {
    const { w, rot } = basicMode();
    w.iam.policy = POLICY;
    w.iam.failNext('changePassword', iamErrors.passwordPolicy('changePassword'));
    expect(codeOf(await attempt(w, rot.id))).toBe(IamErrorCode.PasswordPolicy);
    expect(w.store.warningCodes(rot.id)).toEqual([]);
  });

  it('resume after AWS took the pending password: PASSWORD_RESUME, a fresh pending, changed from the applied one', async () => {
    const { w, secret, rot } = basicMode();
    w.faults.crashAt('apply:after-aws');
    await attempt(w, rot.id);
    const applied = w.store.fieldsIn(secret.id, 'pending')!.password;
    expect(w.iam.user('bob').password).toBe(applied);
    w.iam.calls.length = 0;
    await w.passwordChange().run(rot.id);
    expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.PASSWORD_RESUME]);
    // current (wrong) → fresh round: current (wrong), the applied one (right).
    expect(w.iam.calls).toEqual(['getCallerIdentity bob', 'changePassword bob', 'changePassword bob', 'changePassword bob']);
    const current = w.store.fieldsIn(secret.id, 'current')!.password;
    expect(w.iam.user('bob').password).toBe(current);
    expect(current).toHaveLength(applied.length);
    expect(states(w, secret.id)).toEqual([
      [1, 'previous'],
      [2, 'discarded'],
      [3, 'current'],
    ]);
  });

  it('resume before AWS took it: changed from the current password, no warning', async () => {
    const { w, secret, rot } = basicMode();
    w.faults.crashAt('apply');
    await attempt(w, rot.id);
    const pending = w.store.fieldsIn(secret.id, 'pending')!.password;
    await w.passwordChange().run(rot.id);
    expect(w.store.warningCodes(rot.id)).toEqual([]);
    expect(w.iam.user('bob').password).toBe(pending);
  });

  it('a password changed outside Keyturn: PASSWORD_UNKNOWN after trying every stored candidate', async () => {
    const { w, secret, rot } = basicMode();
    w.iam.user('bob').password = 'set-by-a-person';
    const e = await attempt(w, rot.id);
    expect(codeOf(e)).toBe(ErrorCode.PASSWORD_UNKNOWN);
    expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.PASSWORD_RESUME]);
    expect(w.iam.callsOf('changePassword')).toHaveLength(1 + 2);
    expect(w.iam.user('bob').password).toBe('set-by-a-person');
    expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['current', 'discarded', 'pending']);
  });

  it('a ChangePassword failure other than a wrong old password ends the attempt at once', async () => {
    const { w, rot } = basicMode();
    w.iam.failNext('changePassword', iamErrors.throttled('changePassword'));
    expect(codeOf(await attempt(w, rot.id))).toBe(IamErrorCode.Throttled);
    expect(w.iam.callsOf('changePassword')).toHaveLength(1);
  });
});

describe('the secret type decides the executor rule', () => {
  it('a key secret with no association executes itself; a password never does', async () => {
    const w = new WorkerWorld();
    const secret = w.store.addSecret({ type: SecretType.AwsIamConsolePassword, username: 'bob' });
    w.store.addVersion(secret.id, 'current', { password: 'x' });
    const rot = w.store.addRotation({ secretId: secret.id });
    const e = await attempt(w, rot.id);
    expect((e as KeyturnError).params).toEqual({ secretId: secret.id, secretType: SecretType.AwsIamConsolePassword });
  });
});
