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
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

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
});
