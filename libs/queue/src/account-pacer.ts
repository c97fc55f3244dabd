import type { RedisClient } from './redis.js';

/**
 * A token bucket per AWS account, kept in Redis so that every worker process
 * draws from the same bucket: IAM throttles per account, and its quotas cannot
 * be raised. Time comes from Redis itself, so workers' clocks do not matter.
 */
const TAKE = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 60000)
return wait
`;

export class AccountPacer {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly ratePerSecond: number,
    private readonly burst = Math.max(1, Math.ceil(ratePerSecond)),
  ) {}

  /** Takes a token if one is there: 0, or else the milliseconds until one will be. */
  async tryTake(accountId: string): Promise<number> {
    return Number(await this.redis.eval(TAKE, 1, `${this.prefix}:pace:${accountId}`, this.ratePerSecond, this.burst));
  }

  /**
   * Resolves true when a call to `accountId` may go out, or false as soon as
   * the next token would come later than `maxWaitMs` from now (no token is
   * taken then). A bounded wait keeps the time a caller can spend before its
   * AWS call finite, which the rotation protocol relies on.
   */
  async take(accountId: string, maxWaitMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadline = Date.now() + maxWaitMs;
    for (let wait = await this.tryTake(accountId); wait > 0; wait = await this.tryTake(accountId)) {
      if (Date.now() + wait > deadline) return false;
      await new Promise((r) => setTimeout(r, wait));
    }
    return true;
  }
}
