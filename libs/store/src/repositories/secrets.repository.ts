import type { EntityManager } from 'typeorm';
import type { HeartbeatStatus } from '@keyturn/contracts';
import { SecretEntity } from '../entities/secret.entity.js';
import { queryReturning } from '../returning.js';

/** How far a claimed secret's due time moves ahead; the finished heartbeat sets the real next time. */
const CLAIM_HORIZON = '10 minutes';

/**
 * The claim of due heartbeats ($1 = batch), exported for bench:scheduler's raw-SQL baseline, which runs the
 * very same statement. The batch's ids go to the update as an array (`= ANY(ARRAY(…))`), so each row is
 * reached through the primary key: with `UPDATE … FROM (subquery)` the planner hash-joined the batch with a
 * sequential scan of the whole table, once per batch, which made the claim O(table) and the rate halve from
 * 100k to 1M secrets.
 */
export const CLAIM_DUE_HEARTBEATS_SQL = `UPDATE secrets s SET next_heartbeat_at = now() + interval '${CLAIM_HORIZON}'
    WHERE s.id = ANY(ARRAY(
            SELECT id FROM secrets
             WHERE type = 'aws-iam-key' AND next_heartbeat_at IS NOT NULL AND next_heartbeat_at <= now()
             ORDER BY next_heartbeat_at
             LIMIT $1
             FOR UPDATE SKIP LOCKED))
  RETURNING s.id, s.account_id`;

/**
 * The secrets table. Methods are grouped by the side that needs them.
 */
export class SecretsRepository {
  constructor(private readonly m: EntityManager) {}

  // ------------------------------------------------------------ worker and scheduler side (rotation, heartbeat, due work)

  get(id: string): Promise<SecretEntity | null> {
    return this.m.findOneBy(SecretEntity, { id });
  }

  /** The row under FOR UPDATE (promotion, storing a pending version and a heartbeat's result take it). */
  lockForUpdate(id: string): Promise<SecretEntity | null> {
    return this.m.findOne(SecretEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** The IAM user id seen at the first change: a re-created user of the same name is told apart by it. */
  async setIamUserId(id: string, iamUserId: string): Promise<void> {
    await this.m.update(SecretEntity, { id }, { iamUserId });
  }

  async setVersionCounter(id: string, versionCounter: number): Promise<void> {
    await this.m.update(SecretEntity, { id }, { versionCounter });
  }

  /** A change was promoted: `last_rotated_at` now, and a secret with a heartbeat is checked at the next tick. */
  async markChanged(id: string, checkHeartbeatNow: boolean): Promise<void> {
    await this.m.query(
      `UPDATE secrets SET last_rotated_at = now(), next_heartbeat_at = CASE WHEN $2::boolean THEN now() ELSE next_heartbeat_at END WHERE id = $1`,
      [id, checkHeartbeatNow],
    );
  }

  /** A heartbeat's result on the secret: status, consecutive failures and when it is due again. */
  async recordHeartbeat(id: string, r: { status: HeartbeatStatus; failures: number; at: Date; next: Date }): Promise<void> {
    await this.m.update(SecretEntity, { id }, { heartbeatStatus: r.status, heartbeatFailures: r.failures, lastHeartbeatAt: r.at, nextHeartbeatAt: r.next });
  }
  /**
   * Claims up to `batch` key secrets whose heartbeat is due and moves their due
   * time ahead, in one statement: FOR UPDATE SKIP LOCKED, so scheduler
   * replicas never claim the same secret. Use it inside a transaction with the
   * heartbeat rows it leads to.
   */
  claimDueHeartbeats(batch: number): Promise<{ id: string; account_id: string }[]> {
    return queryReturning<{ id: string; account_id: string }>(this.m, CLAIM_DUE_HEARTBEATS_SQL, [batch]);
  }

  /**
   * Secrets whose automatic-change interval (their own, else `defaultDays`) has
   * elapsed, that have a way to change (a key, or an association), and with no
   * change waiting or running and no scheduled one in the last hour.
   */
  dueForAutoChange(defaultDays: number | null, limit: number): Promise<{ id: string }[]> {
    return this.m.query(
      `SELECT s.id FROM secrets s
          WHERE coalesce((s.settings->>'autoChangeIntervalDays')::int, $1::int) IS NOT NULL
            AND coalesce(s.last_rotated_at, s.created_at)
                + make_interval(days => coalesce((s.settings->>'autoChangeIntervalDays')::int, $1::int)) <= now()
            AND (s.type = 'aws-iam-key' OR s.privileged_secret_id IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM rotations r WHERE r.secret_id = s.id
                            AND (r.status IN ('queued', 'running') OR (r.trigger = 'schedule' AND r.created_at > now() - interval '1 hour')))
          LIMIT $2`,
      [defaultDays, limit],
    );
  }
  // ------------------------------------------------------------ end of the worker and scheduler side
}
