import { Redis } from 'ioredis';
import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { REDIS_URL, client, createTestEnv, eventually, rawDb, startApi, type Client, type RunningApi, type TestEnv } from './harness.js';

/** How many heartbeats the scheduler lets wait in Redis (KEYTURN_SCHEDULER_MAX_QUEUED_HEARTBEATS). */
const MAX_QUEUED = 30;
/** Key secrets whose heartbeat came due while Keyturn was down. */
const SECRETS = 120;

describe('a cold start after downtime: a bounded heartbeat backlog that drains at the AWS pace, and rotations never behind it', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  let redis: Redis;
  const procs = new Processes(() => ({
    ...t.env,
    ...aws.env,
    ...WORKER_ENV,
    KEYTURN_SCHEDULER_TICK_MS: '200',
    KEYTURN_SCHEDULER_BATCH: '10',
    KEYTURN_SCHEDULER_MAX_QUEUED_HEARTBEATS: String(MAX_QUEUED),
    // Each account's AWS pace: a heartbeat makes up to 2 calls, so the backlog drains at about 2.5 heartbeats/s.
    KEYTURN_AWS_RATE_PER_ACCOUNT: '5',
  }));
  const { keySecret, rotate, finished } = vaultOps(() => admin, () => aws.accountId);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await procs.stopAll();
    redis?.disconnect();
    await api?.close();
    await t?.drop();
    await aws?.close();
  });

  /** Heartbeat jobs that wait in Redis (BullMQ's wait list, or its prioritized set with a fair-share priority). */
  const queued = async () => {
    const p = t.env.KEYTURN_QUEUE_PREFIX;
    return (await redis.llen(`${p}:heartbeat:wait`)) + (await redis.zcard(`${p}:heartbeat:prioritized`));
  };

  it('keeps at most the limit queued while the rest waits in Postgres, and a rotation requested meanwhile runs at once', async () => {
    // The secret to rotate, with the permissions a rotation needs; the others only heartbeat.
    const name = aws.uniqueName('cold');
    const u = await aws.user(name, requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy);
    const rotated = await keySecret(name, u);
    const ids = [rotated];
    for (let i = 1; i < SECRETS; i++) {
      const n = aws.uniqueName('cold');
      ids.push(await keySecret(n, await aws.user(n)));
    }
    const db = await rawDb(t);
    try {
      // Keyturn was down for two hours: every heartbeat is overdue.
      await db.query(`UPDATE heartbeat_due SET due_at = now() - interval '2 hours' WHERE secret_id = ANY($1::uuid[])`, [ids]);
      await procs.start('heartbeat-scheduler');
      // With no worker, the scheduler fills the queue up to the limit and leaves the rest due in Postgres.
      await eventually(async () => (await queued()) === MAX_QUEUED);
      // The scheduled heartbeats only: the rotation's verify step records a heartbeat of its own (trigger
      // 'rotation'), which counted towards `done` let the wait below end with one scheduled check still running.
      const counts = async () =>
        (
          await db.query(
            `SELECT count(*) FILTER (WHERE due_at <= now())::int AS due,
                    (SELECT count(*)::int FROM heartbeats h WHERE h.secret_id = ANY($1::uuid[]) AND h.trigger = 'schedule') AS made,
                    (SELECT count(*)::int FROM heartbeats h WHERE h.secret_id = ANY($1::uuid[]) AND h.trigger = 'schedule' AND h.status = 'done') AS done
               FROM heartbeat_due WHERE secret_id = ANY($1::uuid[])`,
            [ids],
          )
        ).rows[0] as { due: number; made: number; done: number };
      const held = await counts();
      expect(held.made).toBe(MAX_QUEUED);
      expect(held.due).toBe(SECRETS - MAX_QUEUED);

      // The worker drains the backlog at the AWS pace; the scheduler tops the queue up, never past the limit.
      await procs.start('rotation-worker');
      const seen: number[] = [];
      await eventually(async () => {
        seen.push(await queued());
        return (await counts()).done >= 5;
      }, 120_000);
      // Requested while most heartbeats still wait: the rotation has its own queue and is not behind them.
      const rotation = await rotate(rotated);
      const r = await finished(rotation, 120_000);
      seen.push(await queued());
      const after = await counts();
      expect(r).toMatchObject({ status: 'succeeded' });
      // The rotation finished while the heartbeat backlog was still there (in Redis and in Postgres).
      expect(after.done).toBeLessThan(SECRETS / 2);
      expect(after.due + (await queued())).toBeGreaterThan(0);
      expect(Math.max(...seen)).toBeLessThanOrEqual(MAX_QUEUED);

      // And the backlog drains to the end: every overdue secret is checked once, through the bounded queue.
      await eventually(async () => {
        seen.push(await queued());
        const c = await counts();
        return c.due === 0 && c.done >= SECRETS ? c : null;
      }, 300_000, 500);
      expect(Math.max(...seen)).toBeLessThanOrEqual(MAX_QUEUED);
      // (The rotated secret is left out: a check that ran across its promotion ends with no outcome, by design.)
      const outcomes = (
        await db.query(`SELECT outcome, count(*)::int AS n FROM heartbeats WHERE secret_id = ANY($1::uuid[]) AND secret_id <> $2 AND trigger = 'schedule' GROUP BY outcome`, [ids, rotated])
      ).rows;
      expect(outcomes).toEqual([{ outcome: 'success', n: expect.any(Number) }]);
    } finally {
      await db.end();
    }
  }, 600_000);
});
