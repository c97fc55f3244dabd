import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  JobName,
  SYSTEM_ACTOR,
  effectiveSettings,
  followingScheduledChange,
  plannedScheduleState,
  scheduleBasis,
  QueueName,
  type GlobalSettings,
  type JobPayloads,
} from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { LeaseLocks, LockSpace, SecretsRepository, Transactions, lockKey, uuidv7, type DueScheduledChange } from '@keyturn/store';
import type { JobsOptions } from 'bullmq';
import { JobProducer } from '@keyturn/queue';
import { SettingsService } from '@keyturn/vault';
import { RotationsService, heartbeatJobId, rotationJobId } from '@keyturn/secrets';
import { secretTypeDefinition } from '@keyturn/secret-types';

/** One scheduler replica at a time scans for automatic changes. */
const AUTO_CHANGE_LOCK = lockKey(LockSpace.Scheduler, 'auto-change');
/** Renewed while the scan runs; a replica that dies mid-scan frees it this long after. */
const AUTO_CHANGE_LEASE_MS = 60_000;
/** Who a scheduled rotation was requested by. */
const SCHEDULER = SYSTEM_ACTOR('scheduler');

/** The schedule part of the global settings: a change of it is what makes the secrets' plans stale. */
const globalScheduleBasis = (g: GlobalSettings) => scheduleBasis(g.autoChangeSchedule, g.autoChangeWindowMinutes) ?? '';

/**
 * The options of a scheduled heartbeat job (bench:scheduler's raw baseline gives its jobs the same): none of
 * its own. Retention is the workers' (JOB_RETENTION), and the fair share adds the priority.
 */
export const HEARTBEAT_JOB_OPTIONS: JobsOptions = {};

/** A scheduled heartbeat's job: ids only, its job id derived from the row's, so enqueuing a row twice adds one job. */
export function heartbeatJob(heartbeatId: string, accountId: string | undefined): { name: JobName.RunHeartbeat; payload: JobPayloads[JobName.RunHeartbeat]; jobId: string } {
  return { name: JobName.RunHeartbeat, payload: { heartbeatId, accountId }, jobId: heartbeatJobId(heartbeatId) };
}

/**
 * Finds due heartbeats and automatic changes in Postgres and enqueues them.
 * Safe with any number of scheduler replicas: due secrets are claimed with
 * FOR UPDATE SKIP LOCKED (and moved ahead in the same statement), and the
 * automatic-change scan runs under a lease lock. Memory stays constant:
 * everything goes in batches.
 */
@Injectable()
export class DueWorkService {
  private readonly logger = new Logger('DueWork');
  private readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  /** The global schedule the secrets were last planned with by this process (undefined: not yet, so at start). */
  private plannedWith?: string;

  constructor(
    private readonly tx: Transactions,
    private readonly secrets: SecretsRepository,
    private readonly locks: LeaseLocks,
    private readonly jobs: JobProducer,
    private readonly rotations: RotationsService,
    private readonly settings: SettingsService,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
  ) {}

  /**
   * How many more heartbeats may be enqueued now: KEYTURN_SCHEDULER_MAX_QUEUED_HEARTBEATS minus those
   * waiting in the queue. After downtime, due work thus waits in Postgres (claimed oldest first) and
   * reaches Redis as the workers drain it, at the pace AWS allows, instead of all at once: Redis holds a
   * bounded backlog. Rotations have their own queue, so no heartbeat backlog ever stands before one.
   * When Redis cannot tell (it is down), there is no limit: the rows are made and the reconciler enqueues
   * them once Redis is back, as before.
   */
  async heartbeatRoom(): Promise<number> {
    try {
      const c = await this.jobs.queue(QueueName.Heartbeat).getJobCounts('wait', 'prioritized', 'delayed');
      return Math.max(0, this.config.heartbeat.maxQueued - (c.wait ?? 0) - (c.prioritized ?? 0) - (c.delayed ?? 0));
    } catch (e) {
      this.logger.warn(`heartbeat queue not counted (${(e as Error).message}): no limit this tick`);
      return Number.MAX_SAFE_INTEGER;
    }
  }

