import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Queue, type JobsOptions } from 'bullmq';
import { JobName, QueueName, type JobPayloads } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { REDIS_DOWN_STATES, createRedis, type RedisClient } from './redis.js';
import { FairShare } from './fair-share.js';

/**
 * The longest an enqueue may hold a request. Past it the row stays queued and
 * the reconciler enqueues it; an API request must not wait on a dead Redis.
 */
export const ENQUEUE_TIMEOUT_MS = 2_000;

export const QUEUE_OF: Record<JobName, QueueName> = {
  [JobName.RunRotation]: QueueName.Rotation,
  [JobName.RunHeartbeat]: QueueName.Heartbeat,
  [JobName.RunDiscovery]: QueueName.Discovery,
};

/** Finished jobs are kept a while (for inspection), then dropped by BullMQ. */
const KEEP: JobsOptions = { removeOnComplete: { age: 24 * 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 } };

/**
 * Enqueues jobs. Payloads are ids only; Postgres holds the truth, so a lost
 * enqueue is repaired by the scheduler's reconciler, never by the caller.
 * A job that names its AWS account gets that account's fair-share priority
 * (see FairShare): accounts take turns instead of one backlog going first.
 */
@Injectable()
export class JobProducer implements OnApplicationShutdown {
  private readonly logger = new Logger('JobProducer');
  private readonly queues = new Map<QueueName, { queue: Queue; connection: RedisClient; fair: FairShare }>();

  constructor(@Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig) {}

  queue(name: QueueName): Queue {
    return this.entry(name).queue;
  }

  private entry(name: QueueName): { queue: Queue; connection: RedisClient; fair: FairShare } {
    let e = this.queues.get(name);
    if (!e) {
      const connection = createRedis(this.config.redis, { maxRetriesPerRequest: 2 });
      const queue = new Queue(name, { connection, prefix: this.config.redis.prefix });
      queue.on('error', (err) => this.logger.warn(`queue ${name}: ${err.message}`));
      e = { queue, connection, fair: new FairShare(connection, this.config.redis.prefix) };
      this.queues.set(name, e);
    }
    return e;
  }

  /**
   * Fails at once when the queue's Redis connection is known to be down, and
   * after ENQUEUE_TIMEOUT_MS when Redis does not answer (a queue that never
   * connected would otherwise wait for Redis to come back). A late success of
   * a timed-out add is harmless: job ids make a second add of the same job a no-op.
   */
  async add<N extends JobName>(name: N, payload: JobPayloads[N], opts: JobsOptions & { jobId: string }): Promise<void> {
    await this.addBulk(name, [{ payload, jobId: opts.jobId }], opts);
  }

  /** Several jobs of one name in one round trip (the scheduler's batches of due heartbeats); same bounds as `add`. */
  async addBulk<N extends JobName>(name: N, jobs: { payload: JobPayloads[N]; jobId: string }[], opts: JobsOptions = {}): Promise<void> {
    if (!jobs.length) return;
    const queueName = QUEUE_OF[name];
    const { queue, connection, fair } = this.entry(queueName);
    if (REDIS_DOWN_STATES.has(connection.status)) throw new Error(`Redis is not connected (${connection.status})`);
    const fairJobs = jobs.flatMap((j) => (j.payload.accountId ? [{ accountId: j.payload.accountId, jobId: j.jobId }] : []));
    const enqueue = async () => {
      const priorities = new Map((await fair.enqueue(queueName, fairJobs)).map((p, i) => [fairJobs[i]!.jobId, p]));
      try {
        await queue.addBulk(
          jobs.map((j) => {
            const priority = priorities.get(j.jobId);
            return { name, data: j.payload, opts: { ...KEEP, ...opts, jobId: j.jobId, ...(priority ? { priority } : {}) } };
          }),
        );
      } catch (e) {
        // Not added: they do not wait, so they must not count against their accounts.
        await Promise.all(fairJobs.map((j) => fair.started(queueName, j).catch(() => undefined)));
        throw e;
      }
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        enqueue(),
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
    await Promise.all([...this.queues.values()].map((e) => e.queue.close().catch(() => undefined)));
    // BullMQ leaves connections it was handed open.
    await Promise.all([...this.queues.values()].map((e) => e.connection.quit().catch(() => e.connection.disconnect())));
  }
}
