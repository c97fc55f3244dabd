/**
 * What a suite prints when a rotation it waits for does not finish: each
 * rotation's row, the IAM user locks, its BullMQ job (state, attempts, times,
 * failed reason), the fair-share counts, and the tail of each app's log. A
 * stall seen once in CI cannot be rerun; this says where it stopped.
 * Diagnostics only: the caller rethrows its own error after printing it.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QueueName } from '@keyturn/contracts';
import { rotationJobId } from '@keyturn/secrets';
import { REDIS_URL, rawDb, type SpawnedApp, type TestEnv } from './harness.js';

const COLUMNS =
  'id, secret_id, secret_type, status, step, mode, attempt, lease_owner, lease_expires_at, retire_pending, error_code, ' +
  'jsonb_array_length(warnings) AS warnings, created_at, started_at, finished_at, updated_at, now() AS db_now';

export async function rotationStallReport(t: TestEnv, rotationIds: string[], apps: Record<string, SpawnedApp>, tailChars = 6000): Promise<string> {
  const out: string[] = [`--- rotation stall report (${new Date().toISOString()}) ---`];
  const part = async (title: string, fn: () => Promise<unknown>) => {
    try {
      out.push(`${title}: ${JSON.stringify(await fn(), null, 1)}`);
    } catch (e) {
      out.push(`${title}: could not read (${(e as Error).message})`);
    }
  };
  const db = await rawDb(t).catch(() => null);
  const prefix = t.env.KEYTURN_QUEUE_PREFIX!;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const queue = new Queue(QueueName.Rotation, { connection: redis, prefix });
  try {
    if (db) {
      await part('rotations', async () => (await db.query(`SELECT ${COLUMNS} FROM rotations WHERE id = ANY($1::uuid[]) ORDER BY created_at`, [rotationIds])).rows);
      await part('lease_locks', async () => (await db.query(`SELECT lock_key, owner, expires_at, taken_at, now() AS db_now FROM lease_locks`)).rows);
    }
    for (const id of rotationIds) {
      await part(`job ${rotationJobId(id)}`, async () => {
        const job = await queue.getJob(rotationJobId(id));
        if (!job) return 'none';
        return {
          state: await job.getState(),
          attemptsMade: job.attemptsMade,
          attemptsStarted: job.attemptsStarted,
          stalledCounter: job.stalledCounter,
          priority: job.priority,
          delay: job.delay,
          timestamp: job.timestamp,
          processedOn: job.processedOn,
          finishedOn: job.finishedOn,
          failedReason: job.failedReason,
          stacktrace: job.stacktrace?.slice(-2),
        };
      });
    }
    await part('queue counts', () => queue.getJobCounts());
    await part('fair share (rotation, all waiting)', () => redis.zrange(`${prefix}:fair:${QueueName.Rotation}:all`, 0, -1, 'WITHSCORES'));
  } finally {
    await queue.close().catch(() => undefined);
    redis.disconnect();
    await db?.end().catch(() => undefined);
  }
  for (const [name, app] of Object.entries(apps)) out.push(`--- ${name} log, last ${tailChars} characters ---\n${app.output().slice(-tailChars)}`);
  out.push('--- end of rotation stall report ---');
  return out.join('\n') + '\n';
}
