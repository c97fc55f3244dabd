import type { EntityManager } from 'typeorm';
import type { HeartbeatStatus, SecretSettings, SecretType } from '@keyturn/contracts';
import { SecretEntity } from '../entities/secret.entity.js';
import { namedSql, queryReturning, rowsOf } from '../returning.js';
import { SecretVersionEntity } from '../entities/secret-version.entity.js';
import type { RotationStep } from '../entities/rotation.entity.js';
import { columnList, namedFromMetadata, prefixedColumns, toEntity, updateById } from '../rows.js';
import { SECRETS_WITH_DUE } from './heartbeat-due.sql.js';

/** A secret whose scheduled change is due, as the scheduler claims it. */
export interface DueScheduledChange {
  id: string;
  type: SecretType;
  account_id: string;
  privileged_secret_id: string | null;
  settings: SecretSettings;
  auto_change_scheduled_for: Date | null;
  auto_change_basis: string | null;
  has_value: boolean;
}

/** How far a claimed secret's due time moves ahead; the finished heartbeat sets the real next time. */
const CLAIM_HORIZON = '10 minutes';

/**
 * The claim of due heartbeats ($1 = batch), exported for bench:scheduler's raw-SQL baseline, which runs the
 * very same statement. It moves the due time in heartbeat_due, the narrow table of key secrets' due times
 * (migrations HeartbeatDue1795836000000, HeartbeatDueRows1795837000000), and never reads or locks the wide
 * `secrets` row: the account id is the due row's copy, and the heartbeat rows inserted with the claim
 * reference the due row, which this statement has just updated. (Joining `secrets` for the account id and
 * locking each secret for the heartbeats' foreign key cost a random page of its heap and primary key per
 * claimed secret, and a dirtied heap page: about half of the claim's time at a million secrets.) The batch's
 * ids go to the update as an array (`= ANY(ARRAY(…))`), so each row is reached through the primary key: with
 * `UPDATE … FROM (subquery)` the planner hash-joined the batch with a sequential scan of the whole table,
 * once per batch, which made the claim O(table).
 *
 * FOR NO KEY UPDATE is the lock the update takes anyway, so SKIP LOCKED skips a due row that another claim
 * or a writer holds (a writer of a secret locks the secret's row, then updates its due row) and never one
 * that an insert of a heartbeat only key-share-locks (its foreign-key check). The claim waits for nothing
 * a writer holds, so it cannot deadlock with one.
 */
export const CLAIM_DUE_HEARTBEATS_SQL = `UPDATE heartbeat_due d SET due_at = now() + interval '${CLAIM_HORIZON}'
    WHERE d.secret_id = ANY(ARRAY(
            SELECT due.secret_id FROM heartbeat_due due
             WHERE due.due_at <= now()
             ORDER BY due.due_at
             LIMIT $1
             FOR NO KEY UPDATE SKIP LOCKED))
  RETURNING d.secret_id AS id, d.account_id`;

// A rotation's constant statements on secrets, prepared once per connection (NamedSql); a row's columns listed.

const WITH_LIVE_VERSIONS_SQL = namedFromMetadata(
  'secret_with_live_versions',
  (m) => `SELECT ${columnList(m, SecretEntity, 's')}, d.due_at AS next_heartbeat_at, ${prefixedColumns(m, SecretVersionEntity, 'v', 'v__')},
              CASE WHEN $2::uuid IS NULL THEN NULL ELSE EXISTS (
                SELECT 1 FROM rotations r
                 WHERE r.secret_id = s.id AND r.id <> $2::uuid AND r.retire_pending AND r.retire_at IS NOT NULL AND r.retired_at IS NULL
              ) END AS others_in_grace__,
              CASE WHEN $2::uuid IS NULL THEN NULL ELSE (SELECT value FROM settings WHERE key = 'global') END AS global_settings__
         FROM ${SECRETS_WITH_DUE} LEFT JOIN secret_versions v ON v.secret_id = s.id AND v.state IN ('current', 'previous', 'pending')
        WHERE s.id = $1`,
);

const NEXT_VERSION_SQL = namedSql(
  'secret_next_version',
  `UPDATE secrets SET version_counter = version_counter + 1, updated_at = now() WHERE id = $1 RETURNING version_counter`,
);

