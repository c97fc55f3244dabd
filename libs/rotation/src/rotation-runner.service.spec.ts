import { ErrorCode, IamErrorCode, KeyturnError, SecretType, WarningCode } from '@keyturn/contracts';
import type { RotationEntity, SecretEntity } from '@keyturn/store';
import { CONFIG, WorkerWorld, iamErrors } from '../../../test/unit-fakes/worker.fixture.js';
import { RetirePendingError } from './rotation-error.js';
import { MAX_RETIRE_TRIES, RotationRunner, iamUserLockKey } from './rotation-runner.service.js';
import { assertEveryTypeHandled, type ChangeUseCase, type ChangeUseCases } from './change-use-cases.js';

// The runner's guards and outcomes (docs/architecture.md, "Running a change"):
// the IAM-user lock, the lease on the rotation row, and what each way a change
// use case ends does to the row, the outbox and the audit log.

/** A change use case that does what the spec says, and counts its runs. */
class ScriptedUseCase implements ChangeUseCase {
  readonly runs: string[] = [];
  /** The row each run was handed (the claim's). */
  readonly claimed: (RotationEntity | undefined)[] = [];
  constructor(private readonly script: (rotationId: string) => Promise<void> = async () => undefined) {}
  async run(rotationId: string, claimed?: RotationEntity): Promise<void> {
    this.runs.push(rotationId);
    this.claimed.push(claimed && structuredClone(claimed));
    await this.script(rotationId);
  }
}

interface World {
  w: WorkerWorld;
  secret: SecretEntity;
  rot: RotationEntity;
  keys: ScriptedUseCase;
  passwords: ScriptedUseCase;
  runner: RotationRunner;
}

function world(script?: (w: WorkerWorld, rotationId: string) => Promise<void>, type = SecretType.AwsIamKey): World {
  const w = new WorkerWorld();
  const secret = w.store.addSecret({ type, username: 'Alice' });
  const rot = w.store.addRotation({ secretId: secret.id });
  const scripted = new ScriptedUseCase(script && ((id) => script(w, id)));
  const idle = new ScriptedUseCase();
  const keys = type === SecretType.AwsIamKey ? scripted : idle;
  const passwords = type === SecretType.AwsIamKey ? idle : scripted;
  const useCases: ChangeUseCases = { [SecretType.AwsIamKey]: keys, [SecretType.AwsIamConsolePassword]: passwords };
  const runner = new RotationRunner(w.store.rotations, w.store.transactions, useCases, w.leaseLocks, CONFIG, w.clock);
  runner.onModuleInit();
  return { w, secret, rot, keys, passwords, runner };
}

