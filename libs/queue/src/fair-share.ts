import { PRIORITY_LIMIT } from 'bullmq';
import { PACER_RESERVE_LUA, type AccountPacer } from './account-pacer.js';
import { LuaScript, type RedisClient } from './redis.js';

/** A job and the AWS account it works in. */
export interface FairJob {
  accountId: string;
  jobId: string;
}

/**
 * `turnWaitMs`: the job's first AWS call in its account already has its turn,
 * taken by the admission; it comes this many ms after the admission answered.
 */
export type Admission = { run: true; turnWaitMs?: number } | { run: false; delayMs: number; backlogMs: number };

/**
 * A job whose first AWS call would wait longer than this for its account's
 * pace, while jobs of other accounts wait, gives its concurrency slot to them.
 */
export const PARK_AFTER_MS = 1_000;
/** Waiting entries older than this are dropped from the counts: a job lost without starting must not cost its account for long. */
const FORGET_AFTER_MS = 24 * 3600_000;

// The scripts touch only keys under the prefix, whose hash tag puts them in one slot on Redis Cluster.
// KEYS[1]: the account's waiting jobs, KEYS[2]: every account's waiting jobs (sorted sets, score = enqueue time).
const PRUNE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local old = now - tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', old)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', old)
`;
/**
 * Records a batch of waiting jobs (one already recorded: no change) and returns
 * each one's place among its account's waiting jobs, from 1. One call per
 * batch, not per job: the scheduler enqueues heartbeats a thousand at a time.
 * KEYS[1]: every account's waiting jobs, KEYS[2..]: each account's of the batch;
 * ARGV[1]: forget after (ms), then pairs (index of the account's key in KEYS, job id).
 */
const ENQUEUE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local old = now - tonumber(ARGV[1])
for i = 1, #KEYS do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', old) end
local ranks = {}
for i = 2, #ARGV, 2 do
  local acct = KEYS[tonumber(ARGV[i])]
  local id = ARGV[i + 1]
  redis.call('ZADD', KEYS[1], 'NX', now, id)
  if redis.call('ZADD', acct, 'NX', now, id) == 1 then
    ranks[#ranks + 1] = redis.call('ZCARD', acct)
  else
    ranks[#ranks + 1] = redis.call('ZRANK', acct, id) + 1
  end
end
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return ranks
`);
/** Forgets a job that started (or was never added) and returns how many jobs of other accounts wait. */
const STARTED = new LuaScript(`${PRUNE}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('ZCARD', KEYS[2]) - redis.call('ZCARD', KEYS[1])
`);
/**
 * STARTED and, when jobs of other accounts wait, the account pacer's backlog
 * and the parking; and for a job that runs, the turn of its first AWS call
 * (taken as the pacer's RESERVE takes it, when it comes within the caller's
 * bound). One round trip per admission instead of up to four. The pacer's key
 * is under the same prefix as the fair-share keys, so its hash tag keeps all
 * three keys in one Redis Cluster slot.
 * KEYS[1], KEYS[2]: as STARTED; KEYS[3]: the account's pacer key. ARGV[1]: the
 * job id, ARGV[2]: forget after (ms), ARGV[3]: the pacer's burst tolerance
 * (ms), ARGV[4]: PARK_AFTER_MS, ARGV[5]: the pacer's interval (ms), ARGV[6]:
 * the longest wait for the turn (ms; negative: take none). Returns
 * { parked (0 or 1), backlog (ms; '' when nothing else waits), the turn's
 * wait (ms; '' when none was taken) }, numbers as strings.
 */
const ADMIT = new LuaScript(`${PRUNE}${PACER_RESERVE_LUA}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local tolerance = tonumber(ARGV[3])
local backlog = ''
if redis.call('ZCARD', KEYS[2]) - redis.call('ZCARD', KEYS[1]) > 0 then
  local b = pacerReserve(KEYS[3], 0, tolerance, -1)
  backlog = tostring(b)
  if math.ceil(b) > tonumber(ARGV[4]) then
    -- Parked: it waits again, as ENQUEUE would record it (its place among its account's jobs comes from now).
    redis.call('ZADD', KEYS[2], 'NX', now, ARGV[1])
    redis.call('ZADD', KEYS[1], 'NX', now, ARGV[1])
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
    return {1, backlog, ''}
  end
end
local maxWait = tonumber(ARGV[6])
if maxWait < 0 then return {0, backlog, ''} end
local wait = pacerReserve(KEYS[3], tonumber(ARGV[5]), tolerance, maxWait)
if wait > maxWait then return {0, backlog, ''} end
return {0, backlog, tostring(wait)}
`);

