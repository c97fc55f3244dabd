import type { EntityManager } from 'typeorm';
import type { HeartbeatStatus, SecretSettings } from '@keyturn/contracts';
import { HeartbeatEntity } from '../entities/heartbeat.entity.js';
import type { SecretVersionEntity } from '../entities/secret-version.entity.js';
import type { KeyListing } from './secret-versions.repository.js';
import { namedSql, queryReturning, rowsOf } from '../returning.js';
import { selectEntities, updateById } from '../rows.js';

/** What a heartbeat needs of its secret. */
export interface HeartbeatSubject {
  id: string;
  username: string;
  accountId: string;
  settings: SecretSettings;
}

/** A claimed heartbeat with everything its check reads, from one round trip (see claimForCheck). */
export interface ClaimedHeartbeat {
  hb: Pick<HeartbeatEntity, 'id' | 'secretId' | 'attempt'>;
  /** Null when the secret was deleted meanwhile. */
  secret: HeartbeatSubject | null;
  /** The secret's current version (null: it has none). */
  current: SecretVersionEntity | null;
  /** The stored global settings (the settings row's value; null when never set). */
  globalSettings: Record<string, unknown> | null;
}

/** A heartbeat's result, as finishChecked writes it to the heartbeat and its secret. */
export interface HeartbeatResult {
  outcome: NonNullable<HeartbeatEntity['outcome']>;
  at: Date;
  detail: Partial<Pick<HeartbeatEntity, 'checkedArn' | 'keyStatus' | 'keyCreatedAt' | 'errorCode' | 'errorMessage'>>;
  secret: { status: HeartbeatStatus; failures: number; next: Date };
}

/**
 * What finishUnchanged did: 'finished' (all written), or nothing written because the
 * checked version is no longer current ('stale'), the result changes the
 * secret's heartbeat status ('status-changed') or the secret is gone ('gone').
 */
export type QuickFinish = 'finished' | 'stale' | 'status-changed' | 'gone';

interface ClaimRow {
  id: string;
  secret_id: string;
  attempt: number;
  s_id: string | null;
  username: string;
  account_id: string;
  settings: SecretSettings;
  v_id: string | null;
  v_version: number;
  v_state: SecretVersionEntity['state'];
  v_kek_id: string;
  v_wrapped_key: string;
  v_fields: SecretVersionEntity['fields'];
  v_secret_unknown: boolean;
  v_key_status: SecretVersionEntity['keyStatus'];
  v_key_created_at: Date | null;
  v_key_listed_at: Date | null;
  v_created_at: Date;
  global_settings: Record<string, unknown> | null;
}

/** The scheduled heartbeat rows ($1 = ids, $2 = secret ids), exported for bench:scheduler's raw-SQL baseline. */
export const INSERT_SCHEDULED_HEARTBEATS_SQL = `INSERT INTO heartbeats (id, secret_id, status, trigger, requested_by)
   SELECT unnest($1::uuid[]), unnest($2::uuid[]), 'queued', 'schedule', 'system:scheduler'
   ON CONFLICT DO NOTHING
   RETURNING id, secret_id`;

/**
 * The claim of a heartbeat with everything its check reads (see claimForCheck), prepared per connection:
 * planning it cost more than running it. Its commit does not wait for the WAL flush (synchronous_commit
 * off for its own transaction only): the claim is a lease, not a result. Lost in a Postgres crash, the
 * heartbeat is queued again and checked again; and the result's commit, which waits, flushes the WAL
 * up to it, so a recorded result never outlives its claim.
 */
