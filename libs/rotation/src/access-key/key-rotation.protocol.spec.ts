import { ErrorCode, IamErrorCode, KeyturnError, SecretType, WarningCode } from '@keyturn/contracts';
import type { RotationEntity, SecretEntity } from '@keyturn/store';
import { RetirePendingError } from '../rotation-error.js';
import { ROTATION_OPTIONS, SimulatedCrash, WorkerWorld, fakeCipher, iamErrors, type FakeKey } from '../../../../test/unit-fakes/worker.fixture.js';

// Every step and resume branch of the access-key protocol (docs/architecture.md,
// "The rotation protocol"), against in-memory repositories and IAM: what is
// stored, which IAM calls are made, and the exact codes of failures.

/** Runs the rotation and returns what it threw (or undefined). */
async function attempt(w: WorkerWorld, rotationId: string): Promise<unknown> {
  try {
    await w.keyRotation().run(rotationId);
    return undefined;
  } catch (e) {
    return e;
  }
}

function codeOf(e: unknown): string | undefined {
  return e instanceof KeyturnError ? e.code : undefined;
}

interface Self {
  w: WorkerWorld;
  key: FakeKey;
  secret: SecretEntity;
  rot: RotationEntity;
}

/** alice's key secret, executing itself (its heartbeats succeed, unless `status` says otherwise). */
function selfMode(opts: { keys?: number; status?: SecretEntity['heartbeatStatus'] } = {}): Self {
  const w = new WorkerWorld();
  w.iam.addUser('alice', { keys: opts.keys ?? 1 });
  const key = w.iam.user('alice').keys[0];
  const secret = w.keySecret('alice', key, { heartbeatStatus: opts.status ?? 'success' });
  const rot = w.store.addRotation({ secretId: secret.id });
  return { w, key, secret, rot };
}

interface Privileged extends Self {
  admin: SecretEntity;
  adminKey: FakeKey;
}

/** alice's key secret, changed by admin's key secret (another IAM user). */
function privilegedMode(): Privileged {
  const w = new WorkerWorld();
  w.iam.addUser('admin', { keys: 1 });
  w.iam.addUser('alice', { keys: 1 });
  const adminKey = w.iam.user('admin').keys[0];
  const admin = w.keySecret('admin', adminKey);
  const key = w.iam.user('alice').keys[0];
  const secret = w.keySecret('alice', key, { privilegedSecretId: admin.id });
  const rot = w.store.addRotation({ secretId: secret.id });
  return { w, key, secret, rot, admin, adminKey };
}