  /**
   * The scheduler's heartbeat step: batches of due heartbeats, at most `room` in all and `maxBatches` batches,
   * until a batch comes out short or `stopping()` says so. Returns how many secrets were due.
   *
   * The next batch is claimed in Postgres while the previous one's jobs go to Redis, so the two servers work at
   * the same time instead of in turn. At most one batch is on its way to Redis at a time, in claim order, and
   * it is awaited before this returns. A batch is enqueued only after its claim committed; one that fails to
   * go to Redis is left to the reconciler.
   */
  async enqueueDueHeartbeatBatches(room: number, maxBatches: number, stopping: () => boolean = () => false): Promise<number> {
    let total = 0;
    let sending: Promise<void> = Promise.resolve();
    try {
      for (let i = 0; i < maxBatches && room > 0 && !stopping(); i++) {
        const limit = Math.min(room, this.config.heartbeat.batch);
        const { due, rows } = await this.claimDueHeartbeats(limit);
        total += due;
        room -= due;
        await sending;
        sending = this.enqueueHeartbeats(rows);
        if (due < limit) break;
      }
    } finally {
      await sending;
    }
    return total;
  }

  /** One transaction: claims at most `limit` due key secrets and makes their heartbeat rows. */
  private async claimDueHeartbeats(limit: number): Promise<{ due: number; rows: { id: string; accountId: string | undefined }[] }> {
    const batch = Math.min(limit, this.config.heartbeat.batch);
    return this.tx.run(async (tx) => {
      const claimed = await tx.secrets.claimDueHeartbeats(batch);
      if (!claimed.length) return { due: 0, rows: [] };
      const accountOf = new Map(claimed.map((c) => [c.id, c.account_id]));
      // A secret whose heartbeat already waits gets none more (heartbeats_one_waiting): that one checks it.
      const made = await tx.heartbeats.insertScheduled(
        claimed.map(() => uuidv7()),
        claimed.map((c) => c.id),
      );
      return { due: claimed.length, rows: made.map((h) => ({ id: h.id, accountId: accountOf.get(h.secret_id) })) };
    });
  }

  /** After the commit: a job never points at a row that does not exist. Never rejects: if this fails, the reconciler re-enqueues. */
  private async enqueueHeartbeats(rows: { id: string; accountId: string | undefined }[]): Promise<void> {
    if (!rows.length) return;
    await this.jobs
      .addBulk(
        JobName.RunHeartbeat,
        rows.map((h) => heartbeatJob(h.id, h.accountId)),
        HEARTBEAT_JOB_OPTIONS,
      )
      .catch((e: Error) => this.logger.warn(`enqueue of ${rows.length} heartbeats failed (${e.message}); the reconciler retries`));
  }

  /**
   * Secrets whose automatic-change interval has elapsed get one rotation (a
   * secret with a schedule is left to enqueueScheduledChanges). One
   * scheduler at a time (a lease lock), and never while another change of the
   * secret is pending or a scheduled one was made in the last hour. Stops
   * between requests once `stopping()` says so (SIGTERM).
   */
  async enqueueAutoChanges(stopping: () => boolean = () => false): Promise<number> {
    const global = await this.settings.getGlobal();
    // A safety net beside the replan on a change of the global schedule: a secret planned by an API request
    // that read the global settings just before they changed is caught here.
    await this.replanSchedules(global, stopping);
    const scan = await this.locks.withLease(AUTO_CHANGE_LOCK, this.owner, AUTO_CHANGE_LEASE_MS, async () => {
      const due = await this.secrets.dueForAutoChange(global.autoChangeIntervalDays, this.config.heartbeat.batch, global.autoChangeSchedule);
      let requested = 0;
      for (const { id } of due) {
        if (stopping()) break;
        await this.rotations.request(SYSTEM_ACTOR('scheduler'), id, { trigger: 'schedule' }).then(
          () => requested++,
          (e: Error) => this.logger.warn({ secretId: id }, `automatic change not requested: ${e.message}`),
        );
      }
      return requested;
    });
    return scan.taken ? scan.value : 0;
  }

