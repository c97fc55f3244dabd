import { ErrorCode, KeyturnError, WarningCode } from '@keyturn/contracts';
import type { RotationEntity, SecretEntity } from '@keyturn/store';
import { SimulatedCrash, WorkerWorld, type FakeKey } from '../../../../test/unit-fakes/worker.fixture.js';

// Adoption (issue 15 item 3): the current version is a key whose secret part
// nobody knows. Every check the protocol makes with the current key is made by
// the executor instead; the adopted key becomes the previous version and is
// retired by the settings. A named second key (deleteFindingId) is deleted first.

const attempt = (w: WorkerWorld, rotationId: string) => w.attemptKeyRotation(rotationId);

const codeOf = (e: unknown) => (e instanceof KeyturnError ? e.code : e instanceof SimulatedCrash ? 'crash' : String(e));

interface Adoption {
  w: WorkerWorld;
  admin: SecretEntity;
  adminKey: FakeKey;
  adopted: FakeKey;
  secret: SecretEntity;
  rot: RotationEntity;
}

/** alice's key `adopted`, adopted through admin's key secret; `extra` more keys of alice nobody manages. */
function adoption(opts: { extra?: number; deleteExtra?: boolean } = {}): Adoption & { others: FakeKey[] } {
  const w = new WorkerWorld();
  w.iam.addUser('admin', { keys: 1 });
  w.iam.addUser('alice', { keys: 1 + (opts.extra ?? 0) });
  const adminKey = w.iam.user('admin').keys[0];
  const admin = w.keySecret('admin', adminKey);
  const [adopted, ...others] = w.iam.user('alice').keys;
  const secret = w.adoptedSecret('alice', adopted, admin.id);
  const rot = w.store.addRotation({ secretId: secret.id, deleteKeyIdHmac: opts.deleteExtra ? `k1:${others[0].accessKeyId}` : null });
  return { w, admin, adminKey, adopted, others, secret, rot };
}

const states = (w: WorkerWorld, secretId: string) => w.store.versionsOf(secretId).map(([v, s, f]) => [v, s, Object.keys(f).sort()]);