const CLAIM_FOR_CHECK_SQL = namedSql(
  'heartbeat_claim_for_check',
  `WITH c AS (
         UPDATE heartbeats SET status = 'running', attempt = attempt + 1, lease_expires_at = now() + interval '2 minutes'
          WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND lease_expires_at < now()))
          RETURNING id, secret_id, attempt)
       SELECT c.id, c.secret_id, c.attempt, s.id AS s_id, s.username, s.account_id, s.settings,
              v.id AS v_id, v.version AS v_version, v.state AS v_state, v.kek_id AS v_kek_id, v.wrapped_key AS v_wrapped_key,
              v.fields AS v_fields, v.secret_unknown AS v_secret_unknown, v.key_status AS v_key_status, v.key_created_at AS v_key_created_at,
              v.key_listed_at AS v_key_listed_at, v.created_at AS v_created_at,
              (SELECT value FROM settings WHERE key = 'global') AS global_settings,
              set_config('synchronous_commit', 'off', true) AS async_commit
         FROM c LEFT JOIN secrets s ON s.id = c.secret_id
                LEFT JOIN secret_versions v ON v.secret_id = c.secret_id AND v.state = 'current'`,
);
/** A rotation's verify step recorded as a finished heartbeat (insertChecked), in the promote transaction. */
const INSERT_CHECKED_SQL = namedSql(
  'heartbeat_insert_checked',
  `INSERT INTO heartbeats (id, secret_id, status, outcome, trigger, requested_by, checked_arn, key_status, key_created_at, attempt, created_at, finished_at)
       VALUES ($1, $2, 'done', 'success', 'rotation', $3, $4, $5, $6, 1, $7, $7)`,
);
const FINISH_UNCHANGED_SQL = namedSql('heartbeat_finish_unchanged', `SELECT keyturn_finish_heartbeat($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) AS result`);

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

  /**
   * claim, and in the same round trip what the check reads: the secret, its
   * current version and the global settings. The hot path of every heartbeat:
   * one statement where reading them one by one took five.
   */
  async claimForCheck(id: string): Promise<ClaimedHeartbeat | null> {
    const [r] = await queryReturning<ClaimRow>(
      this.m,
      CLAIM_FOR_CHECK_SQL,
      [id],
    );
    if (!r) return null;
    return {
      hb: { id: r.id, secretId: r.secret_id, attempt: r.attempt },
      secret: r.s_id ? { id: r.s_id, username: r.username, accountId: r.account_id, settings: r.settings ?? {} } : null,
      current: r.v_id
        ? ({
            id: r.v_id,
            secretId: r.secret_id,
            version: r.v_version,
            state: r.v_state,
            kekId: r.v_kek_id,
            wrappedKey: r.v_wrapped_key,
            fields: r.v_fields,
            secretUnknown: r.v_secret_unknown,
            keyStatus: r.v_key_status,
            keyCreatedAt: r.v_key_created_at,
            keyListedAt: r.v_key_listed_at,
            createdAt: r.v_created_at,
          } as SecretVersionEntity)
        : null,
      globalSettings: r.global_settings,
    };
  }

  /**
   * Records a check's result on the heartbeat, on its secret and on its due
   * time (heartbeat_due) in one statement. Run it in the transaction that holds the secret's row lock and
   * has seen the checked version still current (HeartbeatUseCase.finish).
   */
  async finishChecked(id: string, secretId: string, r: HeartbeatResult): Promise<void> {
    const d = r.detail;
    await this.m.query(
      `WITH h AS (
         UPDATE heartbeats SET status = 'done', outcome = $3, finished_at = $4, lease_expires_at = NULL,
                checked_arn = $5, key_status = $6, key_created_at = $7, error_code = $8, error_message = $9
          WHERE id = $1),
       s AS (
         UPDATE secrets SET heartbeat_status = $10, heartbeat_failures = $11, last_heartbeat_at = $4, updated_at = now()
          WHERE id = $2 RETURNING id)
       UPDATE heartbeat_due SET due_at = $12::timestamptz WHERE secret_id = (SELECT id FROM s)`,
      [id, secretId, r.outcome, r.at, d.checkedArn ?? null, d.keyStatus ?? null, d.keyCreatedAt ?? null, d.errorCode ?? null, d.errorMessage ?? null,
        r.secret.status, r.secret.failures, r.secret.next],
    );
  }

  /**
   * finishChecked (and recordListing of the checked version) in one round trip,
   * for the common case: under the secret's row lock, and only when
   * `checkedVersionId` is still current and the secret's heartbeat status is
   * already `outcome` (no status change, so no event or audit entry to write).
   * The failure count and the next check's time come from the locked row (see
   * migration HeartbeatFinish1795835000000). Run it outside a transaction.
   */
  async finishUnchanged(
    id: string,
    secretId: string,
    checkedVersionId: string | null,
    r: Pick<HeartbeatResult, 'outcome' | 'at' | 'detail'> & { intervalMs: number; listing?: KeyListing },
  ): Promise<QuickFinish> {
    const d = r.detail;
    const l = r.listing;
    const [row] = await rowsOf<{ result: QuickFinish }>(
      this.m,
      FINISH_UNCHANGED_SQL,
      [id, secretId, checkedVersionId, r.outcome, r.at, r.intervalMs, d.checkedArn ?? null, d.keyStatus ?? null, d.keyCreatedAt ?? null, d.errorCode ?? null,
        d.errorMessage ?? null, !!l, l?.keyStatus ?? null, l?.keyCreatedAt ?? null, l?.keyListedAt ?? null],
    );
    return row!.result;
  }

  /**
   * A successful check made by another step (a rotation's verify), recorded as
   * a finished heartbeat (trigger 'rotation') so the secret's history shows it.
   */
  async insertChecked(h: { id: string; secretId: string; requestedBy: string; checkedArn: string; keyStatus: string | null; keyCreatedAt: Date | null; at: Date }): Promise<void> {
    await rowsOf(this.m, INSERT_CHECKED_SQL, [h.id, h.secretId, h.requestedBy, h.checkedArn, h.keyStatus, h.keyCreatedAt, h.at]);
  }

  async getOrFail(id: string): Promise<HeartbeatEntity> {
    const [h] = await selectEntities(this.m, HeartbeatEntity, 'id = $1', [id]);
    if (!h) throw new Error(`heartbeat ${id} not found`);
    return h;
  }

  /** Back in the queue (AWS throttled the check). */
  async requeue(id: string): Promise<void> {
    await updateById(this.m, HeartbeatEntity, id, { status: 'queued', leaseExpiresAt: null });
  }

  /** Done, with its outcome (null when it ended without one) and the check's detail. */
  async finish(id: string, outcome: HeartbeatEntity['outcome'], finishedAt: Date, detail: Partial<HeartbeatEntity>): Promise<void> {
    await updateById(this.m, HeartbeatEntity, id, { status: 'done', outcome, finishedAt, leaseExpiresAt: null, ...detail });
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
