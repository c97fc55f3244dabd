import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { LuaScript, REDIS, type RedisClient } from '@keyturn/queue';
import { UnderLimitCache } from './under-limit-cache.js';

export interface LimiterPolicy {
  /** Failed authentications allowed per address per window before answering 429. */
  maxFailures: number;
  windowSeconds: number;
}

export const DEFAULT_LIMITER_POLICY: LimiterPolicy = { maxFailures: 10, windowSeconds: 60 };

/** How long a request waits on a slow Redis for the limiter before it goes on without it (generous: a busy event loop must not turn the limiter off). */
const LIMITER_TIMEOUT_MS = 2_000;
/** ioredis states in which a connection that was up is known to be down. */
const DOWN = new Set(['reconnecting', 'close', 'end']);

// One script each, so no crash or lost connection can leave a counter without an
// expiry (which would lock the address out for good). A counter found without one
// (left by an older version, or by hand) gets the window's expiry.
const RECORD_FAILURE = new LuaScript(`
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`);
const BLOCKED_FOR = new LuaScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n == 0 then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`);

/**
 * Counts failed authentications per client address in Redis, so the limit
 * holds across every API process. Past the limit, the address gets 429 until
 * the window ends; successful requests do not reset it (a guesser who finds
 * one valid key must not be able to clear its own counter).
 *
 * Without Redis the limiter fails open (with a warning): refusing every valid
 * key during a Redis outage would be worse than not counting guesses for a while.
 *
 * An address found under the limit is remembered in this process until Redis
 * reports a write of its counter (UnderLimitCache: client-side caching with
 * Redis's invalidation messages), so the common request makes no Redis call
 * at all. An address at the limit always asks Redis.
 */
@Injectable()
export class AuthLimiter implements OnApplicationShutdown {
  private readonly logger = new Logger('AuthLimiter');
  private readonly prefix: string;
  private lastWarning = 0;
  readonly policy: LimiterPolicy = DEFAULT_LIMITER_POLICY;
  readonly underLimit: UnderLimitCache;

  constructor(@Inject(REDIS) private readonly redis: RedisClient, @Inject(KEYTURN_CONFIG) config: KeyturnConfig) {
    this.prefix = `${config.redis.prefix}:authfail:`;
    this.underLimit = new UnderLimitCache(redis, this.prefix);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.underLimit.close();
  }

  /**
   * Seconds to wait before trying again, or 0 when the address may try. Every
   * request asks: an address known to be under the limit is answered from
   * memory, another costs one GET of a few bytes; only an address at the limit
   * runs the script that reads the window's end (and gives a counter left
   * without an expiry one).
   */
  async blockedFor(ip: string): Promise<number> {
    const key = this.prefix + ip;
    if (this.underLimit.has(key)) return 0;
    const ask = this.underLimit.ask(key);
    let answered = false;
    const count = await this.bounded(async () => {
      const c = await this.redis.get(key);
      answered = true;
      return c;
    });
    const under = count === null || Number(count) < this.policy.maxFailures;
    this.underLimit.answered(ask, answered && under);
    if (under) return 0;
    const windowMs = this.policy.windowSeconds * 1000;
    const result = await this.bounded(() => BLOCKED_FOR.run(this.redis, [key], [windowMs]) as Promise<[number, number]>);
    if (!result) return 0;
    const [n, ttlMs] = result;
    return n >= this.policy.maxFailures ? Math.max(1, Math.ceil(ttlMs / 1000)) : 0;
  }

  async recordFailure(ip: string): Promise<void> {
    const key = this.prefix + ip;
    // Forgotten before (no answer given meanwhile is kept) and after (whatever was learnt while it ran).
    this.underLimit.forget(key);
    await this.bounded(() => RECORD_FAILURE.run(this.redis, [key], [this.policy.windowSeconds * 1000]));
    this.underLimit.forget(key);
  }

  /** The command's answer, or null when Redis is down or slow (then the request goes on without the limiter). */
  private async bounded<T>(fn: () => Promise<T>): Promise<T | null> {
    // A connection known to be down would queue the command until ioredis gives up: skip it at once.
    // (While it first connects, the command waits for it, within the same bound.)
    if (DOWN.has(this.redis.status)) return this.failOpen(`Redis connection is ${this.redis.status}`);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${LIMITER_TIMEOUT_MS} ms`)), LIMITER_TIMEOUT_MS);
        }),
      ]);
    } catch (e) {
      return this.failOpen((e as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  private failOpen(reason: string): null {
    // One line per 10 s is enough to see the outage without flooding the log.
    if (Date.now() - this.lastWarning > 10_000) {
      this.lastWarning = Date.now();
      this.logger.warn(`failed-authentication limiter is off: ${reason}; requests are let through unlimited until Redis answers`);
    }
    return null;
  }
}
