import type { EntityManager } from 'typeorm';
import { RotationEntity, type RotationStep, type RotationWarning } from '../entities/rotation.entity.js';
import { namedSql, queryReturning, rowsOf } from '../returning.js';
import { takeLeaseLockSql } from '../lease-locks.service.js';
import { SecretEntity } from '../entities/secret.entity.js';
import type { AuditEventEntity } from '../entities/audit-event.entity.js';
import { columnList, namedFromMetadata, prefixedColumns, selectEntities, toEntity, updateById } from '../rows.js';

/** What a claim found when it could not take the rotation. */
export type ClaimResult =
  /** The row as the claim left it (under this owner's lease: the journal the run goes on from). */
  | { claimed: true; rotation: RotationEntity }
  | { claimed: false; busy: 'secret' }
  /** The lease lock asked for with the claim is another owner's: nothing claimed, no lock taken. */
  | { claimed: false; busy: 'user' }
  | { claimed: false; busy: 'lease'; now: RotationEntity | null };

/** What finishing a rotation found: the row as it was before (its status tells whether the outcome is news). */
export interface FinishedRotation {
  before: RotationEntity;
  /** The secret's current version after the finish (the version a succeeded change made consumers read). */
  currentVersion: number | null;
}

/**
 * What a finish announces when its status is news (the row's status before it was another): the
 * rotation.succeeded / rotation.failed event with one pending delivery per webhook URL, and the audit entry.
 * The finish statement completes them from the row it locked (see FINISH_SQL).
 */
export interface FinishAnnouncement {
  event: {
    id: string;
    type: 'rotation.succeeded' | 'rotation.failed';
    /** Without what the row says (secretType, mode, version, previousKeyRetireAt): the statement adds those. */
    payload: Record<string, unknown>;
    urls: readonly string[];
    deliveryIds: readonly string[];
    at: Date;
  };
  /** Its details without the row's mode and attempt, which the statement adds. */
  audit: AuditEventEntity;
}

// A rotation's constant statements, prepared once per connection (NamedSql). Those that return a row list
// its columns (from the entities) instead of `*`.

const WITH_SECRET_SQL = namedFromMetadata(
  'rotation_with_secret',
  (m) => `SELECT ${columnList(m, RotationEntity, 'r')}, ${prefixedColumns(m, SecretEntity, 's', 's__')}, d.due_at AS s__due_at
         FROM rotations r LEFT JOIN secrets s ON s.id = r.secret_id LEFT JOIN heartbeat_due d ON d.secret_id = r.secret_id
        WHERE r.id = $1`,
);

/**
 * The claim ($1 id, $2 owner, $3 lease ms as text), under a lease lock taken in the same statement ($4 lock
 * key, $5 its owner, $6 its ttl in ms): the lock first, by LeaseLocks' rules, and the claim only if the lock
 * was taken. One row always: `keyturn_locked`, and the claimed row's columns (null when nothing was
 * claimed). A claim that rotations_one_running refuses fails the whole statement, so that lock is not taken
 * either.
 */
const CLAIM_SQL = namedFromMetadata(
  'rotation_claim',
  (m) => `WITH l AS (${takeLeaseLockSql('$4', '$5', '$6')}),
       c AS (
         UPDATE rotations
            SET status = CASE WHEN status = 'succeeded' THEN status ELSE 'running' END,
                lease_owner = $2, lease_expires_at = now() + ($3 || ' milliseconds')::interval,
                attempt = attempt + 1, started_at = coalesce(started_at, now()), updated_at = now()
          WHERE id = $1
            AND (status = 'queued'
                 OR (status IN ('running', 'succeeded') AND (lease_expires_at IS NULL OR lease_expires_at < now() OR lease_owner = $2)))
            AND EXISTS (SELECT 1 FROM l)
        RETURNING ${columnList(m, RotationEntity)})
     SELECT EXISTS (SELECT 1 FROM l) AS keyturn_locked, c.* FROM (VALUES (1)) AS one (n) LEFT JOIN c ON true`,
);

const RENEW_LEASE_SQL = namedSql(
  'rotation_renew_lease',
  `UPDATE rotations SET lease_expires_at = now() + ($3 || ' milliseconds')::interval WHERE id = $1 AND lease_owner = $2`,
);