describe('KeyRotationUseCase, adoption of a key whose secret is unknown', () => {
  it('with a free slot: the executor lists the keys, creates, verifies and promotes; the adopted key becomes previous and is inactivated', async () => {
    const { w, adminKey, adopted, secret, rot } = adoption();
    await w.keyRotation().run(rot.id);

    const [fresh] = w.iam.user('alice').keys.filter((k) => k.accessKeyId !== adopted.accessKeyId);
    expect(w.iam.calls).toEqual([
      'listAccessKeys admin alice',
      'getUser admin alice',
      'listAccessKeys admin alice',
      'createAccessKey admin alice',
      'getCallerIdentity alice',
      `updateAccessKey admin alice ${adopted.accessKeyId}`,
    ]);
    // The adopted key never signed anything: it has no secret part.
    expect(w.iam.callerKeys.filter((k) => k === adopted.accessKeyId)).toEqual([]);
    expect(w.iam.callerKeys[0]).toBe(adminKey.accessKeyId);
    expect(states(w, secret.id)).toEqual([
      [1, 'previous', ['accessKeyId']],
      [2, 'current', ['accessKeyId', 'secretAccessKey']],
    ]);
    expect(w.store.fieldsIn(secret.id, 'current')).toEqual({ accessKeyId: fresh.accessKeyId, secretAccessKey: fresh.secretAccessKey });
    expect(w.iam.user('alice').keys.map((k) => [k.accessKeyId, k.status])).toEqual([
      [adopted.accessKeyId, 'Inactive'],
      [fresh.accessKeyId, 'Active'],
    ]);
    expect(w.store.rotation(rot.id)).toMatchObject({ step: 'done', mode: 'privileged', warnings: [] });
    expect(w.store.secret(secret.id).iamUserId).toBe('AIDAALICE');
  });

  it('with shouldDeletePreviousKey and a grace: the adopted key keeps working until retireAt, then is deleted', async () => {
    const { w, adopted, secret, rot } = adoption();
    w.global.shouldDeletePreviousKey = true;
    w.global.previousKeyGraceSeconds = 5;
    await w.keyRotation().run(rot.id);
    expect(w.iam.keyIds('alice')).toContain(adopted.accessKeyId);
    expect(w.store.rotation(rot.id)).toMatchObject({ step: 'retire', retirePending: true, retireAt: new Date(w.clock.now() + 5_000) });

    w.clock.advance(5_000);
    await w.keyRotation().run(rot.id);
    expect(w.iam.keyIds('alice')).not.toContain(adopted.accessKeyId);
    expect(w.iam.callsOf('deleteAccessKey')).toEqual([`admin alice ${adopted.accessKeyId}`]);
    expect(states(w, secret.id).map(([v, s]) => [v, s])).toEqual([
      [1, 'retired'],
      [2, 'current'],
    ]);
  });

  it('a user at two keys: the named other key is deleted first (NAMED_KEY_DELETED), then the new key is created', async () => {
    const { w, adopted, others, secret, rot } = adoption({ extra: 1, deleteExtra: true });
    await w.keyRotation().run(rot.id);
    expect(w.iam.callsOf('deleteAccessKey')).toEqual([`admin alice ${others[0].accessKeyId}`]);
    expect(w.iam.calls.indexOf(`deleteAccessKey admin alice ${others[0].accessKeyId}`)).toBeLessThan(w.iam.calls.indexOf('createAccessKey admin alice'));
    expect(w.store.warningCodes(rot.id)).toEqual([WarningCode.NAMED_KEY_DELETED]);
    expect(w.iam.keyIds('alice')).toEqual([adopted.accessKeyId, w.store.fieldsIn(secret.id, 'current')!.accessKeyId]);
  });

  it('a user at two keys without a named key fails with KEY_LIMIT_UNMANAGED and creates nothing', async () => {
    const { w, rot } = adoption({ extra: 1 });
    const before = w.iam.keyIds('alice');
    expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.KEY_LIMIT_UNMANAGED);
    expect(w.iam.keyIds('alice')).toEqual(before);
    expect(w.iam.callsOf('createAccessKey')).toEqual([]);
  });

  it('a named key another secret took meanwhile is never deleted: KEY_HELD_BY_OTHER_SECRET', async () => {
    const { w, others, rot } = adoption({ extra: 1, deleteExtra: true });
    const holder = w.keySecret('alice', others[0], { name: 'other' });
    const e = await attempt(w, rot.id);
    expect(codeOf(e)).toBe(ErrorCode.KEY_HELD_BY_OTHER_SECRET);
    expect((e as Error).message).toContain(holder.id);
    expect(w.iam.callsOf('deleteAccessKey')).toEqual([]);
  });

  it('a named key that is the adopted key itself is never deleted', async () => {
    const { w, adopted, secret, rot } = adoption();
    w.store.rotation(rot.id).deleteKeyIdHmac = `k1:${adopted.accessKeyId}`;
    await w.keyRotation().run(rot.id);
    expect(w.iam.callsOf('deleteAccessKey')).toEqual([]);
    expect(w.store.fieldsIn(secret.id, 'previous')).toEqual({ accessKeyId: adopted.accessKeyId });
  });

  it('the adopted key deleted in AWS since the request: ADOPTED_KEY_GONE, nothing created', async () => {
    const { w, adopted, rot } = adoption();
    w.iam.user('alice').keys = w.iam.user('alice').keys.filter((k) => k !== adopted);
    const e = await attempt(w, rot.id);
    expect(codeOf(e)).toBe(ErrorCode.ADOPTED_KEY_GONE);
    expect((e as Error).message).not.toContain(adopted.accessKeyId);
    expect(w.iam.callsOf('createAccessKey')).toEqual([]);
  });

  it('without a privileged account an adopted key cannot change: PRIVILEGED_ACCOUNT_REQUIRED, no IAM call', async () => {
    const { w, secret, rot } = adoption();
    w.store.secret(secret.id).privilegedSecretId = null;
    expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.PRIVILEGED_ACCOUNT_REQUIRED);
    expect(w.iam.calls).toEqual([]);
  });

  it('an adopted key cannot act as a privileged account (it has no secret part): PRIVILEGED_SECRET_HAS_NO_VALUE', async () => {
    const { w, secret } = adoption();
    w.iam.addUser('bob', { keys: 1 });
    const bob = w.keySecret('bob', w.iam.user('bob').keys[0], { privilegedSecretId: secret.id });
    const rot = w.store.addRotation({ secretId: bob.id });
    expect(codeOf(await attempt(w, rot.id))).toBe(ErrorCode.PRIVILEGED_SECRET_HAS_NO_VALUE);
    expect(w.iam.calls).toEqual([]);
  });

  describe('resuming after a crash at each step', () => {
    const points = ['prepare', 'make-room', 'make-room:after-named-delete', 'create', 'create:after-aws', 'verify', 'promote', 'retire', 'retire:after-aws'];
    for (const point of points) {
      it(`crash at ${point}: the next attempt ends with one new key current, the adopted key previous and inactive, the named key deleted`, async () => {
        const { w, adopted, others, secret, rot } = adoption({ extra: 1, deleteExtra: true });
        w.faults.crashAt(point);
        // A crash right after the retire's AWS call surfaces as the retire's own failure (retried).
        expect(codeOf(await attempt(w, rot.id))).toMatch(/crash/);
        w.clock.advance(3_000);
        await w.keyRotation().run(rot.id);

        const current = w.store.fieldsIn(secret.id, 'current')!;
        expect(current.secretAccessKey).toBeDefined();
        expect(w.store.fieldsIn(secret.id, 'previous')).toEqual({ accessKeyId: adopted.accessKeyId });
        expect(w.iam.user('alice').keys.map((k) => [k.accessKeyId, k.status])).toEqual([
          [adopted.accessKeyId, 'Inactive'],
          [current.accessKeyId, 'Active'],
        ]);
        expect(w.iam.keyIds('alice')).not.toContain(others[0].accessKeyId);
        expect(w.store.rotation(rot.id)).toMatchObject({ step: 'done', retirePending: false });
        // Never a second key created for the same attempt, except one that make-room found as an orphan and deleted.
        const created = w.iam.callsOf('createAccessKey').length;
        expect(created).toBe(point === 'create:after-aws' ? 2 : 1);
      });
    }
  });
});
