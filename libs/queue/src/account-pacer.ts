import { LuaScript, type RedisClient } from './redis.js';
import { metrics } from '@keyturn/metrics';

/**
 * Lua: `pacerReserve(key, interval, tolerance, maxWait)`, the heart of the
 * pacing below, for scripts that take a turn or look at the backlog with other
 * work in the same round trip (the fair-share admission does both). Returns
 * the wait in ms; a turn is taken only when maxWait >= 0 and the wait is
 * within it.
 */
export const PACER_RESERVE_LUA = `
local function pacerReserve(key, interval, tolerance, maxWait)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local wait = tat - tolerance - now
  if wait < 0 then wait = 0 end
  if maxWait < 0 or wait > maxWait then return wait end
  local nextTat = tat + interval
  redis.call('SET', key, tostring(nextTat), 'PX', math.ceil(nextTat - now) + 1000)
  return wait
end
`;

/**
 * Pacing per AWS account, kept in Redis so that every worker process draws
 * from the same allowance: IAM throttles per account, and its quotas cannot be
 * raised. A generic cell rate algorithm: the key holds the time at which the
 * account's next call may go (its "theoretical arrival time"), so a call takes
 * a turn and then sleeps until it, instead of polling. Waiting calls go in the
 * order they asked, and the time a new call would wait (backlogMs) is known
 * without taking a turn, which the worker's fair-share admission uses.
 * Time comes from Redis itself, so workers' clocks do not matter.
 *
 * ARGV: interval between calls (ms), burst tolerance (ms), the longest wait
 * the caller accepts (ms; a negative one only looks). Returns the wait in ms;
 * when it is above the longest accepted, no turn is taken.
 */
const RESERVE = new LuaScript(`${PACER_RESERVE_LUA}
return tostring(pacerReserve(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])))
`);

/** Sleeps until a turn taken with a wait of `waitMs` comes, and records the wait. */
export async function waitForTurn(waitMs: number): Promise<void> {
  if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
  metrics().pacerWaited(waitMs / 1000);
}

export class AccountPacer {
  private readonly intervalMs: number;
  private readonly toleranceMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    ratePerSecond: number,
    burst = Math.max(1, Math.ceil(ratePerSecond)),
  ) {
    this.intervalMs = 1000 / ratePerSecond;
    this.toleranceMs = (burst - 1) * this.intervalMs;
  }

  /** The key of an account's allowance (named apart from the token-bucket hashes older versions kept under `pace:`). */
  private key(accountId: string): string {
    return `${this.prefix}:pacer:${accountId}`;
  }

  /** What a script needs to look at the backlog or take a turn itself (see PACER_RESERVE_LUA): the account's key, the interval and the burst tolerance. */
  turnSource(accountId: string): { key: string; intervalMs: number; toleranceMs: number } {
    return { key: this.key(accountId), intervalMs: this.intervalMs, toleranceMs: this.toleranceMs };
  }

  private async reserve(accountId: string, maxWaitMs: number): Promise<number> {
    const wait = await RESERVE.run(this.redis, [this.key(accountId)], [this.intervalMs, this.toleranceMs, Number.isFinite(maxWaitMs) ? maxWaitMs : 1e15]);
    return Math.ceil(Number(wait));
  }

  /** Takes a turn if one is free now: 0, or else the milliseconds until one will be (no turn taken then). */
  async tryTake(accountId: string): Promise<number> {
    return this.reserve(accountId, 0);
  }

  /** How long a call to `accountId` asked now would wait for its turn: the calls already waiting ahead of it. Takes no turn. */
  async backlogMs(accountId: string): Promise<number> {
    return this.reserve(accountId, -1);
  }

  /**
   * Takes a turn for a call that will go out a little later (the caller sleeps
   * until it: waitForTurn): the ms from now until it comes, or undefined when
   * it would come later than `maxWaitMs` (no turn taken then).
   */
  async reserveWithin(accountId: string, maxWaitMs: number): Promise<number | undefined> {
    const wait = await this.reserve(accountId, maxWaitMs);
    return wait > maxWaitMs ? undefined : wait;
  }

  /**
   * Resolves true when a call to `accountId` may go out, or false at once when
   * its turn would come later than `maxWaitMs` from now (no turn is taken
   * then). A bounded wait keeps the time a caller can spend before its AWS call
   * finite, which the rotation protocol relies on.
   */
  async take(accountId: string, maxWaitMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const wait = await this.reserveWithin(accountId, maxWaitMs);
    if (wait === undefined) return false;
    await waitForTurn(wait);
    return true;
  }
}
