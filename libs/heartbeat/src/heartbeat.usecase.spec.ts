import { ErrorCode, IamErrorCode } from '@keyturn/contracts';
import type { HeartbeatEntity, SecretEntity } from '@keyturn/store';
import { fakeCipher, CONFIG, WorkerWorld, iamErrors, type FakeKey } from '../../../test/unit-fakes/worker.fixture.js';
import { HeartbeatUseCase, KEY_LISTING_MAX_AGE_MS } from './heartbeat.usecase.js';

// The heartbeat (docs/architecture.md, "Heartbeats"): GetCallerIdentity with
// the stored current key, recorded only if that key is still current, a status
// change announced (outbox event + audit), throttling put back.

const HOUR = 3_600_000;

interface World {
  w: WorkerWorld;
  key: FakeKey;
  secret: SecretEntity;
  hb: HeartbeatEntity;
  useCase: HeartbeatUseCase;
}

function world(opts: { status?: SecretEntity['heartbeatStatus']; failures?: number } = {}): World {
  const w = new WorkerWorld();
  w.iam.addUser('alice', { keys: 1 });
  const key = w.iam.user('alice').keys[0];
  const secret = w.keySecret('alice', key, { heartbeatStatus: opts.status ?? 'unknown', heartbeatFailures: opts.failures ?? 0 });
  const hb = w.store.addHeartbeat({ secretId: secret.id });
  const useCase = new HeartbeatUseCase(w.store.heartbeats, w.store.versions, w.store.transactions, fakeCipher, w.iam, CONFIG, w.clock);
  return { w, key, secret, hb, useCase };
}

