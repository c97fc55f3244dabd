import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { AccountPacer } from './account-pacer.js';
import { FairShare, PARK_AFTER_MS } from './fair-share.js';

// Real Redis (the machine's), with a key prefix of this run's own.
const url = process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379';
const A = '111111111111';
const B = '222222222222';

describe('FairShare (each account’s n-th waiting job gets priority n)', () => {
  const prefix = `kt-fair-${randomBytes(4).toString('hex')}`;
  let redis: Redis;
  let fair: FairShare;
  // One call a second, no burst: an account's backlog is its next turn's time minus now.
  let pacer: AccountPacer;
  /** Makes `acct`'s next AWS call wait `ms` from now, as if calls were queued ahead of it. */
  const backlog = async (acct: string, ms: number) => {
    const [s, us] = await redis.time();
    const now = Number(s) * 1000 + Number(us) / 1000;
    await redis.set(`${prefix}:pacer:${acct}`, String(now + ms), 'PX', ms + 1_000);
  };
  /** The commands `redis` sends while `fn` runs, each one a round trip, as sent (a client's first call of a script is an EVAL, later ones EVALSHA). */
  const commandsOf = async (fn: () => Promise<unknown>): Promise<string[]> => {
    const sent: { name: string }[] = [];
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((cmd: Parameters<typeof send>[0], stream?: Parameters<typeof send>[1]) => {
      sent.push(cmd);
      return send(cmd, stream);
    }) as typeof redis.sendCommand;
    try {
      await fn();
    } finally {
      delete (redis as unknown as Record<string, unknown>)['sendCommand'];
    }
    return sent.map((c) => c.name);
  };

  beforeAll(() => {
    redis = new Redis(url);
    fair = new FairShare(redis, prefix);
    pacer = new AccountPacer(redis, prefix, 1, 1);
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
    await backlog(A, 60_000);
    expect(await fair.admit(q, { accountId: A, jobId: 'a1' }, pacer)).toEqual({ run: true });
  });

  it('admits a job whose account can call AWS soon, even while other accounts wait', async () => {
    const q = 'soon';
    await fair.enqueue(q, [
      { accountId: A, jobId: 'a1' },
      { accountId: B, jobId: 'b1' },
    ]);
    await backlog(A, PARK_AFTER_MS - 50);
    expect(await fair.admit(q, { accountId: A, jobId: 'a1' }, pacer)).toEqual({ run: true });
    // It started: it no longer counts as waiting.
    expect(await fair.started(q, { accountId: B, jobId: 'b1' })).toBe(0);
  });

  it('parks a job whose account’s AWS pace is backed up while another account waits: the slot goes to that one, the job waits again', async () => {
    const q = 'park';
    await fair.enqueue(q, [
      { accountId: A, jobId: 'a1' },
      { accountId: B, jobId: 'b1' },
    ]);
    await backlog(A, 5_000);
    const verdict = await fair.admit(q, { accountId: A, jobId: 'a1' }, pacer);
    if (verdict.run) throw new Error('expected the job to be parked');
    expect(verdict.backlogMs).toBeGreaterThan(4_900);
    expect(verdict.backlogMs).toBeLessThanOrEqual(5_000);
    expect(verdict.delayMs).toBeGreaterThanOrEqual(verdict.backlogMs);
    expect(verdict.delayMs).toBeLessThanOrEqual(Math.round(verdict.backlogMs * 1.25));
    // a1 counts as waiting again, for B's job and for A's next.
    expect(await fair.started(q, { accountId: B, jobId: 'b1' })).toBe(1);
    expect(await fair.enqueue(q, [{ accountId: A, jobId: 'a2' }])).toEqual([2]);
  });

  it('admits or parks in one round trip to Redis (EVALSHA of a cached script), also when other accounts wait and the job is parked', async () => {
    const q = 'one-trip';
    await redis.del(`${prefix}:pacer:${A}`);
    await fair.enqueue(q, [
      { accountId: A, jobId: 'a1' },
      { accountId: A, jobId: 'a2' },
      { accountId: B, jobId: 'b1' },
    ]);
    // The first admission sends the script itself (EVAL); later ones send only its SHA1.
    await fair.admit(q, { accountId: A, jobId: 'a1' }, pacer);
    expect(await commandsOf(() => fair.admit(q, { accountId: A, jobId: 'a1' }, pacer))).toEqual(['evalsha']);
    await backlog(A, 5_000);
    let verdict: unknown;
    expect(await commandsOf(async () => (verdict = await fair.admit(q, { accountId: A, jobId: 'a2' }, pacer)))).toEqual(['evalsha']);
    expect(verdict).toMatchObject({ run: false });
    // Parked, a2 waits again in its old place: A's next job ranks second.
    expect(await fair.enqueue(q, [{ accountId: A, jobId: 'a3' }])).toEqual([2]);
  });

  it('takes a running job’s first AWS turn in the admission’s own round trip, as the pacer would take it', async () => {
    const q = 'turn';
    await redis.del(`${prefix}:pacer:${A}`);
    await fair.enqueue(q, [1, 2].map((i) => ({ accountId: A, jobId: `t${i}` })));
    // Without turnWithinMs no turn is taken (the pacer's key stays as it was).
    expect(await fair.admit(q, { accountId: A, jobId: 't1' }, pacer)).toEqual({ run: true });
    expect(await pacer.backlogMs(A)).toBe(0);
    let verdict: unknown;
    expect(await commandsOf(async () => (verdict = await fair.admit(q, { accountId: A, jobId: 't2' }, pacer, { turnWithinMs: 5_000 })))).toEqual(['evalsha']);
    expect(verdict).toEqual({ run: true, turnWaitMs: 0 });
    // The turn is gone: at one call a second, the next call now waits about a second.
    const after = await pacer.backlogMs(A);
    expect(after).toBeGreaterThan(900);
    expect(after).toBeLessThanOrEqual(1_000);
    // A second job's turn comes after the first's: its wait is that backlog.
    await fair.enqueue(q, [{ accountId: A, jobId: 't3' }]);
    const third = await fair.admit(q, { accountId: A, jobId: 't3' }, pacer, { turnWithinMs: 5_000 });
    if (!third.run || third.turnWaitMs === undefined) throw new Error('expected a turn');
    expect(third.turnWaitMs).toBeGreaterThan(800);
    expect(third.turnWaitMs).toBeLessThanOrEqual(1_000);
  });

  it('takes no turn when it would come later than turnWithinMs, nor for a parked job', async () => {
    const q = 'no-turn';
    await fair.enqueue(q, [{ accountId: A, jobId: 'n1' }]);
    await backlog(A, 3_000);
    expect(await fair.admit(q, { accountId: A, jobId: 'n1' }, pacer, { turnWithinMs: 1_000 })).toEqual({ run: true });
    expect(await pacer.backlogMs(A)).toBeLessThanOrEqual(3_000);
    await fair.enqueue(q, [
      { accountId: A, jobId: 'n2' },
      { accountId: B, jobId: 'm1' },
    ]);
    const parked = await fair.admit(q, { accountId: A, jobId: 'n2' }, pacer, { turnWithinMs: 10_000 });
    expect(parked).toMatchObject({ run: false });
    expect(await pacer.backlogMs(A)).toBeLessThanOrEqual(3_000);
  });

  it('sends enqueue and started as EVALSHA of cached scripts', async () => {
    const q = 'sha';
    const job = { accountId: A, jobId: 'x1' };
    await fair.enqueue(q, [job]);
    await fair.started(q, job);
    expect(await commandsOf(() => fair.enqueue(q, [job]))).toEqual(['evalsha']);
    expect(await commandsOf(() => fair.started(q, job))).toEqual(['evalsha']);
  });

  it('on the worker’s shared auto-pipelining connection, a job’s admission and another job’s first paced call in one tick both answer', async () => {
    // As the rotation worker's first jobs start: one is admitted while another makes its first AWS call.
    const shared = new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 2 });
    try {
      await shared.ping();
      const q = 'shared-tick';
      const sharedFair = new FairShare(shared, prefix);
      const sharedPacer = new AccountPacer(shared, prefix, 100, 100);
      await sharedFair.enqueue(q, [{ accountId: A, jobId: 'j1' }]);
      const admitted = sharedFair.admit(q, { accountId: A, jobId: 'j1' }, sharedPacer);
      const took = sharedPacer.take(B);
      expect(await Promise.all([admitted, took])).toEqual([{ run: true }, true]);
      // And the connection goes on answering.
      expect(await Promise.all([sharedPacer.take(B), shared.ping()])).toEqual([true, 'PONG']);
    } finally {
      shared.disconnect();
    }
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