const LOCK_HEARTBEAT_STATE_SQL = namedSql('secret_lock_heartbeat_state', `SELECT heartbeat_status, heartbeat_failures FROM secrets WHERE id = $1 FOR UPDATE`);

const MARK_CHANGED_SQL = namedSql(
  'secret_mark_changed',
  `WITH s AS (UPDATE secrets SET last_rotated_at = now() WHERE id = $1 RETURNING id)
       UPDATE heartbeat_due SET due_at = now() WHERE $2::boolean AND secret_id = (SELECT id FROM s)`,
);

const MARK_CHANGED_AND_CHECKED_SQL = namedSql(
  'secret_mark_changed_and_checked',
  `WITH before AS (SELECT heartbeat_status, heartbeat_failures FROM secrets WHERE id = $1 FOR UPDATE),
       s AS (
         UPDATE secrets s SET last_rotated_at = now(), heartbeat_status = 'success', heartbeat_failures = 0, last_heartbeat_at = $2, updated_at = now()
           FROM before
          WHERE s.id = $1
         RETURNING s.id, before.heartbeat_status, before.heartbeat_failures),
       due AS (UPDATE heartbeat_due SET due_at = $3::timestamptz WHERE secret_id = (SELECT id FROM s))
       SELECT heartbeat_status, heartbeat_failures FROM s`,
);

const PROMOTE_CHECKED_SQL = namedSql('secret_promote_checked', `SELECT keyturn_promote_checked($1, $2, $3, $4, $5, $6, $7, $8) AS result`);

/** What promoteChecked did: 'promoted' (all written), or nothing written and why (see PromoteChecked1795838000000). */
export type PromoteChecked = 'promoted' | 'nothing-to-promote' | 'status-changed';

/** The secret with its due time (heartbeat_due), as SecretEntity. */
function secretWithDue(m: EntityManager, row: Record<string, unknown>): SecretEntity {
  return Object.assign(toEntity(m, SecretEntity, row), { nextHeartbeatAt: row.next_heartbeat_at as Date | null });
}

/**
 * The secrets table. Methods are grouped by the side that needs them.
 */
export class SecretsRepository {
  constructor(private readonly m: EntityManager) {}

  // ------------------------------------------------------------ worker and scheduler side (rotation, heartbeat, due work)

  async get(id: string): Promise<SecretEntity | null> {
    const [r] = await rowsOf(this.m, `SELECT s.*, d.due_at AS next_heartbeat_at FROM ${SECRETS_WITH_DUE} WHERE s.id = $1`, [id]);
    return r ? secretWithDue(this.m, r) : null;
  }

  /**
   * The secret and its current, previous and pending versions, in one statement (one snapshot); null when
   * the secret is gone. With `rotationId`: also whether another rotation of the secret has its retire owed
   * in a grace period (what RotationsRepository.inGrace would find), so a run that finds none need not ask,
   * and the stored global settings (the settings row's value; null without a rotation, or never set).
   */
  async withLiveVersions(
    id: string,
    rotationId: string | null = null,
  ): Promise<{ secret: SecretEntity; versions: SecretVersionEntity[]; othersInGrace: boolean | null; globalSettings: Record<string, unknown> | null } | null> {
    const rows = await queryReturning<Record<string, unknown>>(this.m, WITH_LIVE_VERSIONS_SQL(this.m), [id, rotationId]);
    if (!rows.length) return null;
    return {
      secret: secretWithDue(this.m, rows[0]!),
      versions: rows.filter((r) => r.v__id !== null).map((r) => toEntity(this.m, SecretVersionEntity, r, 'v__')),
      othersInGrace: rows[0].others_in_grace__ as boolean | null,
      globalSettings: rows[0].global_settings__ as Record<string, unknown> | null,
    };
  }

  /**
   * Counts a new version: `version_counter + 1`, returned (null: the secret is gone). The UPDATE takes the
   * row lock until the transaction ends, so two versions stored at once are numbered one after the other.
   */
  async nextVersion(id: string): Promise<number | null> {
    const [r] = await queryReturning<{ version_counter: number }>(this.m, NEXT_VERSION_SQL, [id]);
    return r ? r.version_counter : null;
  }

