import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Queue, type JobsOptions } from 'bullmq';
import { JobName, QueueName, type JobPayloads } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { REDIS_DOWN_STATES, createRedis, type RedisClient } from './redis.js';

/**
 * The longest an enqueue may hold a request. Past it the row stays queued and
 * the reconciler enqueues it; an API request must not wait on a dead Redis.
 */
export const ENQUEUE_TIMEOUT_MS = 2_000;

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
  private readonly connections: RedisClient[] = [];
  private readonly connectionOf = new Map<Queue, RedisClient>();

  constructor(@Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig) {}

  queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      const connection = createRedis(this.config.redis, { maxRetriesPerRequest: 2 });
      this.connections.push(connection);
      q = new Queue(name, {
        connection,
        prefix: this.config.redis.prefix,
      });
      q.on('error', (e) => this.logger.warn(`queue ${name}: ${e.message}`));
      this.queues.set(name, q);
      this.connectionOf.set(q, connection);
    }
    return q;
  }

  /**
   * Fails at once when the queue's Redis connection is known to be down, and
   * after ENQUEUE_TIMEOUT_MS when Redis does not answer (a queue that never
   * connected would otherwise wait for Redis to come back). A late success of
   * a timed-out add is harmless: job ids make a second add of the same job a no-op.
   */
  async add<N extends JobName>(name: N, payload: JobPayloads[N], opts: JobsOptions & { jobId: string }): Promise<void> {
    const q = this.queue(QUEUE_OF[name]);
    const status = this.connectionOf.get(q)?.status;
    if (status && REDIS_DOWN_STATES.has(status)) throw new Error(`Redis is not connected (${status})`);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        q.add(name, payload, { removeOnComplete: { age: 24 * 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 }, ...opts }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Redis did not take the job within ${ENQUEUE_TIMEOUT_MS} ms`)), ENQUEUE_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
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