describe('KeyRotationUseCase, self mode (the key rotates itself)', () => {
  it('runs prepare → make-room → create → verify → promote → retire: one new key current, the old one previous and inactive', async () => {
    const { w, key, secret, rot } = selfMode();
    await w.keyRotation().run(rot.id);

    const [newKey] = w.iam.user('alice').keys.filter((k) => k.accessKeyId !== key.accessKeyId);
    expect(w.store.versionsOf(secret.id)).toEqual([
      [1, 'previous', { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }],
      [2, 'current', { accessKeyId: newKey.accessKeyId, secretAccessKey: newKey.secretAccessKey }],
    ]);
    expect(w.iam.user('alice').keys.map((k) => [k.accessKeyId, k.status])).toEqual([
      [key.accessKeyId, 'Inactive'],
      [newKey.accessKeyId, 'Active'],
    ]);
    expect(w.iam.calls).toEqual([
      'getCallerIdentity alice',
      'listAccessKeys alice alice',
      'createAccessKey alice alice',
      'getCallerIdentity alice',
      `updateAccessKey alice alice ${key.accessKeyId}`,
    ]);
    // Retire in basic mode is done by the NEW key: the old one may be the key being switched off.
    expect(w.iam.callerKeys.at(-1)).toBe(newKey.accessKeyId);
    const row = w.store.rotation(rot.id);
    expect(row).toMatchObject({ step: 'done', mode: 'basic', executorSecretId: null, pendingVersion: 2, retirePending: false, warnings: [] });
    expect(row.aboutToCreateAt).toEqual(new Date(w.clock.now() - 1_000));
    // The first rotation records the IAM user id; the verify step counts as the heartbeat, so the next is an interval away.
    expect(w.store.secret(secret.id)).toMatchObject({
      iamUserId: 'AIDAALICE',
      versionCounter: 2,
      lastRotatedAt: new Date(w.clock.now()),
      heartbeatStatus: 'success',
      heartbeatFailures: 0,
      lastHeartbeatAt: new Date(w.clock.now()),
      nextHeartbeatAt: new Date(w.clock.now() + 3_600_000),
    });
    expect(w.faults.passed).toEqual(['prepare', 'make-room', 'create', 'create:after-aws', 'verify', 'promote', 'retire', 'retire:after-aws']);
  });

  describe('step 1, prepare', () => {
    it('a secret without a current value fails with SECRET_HAS_NO_VALUE, before any IAM call', async () => {
      const w = new WorkerWorld();
      const secret = w.store.addSecret({ type: SecretType.AwsIamKey, username: 'alice' });
      const rot = w.store.addRotation({ secretId: secret.id });
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.SECRET_HAS_NO_VALUE);
      expect(w.iam.calls).toEqual([]);
      expect(w.store.rotation(rot.id).step).toBe('prepare');
    });

    it('a deleted secret fails with SECRET_NOT_FOUND', async () => {
      const { w, secret, rot } = selfMode();
      w.store.t.secrets.delete(secret.id);
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.SECRET_NOT_FOUND);
    });

    it('a key that answers as another IAM user fails with KEY_BELONGS_TO_OTHER_USER and nothing is created', async () => {
      const { w, key, rot } = selfMode();
      w.iam.addUser('bob');
      w.iam.answersAs.set(key.accessKeyId, 'bob');
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(ErrorCode.KEY_BELONGS_TO_OTHER_USER);
      expect((e as KeyturnError).message).toContain('user/bob');
      expect(w.iam.calls).toEqual(['getCallerIdentity alice']);
    });

    it('a key that answers for another AWS account fails the same way', async () => {
      const w = new WorkerWorld();
      w.iam.addUser('alice', { keys: 1, account: '222222222222' });
      const secret = w.keySecret('alice', w.iam.user('alice').keys[0]);
      const rot = w.store.addRotation({ secretId: secret.id });
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.KEY_BELONGS_TO_OTHER_USER);
    });

    it('a current key AWS rejects fails with CURRENT_KEY_INVALID: nothing else can act for the user', async () => {
      const { w, key, rot } = selfMode();
      key.status = 'Inactive';
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.CURRENT_KEY_INVALID);
      expect(w.iam.calls).toEqual(['getCallerIdentity alice']);
    });

    it('an IAM user re-created under the same name (another user id) fails with USER_RECREATED', async () => {
      const { w, secret, rot } = selfMode();
      w.store.secret(secret.id).iamUserId = 'AIDAOLDALICE';
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(ErrorCode.USER_RECREATED);
      expect(w.store.secret(secret.id).iamUserId).toBe('AIDAOLDALICE');
      expect(w.iam.callsOf('createAccessKey')).toEqual([]);
    });

    it('records mode and executor on the rotation, even when the first IAM call (made alongside) fails', async () => {
      const { w, rot } = selfMode();
      w.iam.failNext('getCallerIdentity', iamErrors.unreachable('getCallerIdentity'));
      expect(codeOf(await attempt(w, rot.id))).toBe(IamErrorCode.Unreachable);
      expect(w.store.rotation(rot.id)).toMatchObject({ step: 'prepare', mode: 'basic', executorSecretId: null });
    });
  });

  describe('step 2, make room', () => {
    it("looks up other secrets' holding of the listed keys only for keys that are not this secret's own (none: no query)", async () => {
      const { w, rot } = selfMode();
      const asked: string[][] = [];
      const lookup = w.store.versions.holdersOfKeyIdHmacs.bind(w.store.versions);
      w.store.versions.holdersOfKeyIdHmacs = (hmacs, except) => (asked.push(hmacs), lookup(hmacs, except));
      expect(await attempt(w, rot.id)).toBeUndefined();
      expect(asked).toEqual([]);

      // A key of the user that no version of this secret holds is looked up (held by nobody and older than the
      // rotation, it is unmanaged: with the user at AWS's limit the rotation stops there).
      const second = selfMode();
      const stray = second.w.iam.addKey('alice');
      second.w.store.versions.holdersOfKeyIdHmacs = (hmacs, except) => (asked.push(hmacs), lookup(hmacs, except));
      expect(codeOf(await attempt(second.w, second.rot.id))).toBe(ErrorCode.KEY_LIMIT_UNMANAGED);
      expect(asked).toEqual([fakeCipher.accessKeyIdIndexes(stray.accessKeyId)]);
    });

    it("at AWS's limit of two, deletes this secret's previous key and retires its version", async () => {
      const { w, key, secret, rot } = selfMode();
      const old = w.iam.addKey('alice');
      w.store.addVersion(secret.id, 'previous', { accessKeyId: old.accessKeyId, secretAccessKey: old.secretAccessKey });
      await w.keyRotation().run(rot.id);
      expect(w.iam.callsOf('deleteAccessKey')).toEqual([`alice alice ${old.accessKeyId}`]);
      expect(w.store.versionsOf(secret.id).map(([v, s]) => [v, s])).toEqual([
        [1, 'previous'],
        [2, 'retired'],
        [3, 'current'],
      ]);
      expect(w.store.fieldsIn(secret.id, 'previous')?.accessKeyId).toBe(key.accessKeyId);
    });

    it('deletes an orphan (a key an interrupted attempt created and never stored) and warns ORPHAN_DELETED', async () => {
      const { w, rot } = selfMode();
      w.store.rotation(rot.id).aboutToCreateAt = new Date(w.clock.now() - 5_000);
      const orphan = w.iam.addKey('alice', new Date(w.clock.now() - 4_000));
      await w.keyRotation().run(rot.id);
      expect(w.iam.callsOf('deleteAccessKey')).toEqual([`alice alice ${orphan.accessKeyId}`]);
      expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.ORPHAN_DELETED]);
      expect(w.store.rotation(rot.id).warnings[0].message).toContain(`${orphan.accessKeyId.slice(0, 4)}`);
      expect(w.store.rotation(rot.id).warnings[0].message).not.toContain(orphan.accessKeyId);
    });

    it("never deletes a key another secret holds (found by the blind index under any KEK): KEY_HELD_BY_OTHER_SECRET names the holder", async () => {
      const { w, secret, rot } = selfMode();
      const other = w.iam.addKey('alice', new Date(w.clock.now()));
      const holder = w.store.addSecret({ type: SecretType.AwsIamKey, username: 'alice', name: 'alice-2' });
      const v = w.store.addVersion(holder.id, 'current', { accessKeyId: other.accessKeyId, secretAccessKey: other.secretAccessKey });
      // Indexed under an older KEK that is still configured.
      w.store.t.versions.find((x) => x.id === v.id)!.keyIdHmac = `k0:${other.accessKeyId}`;
      w.store.rotation(rot.id).aboutToCreateAt = new Date(w.clock.now());
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(ErrorCode.KEY_HELD_BY_OTHER_SECRET);
      expect((e as KeyturnError).params).toMatchObject({ username: 'alice', holderSecretId: holder.id });
      expect(w.iam.callsOf('deleteAccessKey')).toEqual([]);
      expect(w.iam.keyIds('alice')).toHaveLength(2);
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['current']);
    });

    it('a retired version does not make its key held', async () => {
      const { w, rot } = selfMode();
      const other = w.iam.addKey('alice');
      const holder = w.store.addSecret({ type: SecretType.AwsIamKey, username: 'alice', name: 'alice-2' });
      w.store.addVersion(holder.id, 'retired', { accessKeyId: other.accessKeyId, secretAccessKey: other.secretAccessKey });
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.KEY_LIMIT_UNMANAGED);
    });

    it('a key nobody stores, created outside the window, blocks with KEY_LIMIT_UNMANAGED and is left alone', async () => {
      const { w, rot } = selfMode();
      const person = w.iam.addKey('alice', new Date(w.clock.now() - 3_600_000));
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(ErrorCode.KEY_LIMIT_UNMANAGED);
      expect(w.iam.keyIds('alice')).toContain(person.accessKeyId);
      expect(w.iam.callsOf('deleteAccessKey')).toEqual([]);
      expect(w.store.rotation(rot.id).step).toBe('make-room');
    });
  });

  describe('step 3, create', () => {
    it('records "about to create" before CreateAccessKey, and stores the key as pending with step verify', async () => {
      const { w, secret, rot } = selfMode();
      w.faults.crashAt('verify');
      expect(await attempt(w, rot.id)).toBeInstanceOf(SimulatedCrash);
      const row = w.store.rotation(rot.id);
      expect(row).toMatchObject({ step: 'verify', pendingVersion: 2, aboutToCreateAt: new Date(w.clock.now()) });
      expect(w.store.versionsOf(secret.id).map(([v, s]) => [v, s])).toEqual([
        [1, 'current'],
        [2, 'pending'],
      ]);
      expect(w.store.secret(secret.id).versionCounter).toBe(2);
      expect(w.store.locked).toEqual([secret.id]);
    });

    it("AWS's key limit at create (an earlier call's key whose answer was lost) fails with KEY_LIMIT_RACE", async () => {
      const { w, rot } = selfMode();
      w.iam.failNext('createAccessKey', iamErrors.keyLimit());
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.KEY_LIMIT_RACE);
    });

    it('a new key that cannot be stored is deleted in AWS, and the attempt fails with NEW_KEY_NOT_STORED (nothing stored, nothing pending)', async () => {
      const { w, secret, rot } = selfMode();
      w.store.versions.insert = async () => {
        throw Object.assign(new Error('connection terminated'), { code: '57P01' });
      };
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(ErrorCode.NEW_KEY_NOT_STORED);
      expect((e as KeyturnError).params).toMatchObject({ reason: 'database error 57P01', deleted: true });
      expect(w.iam.keyIds('alice')).toHaveLength(1);
      expect(w.store.versionsOf(secret.id).map(([v, s]) => [v, s])).toEqual([[1, 'current']]);
      expect(w.store.secret(secret.id).versionCounter).toBe(1);
      // Stored in one call (keyturn_store_pending, all or nothing: its Postgres spec), not in a transaction.
      expect(w.store.transactionsRun).toEqual([]);
    });

    it('if that delete fails too, NEW_KEY_NOT_STORED says deleted: false (the next make-room finds the orphan)', async () => {
      const { w, rot } = selfMode();
      w.store.versions.insert = async () => {
        throw new Error('boom');
      };
      w.iam.failNext('deleteAccessKey', iamErrors.unreachable('deleteAccessKey'));
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(ErrorCode.NEW_KEY_NOT_STORED);
      expect((e as KeyturnError).params).toMatchObject({ reason: 'Error', deleted: false });
      expect(w.iam.keyIds('alice')).toHaveLength(2);
    });

    it('a secret deleted while the key was created: the key is deleted and the attempt fails with SECRET_NOT_FOUND', async () => {
      const { w, secret, rot } = selfMode();
      w.iam.onCreate = () => w.store.t.secrets.delete(secret.id);
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.SECRET_NOT_FOUND);
      expect(w.iam.keyIds('alice')).toHaveLength(1);
    });
  });

  describe('step 4, verify', () => {
    it('waits for IAM to accept the new key (rejections within the window are expected), backing off', async () => {
      const { w, secret, rot } = selfMode();
      w.iam.propagationFailures = 3;
      await w.keyRotation().run(rot.id);
      expect(w.iam.callsOf('getCallerIdentity')).toHaveLength(1 + 4);
      expect(w.clock.sleeps).toEqual([1_000, 2_000, 4_000, 5_000]);
      expect(w.store.rotation(rot.id).step).toBe('done');
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['previous', 'current']);
    });

    it.each([
      ['throttled', iamErrors.throttled('getCallerIdentity')],
      ['unreachable', iamErrors.unreachable('getCallerIdentity')],
    ])('a passing AWS fault (%s) inside the window is waited out too', async (_name, err) => {
      const { w, rot } = selfMode();
      const verify = w.keyRotation();
      // The first GetCallerIdentity is prepare's; fail verify's first.
      const { iam } = w;
      const real = iam.getCallerIdentity.bind(iam);
      let n = 0;
      iam.getCallerIdentity = async (c) => {
        if (++n === 2) throw err;
        return real(c);
      };
      await verify.run(rot.id);
      expect(w.store.rotation(rot.id).step).toBe('done');
    });

    it('a key still rejected when the window closes is deleted, its version discarded, and the rotation fails with VERIFY_TIMEOUT', async () => {
      const { w, key, secret, rot } = selfMode();
      w.iam.propagationFailures = 1_000;
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(ErrorCode.VERIFY_TIMEOUT);
      expect((e as KeyturnError).params).toEqual({ windowSeconds: 30, lastAnswer: IamErrorCode.InvalidCredentials });
      expect(w.iam.keyIds('alice')).toEqual([key.accessKeyId]);
      expect(w.store.versionsOf(secret.id).map(([v, s]) => [v, s])).toEqual([
        [1, 'current'],
        [2, 'discarded'],
      ]);
      expect(w.store.rotation(rot.id).pendingVersion).toBeNull();
      // The waits end at the window: 30 s after the key's creation, not later.
      expect(w.clock.sleeps.reduce((a, b) => a + b, 0)).toBe(30_000);
    });

    it('a new key that answers as another user is deleted and discarded: PENDING_KEY_WRONG_USER', async () => {
      const { w, secret, rot } = selfMode();
      w.iam.addUser('bob');
      w.iam.onCreate = (k) => w.iam.answersAs.set(k.accessKeyId, 'bob');
      const e = await attempt(w, rot.id);
      expect(codeOf(e)).toBe(ErrorCode.PENDING_KEY_WRONG_USER);
      expect(w.iam.keyIds('alice')).toHaveLength(1);
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['current', 'discarded']);
    });

    it('any other failure (access denied) ends the attempt and leaves the pending key for the resume', async () => {
      const { w, secret, rot } = selfMode();
      w.iam.onCreate = () => w.iam.failNext('getCallerIdentity', iamErrors.accessDenied('getCallerIdentity'));
      expect(codeOf(await attempt(w, rot.id))).toBe(IamErrorCode.AccessDenied);
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['current', 'pending']);
    });
  });

  describe('step 5, promote', () => {
    it('records the verify step as the heartbeat: a finished check of the new key, the next one interval later, and the new version keeps CreateAccessKey\'s answer as its listing', async () => {
      const { w, secret, rot } = selfMode();
      await w.keyRotation().run(rot.id);
      const [, newKey] = w.iam.user('alice').keys;
      const verifiedAt = new Date(w.clock.now());
      expect([...w.store.t.heartbeats.values()]).toEqual([
        expect.objectContaining({
          secretId: secret.id,
          status: 'done',
          outcome: 'success',
          trigger: 'rotation',
          requestedBy: 'system:rotation-worker',
          checkedArn: 'arn:aws:iam::111111111111:user/alice',
          keyStatus: 'Active',
          keyCreatedAt: newKey.createDate,
          finishedAt: verifiedAt,
        }),
      ]);
      expect(w.store.secret(secret.id)).toMatchObject({ heartbeatStatus: 'success', lastHeartbeatAt: verifiedAt, nextHeartbeatAt: new Date(verifiedAt.getTime() + 3_600_000) });
      const current = w.store.t.versions.find((v) => v.secretId === secret.id && v.state === 'current')!;
      expect(current).toMatchObject({ keyStatus: 'Active', keyCreatedAt: newKey.createDate, keyListedAt: newKey.createDate });
      // An unchanged status (success before and after) announces nothing.
      expect(w.store.t.events.filter((e) => e.type === 'heartbeat.status-changed')).toEqual([]);
    });

    it('a secret whose heartbeat had failed: the promotion announces failed → success (outbox and audit), in its transaction', async () => {
      const { w, secret, rot } = selfMode({ status: 'failed' });
      w.store.secret(secret.id).heartbeatFailures = 3;
      await w.keyRotation().run(rot.id);
      const [hb] = [...w.store.t.heartbeats.values()];
      expect(w.store.t.events.filter((e) => e.type === 'heartbeat.status-changed')).toEqual([
        expect.objectContaining({ secretId: secret.id, payload: { secretId: secret.id, heartbeatId: hb.id, from: 'failed', to: 'success', errorCode: null } }),
      ]);
      expect(w.store.t.audit).toContainEqual(
        expect.objectContaining({ actorId: 'system:rotation-worker', action: 'heartbeat.status-changed', outcome: 'success', targetId: hb.id, details: { from: 'failed', to: 'success' } }),
      );
      expect(w.store.secret(secret.id)).toMatchObject({ heartbeatStatus: 'success', heartbeatFailures: 0 });
    });

    it('the secret\'s own heartbeat interval decides when the next check is due', async () => {
      const { w, secret, rot } = selfMode();
      w.store.secret(secret.id).settings = { heartbeatIntervalSeconds: 120 };
      await w.keyRotation().run(rot.id);
      expect(w.store.secret(secret.id).nextHeartbeatAt).toEqual(new Date(w.clock.now() + 120_000));
    });

    it('a promote resumed without a verify in this run (its proof may be old) records no heartbeat: the new key is checked at once', async () => {
      const { w, key, secret } = selfMode();
      const fresh = w.iam.addKey('alice', new Date(w.clock.now()));
      w.store.addVersion(secret.id, 'pending', { accessKeyId: fresh.accessKeyId, secretAccessKey: fresh.secretAccessKey });
      const rot = w.store.addRotation({ secretId: secret.id, step: 'promote', pendingVersion: 2 });
      await w.keyRotation().run(rot.id);
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['previous', 'current']);
      expect(w.iam.callsOf('getCallerIdentity')).toEqual([]);
      expect([...w.store.t.heartbeats.values()]).toEqual([]);
      expect(w.store.secret(secret.id)).toMatchObject({ nextHeartbeatAt: new Date(w.clock.now()), lastHeartbeatAt: null });
      expect(w.iam.user('alice').keys.find((k) => k.accessKeyId === key.accessKeyId)?.status).toBe('Inactive');
    });

    it('is one call when the status stays success (keyturn_promote_checked, all or nothing): when it fails, no version moves and the step stays', async () => {
      const { w, secret, rot } = selfMode();
      w.store.secrets.promoteChecked = async () => {
        throw new Error('connection lost');
      };
      expect(await attempt(w, rot.id)).toEqual(new Error('connection lost'));
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['current', 'pending']);
      expect([...w.store.t.heartbeats.values()]).toEqual([]);
      expect(w.store.rotation(rot.id).step).toBe('verify');
      // No transaction: the new key was stored in one call, and the promotion is one too (their Postgres spec:
      // change-journal.pg.spec).
      expect(w.store.transactionsRun).toEqual([]);
    });

    it('is one transaction when the status changes: when any part fails, no version moves and the step stays', async () => {
      const { w, secret, rot } = selfMode({ status: 'failed' });
      w.store.secrets.markChangedAndChecked = async () => {
        throw new Error('connection lost');
      };
      expect(await attempt(w, rot.id)).toEqual(new Error('connection lost'));
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['current', 'pending']);
      // The verify step's heartbeat went with it.
      expect([...w.store.t.heartbeats.values()]).toEqual([]);
      expect(w.store.rotation(rot.id).step).toBe('verify');
      expect(w.store.transactionsRun).toEqual(['rolled back']);
    });

    it('is one transaction also when its last part fails: the heartbeat recorded and the versions moved are rolled back', async () => {
      const { w, secret, rot } = selfMode();
      w.store.secret(secret.id).heartbeatStatus = 'failed';
      w.store.rotations.setStep = async () => {
        throw new Error('connection lost');
      };
      expect(await attempt(w, rot.id)).toEqual(new Error('connection lost'));
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['current', 'pending']);
      expect([...w.store.t.heartbeats.values()]).toEqual([]);
      expect(w.store.secret(secret.id)).toMatchObject({ heartbeatStatus: 'failed', lastRotatedAt: null, lastHeartbeatAt: null, nextHeartbeatAt: null });
      expect(w.store.t.events).toEqual([]);
      expect(w.store.rotation(rot.id).step).toBe('verify');
      expect(w.store.transactionsRun).toEqual(['rolled back']);
    });

    it('retires the version that was previous: current → previous, previous → retired', async () => {
      const { w, secret, rot } = selfMode({ keys: 1 });
      w.store.addVersion(secret.id, 'previous', { accessKeyId: 'AKIAGONEALREADY00000', secretAccessKey: 'x' });
      await w.keyRotation().run(rot.id);
      expect(w.store.versionsOf(secret.id).map(([v, s]) => [v, s])).toEqual([
        [1, 'previous'],
        [2, 'retired'],
        [3, 'current'],
      ]);
    });

    it('with no pending version to promote, fails with NOTHING_TO_PROMOTE', async () => {
      const { w, rot } = selfMode();
      w.store.rotation(rot.id).step = 'promote';
      expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.NOTHING_TO_PROMOTE);
    });
  });

  describe('step 6, retire', () => {
    it('with shouldDeletePreviousKey, deletes the previous key and retires its version', async () => {
      const { w, key, secret, rot } = selfMode();
      w.global.shouldDeletePreviousKey = true;
      await w.keyRotation().run(rot.id);
      expect(w.iam.callsOf('deleteAccessKey')).toEqual([`alice alice ${key.accessKeyId}`]);
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['retired', 'current']);
    });

    it('with neither setting, leaves the previous key active', async () => {
      const { w, key, rot } = selfMode();
      w.global.shouldInactivatePreviousKey = false;
      await w.keyRotation().run(rot.id);
      expect(w.iam.user('alice').keys.find((k) => k.accessKeyId === key.accessKeyId)?.status).toBe('Active');
      expect(w.iam.callsOf('updateAccessKey')).toEqual([]);
    });

    it('a previous key already gone is a no-op', async () => {
      const { w, key, rot } = selfMode();
      w.iam.onCreate = () => (w.iam.user('alice').keys = w.iam.user('alice').keys.filter((k) => k.accessKeyId !== key.accessKeyId));
      await w.keyRotation().run(rot.id);
      expect(w.store.rotation(rot.id).step).toBe('done');
    });

    it('a failure leaves the rotation succeeded with retire owed and RETIRE_FAILED, and throws RetirePendingError', async () => {
      const { w, secret, rot } = selfMode();
      w.iam.failNext('updateAccessKey', iamErrors.accessDenied('updateAccessKey'));
      const e = await attempt(w, rot.id);
      expect(e).toBeInstanceOf(RetirePendingError);
      expect(w.store.rotation(rot.id)).toMatchObject({ status: 'succeeded', step: 'retire', retirePending: true, finishedAt: new Date(w.clock.now()) });
      expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.RETIRE_FAILED]);
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['previous', 'current']);
    });
  });

  describe('resuming an interrupted rotation', () => {
    it('crash after AWS created the key and before it was stored: the next attempt deletes that orphan and creates one key', async () => {
      const { w, secret, rot } = selfMode();
      w.faults.crashAt('create:after-aws');
      expect(await attempt(w, rot.id)).toBeInstanceOf(SimulatedCrash);
      const [lost] = w.iam.keyIds('alice').slice(1);
      expect(w.store.versionsOf(secret.id)).toHaveLength(1);

      w.clock.advance(3_000);
      await w.keyRotation().run(rot.id);
      expect(w.iam.keyIds('alice')).not.toContain(lost);
      expect(w.iam.callsOf('deleteAccessKey')).toEqual([`alice alice ${lost}`]);
      expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.ORPHAN_DELETED]);
      const current = w.store.fieldsIn(secret.id, 'current')!.accessKeyId;
      expect(w.iam.keyIds('alice')).toEqual([w.store.fieldsIn(secret.id, 'previous')!.accessKeyId, current]);
    });

    it('a stored pending key is resumed at verify, never re-created', async () => {
      const { w, secret, rot } = selfMode();
      w.faults.crashAt('verify');
      await attempt(w, rot.id);
      const pending = w.store.fieldsIn(secret.id, 'pending')!.accessKeyId;
      w.iam.calls.length = 0;
      await w.keyRotation().run(rot.id);
      expect(w.iam.calls).toEqual(['getCallerIdentity alice', 'getCallerIdentity alice', expect.stringMatching(/^updateAccessKey alice alice /)]);
      expect(w.store.fieldsIn(secret.id, 'current')!.accessKeyId).toBe(pending);
      expect(w.store.rotation(rot.id)).toMatchObject({ step: 'done', pendingVersion: 2 });
    });

    it('crash before the promote transaction: the resume verifies again and promotes once', async () => {
      const { w, secret, rot } = selfMode();
      w.faults.crashAt('promote');
      await attempt(w, rot.id);
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['current', 'pending']);
      await w.keyRotation().run(rot.id);
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['previous', 'current']);
      expect(w.iam.callsOf('createAccessKey')).toHaveLength(1);
    });

    it('step promote on record (a crash inside promote rolled it back): promote, then retire, without IAM calls before', async () => {
      const { w, secret, rot } = selfMode();
      w.faults.crashAt('promote');
      await attempt(w, rot.id);
      w.store.rotation(rot.id).step = 'promote';
      w.iam.calls.length = 0;
      await w.keyRotation().run(rot.id);
      expect(w.iam.calls).toEqual([expect.stringMatching(/^updateAccessKey alice alice /)]);
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['previous', 'current']);
    });

    it('crash after the promotion (step retire): only retire runs', async () => {
      const { w, key, secret, rot } = selfMode();
      w.faults.crashAt('retire');
      await attempt(w, rot.id);
      expect(w.store.rotation(rot.id).step).toBe('retire');
      w.iam.calls.length = 0;
      await w.keyRotation().run(rot.id);
      expect(w.iam.calls).toEqual([`updateAccessKey alice alice ${key.accessKeyId}`]);
      expect(w.store.versionsOf(secret.id).map(([, s]) => s)).toEqual(['previous', 'current']);
      expect(w.store.rotation(rot.id).step).toBe('done');
    });

    it('an owed retire (succeeded, step retire) is retried and clears retirePending', async () => {
      const { w, rot } = selfMode();
      w.iam.failNext('updateAccessKey', iamErrors.unreachable('updateAccessKey'));
      await attempt(w, rot.id);
      await w.keyRotation().run(rot.id);
      expect(w.store.rotation(rot.id)).toMatchObject({ status: 'succeeded', step: 'done', retirePending: false });
    });

    it('step done: retire again is harmless (the previous key is inactive already)', async () => {
      const { w, rot } = selfMode();
      await w.keyRotation().run(rot.id);
      await w.keyRotation().run(rot.id);
      expect(w.iam.callsOf('createAccessKey')).toHaveLength(1);
      expect(w.store.rotation(rot.id).step).toBe('done');
    });
  });
});