  /**
   * The heartbeat state of the secret, with its row locked (FOR UPDATE) until
   * the transaction ends; null when the secret is gone. A heartbeat's result
   * and a promotion both take this lock, so they are ordered.
   */
  async lockHeartbeatState(id: string): Promise<Pick<SecretEntity, 'heartbeatStatus' | 'heartbeatFailures'> | null> {
    const [r] = await rowsOf<{ heartbeat_status: HeartbeatStatus; heartbeat_failures: number }>(this.m, LOCK_HEARTBEAT_STATE_SQL, [id]);
    return r ? { heartbeatStatus: r.heartbeat_status, heartbeatFailures: r.heartbeat_failures } : null;
  }

  /** The IAM user id seen at the first change: a re-created user of the same name is told apart by it. */
  async setIamUserId(id: string, iamUserId: string): Promise<void> {
    await updateById(this.m, SecretEntity, id, { iamUserId }, true);
  }

  /** A change was promoted: `last_rotated_at` now, and a secret with a heartbeat is checked at the next tick. */
  async markChanged(id: string, checkHeartbeatNow: boolean): Promise<void> {
    await rowsOf(this.m, MARK_CHANGED_SQL, [id, checkHeartbeatNow]);
  }

  /**
   * A change of a key secret was promoted after its verify step proved the new
   * key works (GetCallerIdentity as the target user at `at`): that is this
   * secret's heartbeat too, so it counts as a successful one and the next is
   * due one interval later, instead of at once (which cost two more AWS calls).
   * Takes the row lock as lockHeartbeatState does, and returns what it would
   * have (the status and failures before; null: the secret is gone).
   */
  async markChangedAndChecked(id: string, r: { at: Date; next: Date }): Promise<Pick<SecretEntity, 'heartbeatStatus' | 'heartbeatFailures'> | null> {
    // The row lock first (FOR UPDATE, as lockHeartbeatState takes it), then the write and the due time: one statement.
    const [before] = await queryReturning<{ heartbeat_status: HeartbeatStatus; heartbeat_failures: number }>(this.m, MARK_CHANGED_AND_CHECKED_SQL, [id, r.at, r.next]);
    return before ? { heartbeatStatus: before.heartbeat_status, heartbeatFailures: before.heartbeat_failures } : null;
  }

  /**
   * A verified key's promotion in one call (keyturn_promote_checked, migration PromoteChecked1795838000000),
   * for the common case: what ChangeJournal.promote's transaction writes with a verified key (markChangedAndChecked,
   * the version moves, the verify step's heartbeat row, the rotation's step), written only when a pending
   * version is there and the secret's heartbeat status is already 'success' (no status change, so no event or
   * audit entry to write). Run it outside a transaction.
   */
  async promoteChecked(
    secretId: string,
    rotationId: string,
    step: RotationStep,
    check: { at: Date; next: Date; heartbeatId: string; requestedBy: string; checkedArn: string },
  ): Promise<PromoteChecked> {
    const [row] = await rowsOf<{ result: PromoteChecked }>(this.m, PROMOTE_CHECKED_SQL, [
      secretId, rotationId, step, check.at, check.next, check.heartbeatId, check.requestedBy, check.checkedArn,
    ]);
    return row!.result;
  }

  /** A heartbeat's result on the secret: status, consecutive failures and when it is due again. */
  async recordHeartbeat(id: string, r: { status: HeartbeatStatus; failures: number; at: Date; next: Date }): Promise<void> {
    await this.m.query(
      `WITH s AS (
         UPDATE secrets SET heartbeat_status = $2, heartbeat_failures = $3, last_heartbeat_at = $4, updated_at = now()
          WHERE id = $1 RETURNING id)
       UPDATE heartbeat_due SET due_at = $5::timestamptz WHERE secret_id = (SELECT id FROM s)`,
      [id, r.status, r.failures, r.at, r.next],
    );
  }
  /**
   * Claims up to `batch` key secrets whose heartbeat is due and moves their due
   * time ahead (heartbeat_due), in one statement: FOR NO KEY UPDATE SKIP LOCKED on the
   * due rows, so scheduler replicas never claim the same secret. Use it inside a transaction with the
   * heartbeat rows it leads to.
   */
  claimDueHeartbeats(batch: number): Promise<{ id: string; account_id: string }[]> {
    return queryReturning<{ id: string; account_id: string }>(this.m, CLAIM_DUE_HEARTBEATS_SQL, [batch]);
  }