/**
 * The create step's journal write ("about to create", with its time) and, in the same statement, the version
 * whose key make-room just deleted marked retired ($3; null: none). Nothing that can fail runs between the
 * two, so they need not be two round trips.
 */
const ABOUT_TO_CREATE_SQL = namedSql(
  'rotation_about_to_create',
  `WITH v AS (UPDATE secret_versions SET state = 'retired', updated_at = now() WHERE id = $3)
   UPDATE rotations SET step = 'create', about_to_create_at = $2, updated_at = now() WHERE id = $1`,
);

/**
 * The finish (status, lease, finish time, error) and, in the same statement (one round trip and one
 * transaction, where a transaction around the finish and the announcement's inserts took five or six), the
 * announcement, written only when the status is news (the locked row's status was another). What the
 * announcement says of the rotation is read from that row, as a read under the lock would give it:
 * `secretType`, `mode`, the current `version` (succeeded) and `previousKeyRetireAt` (succeeded with a retire
 * owed; ISO 8601 in UTC with milliseconds, as Date.toISOString writes it), and the audit entry's `mode` and
 * `attempt`. $1–$5 the finish; $6–$11 the event and its deliveries; $12–$24 the audit row; $25–$26 a lease lock
 * to release with it (its key and owner; null: none), as LeaseLocks.release would, and only with the finish.
 */
const FINISH_SQL = namedFromMetadata(
  'rotation_finish',
  (m) => `WITH before AS (SELECT ${columnList(m, RotationEntity)} FROM rotations WHERE id = $1 FOR UPDATE),
       f AS (
         UPDATE rotations r
            SET status = $2, lease_owner = NULL, lease_expires_at = NULL, finished_at = coalesce(before.finished_at, $3),
                error_code = $4, error_message = $5, updated_at = now()
           FROM before
          WHERE r.id = before.id
         RETURNING ${columnList(m, RotationEntity, 'before')}, (SELECT v.version FROM secret_versions v WHERE v.secret_id = r.secret_id AND v.state = 'current') AS keyturn_current_version),
       news AS (SELECT * FROM f WHERE f.status IS DISTINCT FROM $2),
       e AS (
         INSERT INTO events (id, type, secret_id, payload)
         SELECT $6, $7, news.secret_id, $8::jsonb || jsonb_build_object(
                  'secretType', news.secret_type,
                  'mode', news.mode,
                  'version', CASE WHEN $2 = 'succeeded' THEN news.keyturn_current_version END,
                  'previousKeyRetireAt', CASE WHEN $2 = 'succeeded' AND news.retire_pending AND news.retire_at IS NOT NULL
                                              THEN to_char(news.retire_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END)
           FROM news
         RETURNING id),
       d AS (
         INSERT INTO webhook_deliveries (id, event_id, url, status, attempts, next_attempt_at)
         SELECT x.id, e.id, x.url, 'pending', 0, $11 FROM e, unnest($9::uuid[], $10::text[]) AS x(id, url)),
       a AS (
         INSERT INTO audit_events (id, at, actor_id, actor_name, action, target_type, target_id, secret_id, outcome, error_code, request_id, ip, details)
         SELECT $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24::jsonb || jsonb_build_object('mode', news.mode, 'attempt', news.attempt)
           FROM news),
       l AS (DELETE FROM lease_locks WHERE $25::text IS NOT NULL AND lock_key = $25 AND owner = $26 AND EXISTS (SELECT 1 FROM f))
     SELECT f.*, EXISTS (SELECT 1 FROM news) AS keyturn_announced FROM f`,
);

/**
 * The rotation row: the journal of a change (step, mode, warnings, pending
 * version), its lease, and its outcome. Every write is one statement; the
 * journal methods also update the caller's copy of the row.
 */
export class RotationsRepository {
  constructor(private readonly m: EntityManager) {}

  async get(id: string): Promise<RotationEntity | null> {
    const [r] = await selectEntities(this.m, RotationEntity, 'id = $1', [id]);
    return r ?? null;
  }

  async getOrFail(id: string): Promise<RotationEntity> {
    const r = await this.get(id);
    if (!r) throw new Error(`rotation ${id} not found`);
    return r;
  }

