import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DelayedError, Worker, type Job } from 'bullmq';
import { JobName, QueueName, type RunRotationPayload } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import type { Redis } from 'ioredis';
import { createRedis } from '@keyturn/queue';
import { RotationRunner } from '@keyturn/rotation';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Thin: parse the job, run the use case, decide when to try again. Retries
 * that are not failures (busy user, throttling, retire owed) move the job to
 * the delayed set without spending one of its attempts.
 */
@Injectable()
export class RotationProcessor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RotationProcessor');
  private worker?: Worker;
  private connection?: Redis;

  constructor(
    private readonly runner: RotationRunner,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
  ) {}

  onApplicationBootstrap(): void {
    const leaseMs = this.config.rotation.leaseMs;
    this.connection = createRedis(this.config.redis.url);
    this.worker = new Worker(QueueName.Rotation, (job, token) => this.process(job, token), {
      connection: this.connection,
      prefix: this.config.redis.prefix,
      concurrency: this.config.rotation.concurrency,
      // The job lock and the rotation lease expire together, so a job left by a dead worker is picked up as the lease lapses.
      lockDuration: leaseMs,
      stalledInterval: Math.max(1_000, Math.floor(leaseMs / 2)),
      // A crashing worker must not turn into a failed rotation: the row's attempt counter decides that.
      maxStalledCount: 1_000,
    });
    this.worker.on('error', (e) => this.logger.error(`worker: ${e.message}`));
    this.worker.on('failed', (job, e) => this.logger.warn({ jobId: job?.id, err: e.message }, 'rotation job failed'));
    this.logger.log(`consuming queue "${QueueName.Rotation}" with concurrency ${this.config.rotation.concurrency} (runner ${this.runner.owner})`);
  }

  async process(job: Job, token?: string): Promise<void> {
    switch (job.name as JobName) {
      case JobName.RunRotation: {
        const { rotationId } = job.data as RunRotationPayload;
        if (typeof rotationId !== 'string' || !UUID.test(rotationId)) {
          this.logger.error({ jobId: job.id }, 'malformed rotation job; dropped');
          return;
        }
        const outcome = await this.runner.execute(rotationId);
        if (outcome.kind === 'later') {
          this.logger.debug({ rotationId, reason: outcome.reason, delayMs: outcome.delayMs }, 'rotation postponed');
          await job.moveToDelayed(Date.now() + outcome.delayMs, token);
          throw new DelayedError();
        }
        return;
      }
      case JobName.RunHeartbeat:
        throw new Error(`job ${job.name} does not belong on the ${QueueName.Rotation} queue`);
      default: {
        const unknown: never = job.name as never;
        throw new Error(`unknown job ${String(unknown)}`);
      }
    }
  }

  /** SIGTERM: stop taking jobs and let the running ones finish (or their lease lapses for another worker). */
  async onApplicationShutdown(): Promise<void> {
    await this.worker?.close();
    await this.connection?.quit().catch(() => this.connection?.disconnect());
  }
}