  /**
   * Secrets whose automatic-change interval (their own, else `defaultDays`) has
   * elapsed, that have a way to change (a key, or an association), and with no
   * change waiting or running and no scheduled one in the last hour. A secret
   * with a schedule (its own, else `globalSchedule`) is left to its schedule.
   */
  dueForAutoChange(defaultDays: number | null, limit: number, globalSchedule: string | null = null): Promise<{ id: string }[]> {
    return this.m.query(
      `SELECT s.id FROM secrets s
          WHERE coalesce((s.settings->>'autoChangeIntervalDays')::int, $1::int) IS NOT NULL
            AND coalesce(s.settings->>'autoChangeSchedule', $3::text) IS NULL
            AND coalesce(s.last_rotated_at, s.created_at)
                + make_interval(days => coalesce((s.settings->>'autoChangeIntervalDays')::int, $1::int)) <= now()
            AND (s.type = 'aws-iam-key' OR s.privileged_secret_id IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM rotations r WHERE r.secret_id = s.id
                            AND (r.status IN ('queued', 'running') OR (r.trigger = 'schedule' AND r.created_at > now() - interval '1 hour')))
          LIMIT $2`,
      [defaultDays, limit, globalSchedule],
    );
  }

  /**
   * Claims up to `batch` secrets whose scheduled change is due (the partial
   * index secrets_auto_change_due), FOR UPDATE SKIP LOCKED: a scheduler replica
   * skips the rows another one holds, and the claimer moves each row to its
   * next time before it commits. Use it inside that transaction.
   */
  claimDueScheduledChanges(batch: number): Promise<DueScheduledChange[]> {
    return this.m.query(
      `SELECT s.id, s.type, s.account_id, s.privileged_secret_id, s.settings, s.auto_change_scheduled_for, s.auto_change_basis,
              EXISTS (SELECT 1 FROM secret_versions v WHERE v.secret_id = s.id AND v.state = 'current') AS has_value
         FROM secrets s
        WHERE s.next_auto_change_at IS NOT NULL AND s.next_auto_change_at <= now()
        ORDER BY s.next_auto_change_at
        LIMIT $1
        FOR UPDATE OF s SKIP LOCKED`,
      [batch],
    );
  }

  /**
   * Up to `batch` secrets whose planned change was computed from another
   * schedule or window than the one that applies now (the global one changed),
   * or that have a schedule and no plan; FOR UPDATE SKIP LOCKED. The basis is
   * built as scheduleBasis in libs/contracts builds it.
   */
  claimStaleSchedules(globalSchedule: string | null, globalWindowMinutes: number, batch: number): Promise<{ id: string; settings: SecretSettings }[]> {
    return this.m.query(
      `SELECT s.id, s.settings FROM secrets s
        WHERE s.auto_change_basis IS DISTINCT FROM
              CASE WHEN coalesce(s.settings->>'autoChangeSchedule', $1::text) IS NULL THEN NULL
                   ELSE coalesce(s.settings->>'autoChangeSchedule', $1::text) || '|' || coalesce(s.settings->>'autoChangeWindowMinutes', $2::text) END
        LIMIT $3
        FOR UPDATE SKIP LOCKED`,
      [globalSchedule, String(globalWindowMinutes), batch],
    );
  }

  /** A secret's planned scheduled change (all null: no schedule). */
  async setScheduleState(id: string, s: { nextAutoChangeAt: Date | null; autoChangeScheduledFor: Date | null; autoChangeBasis: string | null }): Promise<void> {
    await this.m.update(SecretEntity, { id }, { nextAutoChangeAt: s.nextAutoChangeAt, autoChangeScheduledFor: s.autoChangeScheduledFor, autoChangeBasis: s.autoChangeBasis });
  }
  // ------------------------------------------------------------ end of the worker and scheduler side
}
