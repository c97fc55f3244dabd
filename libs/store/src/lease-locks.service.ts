import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { namedSql, queryReturning, rowsOf } from './returning.js';

/** What a lock guards; the space keeps keys of different kinds apart. */
export enum LockSpace {
  /** One access-key operation per IAM user (account + lower-cased name) across all workers. */
  IamUser = 'iam-user',
  /** Singleton jobs of the scheduler replicas, e.g. the automatic-change scan. */
  Scheduler = 'scheduler',
}

export const lockKey = (space: LockSpace, name: string): string => `${space}:${name}`;

// Every rotation takes and releases its IAM user's lock: constant statements, prepared once per connection.

/**
 * Takes lock `key` for `owner` for `ttlMs` (the three given as SQL parameter references): a row comes back
 * when it was free, lapsed, or already the owner's. Also the first part of a rotation's claim
 * (RotationsRepository.claim with a lock), so that both follow the same rules.
 */
export const takeLeaseLockSql = (key: string, owner: string, ttlMs: string): string =>
  `INSERT INTO lease_locks AS l (lock_key, owner, expires_at) VALUES (${key}, ${owner}, now() + ${ttlMs}::int * interval '1 millisecond')
       ON CONFLICT (lock_key) DO UPDATE
             SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
                 taken_at = CASE WHEN l.owner = EXCLUDED.owner THEN l.taken_at ELSE now() END
           WHERE l.expires_at < now() OR l.owner = EXCLUDED.owner
       RETURNING lock_key`;

const TRY_TAKE_SQL = namedSql('lease_lock_try_take', takeLeaseLockSql('$1', '$2', '$3'));

const RENEW_SQL = namedSql(
  'lease_lock_renew',
  `UPDATE lease_locks SET expires_at = now() + $3::int * interval '1 millisecond' WHERE lock_key = $1 AND owner = $2 RETURNING lock_key`,
);

const RELEASE_SQL = namedSql('lease_lock_release', `DELETE FROM lease_locks WHERE lock_key = $1 AND owner = $2`);

/**
 * Locks as lease rows in `lease_locks`. Taking, renewing and releasing are one
 * short autocommit statement each, so a held lock pins no connection: the pool
 * can be sized from the work alone, no transaction stays open across an AWS
 * call, and a transaction-mode pooler in front of Postgres works. A holder that
 * dies (SIGKILL) stops renewing, and its lock lapses at `expires_at`. Time is
 * Postgres's clock, so the workers' clocks do not matter.
 */
@Injectable()
export class LeaseLocks {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** True when `owner` now holds `key` for `ttlMs`: it was free, lapsed, or already this owner's. */
  async tryTake(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const rows = await queryReturning<{ lock_key: string }>(this.ds, TRY_TAKE_SQL, [key, owner, Math.round(ttlMs)]);
    return rows.length === 1;
  }

  /** Pushes the expiry ahead; false when the lock lapsed and someone else took it (or it was released). */
  async renew(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const rows = await queryReturning<{ lock_key: string }>(this.ds, RENEW_SQL, [key, owner, Math.round(ttlMs)]);
    return rows.length === 1;
  }

  async release(key: string, owner: string): Promise<void> {
    await rowsOf(this.ds.manager, RELEASE_SQL, [key, owner]);
  }

  /**
   * Runs `work` while holding `key`, renewing it every third of `ttlMs`, and
   * releases it afterwards. `{ taken: false }` when another owner holds it.
   */
  async withLease<T>(key: string, owner: string, ttlMs: number, work: () => Promise<T>): Promise<{ taken: true; value: T } | { taken: false }> {
    if (!(await this.tryTake(key, owner, ttlMs))) return { taken: false };
    // A failed renewal is not fatal here: the lock lapses at worst, and the next renewal may succeed.
    const timer = setInterval(() => void this.renew(key, owner, ttlMs).catch(() => undefined), Math.max(100, Math.floor(ttlMs / 3)));
    try {
      return { taken: true, value: await work() };
    } finally {
      clearInterval(timer);
      await this.release(key, owner).catch(() => undefined);
    }
  }
}
