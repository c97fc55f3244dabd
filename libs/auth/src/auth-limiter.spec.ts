import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { KeyturnConfig } from '@keyturn/config';
import { AuthLimiter } from './auth-limiter.js';

// Real Redis (the machine's), with a key prefix of this run's own.
const url = process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('AuthLimiter', () => {
  const prefix = `kt-authlim-${randomBytes(4).toString('hex')}`;
  let redis: Redis;
  let limiter: AuthLimiter;
  // The commands themselves (a client's first call of a script is an EVAL, later ones EVALSHA).
  const sent: { name: string }[] = [];
  const names = () => sent.map((c) => c.name);

  beforeAll(() => {
    redis = new Redis(url);
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((cmd: Parameters<typeof send>[0], stream?: Parameters<typeof send>[1]) => {
      sent.push(cmd);
      return send(cmd, stream);
    }) as typeof redis.sendCommand;
    limiter = new AuthLimiter(redis, { redis: { prefix } } as KeyturnConfig);
  });
  afterAll(async () => {
    await limiter.onApplicationShutdown();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  /** Until `check` holds (a state reached by an event: a connection's or Redis's message). */
  async function until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise((r) => setTimeout(r, 5));
  }

  /** Asks about `ip` (under the limit) and checks that the answer is remembered; its counter's key. */
  async function remembered(ip: string): Promise<string> {
    const key = `${prefix}:authfail:${ip}`;
    expect(await limiter.blockedFor(ip)).toBe(0);
    expect(limiter.underLimit.has(key)).toBe(true);
    return key;
  }

  /** Once the limiter remembers answers: `work` with another client of the same Redis (another replica, or a hand). */
  async function withOther(work: (other: Redis) => Promise<void>): Promise<void> {
    await until(() => limiter.underLimit.active);
    const other = new Redis(url);
    try {
      await work(other);
    } finally {
      other.disconnect();
    }
  }

  it('blocks an address after maxFailures failures, for the rest of the window, sending its scripts as EVALSHA once cached', async () => {
    const ip = '192.0.2.7';
    await limiter.recordFailure(ip);
    for (let i = 1; i < limiter.policy.maxFailures - 1; i++) {
      sent.length = 0;
      await limiter.recordFailure(ip);
      expect(names()).toEqual(['evalsha']);
    }
    expect(await limiter.blockedFor(ip)).toBe(0);
    await limiter.recordFailure(ip);
    await limiter.blockedFor(ip);
    sent.length = 0;
    const wait = await limiter.blockedFor(ip);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(limiter.policy.windowSeconds);
    expect(names()).toEqual(['get', 'evalsha']);
  });

  it('answers an address it found under the limit from memory, with no Redis command, once Redis tracks the counters', async () => {
    await until(() => limiter.underLimit.active);
    const ip = '192.0.2.30';
    sent.length = 0;
    expect(await limiter.blockedFor(ip)).toBe(0);
    expect(names()).toEqual(['get']);
    sent.length = 0;
    for (let i = 0; i < 3; i++) expect(await limiter.blockedFor(ip)).toBe(0);
    expect(names()).toEqual([]);
  });

  it("blocks at once after this process's own failures, with no message to wait for", async () => {
    await until(() => limiter.underLimit.active);
    const ip = '192.0.2.31';
    expect(await limiter.blockedFor(ip)).toBe(0);
    for (let i = 0; i < limiter.policy.maxFailures; i++) {
      expect(await limiter.blockedFor(ip)).toBe(0);
      await limiter.recordFailure(ip);
    }
    expect(await limiter.blockedFor(ip)).toBeGreaterThan(0);
  });

  it('blocks an address it had found under the limit as soon as Redis reports that another process changed its counter', () =>
    withOther(async (other) => {
      const ip = '192.0.2.32';
      const key = await remembered(ip);
      // Another replica's failures, or a counter set by hand: the message for the write drops what was known.
      await other.set(key, String(limiter.policy.maxFailures), 'PX', 60_000);
      await until(() => !limiter.underLimit.has(key));
      sent.length = 0;
      expect(await limiter.blockedFor(ip)).toBeGreaterThan(0);
      expect(names()).toEqual(['get', 'evalsha']);

      // Its expiry is a write too.
      const ip2 = '192.0.2.34';
      const key2 = await remembered(ip2);
      await other.set(key2, '1', 'PX', 300);
      await until(() => !limiter.underLimit.has(key2));
      expect(await limiter.blockedFor(ip2)).toBe(0);
      expect(limiter.underLimit.has(key2)).toBe(true);
      await until(() => !limiter.underLimit.has(key2));
      expect(await other.exists(key2)).toBe(0);
    }));

  it('forgets everything when its invalidation connection drops, asks Redis on every request until it is back, then remembers again', () =>
    withOther(async (other) => {
      const ip = '192.0.2.33';
      const key = await remembered(ip);
      await other.client('KILL', 'ID', String(limiter.underLimit.connectionId));
      await until(() => !limiter.underLimit.active);
      expect(limiter.underLimit.has(key)).toBe(false);
      // A block made while no invalidation can arrive is seen by the next request all the same.
      await other.set(key, String(limiter.policy.maxFailures), 'PX', 60_000);
      sent.length = 0;
      expect(await limiter.blockedFor(ip)).toBeGreaterThan(0);
      expect(names()[0]).toBe('get');
      await other.del(key);

      await until(() => limiter.underLimit.active);
      sent.length = 0;
      expect(await limiter.blockedFor(ip)).toBe(0);
      expect(await limiter.blockedFor(ip)).toBe(0);
      expect(names()).toEqual(['get']);
      // Tracking is on for the new connection: a write is reported again.
      await other.set(key, '1', 'PX', 60_000);
      await until(() => !limiter.underLimit.has(key));
    }));

  it('does not keep an answer that a write of its counter may have overtaken', () =>
    withOther(async (other) => {
      const key = `${prefix}:authfail:192.0.2.35`;
      const overtaken = limiter.underLimit.ask(key);
      const untouched = limiter.underLimit.ask(`${prefix}:authfail:192.0.2.36`);
      await other.set(key, '3', 'PX', 60_000);
      await until(() => overtaken.stale);
      // Used for the request that asked, not kept; an answer about another counter is kept.
      limiter.underLimit.answered(overtaken, true);
      limiter.underLimit.answered(untouched, true);
      expect(limiter.underLimit.has(key)).toBe(false);
      expect(limiter.underLimit.has(`${prefix}:authfail:192.0.2.36`)).toBe(true);
    }));
});
