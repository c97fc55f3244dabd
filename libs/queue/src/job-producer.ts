import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Queue, type JobsOptions } from 'bullmq';
import { JobName, QueueName, type JobPayloads } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import type { Redis } from 'ioredis';
import { createRedis } from './redis.js';

const QUEUE_OF: Record<JobName, QueueName> = {
  [JobName.RunRotation]: QueueName.Rotation,
  [JobName.RunHeartbeat]: QueueName.Heartbeat,
};

/**
 * Enqueues jobs. Payloads are ids only; Postgres holds the truth, so a lost
 * enqueue is repaired by the scheduler's reconciler, never by the caller.
 */
@Injectable()
export class JobProducer implements OnApplicationShutdown {
  private readonly logger = new Logger('JobProducer');
  private readonly queues = new Map<QueueName, Queue>();
  private readonly connections: Redis[] = [];

  constructor(@Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig) {}

  queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      const connection = createRedis(this.config.redis.url, { maxRetriesPerRequest: 2 });
      this.connections.push(connection);
      q = new Queue(name, {
        connection,
        prefix: this.config.redis.prefix,
      });
      q.on('error', (e) => this.logger.warn(`queue ${name}: ${e.message}`));
      this.queues.set(name, q);
    }
    return q;
  }

  async add<N extends JobName>(name: N, payload: JobPayloads[N], opts: JobsOptions & { jobId: string }): Promise<void> {
    await this.queue(QUEUE_OF[name]).add(name, payload, {
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
      ...opts,
    });
  }

  /** Best effort: a failed enqueue is logged, and the reconciler enqueues the row later. */
  async tryAdd<N extends JobName>(name: N, payload: JobPayloads[N], opts: JobsOptions & { jobId: string }): Promise<boolean> {
    try {
      await this.add(name, payload, opts);
      return true;
    } catch (e) {
      this.logger.warn(`could not enqueue ${name} ${opts.jobId}: ${(e as Error).message}; the reconciler will retry`);
      return false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    // BullMQ leaves connections it was handed open.
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