describe('KeyRotationUseCase, privileged mode (an associated key secret of another user)', () => {
  it('the associated key makes every IAM call but the identity checks; the rotation records mode and executor', async () => {
    const { w, key, secret, rot, admin, adminKey } = privilegedMode();
    await w.keyRotation().run(rot.id);
    const newKey = w.store.fieldsIn(secret.id, 'current')!.accessKeyId;
    expect(w.iam.calls).toEqual([
      'getCallerIdentity alice',
      'listAccessKeys admin alice',
      'createAccessKey admin alice',
      'getCallerIdentity alice',
      `updateAccessKey admin alice ${key.accessKeyId}`,
    ]);
    expect(w.iam.callerKeys.at(-1)).toBe(adminKey.accessKeyId);
    expect(w.store.rotation(rot.id)).toMatchObject({ mode: 'privileged', executorSecretId: admin.id, step: 'done' });
    expect(w.iam.keyIds('alice')).toEqual([key.accessKeyId, newKey]);
  });

  it("a rejected current key is not fatal: CURRENT_KEY_INVALID is a warning, and the user id comes from GetUser", async () => {
    const { w, key, secret, rot } = privilegedMode();
    key.status = 'Inactive';
    await w.keyRotation().run(rot.id);
    expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.CURRENT_KEY_INVALID]);
    expect(w.iam.callsOf('getUser')).toEqual(['admin alice']);
    expect(w.store.secret(secret.id).iamUserId).toBe('AIDAALICE');
    expect(w.store.rotation(rot.id).step).toBe('done');
  });

  it('GetUser denied as well: USER_ID_UNCHECKED, and the rotation goes on', async () => {
    const { w, key, secret, rot } = privilegedMode();
    key.status = 'Inactive';
    w.iam.denied.add('getUser');
    await w.keyRotation().run(rot.id);
    expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.CURRENT_KEY_INVALID, WarningCode.USER_ID_UNCHECKED]);
    expect(w.store.secret(secret.id).iamUserId).toBeNull();
  });

  it('GetUser failing otherwise ends the attempt with that error', async () => {
    const { w, key, rot } = privilegedMode();
    key.status = 'Inactive';
    w.iam.failNext('getUser', iamErrors.noSuch('getUser', 'no-such-user'));
    expect(codeOf(await attempt(w, rot.id))).toBe(IamErrorCode.NoSuchEntity);
  });

  it('a re-created user seen through GetUser fails with USER_RECREATED', async () => {
    const { w, key, secret, rot } = privilegedMode();
    key.status = 'Inactive';
    w.store.secret(secret.id).iamUserId = 'AIDAOLD';
    expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.USER_RECREATED);
  });

  it('an associated secret that is gone fails with PRIVILEGED_SECRET_NOT_FOUND; one without a value with PRIVILEGED_SECRET_HAS_NO_VALUE', async () => {
    const a = privilegedMode();
    a.w.store.t.secrets.delete(a.admin.id);
    expect(codeOf(await attempt(a.w, a.rot.id))).toBe(ErrorCode.PRIVILEGED_SECRET_NOT_FOUND);

    const b = privilegedMode();
    b.w.store.t.versions = b.w.store.t.versions.filter((v) => v.secretId !== b.admin.id);
    expect(codeOf(await attempt(b.w, b.rot.id))).toBe(ErrorCode.PRIVILEGED_SECRET_HAS_NO_VALUE);
    expect(b.w.iam.calls).toEqual([]);
  });

  it('an associated key of the same IAM user runs in basic mode with that secret as executor', async () => {
    const w = new WorkerWorld();
    w.iam.addUser('alice', { keys: 1 });
    const other = w.keySecret('alice', w.iam.user('alice').keys[0], { name: 'alice-admin' });
    const own = w.iam.addKey('alice');
    const secret = w.keySecret('alice', own, { privilegedSecretId: other.id, name: 'alice' });
    const rot = w.store.addRotation({ secretId: secret.id });
    // Two keys already, one held by the executor secret: no room, and it is not this secret's to delete.
    const e = await attempt(w, rot.id);
    expect(w.store.rotation(rot.id)).toMatchObject({ mode: 'basic', executorSecretId: other.id });
    expect(codeOf(e)).toBe(ErrorCode.KEY_HELD_BY_OTHER_SECRET);
  });

  it('with the options given, the orphan window is [about to create − 2 s, + createWindowMs + 2 s]', async () => {
    const { w, rot } = privilegedMode();
    w.store.rotation(rot.id).aboutToCreateAt = new Date(w.clock.now() - ROTATION_OPTIONS.createWindowMs);
    const late = w.iam.addKey('alice', new Date(w.clock.now() + 2_001));
    expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.KEY_LIMIT_UNMANAGED);
    expect(w.iam.keyIds('alice')).toContain(late.accessKeyId);
  });
});