describe('RotationRunner', () => {
  it('runs the use case of the secret type under the IAM-user lock and the lease; a success is announced once', async () => {
    const { w, secret, rot, keys, passwords, runner } = world(async (w, id) => {
      // While it runs: the rotation is leased to this runner, and the user's lock is held.
      expect(w.store.rotation(id)).toMatchObject({ status: 'running', leaseOwner: runner.owner, attempt: 1 });
      // What promote leaves: the new value is version 2.
      const secretId = w.store.rotation(id).secretId;
      w.store.addVersion(secretId, 'previous', { accessKeyId: 'AKIAOLD0000000000000', secretAccessKey: 'old' });
      w.store.addVersion(secretId, 'current', { accessKeyId: 'AKIANEW0000000000000', secretAccessKey: 'new' });
      expect([...w.locks.held.keys()]).toEqual([iamUserLockKey(secret.accountId, 'alice')]);
    });
    expect(await runner.execute(rot.id)).toEqual({ kind: 'done' });
    expect(keys.runs).toEqual([rot.id]);
    expect(passwords.runs).toEqual([]);
    expect(w.store.rotation(rot.id)).toMatchObject({ status: 'succeeded', leaseOwner: null, leaseExpiresAt: null, finishedAt: new Date(w.clock.now()), errorCode: null });
    // Released once, by the finish (in its statement), and not asked again after it.
    expect(w.locks.held.size).toBe(0);
    expect(w.locks.released).toEqual([iamUserLockKey(secret.accountId, 'alice')]);
    expect(w.store.t.events).toEqual([
      expect.objectContaining({
        type: 'rotation.succeeded',
        secretId: secret.id,
        payload: { rotationId: rot.id, secretId: secret.id, secretType: SecretType.AwsIamKey, status: 'succeeded', mode: null, errorCode: null, version: 2, previousKeyRetireAt: null },
        deliveries: CONFIG.webhooks.urls,
      }),
    ]);
    expect(w.store.t.audit).toEqual([
      expect.objectContaining({ actorId: 'system:rotation-worker', action: 'rotation.succeeded', outcome: 'success', targetType: 'rotation', targetId: rot.id, details: { mode: null, attempt: 1 } }),
    ]);
    // The finish and its announcement are one statement (RotationsRepository.finish, all or nothing: its
    // Postgres spec), not a transaction around three.
    expect(w.store.transactionsRun).toEqual([]);
  });

  it('the use case is handed the row as the claim left it (it need not read it again)', async () => {
    const { w, rot, keys, runner } = world();
    Object.assign(w.store.rotation(rot.id), { status: 'running', attempt: 1, step: 'verify', pendingVersion: 2, leaseOwner: 'dead-worker', leaseExpiresAt: new Date(w.clock.now() - 1) });
    await runner.execute(rot.id);
    expect(keys.claimed).toEqual([
      { ...w.store.rotation(rot.id), status: 'running', attempt: 2, leaseOwner: runner.owner, leaseExpiresAt: new Date(w.clock.now() + CONFIG.rotation.leaseMs), finishedAt: null, errorCode: null, errorMessage: null },
    ]);
  });

  it('a console password runs the password use case', async () => {
    const { rot, keys, passwords, runner } = world(undefined, SecretType.AwsIamConsolePassword);
    await runner.execute(rot.id);
    expect(passwords.runs).toEqual([rot.id]);
    expect(keys.runs).toEqual([]);
  });

  it('the IAM user is busy (another operation holds its lock): later, nothing claimed', async () => {
    const { w, secret, rot, keys, runner } = world();
    await w.locks.tryTake(iamUserLockKey(secret.accountId, 'ALICE'), 'another-worker', 60_000);
    const out = await runner.execute(rot.id);
    expect(out).toMatchObject({ kind: 'later', reason: 'another operation on IAM user Alice is running' });
    expect(w.store.rotation(rot.id)).toMatchObject({ status: 'queued', attempt: 0 });
    expect(keys.runs).toEqual([]);
  });

  it('another rotation of the secret is running (rotations_one_running): later, and the lock is released', async () => {
    const { w, secret, rot, keys, runner } = world();
    w.store.addRotation({ secretId: secret.id, status: 'running', leaseOwner: 'x', leaseExpiresAt: new Date(w.clock.now() + 60_000) });
    expect(await runner.execute(rot.id)).toMatchObject({ kind: 'later', reason: 'another rotation of this secret is running' });
    expect(keys.runs).toEqual([]);
    expect(w.locks.held.size).toBe(0);
  });

  it("the worker's admission is asked alongside the read; one that parks the job: later, no lock taken, nothing claimed", async () => {
    const { w, rot, keys, runner } = world();
    let read!: () => void;
    const readAsked = new Promise<void>((r) => (read = r));
    const getWithSecret = w.store.rotations.getWithSecret.bind(w.store.rotations);
    w.store.rotations.getWithSecret = (id) => (read(), getWithSecret(id));
    // The gate answers only once the read was asked: asked one after the other, this would never end.
    const parked = async () => (await readAsked, { run: false as const, delayMs: 1_500, reason: 'fair share: making room' });
    expect(await runner.execute(rot.id, parked)).toEqual({ kind: 'later', delayMs: 1_500, reason: 'fair share: making room' });
    expect(w.store.rotation(rot.id)).toMatchObject({ status: 'queued', attempt: 0, leaseOwner: null });
    expect(w.locks.held.size).toBe(0);
    expect(w.locks.released).toEqual([]);
    expect(keys.runs).toEqual([]);
  });

  it('another worker holds the lease: later, until about when it lapses', async () => {
    const { w, rot, keys, runner } = world();
    Object.assign(w.store.rotation(rot.id), { status: 'running', leaseOwner: 'other-worker', leaseExpiresAt: new Date(w.clock.now() + 10_000) });
    expect(await runner.execute(rot.id)).toEqual({ kind: 'later', delayMs: 10_250, reason: 'another worker holds the lease' });
    expect(keys.runs).toEqual([]);
  });

  it('a lapsed lease (its worker died) is taken over and the rotation resumed', async () => {
    const { w, rot, keys, runner } = world();
    Object.assign(w.store.rotation(rot.id), { status: 'running', attempt: 1, leaseOwner: 'dead-worker', leaseExpiresAt: new Date(w.clock.now() - 1) });
    expect(await runner.execute(rot.id)).toEqual({ kind: 'done' });
    expect(keys.runs).toEqual([rot.id]);
    expect(w.store.rotation(rot.id)).toMatchObject({ status: 'succeeded', attempt: 2 });
  });

  it.each([
    ['gone', (w: WorkerWorld, id: string) => w.store.t.rotations.delete(id)],
    ['failed', (w: WorkerWorld, id: string) => (w.store.rotation(id).status = 'failed')],
    ['succeeded', (w: WorkerWorld, id: string) => (w.store.rotation(id).status = 'succeeded')],
    ['of a deleted secret', (w: WorkerWorld, id: string) => w.store.t.secrets.delete(w.store.rotation(id).secretId)],
  ])('a rotation %s: done, nothing run', async (_what, arrange) => {
    const { w, rot, keys, runner } = world();
    arrange(w, rot.id);
    expect(await runner.execute(rot.id)).toEqual({ kind: 'done' });
    expect(keys.runs).toEqual([]);
    expect(w.store.t.events).toEqual([]);
  });

  it('a retryable failure under the attempt cap: queued again with the error on record, later with backoff, not announced', async () => {
    const { w, rot, runner } = world(async () => {
      throw iamErrors.unreachable('createAccessKey');
    });
    const out = await runner.execute(rot.id);
    expect(out).toMatchObject({ kind: 'later', reason: IamErrorCode.Unreachable });
    expect((out as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(1_500);
    expect((out as { delayMs: number }).delayMs).toBeLessThanOrEqual(2_500);
    expect(w.store.rotation(rot.id)).toMatchObject({ status: 'queued', leaseOwner: null, errorCode: IamErrorCode.Unreachable });
    expect(w.store.t.events).toEqual([]);
  });

  it('at the cap (jobAttempts), a retryable failure fails the rotation', async () => {
    const { w, rot, runner } = world(async () => {
      throw iamErrors.unreachable('createAccessKey');
    });
    w.store.rotation(rot.id).attempt = CONFIG.rotation.jobAttempts - 1;
    expect(await runner.execute(rot.id)).toEqual({ kind: 'done' });
    expect(w.store.rotation(rot.id)).toMatchObject({ status: 'failed', errorCode: IamErrorCode.Unreachable });
  });

  it('throttling gets four times the attempts', async () => {
    const { w, rot, runner } = world(async () => {
      throw iamErrors.throttled('createAccessKey');
    });
    w.store.rotation(rot.id).attempt = CONFIG.rotation.jobAttempts * 4 - 2;
    expect(await runner.execute(rot.id)).toMatchObject({ kind: 'later', reason: IamErrorCode.Throttled });
    expect(await runner.execute(rot.id)).toEqual({ kind: 'done' });
    expect(w.store.rotation(rot.id)).toMatchObject({ status: 'failed', errorCode: IamErrorCode.Throttled, attempt: CONFIG.rotation.jobAttempts * 4 });
  });

  it('a failure that is not retryable fails at once: code and message stored, rotation.failed announced and audited', async () => {
    const { w, secret, rot, runner } = world(async () => {
      throw new KeyturnError(ErrorCode.KEY_LIMIT_UNMANAGED, { username: 'alice', maskedKeyId: 'AKIA…0001' });
    });
    expect(await runner.execute(rot.id)).toEqual({ kind: 'done' });
    const row = w.store.rotation(rot.id);
    expect(row).toMatchObject({ status: 'failed', errorCode: ErrorCode.KEY_LIMIT_UNMANAGED, leaseOwner: null });
    expect(row.errorMessage).toContain('AKIA…0001');
    expect(w.store.t.events.map((e) => [e.type, e.payload.errorCode])).toEqual([['rotation.failed', ErrorCode.KEY_LIMIT_UNMANAGED]]);
    expect(w.store.t.audit).toEqual([expect.objectContaining({ action: 'rotation.failed', outcome: 'failure', errorCode: ErrorCode.KEY_LIMIT_UNMANAGED, secretId: secret.id })]);
  });

  it('a missing permission gets the attach-policy advice in the stored message', async () => {
    const { w, rot, runner } = world(async () => {
      throw iamErrors.accessDenied('createAccessKey');
    });
    await runner.execute(rot.id);
    expect(w.store.rotation(rot.id)).toMatchObject({ status: 'failed', errorCode: IamErrorCode.AccessDenied });
  });

  it('an unexpected error is INTERNAL_ERROR, named but without its message', async () => {
    const { w, rot, runner } = world(async () => {
      throw new TypeError('secret-looking detail');
    });
    await runner.execute(rot.id);
    const row = w.store.rotation(rot.id);
    expect(row.errorCode).toBe(ErrorCode.INTERNAL_ERROR);
    expect(row.errorMessage).toContain('TypeError');
    expect(row.errorMessage).not.toContain('secret-looking');
  });

  describe('retire owed (RetirePendingError after a successful promotion)', () => {
    /** The use case as KeyRotationUseCase leaves a failed retire: succeeded, retire owed, one more RETIRE_FAILED. */
    const failingRetire = async (w: WorkerWorld, id: string) => {
      const r = w.store.rotation(id);
      Object.assign(r, { status: 'succeeded', step: 'retire', retirePending: true, finishedAt: r.finishedAt ?? new Date(w.clock.now()) });
      r.warnings = [...r.warnings, { at: new Date(w.clock.now()).toISOString(), code: WarningCode.RETIRE_FAILED, message: 'x' }];
      throw new RetirePendingError('denied');
    };

    it('the first one announces the success, releases the lease and retries later with backoff', async () => {
      const { w, rot, runner } = world(failingRetire);
      expect(await runner.execute(rot.id)).toEqual({ kind: 'later', delayMs: 5_000, reason: 'retire owed' });
      expect(w.store.rotation(rot.id)).toMatchObject({ status: 'succeeded', retirePending: true, leaseOwner: null });
      expect(w.store.t.events.map((e) => e.type)).toEqual(['rotation.succeeded']);
      expect(w.store.t.audit.map((a) => a.action)).toEqual(['rotation.succeeded']);

      // The next try claims the succeeded rotation again (status stays succeeded) and is not announced again.
      expect(await runner.execute(rot.id)).toEqual({ kind: 'later', delayMs: 10_000, reason: 'retire owed' });
      expect(w.store.rotation(rot.id)).toMatchObject({ status: 'succeeded', attempt: 2 });
      expect(w.store.t.events).toHaveLength(1);
    });

    it(`after ${MAX_RETIRE_TRIES} tries it is given up: done, retire no longer owed`, async () => {
      const { w, rot, runner } = world(failingRetire);
      let out;
      for (let i = 0; i < MAX_RETIRE_TRIES; i++) out = await runner.execute(rot.id);
      expect(out).toEqual({ kind: 'done' });
      expect(w.store.rotation(rot.id)).toMatchObject({ status: 'succeeded', retirePending: false });
      expect(await runner.execute(rot.id)).toEqual({ kind: 'done' });
      expect(w.store.t.events).toHaveLength(1);
    });

    it('an owed retire that then succeeds finishes the rotation without a second announcement', async () => {
      let first = true;
      const { w, rot, runner } = world(async (w, id) => {
        if (first) {
          first = false;
          return failingRetire(w, id);
        }
        w.store.rotation(id).retirePending = false;
      });
      await runner.execute(rot.id);
      expect(await runner.execute(rot.id)).toEqual({ kind: 'done' });
      expect(w.store.rotation(rot.id)).toMatchObject({ status: 'succeeded', retirePending: false, leaseOwner: null });
      expect(w.store.t.events.map((e) => e.type)).toEqual(['rotation.succeeded']);
    });
  });

  describe('grace period (retire owed at retireAt)', () => {
    /** What KeyRotationUseCase leaves when a grace starts: step retire, retire owed at now + 10 s. */
    const startGrace = async (w: WorkerWorld, id: string) => {
      const r = w.store.rotation(id);
      if (r.retireAt) {
        Object.assign(r, { step: 'done', retirePending: false, retiredAt: new Date(w.clock.now()) });
        return;
      }
      Object.assign(r, { step: 'retire', retirePending: true, retireAt: new Date(w.clock.now() + 10_000) });
    };

    it('a success with a grace is announced at once with previousKeyRetireAt, and the job comes back at retireAt', async () => {
      const { w, rot, keys, runner } = world(startGrace);
      expect(await runner.execute(rot.id)).toEqual({ kind: 'later', delayMs: 10_000, reason: 'previous key in its grace period' });
      expect(w.store.rotation(rot.id)).toMatchObject({ status: 'succeeded', retirePending: true, leaseOwner: null });
      expect(w.store.t.events.map((e) => [e.type, e.payload.previousKeyRetireAt])).toEqual([['rotation.succeeded', new Date(w.clock.now() + 10_000).toISOString()]]);
      expect(w.locks.held.size).toBe(0);

      // Woken early (a job revived by the reconciler): no lock, no run, just the wait that is left.
      w.clock.advance(4_000);
      expect(await runner.execute(rot.id)).toEqual({ kind: 'later', delayMs: 6_000, reason: 'previous key in its grace period' });
      expect(keys.runs).toHaveLength(1);

      // Due: the retire runs, and the success is not announced a second time.
      w.clock.advance(6_000);
      expect(await runner.execute(rot.id)).toEqual({ kind: 'done' });
      expect(keys.runs).toHaveLength(2);
      expect(w.store.rotation(rot.id)).toMatchObject({ status: 'succeeded', retirePending: false, step: 'done' });
      expect(w.store.t.events.map((e) => e.type)).toEqual(['rotation.succeeded']);
    });

    it('a failed retire after a grace retries with backoff and does not announce the success again', async () => {
      const { w, rot, runner } = world(async (w, id) => {
        const r = w.store.rotation(id);
        if (!r.retireAt) return startGrace(w, id);
        r.warnings = [...r.warnings, { at: new Date(w.clock.now()).toISOString(), code: WarningCode.RETIRE_FAILED, message: 'x' }];
        throw new RetirePendingError('denied');
      });
      await runner.execute(rot.id);
      w.clock.advance(10_000);
      expect(await runner.execute(rot.id)).toEqual({ kind: 'later', delayMs: 5_000, reason: 'retire owed' });
      expect(w.store.t.events.map((e) => e.type)).toEqual(['rotation.succeeded']);
    });
  });

  it('releases the IAM-user lock even when the use case throws', async () => {
    const { w, rot, runner } = world(async () => {
      throw new Error('x');
    });
    await runner.execute(rot.id);
    expect(w.locks.held.size).toBe(0);
    expect(w.locks.released).toHaveLength(1);
  });
});

describe('one change use case per secret type, checked at boot', () => {
  it('a record missing a type fails the start with a message naming it', () => {
    const partial = { [SecretType.AwsIamKey]: new ScriptedUseCase() } as unknown as ChangeUseCases;
    expect(() => assertEveryTypeHandled(partial)).toThrow(
      "no change use case is registered for secret type 'aws-iam-console-password': add it to CHANGE_USE_CASES (libs/rotation/src/rotation.module.ts)",
    );
    const w = new WorkerWorld();
    const runner = new RotationRunner(w.store.rotations, w.store.transactions, partial, w.leaseLocks, CONFIG, w.clock);
    expect(() => runner.onModuleInit()).toThrow(/aws-iam-console-password/);
  });

  it('a complete record passes', () => {
    expect(() => assertEveryTypeHandled({ [SecretType.AwsIamKey]: new ScriptedUseCase(), [SecretType.AwsIamConsolePassword]: new ScriptedUseCase() })).not.toThrow();
  });
});
