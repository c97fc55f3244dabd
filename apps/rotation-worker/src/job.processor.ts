import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DelayedError, Worker, type Job } from 'bullmq';
import { JobName, QueueName, type RunDiscoveryPayload, type RunHeartbeatPayload, type RunRotationPayload } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { AccountPacer, FairShare, JOB_RETENTION, REDIS, createRedis, type Admission, type RedisClient } from '@keyturn/queue';
import { DiscoveryRunUseCase, PrepaidTurn, RotationRunner, pacerMaxWaitMs, type Admitted, type RunOutcome } from '@keyturn/rotation';
import { HeartbeatUseCase } from '@keyturn/heartbeat';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ACCOUNT_ID = /^\d{12}$/;

/**
 * Thin: parse the job, run the use case, decide when to try again. Retries
 * that are not failures (busy user, throttling, retire owed) move the job to
 * the delayed set without spending one of its attempts. One handler per job
 * name, checked by the exhaustive switch below.
 */
@Injectable()
export class JobProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('JobProcessor');
  private readonly workers: Worker[] = [];
  private readonly connections: RedisClient[] = [];
  /** Jobs this process is running now, so the shutdown log can say how many it waited for or left. */
  private running = 0;
  private readonly fair: FairShare;
  /** Reads the same per-account allowance the paced IAM client draws from. */
  private readonly pacer: AccountPacer;
  private readonly turnWithinMs: number;

  constructor(
    private readonly rotations: RotationRunner,
    private readonly heartbeats: HeartbeatUseCase,
    private readonly discoveries: DiscoveryRunUseCase,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
    @Inject(REDIS) redis: RedisClient,
  ) {
    this.fair = new FairShare(redis, config.redis.prefix);
    this.pacer = new AccountPacer(redis, config.redis.prefix, config.aws.ratePerAccount);
    this.turnWithinMs = pacerMaxWaitMs(config);
  }

  onApplicationBootstrap(): void {
    const leaseMs = this.config.rotation.leaseMs;
    for (const queue of [QueueName.Rotation, QueueName.Heartbeat, QueueName.Discovery]) {
      const connection = createRedis(this.config.redis);
      this.connections.push(connection);
      const worker = new Worker(queue, (job, token) => this.process(job, token), {
        connection,
        prefix: this.config.redis.prefix,
        concurrency: this.config.rotation.concurrency,
        // The job lock and the rotation lease expire together, so a job left by a dead worker is picked up as the lease lapses.
        lockDuration: leaseMs,
        stalledInterval: Math.max(1_000, Math.floor(leaseMs / 2)),
        // A crashing worker must not turn into a failed rotation: the row's attempt counter decides that.
        maxStalledCount: 1_000,
        // Retention of finished jobs: here, not in each queued job's options (fewer Redis bytes per job).
        ...JOB_RETENTION[queue],
      });
      worker.on('error', (e) => this.logger.error(`worker ${queue}: ${e.message}`));
      worker.on('failed', (job, e) => this.logger.warn({ jobId: job?.id, err: e.message }, `${queue} job failed`));
      this.workers.push(worker);
    }
    this.logger.log(`consuming queues rotation, heartbeat and discovery with concurrency ${this.config.rotation.concurrency} (runner ${this.rotations.owner})`);
  }

  /** For /health/ready: every BullMQ worker consumes (false before start, after close, or once one stopped). */
  workersRunning(): boolean {
    return this.workers.length > 0 && this.workers.every((w) => w.isRunning());
  }

  async process(job: Job, token?: string): Promise<void> {
    this.running++;
    try {
      await this.run(job, token);
    } finally {
      this.running--;
    }
  }

  private async run(job: Job, token?: string): Promise<void> {
    const outcome = await this.dispatch(job);
    if (outcome?.kind === 'later') {
      this.logger.debug({ jobId: job.id, reason: outcome.reason, delayMs: outcome.delayMs }, 'postponed');
      await job.moveToDelayed(Date.now() + outcome.delayMs, token);
      throw new DelayedError();
    }
  }

  /** The job's use case, after (or, for a heartbeat, alongside) its admission; undefined for a malformed payload (dropped). */
  private async dispatch(job: Job): Promise<RunOutcome | undefined> {
    const name = job.name as JobName;
    // The job's first AWS call goes on this turn, once its admission grants it (handed to the use case).
    const turn = this.turnSlot(job);
    if (name === JobName.RunHeartbeat || name === JobName.RunRotation) {
      // Asked at once: the heartbeat's claim (the rotation's read) goes to Postgres while its admission is in Redis.
      const admission = this.admission(job, turn);
      const { heartbeatId, rotationId } = job.data as Partial<RunHeartbeatPayload & RunRotationPayload>;
      const id = name === JobName.RunHeartbeat ? heartbeatId : rotationId;
      if (!this.valid(job, id)) return undefined;
      const runner = name === JobName.RunHeartbeat ? this.heartbeats : this.rotations;
      return runner.execute(id, () => admission, turn);
    }
    const admitted = await this.admission(job, turn);
    if (!admitted.run) return { kind: 'later', delayMs: admitted.delayMs, reason: admitted.reason };
    return this.runOther(job, name, turn);
  }

  private async runOther(job: Job, name: Exclude<JobName, JobName.RunHeartbeat | JobName.RunRotation>, turn: PrepaidTurn | undefined): Promise<RunOutcome | undefined> {
    switch (name) {
      case JobName.RunDiscovery: {
        const { discoveryId } = job.data as RunDiscoveryPayload;
        if (!this.valid(job, discoveryId)) return undefined;
        return this.discoveries.execute(discoveryId, turn);
      }
      default: {
        const unknown: never = name;
        throw new Error(`no handler for job ${String(unknown)}`);
      }
    }
  }

  /** The job's AWS account, if its payload names one (jobs that do not are neither shared out nor prepaid). */
  private turnSlot(job: Job): PrepaidTurn | undefined {
    const accountId = (job.data as { accountId?: unknown }).accountId;
    return typeof accountId === 'string' && ACCOUNT_ID.test(accountId) && job.id ? new PrepaidTurn(accountId) : undefined;
  }

  /**
   * The fair share across AWS accounts (FairShare): the job leaves its
   * account's waiting count, and when its account's AWS calls are backed up
   * while other accounts' jobs wait, it goes back to the delayed set (no
   * attempt spent; a rotation's row untouched, a heartbeat put back as after
   * throttling) and this slot serves them instead.
   * The share is advisory: if Redis cannot say, the job runs; this never rejects.
   * A job that runs gets its first AWS call's turn of the account's pace in
   * the same round trip (bounded as the paced client bounds a wait), granted
   * to `turn`, which that call then uses instead of asking the pacer.
   */
  private async admission(job: Job, turn: PrepaidTurn | undefined): Promise<Admitted> {
    if (!turn) return { run: true };
    let verdict: Admission;
    try {
      verdict = await this.fair.admit(job.queueName, { accountId: turn.accountId, jobId: job.id! }, this.pacer, { turnWithinMs: this.turnWithinMs });
    } catch (e) {
      this.logger.warn({ jobId: job.id }, `fair share unavailable, running the job anyway: ${(e as Error).message}`);
      return { run: true };
    }
    if (verdict.run) {
      if (verdict.turnWaitMs !== undefined) turn.grant(verdict.turnWaitMs);
      return { run: true };
    }
    return { run: false, delayMs: verdict.delayMs, reason: `fair share: account ${turn.accountId}'s AWS calls are ${verdict.backlogMs} ms behind; making room for other accounts` };
  }

  private valid(job: Job, id: unknown): id is string {
    if (typeof id === 'string' && UUID.test(id)) return true;
    this.logger.error({ jobId: job.id, name: job.name }, 'malformed job payload; dropped');
    return false;
  }

  /**
   * SIGTERM, before any module closes (the database pool closes in the
   * shutdown hooks that follow): stop taking jobs and wait for the running ones
   * up to KEYTURN_SHUTDOWN_TIMEOUT_MS. Past that, the process exits at once,
   * as a crash would: each unfinished rotation or heartbeat keeps its recorded
   * step, its lease and job lock lapse, and another worker resumes it. Carrying
   * on into the shutdown hooks instead would close the pool under those jobs.
   */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const timeoutMs = this.config.shutdown.timeoutMs;
    const atStart = this.running;
    this.logger.log(`${signal ?? 'shutdown'}: taking no more jobs; waiting up to ${timeoutMs} ms for ${atStart} running job(s)`);
    const closed = Promise.all(this.workers.map((w) => w.close())).then(() => 'drained' as const);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([closed, timedOut]);
    clearTimeout(timer);
    if (outcome === 'drained') {
      this.logger.log(`drained: every running job finished (${atStart} at SIGTERM)`);
      return;
    }
    this.logger.warn(
      `drain timeout: ${this.running} job(s) still running after ${timeoutMs} ms (KEYTURN_SHUTDOWN_TIMEOUT_MS); ` +
        'exiting now, and another worker resumes them once their leases lapse',
    );
    process.exit(0);
  }

  async onApplicationShutdown(): Promise<void> {
    // BullMQ leaves connections it was handed open.
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