describe('HeartbeatUseCase', () => {
  it('a working key: success, with the ARN, the key status and age; the secret is due again after the interval', async () => {
    const { w, key, secret, hb, useCase } = world();
    expect(await useCase.execute(hb.id)).toEqual({ kind: 'done' });
    expect(w.iam.calls).toEqual(['getCallerIdentity alice', 'listAccessKeys alice alice']);
    expect(w.store.heartbeat(hb.id)).toMatchObject({
      status: 'done',
      outcome: 'success',
      attempt: 1,
      leaseExpiresAt: null,
      finishedAt: new Date(w.clock.now()),
      checkedArn: 'arn:aws:iam::111111111111:user/alice',
      keyStatus: 'Active',
      keyCreatedAt: key.createDate,
      errorCode: null,
    });
    expect(w.store.secret(secret.id)).toMatchObject({
      heartbeatStatus: 'success',
      heartbeatFailures: 0,
      lastHeartbeatAt: new Date(w.clock.now()),
      nextHeartbeatAt: new Date(w.clock.now() + HOUR),
    });
    // No status change (unknown → success is one; see the world's status): here it is, so the result went through the transaction.
    expect(w.store.transactionsRun).toEqual(['committed']);
    expect(w.store.locked).toEqual([secret.id, secret.id]);
  });

  it('the common case (status unchanged) is one call without a transaction, under the secret’s row lock, with the same rows', async () => {
    const { w, key, secret, hb, useCase } = world({ status: 'failed', failures: 2 });
    key.status = 'Inactive';
    expect(await useCase.execute(hb.id)).toEqual({ kind: 'done' });
    expect(w.store.transactionsRun).toEqual([]);
    expect(w.store.locked).toEqual([secret.id]);
    expect(w.store.heartbeat(hb.id)).toMatchObject({ status: 'done', outcome: 'failed', finishedAt: new Date(w.clock.now()), leaseExpiresAt: null, errorCode: IamErrorCode.InvalidCredentials });
    expect(w.store.secret(secret.id)).toMatchObject({ heartbeatStatus: 'failed', heartbeatFailures: 3, lastHeartbeatAt: new Date(w.clock.now()), nextHeartbeatAt: new Date(w.clock.now() + 4 * HOUR) });
    expect(w.store.t.events).toEqual([]);
    expect(w.store.t.audit).toEqual([]);
  });

  it('a status change is an event with one delivery per webhook URL, and an audit entry, in the same transaction', async () => {
    const { w, secret, hb, useCase } = world({ status: 'failed' });
    await useCase.execute(hb.id);
    expect(w.store.t.events).toEqual([
      {
        id: expect.any(String),
        type: 'heartbeat.status-changed',
        secretId: secret.id,
        payload: { secretId: secret.id, heartbeatId: hb.id, from: 'failed', to: 'success', errorCode: null },
        deliveries: CONFIG.webhooks.urls,
      },
    ]);
    expect(w.store.t.audit).toEqual([
      expect.objectContaining({
        actorId: 'system:heartbeat',
        action: 'heartbeat.status-changed',
        outcome: 'success',
        targetType: 'heartbeat',
        targetId: hb.id,
        secretId: secret.id,
        details: { from: 'failed', to: 'success' },
      }),
    ]);
  });

  it('an unchanged status announces nothing', async () => {
    const { w, hb, useCase } = world({ status: 'success' });
    await useCase.execute(hb.id);
    expect(w.store.t.events).toEqual([]);
    expect(w.store.t.audit).toEqual([]);
  });

  it('the interval comes from the settings when set (global, or the secret\'s own)', async () => {
    const { w, secret, hb, useCase } = world();
    w.global.heartbeatIntervalSeconds = 600;
    await useCase.execute(hb.id);
    expect(w.store.secret(secret.id).nextHeartbeatAt).toEqual(new Date(w.clock.now() + 600_000));

    const b = world();
    b.w.store.secret(b.secret.id).settings = { heartbeatIntervalSeconds: 60 };
    await b.useCase.execute(b.hb.id);
    expect(b.w.store.secret(b.secret.id).nextHeartbeatAt).toEqual(new Date(b.w.clock.now() + 60_000));
  });

  it('a key AWS rejects: failed with IAM_INVALID_CREDENTIALS, one more consecutive failure, due again after the interval', async () => {
    const { w, key, secret, hb, useCase } = world();
    key.status = 'Inactive';
    await useCase.execute(hb.id);
    expect(w.store.heartbeat(hb.id)).toMatchObject({ outcome: 'failed', errorCode: IamErrorCode.InvalidCredentials });
    expect(w.store.secret(secret.id)).toMatchObject({ heartbeatStatus: 'failed', heartbeatFailures: 1, nextHeartbeatAt: new Date(w.clock.now() + HOUR) });
  });

  it.each([
    [1, 2],
    [2, 4],
    [3, 8],
    [9, 8],
  ])('after %i earlier failures the next check waits %i× the interval (at most 8×)', async (before, factor) => {
    const { w, key, secret, hb, useCase } = world({ status: 'failed', failures: before });
    key.status = 'Inactive';
    await useCase.execute(hb.id);
    expect(w.store.secret(secret.id)).toMatchObject({ heartbeatFailures: before + 1, nextHeartbeatAt: new Date(w.clock.now() + factor * HOUR) });
  });

  it('a key that answers as another user: failed with KEY_BELONGS_TO_OTHER_USER and the ARN it answered with', async () => {
    const { w, key, hb, useCase } = world();
    w.iam.addUser('bob');
    w.iam.answersAs.set(key.accessKeyId, 'bob');
    await useCase.execute(hb.id);
    expect(w.store.heartbeat(hb.id)).toMatchObject({ outcome: 'failed', errorCode: ErrorCode.KEY_BELONGS_TO_OTHER_USER, checkedArn: 'arn:aws:iam::111111111111:user/bob' });
    expect(w.iam.callsOf('listAccessKeys')).toEqual([]);
  });

  it('AWS out of reach: unable-to-connect with IAM_UNREACHABLE', async () => {
    const { w, secret, hb, useCase } = world();
    w.iam.failNext('getCallerIdentity', iamErrors.unreachable('getCallerIdentity'));
    await useCase.execute(hb.id);
    expect(w.store.heartbeat(hb.id)).toMatchObject({ outcome: 'unable-to-connect', errorCode: IamErrorCode.Unreachable });
    expect(w.store.secret(secret.id)).toMatchObject({ heartbeatStatus: 'unable-to-connect', heartbeatFailures: 1 });
  });

  it('throttling says nothing about the key: the heartbeat is put back and retried later, the secret untouched', async () => {
    const { w, secret, hb, useCase } = world({ status: 'success' });
    w.iam.failNext('getCallerIdentity', iamErrors.throttled('getCallerIdentity'));
    expect(await useCase.execute(hb.id)).toEqual({ kind: 'later', delayMs: 4_000, reason: 'throttled' });
    expect(w.store.heartbeat(hb.id)).toMatchObject({ status: 'queued', leaseExpiresAt: null, outcome: null });
    expect(w.store.secret(secret.id)).toMatchObject({ heartbeatStatus: 'success', heartbeatFailures: 0, lastHeartbeatAt: null });
    // The second try waits longer (by its attempt).
    w.iam.failNext('listAccessKeys', iamErrors.throttled('listAccessKeys'));
    expect(await useCase.execute(hb.id)).toEqual({ kind: 'later', delayMs: 8_000, reason: 'throttled' });
  });

  it('a key that may not list its keys still succeeds, without status and age', async () => {
    const { w, hb, useCase } = world();
    w.iam.denied.add('listAccessKeys');
    await useCase.execute(hb.id);
    expect(w.store.heartbeat(hb.id)).toMatchObject({ outcome: 'success', keyStatus: null, keyCreatedAt: null });
  });

  it('another IAM failure while listing counts as unable-to-connect, with its code', async () => {
    const { w, hb, useCase } = world();
    w.iam.failNext('listAccessKeys', iamErrors.noSuch('listAccessKeys', 'no-such-user'));
    await useCase.execute(hb.id);
    expect(w.store.heartbeat(hb.id)).toMatchObject({ outcome: 'unable-to-connect', errorCode: IamErrorCode.NoSuchEntity });
  });

  it('a failure that is not an IAM error ends the run with it, the heartbeat still running (its lease lapses, it is claimed again)', async () => {
    const { w, hb, useCase } = world();
    const boom = new Error('boom');
    w.iam.failNext('getCallerIdentity', boom);
    await expect(useCase.execute(hb.id)).rejects.toBe(boom);
    expect(w.store.heartbeat(hb.id).status).toBe('running');
  });

  it('a secret without a current value: failed with SECRET_HAS_NO_VALUE, no IAM call', async () => {
    const { w, secret, hb, useCase } = world();
    w.store.t.versions = [];
    await useCase.execute(hb.id);
    expect(w.store.heartbeat(hb.id)).toMatchObject({ outcome: 'failed', errorCode: ErrorCode.SECRET_HAS_NO_VALUE });
    expect(w.store.secret(secret.id).heartbeatStatus).toBe('failed');
    expect(w.iam.calls).toEqual([]);
  });

  it('an adopted key (its secret unknown): no IAM call, ends with SECRET_VALUE_UNKNOWN and no outcome; the secret is left as it was', async () => {
    const { w, secret, hb, useCase } = world({ status: 'unknown' });
    w.store.t.versions.find((v) => v.secretId === secret.id)!.secretUnknown = true;
    expect(await useCase.execute(hb.id)).toEqual({ kind: 'done' });
    expect(w.store.heartbeat(hb.id)).toMatchObject({ status: 'done', outcome: null, errorCode: ErrorCode.SECRET_VALUE_UNKNOWN });
    expect(w.store.heartbeat(hb.id).errorMessage).toContain('adopted');
    expect(w.store.secret(secret.id)).toMatchObject({ heartbeatStatus: 'unknown', heartbeatFailures: 0 });
    expect(w.iam.calls).toEqual([]);
    expect(w.store.t.events).toEqual([]);
  });

  it('a heartbeat already done, or running under a live lease, is not claimed: done, nothing checked', async () => {
    const a = world();
    a.w.store.heartbeat(a.hb.id).status = 'done';
    expect(await a.useCase.execute(a.hb.id)).toEqual({ kind: 'done' });
    const b = world();
    Object.assign(b.w.store.heartbeat(b.hb.id), { status: 'running', leaseExpiresAt: new Date(b.w.clock.now() + 1_000) });
    expect(await b.useCase.execute(b.hb.id)).toEqual({ kind: 'done' });
    expect([...a.w.iam.calls, ...b.w.iam.calls]).toEqual([]);
  });

  it('a running heartbeat whose lease lapsed (its worker died) is claimed again', async () => {
    const { w, hb, useCase } = world();
    Object.assign(w.store.heartbeat(hb.id), { status: 'running', attempt: 1, leaseExpiresAt: new Date(w.clock.now() - 1) });
    await useCase.execute(hb.id);
    expect(w.store.heartbeat(hb.id)).toMatchObject({ status: 'done', outcome: 'success', attempt: 2 });
  });

  describe('the admission (the worker\'s fair share), asked alongside the claim', () => {
    it('is asked before any AWS call and while the claim is under way; a job it admits runs as without one', async () => {
      const { w, hb, useCase } = world();
      const seen: string[] = [];
      const gate = async () => {
        // Asked before the claim has answered: the row is still queued.
        seen.push(`asked with the heartbeat ${w.store.heartbeat(hb.id).status}, ${w.iam.calls.length} AWS calls made`);
        return { run: true as const };
      };
      expect(await useCase.execute(hb.id, gate)).toEqual({ kind: 'done' });
      expect(seen).toEqual(['asked with the heartbeat queued, 0 AWS calls made']);
      expect(w.store.heartbeat(hb.id)).toMatchObject({ status: 'done', outcome: 'success', attempt: 1 });
    });

    it('a job it parks makes no AWS call: the heartbeat is put back as after throttling, and tried again after its delay', async () => {
      const { w, secret, hb, useCase } = world({ status: 'success' });
      const parked = { run: false as const, delayMs: 1_234, reason: 'fair share' };
      expect(await useCase.execute(hb.id, async () => parked)).toEqual({ kind: 'later', delayMs: 1_234, reason: 'fair share' });
      expect(w.iam.calls).toEqual([]);
      expect(w.store.heartbeat(hb.id)).toMatchObject({ status: 'queued', leaseExpiresAt: null, outcome: null });
      expect(w.store.secret(secret.id)).toMatchObject({ heartbeatStatus: 'success', heartbeatFailures: 0, lastHeartbeatAt: null });
      // Admitted the next time, it runs.
      expect(await useCase.execute(hb.id, async () => ({ run: true as const }))).toEqual({ kind: 'done' });
      expect(w.store.heartbeat(hb.id)).toMatchObject({ status: 'done', outcome: 'success' });
    });

    it('a heartbeat with nothing left to do is done whatever the admission says (nothing to put back)', async () => {
      const { w, hb, useCase } = world();
      w.store.heartbeat(hb.id).status = 'done';
      expect(await useCase.execute(hb.id, async () => ({ run: false as const, delayMs: 1_000, reason: 'fair share' }))).toEqual({ kind: 'done' });
      expect(w.store.heartbeat(hb.id).status).toBe('done');
      expect(w.iam.calls).toEqual([]);
    });
  });

  it('a deleted secret: done, nothing checked', async () => {
    const { w, secret, hb, useCase } = world();
    w.store.t.secrets.delete(secret.id);
    expect(await useCase.execute(hb.id)).toEqual({ kind: 'done' });
    expect(w.iam.calls).toEqual([]);
  });

  describe('AWS calls: one per heartbeat, the keys listed at most daily', () => {
    const current = (w: WorkerWorld, secretId: string) => w.store.t.versions.find((v) => v.secretId === secretId && v.state === 'current')!;
    /** The next heartbeat of the secret, `ms` later. */
    const next = (x: World, ms: number) => {
      x.w.clock.advance(ms);
      x.w.iam.calls.length = 0;
      return x.w.store.addHeartbeat({ secretId: x.secret.id });
    };

    it('the first heartbeat lists the keys and stores the listing on the version; the next ones within a day are GetCallerIdentity alone, with status and age from it', async () => {
      const x = world();
      const { w, key, secret, useCase } = x;
      await useCase.execute(x.hb.id);
      expect(current(w, secret.id)).toMatchObject({ keyStatus: 'Active', keyCreatedAt: key.createDate, keyListedAt: new Date(w.clock.now()) });

      const hb = next(x, KEY_LISTING_MAX_AGE_MS - 1);
      await useCase.execute(hb.id);
      expect(w.iam.calls).toEqual(['getCallerIdentity alice']);
      expect(w.store.heartbeat(hb.id)).toMatchObject({ outcome: 'success', keyStatus: 'Active', keyCreatedAt: key.createDate });
    });

    it('a day after the last listing the keys are listed again, and the new listing stored', async () => {
      const x = world();
      const { w, secret, useCase } = x;
      await useCase.execute(x.hb.id);
      const hb = next(x, KEY_LISTING_MAX_AGE_MS);
      await useCase.execute(hb.id);
      expect(w.iam.calls).toEqual(['getCallerIdentity alice', 'listAccessKeys alice alice']);
      expect(current(w, secret.id).keyListedAt).toEqual(new Date(w.clock.now()));
    });

    it('a key inactivated out of band between listings is still seen at once: GetCallerIdentity fails, the one call', async () => {
      const x = world();
      const { w, key, useCase } = x;
      await useCase.execute(x.hb.id);
      key.status = 'Inactive';
      const hb = next(x, 60_000);
      await useCase.execute(hb.id);
      expect(w.iam.calls).toEqual(['getCallerIdentity alice']);
      expect(w.store.heartbeat(hb.id)).toMatchObject({ outcome: 'failed', errorCode: IamErrorCode.InvalidCredentials });
    });

    it('a key that may not list its keys is not asked again before a day has passed (and reports no status or age)', async () => {
      const x = world();
      const { w, secret, useCase } = x;
      w.iam.denied.add('listAccessKeys');
      await useCase.execute(x.hb.id);
      expect(current(w, secret.id)).toMatchObject({ keyStatus: null, keyCreatedAt: null, keyListedAt: new Date(w.clock.now()) });
      const hb = next(x, 60_000);
      await useCase.execute(hb.id);
      expect(w.iam.calls).toEqual(['getCallerIdentity alice']);
      expect(w.store.heartbeat(hb.id)).toMatchObject({ outcome: 'success', keyStatus: null, keyCreatedAt: null });
    });

    it('a listing is stored only with a result that counts (the checked key still current)', async () => {
      const x = world();
      const { w, secret, useCase } = x;
      const first = current(w, secret.id);
      const real = w.iam.getCallerIdentity.bind(w.iam);
      let rotated = false;
      w.iam.getCallerIdentity = async (c) => {
        const answer = await real(c);
        if (!rotated) {
          rotated = true;
          const k = w.iam.addKey('alice', new Date(w.clock.now()));
          first.state = 'previous';
          w.store.addVersion(secret.id, 'current', { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey });
        }
        return answer;
      };
      await useCase.execute(x.hb.id);
      expect(w.store.t.versions.find((v) => v.id === first.id)!.keyListedAt).toBeNull();
      expect(current(w, secret.id).keyListedAt).toEqual(new Date(w.clock.now()));
    });
  });

  describe('heartbeat versus rotation', () => {
    /** During each GetCallerIdentity, a rotation promotes a new key (`times` times). */
    function rotateDuringChecks(x: World, times: number): void {
      const { w, secret } = x;
      const real = w.iam.getCallerIdentity.bind(w.iam);
      let left = times;
      w.iam.getCallerIdentity = async (c) => {
        const answer = await real(c);
        if (left-- > 0) {
          const k = w.iam.addKey('alice', new Date(w.clock.now()));
          w.store.t.versions.filter((v) => v.secretId === secret.id && v.state === 'current').forEach((v) => (v.state = 'previous'));
          w.store.addVersion(secret.id, 'current', { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey });
        }
        return answer;
      };
    }

    it('a check of a key that stopped being current records nothing, and the new current key is checked', async () => {
      const x = world();
      rotateDuringChecks(x, 1);
      await x.useCase.execute(x.hb.id);
      const { w, secret, hb } = x;
      expect(w.iam.callsOf('getCallerIdentity')).toHaveLength(2);
      expect(w.iam.callerKeys.at(-2)).toBe(w.store.fieldsIn(secret.id, 'current')!.accessKeyId);
      expect(w.store.heartbeat(hb.id)).toMatchObject({ status: 'done', outcome: 'success' });
      // The stale check's finish wrote nothing and ran no transaction; the second check's status change (unknown → success) ran one.
      expect(w.store.transactionsRun).toEqual(['committed']);
      expect(w.store.locked).toEqual([secret.id, secret.id, secret.id]);
    });

    it('if the key changes under all three checks, the heartbeat ends with KEY_CHANGED_DURING_CHECK and no outcome; the secret is left as it was', async () => {
      const x = world({ status: 'success' });
      rotateDuringChecks(x, 3);
      expect(await x.useCase.execute(x.hb.id)).toEqual({ kind: 'done' });
      const { w, secret, hb } = x;
      expect(w.iam.callsOf('getCallerIdentity')).toHaveLength(3);
      expect(w.store.heartbeat(hb.id)).toMatchObject({ status: 'done', outcome: null, errorCode: ErrorCode.KEY_CHANGED_DURING_CHECK });
      expect(w.store.heartbeat(hb.id).errorMessage).toContain('3');
      expect(w.store.secret(secret.id)).toMatchObject({ heartbeatStatus: 'success', lastHeartbeatAt: null });
      expect(w.store.t.events).toEqual([]);
    });
  });
});