  /**
   * Scheduled changes (autoChangeSchedule), every tick. In one transaction:
   * claim due secrets (FOR UPDATE SKIP LOCKED), make each its rotation
   * (trigger `schedule`, with the time it is for) and move the secret to its
   * next time, so two schedulers can never both take one scheduled time, and a
   * crash before the commit leaves the time due for the next tick. Jobs are
   * enqueued after the commit (the reconciler re-enqueues a lost one). Times
   * whose window passed while no scheduler ran get one catch-up change, not one
   * each. First, when the global schedule differs from the one the secrets were
   * planned with, they are planned again (in batches).
   */
  async enqueueScheduledChanges(stopping: () => boolean = () => false): Promise<number> {
    const global = await this.settings.getGlobal();
    if (this.plannedWith !== globalScheduleBasis(global)) {
      await this.replanSchedules(global, stopping);
      if (!stopping()) this.plannedWith = globalScheduleBasis(global);
    }
    const made = await this.tx.run(async (tx) => {
      const now = new Date();
      const rotations: { id: string; accountId: string }[] = [];
      for (const row of await tx.secrets.claimDueScheduledChanges(this.config.heartbeat.batch)) {
        const eff = effectiveSettings(global, row.settings);
        const basis = scheduleBasis(eff.autoChangeSchedule, eff.autoChangeWindowMinutes);
        if (eff.autoChangeSchedule === null || basis !== row.auto_change_basis || !row.auto_change_scheduled_for) {
          // Planned from a schedule that no longer applies: plan from the one that does, without a change.
          await tx.secrets.setScheduleState(row.id, plannedScheduleState(eff, now));
          continue;
        }
        if (canChange(row)) {
          const id = await tx.rotations.insertScheduled({
            id: uuidv7(),
            secretId: row.id,
            secretType: row.type,
            requestedBy: SCHEDULER.id,
            scheduledFor: row.auto_change_scheduled_for,
          });
          if (id) rotations.push({ id, accountId: row.account_id });
        } else {
          this.logger.warn({ secretId: row.id }, 'scheduled change skipped: the secret has no value, or no privileged account to change it');
        }
        const next = followingScheduledChange(eff.autoChangeSchedule, eff.autoChangeWindowMinutes, row.auto_change_scheduled_for, now, Math.random);
        await tx.secrets.setScheduleState(row.id, { nextAutoChangeAt: next?.at ?? null, autoChangeScheduledFor: next?.scheduledFor ?? null, autoChangeBasis: basis });
      }
      return rotations;
    });
    for (const r of made) {
      await this.jobs.tryAdd(JobName.RunRotation, { rotationId: r.id, accountId: r.accountId }, { jobId: rotationJobId(r.id) });
    }
    return made.length;
  }

  /** Plans again every secret whose next scheduled change was computed from another schedule or window than the one that applies. */
  async replanSchedules(global: GlobalSettings, stopping: () => boolean = () => false): Promise<number> {
    const batch = this.config.heartbeat.batch;
    let total = 0;
    for (;;) {
      const n = await this.tx.run(async (tx) => {
        const rows = await tx.secrets.claimStaleSchedules(global.autoChangeSchedule, global.autoChangeWindowMinutes, batch);
        const now = new Date();
        for (const row of rows) await tx.secrets.setScheduleState(row.id, plannedScheduleState(effectiveSettings(global, row.settings), now));
        return rows.length;
      });
      total += n;
      if (n < batch || stopping()) return total;
    }
  }
}

/** A key changes itself; another type needs its privileged account. Either needs a value to change. */
function canChange(row: DueScheduledChange): boolean {
  return row.has_value && (secretTypeDefinition(row.type).executor.selfExecuting || row.privileged_secret_id !== null);
}