describe('KeyRotationUseCase, grace period of the previous key (previousKeyGraceSeconds)', () => {
  it('with a grace, promote ends the run with the previous key active and retire owed at retireAt', async () => {
    const { w, key, secret, rot } = selfMode();
    w.global.previousKeyGraceSeconds = 10;
    await w.keyRotation().run(rot.id);

    expect(w.iam.user('alice').keys.map((k) => k.status)).toEqual(['Active', 'Active']);
    expect(w.iam.calls.filter((c) => c.startsWith('updateAccessKey') || c.startsWith('deleteAccessKey'))).toEqual([]);
    expect(w.store.versionsOf(secret.id).map(([v, s]) => [v, s])).toEqual([
      [1, 'previous'],
      [2, 'current'],
    ]);
    expect(w.store.rotation(rot.id)).toMatchObject({ step: 'retire', retirePending: true, retireAt: new Date(w.clock.now() + 10_000), retiredAt: null });
    expect(w.store.t.events).toEqual([]);

    // Woken early (a re-delivered job): nothing happens before retireAt.
    await w.keyRotation().run(rot.id);
    expect(w.iam.user('alice').keys.find((k) => k.accessKeyId === key.accessKeyId)?.status).toBe('Active');

    // At retireAt: inactivated per the settings, retired_at stamped, previous-key.retired in the outbox.
    w.clock.advance(10_000);
    await w.keyRotation().run(rot.id);
    expect(w.iam.user('alice').keys.find((k) => k.accessKeyId === key.accessKeyId)?.status).toBe('Inactive');
    expect(w.store.rotation(rot.id)).toMatchObject({ step: 'done', retirePending: false, retiredAt: new Date(w.clock.now()) });
    expect(w.store.t.events).toEqual([
      expect.objectContaining({
        type: 'previous-key.retired',
        secretId: secret.id,
        payload: {
          rotationId: rot.id,
          secretId: secret.id,
          secretType: SecretType.AwsIamKey,
          version: 1,
          maskedKeyId: expect.stringMatching(/^AKIA…/),
          action: 'inactivated',
          retireAt: new Date(w.clock.now()).toISOString(),
          retiredAt: new Date(w.clock.now()).toISOString(),
          endedEarlyBy: null,
        },
      }),
    ]);
    expect(JSON.stringify(w.store.t.events)).not.toContain(key.secretAccessKey);
  });

  it('with shouldDeletePreviousKey, the key is deleted at retireAt and its version retired', async () => {
    const { w, key, secret, rot } = selfMode();
    w.global.previousKeyGraceSeconds = 60;
    w.global.shouldDeletePreviousKey = true;
    await w.keyRotation().run(rot.id);
    expect(w.iam.user('alice').keys).toHaveLength(2);
    w.clock.advance(60_000);
    await w.keyRotation().run(rot.id);
    expect(w.iam.user('alice').keys.map((k) => k.accessKeyId)).not.toContain(key.accessKeyId);
    expect(w.store.versionsOf(secret.id).map(([v, s]) => [v, s])).toEqual([
      [1, 'retired'],
      [2, 'current'],
    ]);
    expect(w.store.t.events.map((e) => [e.type, e.payload.action])).toEqual([['previous-key.retired', 'deleted']]);
  });

  it('a failed retire at retireAt stays owed (RetirePendingError) and keeps retireAt', async () => {
    const { w, key, rot } = selfMode();
    w.global.previousKeyGraceSeconds = 10;
    await w.keyRotation().run(rot.id);
    w.clock.advance(10_000);
    w.iam.failNext('updateAccessKey', iamErrors.accessDenied('updateAccessKey'));
    expect(await attempt(w, rot.id)).toBeInstanceOf(RetirePendingError);
    expect(w.store.rotation(rot.id)).toMatchObject({ retirePending: true, retiredAt: null, warnings: [expect.objectContaining({ code: WarningCode.RETIRE_FAILED })] });
    await w.keyRotation().run(rot.id);
    expect(w.iam.user('alice').keys.find((k) => k.accessKeyId === key.accessKeyId)?.status).toBe('Inactive');
    expect(w.store.rotation(rot.id)).toMatchObject({ step: 'done', retirePending: false });
  });

  it('a rotation requested during the grace retires that key first, warns GRACE_ENDED_EARLY, and never holds more than 2 keys', async () => {
    const { w, key, secret, rot } = selfMode();
    w.global.previousKeyGraceSeconds = 600;
    await w.keyRotation().run(rot.id);
    const second = w.store.addRotation({ secretId: secret.id });
    await w.keyRotation().run(second.id);

    const keys = w.iam.user('alice').keys;
    expect(keys).toHaveLength(2);
    expect(keys.map((k) => k.accessKeyId)).not.toContain(key.accessKeyId);
    // The first rotation's grace is over: retired early, by the second; its own job then has nothing to do.
    expect(w.store.rotation(rot.id)).toMatchObject({ step: 'done', retirePending: false });
    expect(w.store.rotation(rot.id).retiredAt!.getTime()).toBeLessThanOrEqual(w.clock.now());
    expect(w.store.rotation(second.id).warnings).toEqual([expect.objectContaining({ code: WarningCode.GRACE_ENDED_EARLY })]);
    expect(w.store.rotation(second.id).warnings[0].message).toContain(rot.id);
    expect(w.store.t.events.map((e) => [e.type, e.payload.rotationId, e.payload.action, e.payload.endedEarlyBy])).toEqual([
      ['previous-key.retired', rot.id, 'inactivated', second.id],
    ]);
    // The second change is in its own grace now, for the key the first one made.
    expect(w.store.rotation(second.id)).toMatchObject({ retirePending: true, step: 'retire' });
    expect(keys.map((k) => k.status)).toEqual(['Active', 'Active']);
  });

  it('a grace rotation whose version a later change replaced retires nothing of the newer keys', async () => {
    const { w, secret, rot } = selfMode();
    w.global.previousKeyGraceSeconds = 10;
    await w.keyRotation().run(rot.id);
    // Simulate a later change that moved on without ending this grace (the secret's current is no longer ours).
    const second = w.store.addRotation({ secretId: secret.id });
    w.global.previousKeyGraceSeconds = 0;
    w.store.rotation(rot.id).retirePending = false; // hidden from the second's end-grace scan
    await w.keyRotation().run(second.id);
    w.store.rotation(rot.id).retirePending = true;
    const before = w.iam.user('alice').keys.map((k) => [k.accessKeyId, k.status]);
    w.clock.advance(10_000);
    await w.keyRotation().run(rot.id);
    expect(w.iam.user('alice').keys.map((k) => [k.accessKeyId, k.status])).toEqual(before);
    expect(w.store.rotation(rot.id)).toMatchObject({ step: 'done', retirePending: false });
  });
});
