import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { REDIS } from '@keyturn/queue';

export interface LimiterPolicy {
  /** Failed authentications allowed per address per window before answering 429. */
  maxFailures: number;
  windowSeconds: number;
}

export const DEFAULT_LIMITER_POLICY: LimiterPolicy = { maxFailures: 10, windowSeconds: 60 };

/**
 * Counts failed authentications per client address in Redis, so the limit
 * holds across every API process. Past the limit, the address gets 429 until
 * the window ends; successful requests do not reset it (a guesser who finds
 * one valid key must not be able to clear its own counter).
 */
@Injectable()
export class AuthLimiter {
  private readonly prefix: string;
  readonly policy: LimiterPolicy = DEFAULT_LIMITER_POLICY;

  constructor(@Inject(REDIS) private readonly redis: Redis, @Inject(KEYTURN_CONFIG) config: KeyturnConfig) {
    this.prefix = `${config.redis.prefix}:authfail:`;
  }

  /** Seconds to wait before trying again, or 0 when the address may try. */
  async blockedFor(ip: string): Promise<number> {
    const key = this.prefix + ip;
    const [count, ttl] = await Promise.all([this.redis.get(key), this.redis.ttl(key)]);
    return Number(count ?? 0) >= this.policy.maxFailures ? Math.max(ttl, 1) : 0;
  }

  async recordFailure(ip: string): Promise<void> {
    const key = this.prefix + ip;
    const n = await this.redis.incr(key);
    if (n === 1) await this.redis.expire(key, this.policy.windowSeconds);
  }
}
