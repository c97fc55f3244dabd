import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { SYSTEM_ACTOR, WarningCode, isRetryable, isThrottled } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { LeaseLocks, LockSpace, RotationsRepository, Transactions, lockKey, uuidv7, type ClaimResult, type FinishAnnouncement, type Repositories, type RotationEntity } from '@keyturn/store';
import { auditRow } from '@keyturn/auth';
import { describeFailure, RetirePendingError } from './rotation-error.js';
import type { PrepaidTurn } from './paced-iam.client.js';
import { CHANGE_USE_CASES, assertEveryTypeHandled, type ChangeUseCases } from './change-use-cases.js';
import { CLOCK, type Clock } from './rotation.tokens.js';
import { metrics } from '@keyturn/metrics';

export type RunOutcome =
  /** Nothing more to do for this job (finished, failed for good, or gone). */
  | { kind: 'done' }
  /** Try again later without counting it as a failed attempt (busy, throttled, retire owed). */
  | { kind: 'later'; delayMs: number; reason: string };

/**
 * What the worker's fair share across AWS accounts decided for a job: run it,
 * or make room for other accounts' jobs and come back after `delayMs`.
 */
export type Admitted = { run: true } | { run: false; delayMs: number; reason: string };
/** Asks for the job's admission; never rejects (when the fair share cannot say, the job runs). */
export type AdmissionGate = () => Promise<Admitted>;

const ADMITTED: AdmissionGate = async () => ({ run: true });

/** Retire is retried this many times after a successful promotion, then left with a warning. */
export const MAX_RETIRE_TRIES = 10;

/**
 * Runs one rotation under the two guards of docs/architecture.md ("Running a change"): a lease on the
 * rotation row (one running rotation per secret: a partial unique index) and
 * a lock per IAM user (one access-key operation per user across all workers).
 * The user lock is a lease row too (LeaseLocks), renewed with the rotation's
 * lease: holding it pins no pooled connection, and a worker that dies lets both
 * lapse together, so another worker resumes.
 */
@Injectable()
export class RotationRunner implements OnModuleInit {
  private readonly logger = new Logger('RotationRunner');
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly rotations: RotationsRepository,
    private readonly tx: Transactions,
    @Inject(CHANGE_USE_CASES) private readonly useCases: ChangeUseCases,
    private readonly locks: LeaseLocks,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** A secret type without a change use case fails the start, not its first rotation. */
  onModuleInit(): void {
    assertEveryTypeHandled(this.useCases);
  }

  /**
   * `admission`: the worker's fair share, asked at the same time as the rotation is read (a Redis and a
   * Postgres round trip side by side); a rotation it parks takes no lock and makes no write. `turn`: the
   * turn of the account's pace the admission took, for the run's first AWS call.
   */
  async execute(rotationId: string, admission: AdmissionGate = ADMITTED, turn?: PrepaidTurn): Promise<RunOutcome> {
    const [admitted, found] = await Promise.all([admission(), this.rotations.getWithSecret(rotationId)]);
    if (!found) return { kind: 'done' }; // the secret (and its rotations) was deleted
    const { rotation: rot, secret } = found;
    if (rot.status === 'failed' || (rot.status === 'succeeded' && !rot.retirePending)) return { kind: 'done' };
    if (!secret) return { kind: 'done' };
    // In its grace period the previous key keeps working: come back when the retire is due.
    const graceLeft = rot.status === 'succeeded' ? untilRetire(rot, this.clock.now()) : 0;
    if (graceLeft > 0) return { kind: 'later', delayMs: graceLeft, reason: 'previous key in its grace period' };
    if (!admitted.run) return { kind: 'later', delayMs: admitted.delayMs, reason: admitted.reason };

    const leaseMs = this.config.rotation.leaseMs;
    // Per run, not per process: two rotations in one worker on the same user, or one job delivered twice
    // to the same worker, must still exclude each other.
    const lock = { key: iamUserLockKey(secret.accountId, secret.username), owner: `${this.owner}:${rotationId}:${randomUUID().slice(0, 8)}` };
    // The user's lock and the rotation's lease in one statement: the claim only under the lock.
    const res = await this.rotations.claim(rot.id, this.owner, leaseMs, lock);
    if (!res.claimed && res.busy === 'user') {
      return { kind: 'later', delayMs: jitter(1_000), reason: `another operation on IAM user ${secret.username} is running` };
    }
    // Once, whichever way the run ends. If it fails (Postgres away), the lock lapses with its lease instead.
    let released: Promise<void> | undefined;
    const release = () =>
      (released ??= this.locks
        .release(lock.key, lock.owner)
        .catch((e: Error) => this.logger.warn(`could not release the lock on IAM user ${secret.username}: ${e.message}`)));
    try {
      const claimed = this.claimedOr(res);
      if ('kind' in claimed) return claimed;
      const renew = setInterval(() => void this.renewLease(rotationId, lock), Math.max(1_000, leaseMs / 3));
      try {
        // The claimed row is the journal as it stands: under the lease nothing else writes it.
        await this.useCases[rot.secretType].run(rotationId, claimed, turn);
        // The change made its last call on the IAM user: the user's lock goes with the outcome, in its statement.
        clearInterval(renew);
        const done = await this.finished(rot, 'succeeded', undefined, undefined, lock);
        released = Promise.resolve();
        // Succeeded with a grace period: the retire is owed at retireAt (Postgres has it too, for the reconciler).
        if (done.retirePending && done.retireAt) {
          return { kind: 'later', delayMs: Math.max(250, untilRetire(done, this.clock.now())), reason: 'previous key in its grace period' };
        }
        return { kind: 'done' };
      } catch (e) {
        return await this.onError(rotationId, e);
      } finally {
        clearInterval(renew);
      }
    } finally {
      await release();
    }
  }