  /** The rotation and its secret (null: the secret is gone) in one statement; null when the rotation is gone. */
  async getWithSecret(id: string): Promise<{ rotation: RotationEntity; secret: SecretEntity | null } | null> {
    const [row] = await queryReturning<Record<string, unknown>>(this.m, WITH_SECRET_SQL(this.m), [id]);
    if (!row) return null;
    // The secret as SecretsRepository.get reads it: with its due time (heartbeat_due; null: none).
    const secret = row.s__id === null ? null : Object.assign(toEntity(this.m, SecretEntity, row, 's__'), { nextHeartbeatAt: row.s__due_at as Date | null });
    return { rotation: toEntity(this.m, RotationEntity, row), secret };
  }

  /** Records progress on the row (step, mode, executor, …) and on the caller's copy. */
  async journal(rot: RotationEntity, changes: Partial<RotationEntity>): Promise<void> {
    Object.assign(rot, changes);
    // Named: the journal's callers write fixed sets of properties (see updateById).
    await updateById(this.m, RotationEntity, rot.id, changes, true);
  }

  /**
   * Step create, "about to create" at `at`, on the row and on `rot`; and `retireVersionId` (the previous
   * version, whose key make-room deleted) retired, in the same statement.
   */
  async aboutToCreate(rot: RotationEntity, at: Date, retireVersionId: string | null): Promise<void> {
    Object.assign(rot, { step: 'create', aboutToCreateAt: at });
    await rowsOf(this.m, ABOUT_TO_CREATE_SQL, [rot.id, at, retireVersionId]);
  }

  /** Appends a warning atomically (`warnings || $w`), so concurrent appends never lose one. */
  async appendWarning(rot: RotationEntity, w: RotationWarning): Promise<void> {
    rot.warnings = [...(rot.warnings ?? []), w];
    await this.m
      .createQueryBuilder()
      .update(RotationEntity)
      .set({ warnings: () => `warnings || :w::jsonb` })
      .setParameter('w', JSON.stringify([w]))
      .where('id = :id', { id: rot.id })
      .execute();
  }

  /** The pending version this rotation stored, and the step after it (inside the store-pending transaction). */
  async setPending(rot: RotationEntity, pendingVersion: number | null, step?: RotationStep): Promise<void> {
    await updateById(this.m, RotationEntity, rot.id, step ? { pendingVersion, step } : { pendingVersion }, true);
  }

  async setStep(id: string, step: RotationStep): Promise<void> {
    await updateById(this.m, RotationEntity, id, { step }, true);
  }

  /**
   * Takes the lease: a queued rotation, or a running (or retire-owed succeeded)
   * one whose lease lapsed or is already `owner`'s. A second running rotation
   * of the secret is refused by `rotations_one_running` (busy: 'secret').
   * A claim returns the claimed row, so the run need not read it again.
   * In the same statement, first the lease lock `lock.key` for `lock.owner`
   * (LeaseLocks' rules, for `leaseMs`; the run's IAM-user lock): busy 'user'
   * when another owner holds it, and then nothing is claimed. A lock taken for
   * a claim that then finds the lease held is the caller's to release, as
   * after tryTake.
   */
  async claim(id: string, owner: string, leaseMs: number, lock: { key: string; owner: string }): Promise<ClaimResult> {
    try {
      const [row] = await queryReturning<Record<string, unknown>>(this.m, CLAIM_SQL(this.m), [id, owner, String(leaseMs), lock.key, lock.owner, Math.round(leaseMs)]);
      if (row?.keyturn_locked !== true) return { claimed: false, busy: 'user' };
      if (row.id !== null) return { claimed: true, rotation: toEntity(this.m, RotationEntity, row) };
    } catch (e) {
      // rotations_one_running: another rotation of this secret holds the slot.
      if ((e as { code?: string }).code === '23505') return { claimed: false, busy: 'secret' };
      throw e;
    }
    return { claimed: false, busy: 'lease', now: await this.get(id) };
  }

  /**
   * The rotation a schedule asks for, unless the secret already has a waiting
   * one (rotations_one_waiting), which then does this change too. Returns the
   * new rotation's id, or null when it joined the waiting one.
   */
  async insertScheduled(r: { id: string; secretId: string; secretType: string; requestedBy: string; scheduledFor: Date }): Promise<string | null> {
    const rows = await queryReturning<{ id: string }>(
      this.m,
      `INSERT INTO rotations (id, secret_id, secret_type, status, step, requested_by, trigger, scheduled_for)
       VALUES ($1, $2, $3, 'queued', 'prepare', $4, 'schedule', $5)
       ON CONFLICT (secret_id) WHERE status = 'queued' AND started_at IS NULL DO NOTHING
       RETURNING id`,
      [r.id, r.secretId, r.secretType, r.requestedBy, r.scheduledFor],
    );
    return rows[0]?.id ?? null;
  }

