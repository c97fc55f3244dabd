import type { EntityManager } from 'typeorm';
import { HeartbeatEntity } from '../entities/heartbeat.entity.js';
import { queryReturning } from '../returning.js';

/** The scheduled heartbeat rows ($1 = ids, $2 = secret ids), exported for bench:scheduler's raw-SQL baseline. */
export const INSERT_SCHEDULED_HEARTBEATS_SQL = `INSERT INTO heartbeats (id, secret_id, status, trigger, requested_by)
   SELECT unnest($1::uuid[]), unnest($2::uuid[]), 'queued', 'schedule', 'system:scheduler'
   ON CONFLICT DO NOTHING
   RETURNING id, secret_id`;

/** The heartbeat rows the worker runs. */
export class HeartbeatsRepository {
  constructor(private readonly m: EntityManager) {}

  /** Takes a queued heartbeat, or a running one whose two-minute lease lapsed; false when there is none. */
  async claim(id: string): Promise<boolean> {
    const claimed = await queryReturning<{ id: string }>(
      this.m,
      `UPDATE heartbeats SET status = 'running', attempt = attempt + 1, lease_expires_at = now() + interval '2 minutes'
        WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND lease_expires_at < now()))
        RETURNING id`,
      [id],
    );
    return claimed.length > 0;
  }

  getOrFail(id: string): Promise<HeartbeatEntity> {
    return this.m.findOneByOrFail(HeartbeatEntity, { id });
  }

  /** Back in the queue (AWS throttled the check). */
  async requeue(id: string): Promise<void> {
    await this.m.update(HeartbeatEntity, { id }, { status: 'queued', leaseExpiresAt: null });
  }

  /** Done, with its outcome (null when it ended without one) and the check's detail. */
  async finish(id: string, outcome: HeartbeatEntity['outcome'], finishedAt: Date, detail: Partial<HeartbeatEntity>): Promise<void> {
    await this.m.update(HeartbeatEntity, { id }, { status: 'done', outcome, finishedAt, leaseExpiresAt: null, ...detail });
  }

  /**
   * One queued, scheduled heartbeat per secret; a secret whose heartbeat
   * already waits gets none (heartbeats_one_waiting). Returns the rows made.
   */
  insertScheduled(ids: string[], secretIds: string[]): Promise<{ id: string; secret_id: string }[]> {
    return queryReturning<{ id: string; secret_id: string }>(this.m, INSERT_SCHEDULED_HEARTBEATS_SQL, [ids, secretIds]);
  }

  /** Unfinished heartbeats older than `after` (an interval) with no live lease: their job may be lost. */
  unfinished(after: string): Promise<{ id: string; account_id: string }[]> {
    return this.m.query(
      `SELECT h.id, s.account_id FROM heartbeats h JOIN secrets s ON s.id = h.secret_id
        WHERE h.status <> 'done' AND h.created_at < now() - $1::interval AND (h.lease_expires_at IS NULL OR h.lease_expires_at < now())
        ORDER BY h.created_at LIMIT 500`,
      [after],
    );
  }
}