  /** The claimed row, or what to do instead (the IAM user's lock is held: the caller releases it). */
  private claimedOr(res: Exclude<ClaimResult, { busy: 'user' }>): RotationEntity | RunOutcome {
    if (res.claimed) return res.rotation;
    if (res.busy === 'secret') return { kind: 'later', delayMs: jitter(1_000), reason: 'another rotation of this secret is running' };
    const now = res.now;
    if (!now || now.status === 'failed' || (now.status === 'succeeded' && !now.retirePending)) return { kind: 'done' };
    const wait = now.leaseExpiresAt ? Math.max(500, now.leaseExpiresAt.getTime() - this.clock.now() + 250) : 1_000;
    return { kind: 'later', delayMs: wait, reason: 'another worker holds the lease' };
  }

  /** The rotation's lease and its user lock are renewed together, so they lapse together if this worker dies. */
  private async renewLease(rotationId: string, lock: { key: string; owner: string }): Promise<void> {
    const leaseMs = this.config.rotation.leaseMs;
    try {
      await this.rotations.renewLease(rotationId, this.owner, leaseMs);
      if (!(await this.locks.renew(lock.key, lock.owner, leaseMs))) {
        this.logger.warn({ rotationId }, 'the IAM user lock lapsed before it could be renewed (was this worker stalled longer than KEYTURN_LEASE_MS?)');
      }
    } catch (e) {
      this.logger.warn(`lease renewal failed for ${rotationId}: ${(e as Error).message}`);
    }
  }

  private async onError(rotationId: string, e: unknown): Promise<RunOutcome> {
    const rot = await this.rotations.getOrFail(rotationId);
    if (e instanceof RetirePendingError) {
      const tries = rot.warnings.filter((w) => w.code === WarningCode.RETIRE_FAILED).length;
      await this.rotations.releaseLease(rotationId, this.owner);
      // A rotation with a grace period was announced when it succeeded, before its retire was due.
      if (tries === 1 && !rot.retireAt) await this.tx.run((tx) => this.recordOutcome(tx, rot, 'succeeded'));
      if (tries >= MAX_RETIRE_TRIES) {
        await this.rotations.giveUpRetire(rotationId);
        this.logger.warn({ rotationId }, 'retire given up; the next rotation deletes the previous key');
        return { kind: 'done' };
      }
      return { kind: 'later', delayMs: Math.min(5_000 * 2 ** (tries - 1), 10 * 60_000), reason: 'retire owed' };
    }
    const { code, message } = describeFailure(e, rot.secretId);
    const throttled = isThrottled(e);
    // Throttling is AWS asking us to slow down, not a failure: it gets more room than other transient errors.
    const cap = this.config.rotation.jobAttempts * (throttled ? 4 : 1);
    if (isRetryable(e) && rot.attempt < cap) {
      this.logger.warn({ rotationId, code, attempt: rot.attempt, step: rot.step }, `rotation attempt failed, will resume: ${message}`);
      await this.rotations.requeue(rotationId, code, message);
      return { kind: 'later', delayMs: jitter(Math.min(1_000 * 2 ** rot.attempt, 60_000)), reason: code };
    }
    this.logger.warn({ rotationId, code, step: rot.step }, `rotation failed: ${message}`);
    await this.finished(rot, 'failed', code, message);
    return { kind: 'done' };
  }