/**
 * A fair share of the workers across AWS accounts with plain BullMQ (groups
 * are a BullMQ Pro feature): each account's n-th waiting job is enqueued with
 * priority n, so workers take the accounts' first jobs, then their second
 * ones, round robin, instead of one account's whole backlog first. Counts live
 * in Redis next to the queue; they are advisory: an entry lost or left over
 * makes the share a little less even, never a job lost or run twice.
 */
export class FairShare {
  private readonly forgetAfterMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    opts: { forgetAfterMs?: number } = {},
  ) {
    this.forgetAfterMs = opts.forgetAfterMs ?? FORGET_AFTER_MS;
  }

  private keys(queue: string, accountId: string): [string, string] {
    return [`${this.prefix}:fair:${queue}:acct:${accountId}`, `${this.prefix}:fair:${queue}:all`];
  }

  /** Records waiting jobs and returns the BullMQ priority of each: its place among its account's waiting jobs. */
  async enqueue(queue: string, jobs: FairJob[]): Promise<number[]> {
    if (!jobs.length) return [];
    const keys = [this.keys(queue, jobs[0]!.accountId)[1]];
    const keyIndex = new Map<string, number>();
    const args: (string | number)[] = [this.forgetAfterMs];
    for (const j of jobs) {
      let k = keyIndex.get(j.accountId);
      if (k === undefined) {
        k = keys.push(this.keys(queue, j.accountId)[0]);
        keyIndex.set(j.accountId, k);
      }
      args.push(k, j.jobId);
    }
    const ranks = (await ENQUEUE.run(this.redis, keys, args)) as number[];
    return ranks.map((rank) => Math.min(Number(rank), PRIORITY_LIMIT));
  }

  /** The job started, or its add failed: it no longer waits. Returns how many jobs of other accounts wait. */
  async started(queue: string, job: FairJob): Promise<number> {
    return Number(await STARTED.run(this.redis, this.keys(queue, job.accountId), [job.jobId, this.forgetAfterMs]));
  }

  /**
   * Called as a job starts. It runs, unless its account's AWS calls are backed
   * up past PARK_AFTER_MS while other accounts' jobs wait: then it waits again
   * (the caller moves it to the delayed set until the backlog should have
   * cleared), and the slot serves another account meanwhile. With nothing else
   * waiting it runs anyway, since parking would only leave the slot idle.
   * With `turnWithinMs`, a job that runs also gets the turn of its first AWS
   * call, if it comes within that bound (`turnWaitMs`): the caller then makes
   * that call without asking the pacer, one round trip fewer per job.
   */
  async admit(queue: string, job: FairJob, pacer: Pick<AccountPacer, 'turnSource'>, opts: { turnWithinMs?: number } = {}): Promise<Admission> {
    const { key, intervalMs, toleranceMs } = pacer.turnSource(job.accountId);
    // The script runs in one slot only if the pacer's key shares the prefix (and so its hash tag).
    if (!key.startsWith(`${this.prefix}:`)) throw new Error('the pacer must use the fair share’s key prefix');
    const turnWithin = opts.turnWithinMs ?? -1;
    const [parked, backlog, turnWait] = (await ADMIT.run(
      this.redis,
      [...this.keys(queue, job.accountId), key],
      [job.jobId, this.forgetAfterMs, toleranceMs, PARK_AFTER_MS, intervalMs, Number.isFinite(turnWithin) ? turnWithin : 1e15],
    )) as [number, string, string];
    if (!parked) return turnWait === '' ? { run: true } : { run: true, turnWaitMs: Math.ceil(Number(turnWait)) };
    const backlogMs = Math.ceil(Number(backlog));
    // Spread the parked jobs' return a little, so they do not all come back at the same instant.
    return { run: false, delayMs: Math.round(backlogMs * (1 + Math.random() * 0.25)), backlogMs };
  }
}