  async renewLease(id: string, owner: string, leaseMs: number): Promise<void> {
    await rowsOf(this.m, RENEW_LEASE_SQL, [id, owner, String(leaseMs)]);
  }

  /** Gives the lease up if `owner` holds it. */
  async releaseLease(id: string, owner: string): Promise<void> {
    await this.m.update(RotationEntity, { id, leaseOwner: owner }, { leaseOwner: null, leaseExpiresAt: null });
  }

  /** A failed attempt that will be resumed: queued again, lease free, the error on record. */
  async requeue(id: string, errorCode: string, errorMessage: string): Promise<void> {
    await updateById(this.m, RotationEntity, id, { status: 'queued', leaseOwner: null, leaseExpiresAt: null, errorCode, errorMessage }, true);
  }

  /** Rotations of the secret (other than `exceptId`) whose previous key is in its grace period: retire owed at retire_at. */
  inGrace(secretId: string, exceptId: string): Promise<RotationEntity[]> {
    // Hand-written (rows.ts): every key rotation asks, and TypeORM's query builder built and hydrated it anew.
    return selectEntities(this.m, RotationEntity, 'secret_id = $1 AND id <> $2 AND retire_pending AND retire_at IS NOT NULL AND retired_at IS NULL', [secretId, exceptId]);
  }

  async giveUpRetire(id: string): Promise<void> {
    await updateById(this.m, RotationEntity, id, { retirePending: false }, true);
  }

  /**
   * The final status; a failure keeps its code and message, a success clears them. A finish time already
   * recorded (a succeeded rotation whose retire was owed) is kept. When the status is news, the announcement
   * too (`announced`: the event, its deliveries and the audit entry were written). One statement, so one
   * transaction (FINISH_SQL): it returns the row as it was before (under its row lock) and the secret's
   * current version, or null when the row is gone (nothing written). With `release`, the run's lease lock
   * goes in the same statement (if `release.owner` still holds it), so it is held until the outcome is written.
   */
  async finish(
    id: string,
    status: 'succeeded' | 'failed',
    finishedAt: Date,
    error: { code: string | null; message: string | null },
    announce: FinishAnnouncement,
    release?: { key: string; owner: string },
  ): Promise<(FinishedRotation & { announced: boolean }) | null> {
    const failed = status === 'failed';
    const { event: ev, audit: a } = announce;
    const [row] = await queryReturning<Record<string, unknown>>(this.m, FINISH_SQL(this.m), [
      id, status, finishedAt, failed ? error.code : null, failed ? error.message : null,
      ev.id, ev.type, JSON.stringify(ev.payload), ev.deliveryIds, ev.urls, ev.at,
      a.id, a.at, a.actorId, a.actorName, a.action, a.targetType, a.targetId, a.secretId, a.outcome, a.errorCode, a.requestId, a.ip, JSON.stringify(a.details),
      release?.key ?? null, release?.owner ?? null,
    ]);
    if (!row) return null;
    const v = row.keyturn_current_version;
    return { before: toEntity(this.m, RotationEntity, row), currentVersion: v === null || v === undefined ? null : Number(v), announced: row.keyturn_announced === true };
  }

  /**
   * Rotations left waiting (or with retire owed) longer than `after` (an interval), or running under a lapsed
   * lease; oldest first (rotations_unfinished holds exactly the unfinished rows, by creation).
   */
  unfinished(after: string): Promise<{ id: string; account_id: string }[]> {
    return this.m.query(
      `SELECT r.id, s.account_id FROM rotations r JOIN secrets s ON s.id = r.secret_id
        WHERE ((r.status = 'queued' OR (r.status = 'succeeded' AND r.retire_pending)) AND r.updated_at < now() - $1::interval)
           OR (r.status = 'running' AND r.lease_expires_at < now())
        ORDER BY r.created_at LIMIT 500`,
      [after],
    );
  }
}
