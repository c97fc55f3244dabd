import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { FairShare, PARK_AFTER_MS } from './fair-share.js';

// Real Redis (the machine's), with a key prefix of this run's own.
const url = process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379';
const A = '111111111111';
const B = '222222222222';

describe('FairShare (each account’s n-th waiting job gets priority n)', () => {
  const prefix = `kt-fair-${randomBytes(4).toString('hex')}`;
  let redis: Redis;
  let fair: FairShare;
  const backlogOf = (ms: Record<string, number>) => ({ backlogMs: async (acct: string) => ms[acct] ?? 0 });

  beforeAll(() => {
    redis = new Redis(url);
    fair = new FairShare(redis, prefix);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('numbers each account’s waiting jobs on their own, so a quiet account’s first job ranks with a busy account’s first', async () => {
    const q = 'rank';
    expect(await fair.enqueue(q, [1, 2, 3].map((i) => ({ accountId: A, jobId: `a${i}` })))).toEqual([1, 2, 3]);
    expect(await fair.enqueue(q, [{ accountId: B, jobId: 'b1' }])).toEqual([1]);
    // A job enqueued again (the reconciler, a retried request) keeps its place.
    expect(await fair.enqueue(q, [{ accountId: A, jobId: 'a2' }])).toEqual([2]);
    // Started jobs leave the count: A's next job ranks behind the two still waiting.
    await fair.started(q, { accountId: A, jobId: 'a1' });
    expect(await fair.enqueue(q, [{ accountId: A, jobId: 'a4' }])).toEqual([3]);
  });

  it('says how many jobs of other accounts wait when a job starts', async () => {
    const q = 'others';
    await fair.enqueue(q, [
      { accountId: A, jobId: 'a1' },
      { accountId: A, jobId: 'a2' },
      { accountId: B, jobId: 'b1' },
    ]);
    expect(await fair.started(q, { accountId: A, jobId: 'a1' })).toBe(1);
    expect(await fair.started(q, { accountId: B, jobId: 'b1' })).toBe(1);
    expect(await fair.started(q, { accountId: A, jobId: 'a2' })).toBe(0);
    // Starting twice (a stalled job delivered again) is harmless.
    expect(await fair.started(q, { accountId: A, jobId: 'a2' })).toBe(0);
  });

  it('admits a job whose account has a backlog while nothing else waits: parking it would only idle the slot', async () => {
    const q = 'alone';
    await fair.enqueue(q, [{ accountId: A, jobId: 'a1' }]);
    expect(await fair.admit(q, { accountId: A, jobId: 'a1' }, backlogOf({ [A]: 60_000 }))).toEqual({ run: true });
  });

  it('admits a job whose account can call AWS soon, even while other accounts wait', async () => {
    const q = 'soon';
    await fair.enqueue(q, [
      { accountId: A, jobId: 'a1' },
      { accountId: B, jobId: 'b1' },
    ]);
    expect(await fair.admit(q, { accountId: A, jobId: 'a1' }, backlogOf({ [A]: PARK_AFTER_MS }))).toEqual({ run: true });
  });

  it('parks a job whose account’s AWS pace is backed up while another account waits: the slot goes to that one, the job waits again', async () => {
    const q = 'park';
    await fair.enqueue(q, [
      { accountId: A, jobId: 'a1' },
      { accountId: B, jobId: 'b1' },
    ]);
    const verdict = await fair.admit(q, { accountId: A, jobId: 'a1' }, backlogOf({ [A]: 5_000 }));
    expect(verdict).toMatchObject({ run: false, backlogMs: 5_000 });
    const delay = (verdict as { delayMs: number }).delayMs;
    expect(delay).toBeGreaterThanOrEqual(5_000);
    expect(delay).toBeLessThanOrEqual(6_250);
    // a1 counts as waiting again, for B's job and for A's next.
    expect(await fair.started(q, { accountId: B, jobId: 'b1' })).toBe(1);
    expect(await fair.enqueue(q, [{ accountId: A, jobId: 'a2' }])).toEqual([2]);
  });

  it('forgets entries older than forgetAfterMs, so a job lost without starting cannot lower its account’s priority for long', async () => {
    const q = 'forget';
    const short = new FairShare(redis, prefix, { forgetAfterMs: 100 });
    await short.enqueue(q, [{ accountId: A, jobId: 'lost' }]);
    await new Promise((r) => setTimeout(r, 150));
    expect(await short.enqueue(q, [{ accountId: A, jobId: 'next' }])).toEqual([1]);
    expect(await short.started(q, { accountId: B, jobId: 'b-never-enqueued' })).toBe(1);
  });
});