  /**
   * Records the final status and, when it is news (a rotation whose retire was owed already counted as
   * succeeded and is not announced twice), its event and audit entry: one statement, one transaction
   * (RotationsRepository.finish). Returns the row as it was before (retire owed, grace period). With
   * `release`, the IAM user's lock goes in that statement too.
   */
  private async finished(
    rot: Pick<RotationEntity, 'id' | 'secretId'>,
    status: 'succeeded' | 'failed',
    code?: string,
    message?: string,
    release?: { key: string; owner: string },
  ): Promise<RotationEntity> {
    const error = { code: code ?? null, message: message ?? null };
    const done = await this.rotations.finish(rot.id, status, new Date(this.clock.now()), error, this.announcement(rot, status, code), release);
    if (!done) throw new Error(`rotation ${rot.id} not found`);
    if (done.announced) this.countFinished(done.before, status, code);
    return done.before;
  }

  /**
   * The rotation.succeeded / rotation.failed event (outbox) and audit entry, in the caller's transaction,
   * saying what the finish statement says of the row (RotationsRepository.finish).
   */
  private async recordOutcome(tx: Repositories, rot: RotationEntity, status: 'succeeded' | 'failed', code?: string): Promise<void> {
    this.countFinished(rot, status, code);
    const { event, audit } = this.announcement(rot, status, code);
    await tx.events.record(this.config.webhooks.urls, event.type, rot.secretId, {
      ...event.payload,
      secretType: rot.secretType,
      mode: rot.mode,
      // The version consumers should now read (a failed change made none).
      version: status === 'succeeded' ? ((await tx.versions.inState(rot.secretId, 'current'))?.version ?? null) : null,
      // With a grace period: until when the previous key keeps working (null: it was retired at once, or none).
      previousKeyRetireAt: status === 'succeeded' && rot.retirePending && rot.retireAt ? rot.retireAt.toISOString() : null,
    });
    await tx.audit.insert({ ...audit, details: { ...audit.details, mode: rot.mode, attempt: rot.attempt } });
  }

  /** What announces a finished rotation, less what its row says (RotationsRepository.FinishAnnouncement). */
  private announcement(rot: Pick<RotationEntity, 'id' | 'secretId'>, status: 'succeeded' | 'failed', code?: string): FinishAnnouncement {
    const urls = this.config.webhooks.urls;
    return {
      event: {
        id: uuidv7(),
        type: status === 'succeeded' ? 'rotation.succeeded' : 'rotation.failed',
        payload: { rotationId: rot.id, secretId: rot.secretId, status, errorCode: code ?? null },
        urls,
        deliveryIds: urls.map(() => uuidv7()),
        at: new Date(),
      },
      audit: auditRow(SYSTEM_ACTOR('rotation-worker'), {
        action: status === 'succeeded' ? 'rotation.succeeded' : 'rotation.failed',
        outcome: status === 'succeeded' ? 'success' : 'failure',
        targetType: 'rotation',
        targetId: rot.id,
        secretId: rot.secretId,
        errorCode: code ?? null,
      }),
    };
  }

  private countFinished(rot: RotationEntity, status: 'succeeded' | 'failed', code?: string): void {
    const seconds = rot.startedAt ? (Date.now() - rot.startedAt.getTime()) / 1000 : undefined;
    metrics().rotationFinished({ type: rot.secretType, mode: rot.mode, outcome: status, code, seconds });
  }
}

/** The lock of an IAM user: account + name, lower-cased because IAM user names are case-insensitive. */
export function iamUserLockKey(accountId: string, username: string): string {
  return lockKey(LockSpace.IamUser, `${accountId}:${username.toLowerCase()}`);
}

/** Milliseconds until a grace period's retire is due (0 when due, or when no retire is owed). */
function untilRetire(rot: RotationEntity, now: number): number {
  return rot.retirePending && rot.retireAt ? Math.max(0, rot.retireAt.getTime() - now) : 0;
}

const jitter = (ms: number) => Math.round(ms * (0.75 + Math.random() * 0.5));
