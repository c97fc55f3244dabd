import { In, MoreThan, type EntityManager } from 'typeorm';
import { SecretVersionEntity, type VersionState } from '../entities/secret-version.entity.js';
import type { RotationStep } from '../entities/rotation.entity.js';
import { namedSql, queryReturning, rowsOf } from '../returning.js';
import { columnList, namedFromMetadata, selectEntities, toEntity, updateById } from '../rows.js';

export type LiveState = 'current' | 'previous' | 'pending';

/** A version as the vault sealed it, ready to insert. */
export type NewSecretVersion = Pick<
  SecretVersionEntity,
  'id' | 'secretId' | 'version' | 'state' | 'kekId' | 'wrappedKey' | 'fields' | 'keyHint' | 'keyIdHmac'
> &
  Partial<KeyListing> &
  Partial<Pick<SecretVersionEntity, 'secretUnknown'>>;

/** What IAM said about a version's access key, and when (null status and date: listing was denied). */
export type KeyListing = Pick<SecretVersionEntity, 'keyStatus' | 'keyCreatedAt' | 'keyListedAt'>;

// A rotation's constant statements on versions, prepared once per connection (NamedSql); a row's columns listed.

const INSERT_SQL = namedFromMetadata(
  'version_insert',
  (m) => `INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields, key_hint, key_id_hmac, key_status, key_created_at, key_listed_at, secret_unknown)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       RETURNING ${columnList(m, SecretVersionEntity)}`,
);

/** keyturn_store_pending (migration StorePending1795838100000): the stored version, or no row when nothing was written. */
const STORE_PENDING_SQL = namedFromMetadata(
  'version_store_pending',
  (m) => `SELECT ${columnList(m, SecretVersionEntity)} FROM keyturn_store_pending($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
);

const PROMOTE_PENDING_SQL = namedFromMetadata(
  'version_promote_pending',
  (m) => `UPDATE secret_versions SET state = 'current', updated_at = now() WHERE secret_id = $1 AND state = 'pending' RETURNING ${columnList(m, SecretVersionEntity)}`,
);

const MOVE_STATE_SQL = namedSql('version_move_state', `UPDATE secret_versions SET state = $3, updated_at = now() WHERE secret_id = $1 AND state = $2`);

/** One statement whatever the number of values: they go as one array parameter. */
const HOLDERS_OF_KEY_ID_HMACS_SQL = namedSql(
  'version_holders_of_key_id_hmacs',
  `SELECT key_id_hmac, secret_id FROM secret_versions
        WHERE key_id_hmac = ANY($1) AND state <> 'retired' AND secret_id <> $2
        ORDER BY id`,
);

/** The versions of secrets (encrypted; this repository never sees a plaintext field). */
export class SecretVersionsRepository {
  constructor(private readonly m: EntityManager) {}

  /** The current, previous and pending versions of a secret. */
  live(secretId: string): Promise<SecretVersionEntity[]> {
    return selectEntities(this.m, SecretVersionEntity, `secret_id = $1 AND state IN ('current', 'previous', 'pending')`, [secretId]);
  }

  async inState(secretId: string, state: LiveState): Promise<SecretVersionEntity | null> {
    const [v] = await selectEntities(this.m, SecretVersionEntity, 'secret_id = $1 AND state = $2', [secretId, state]);
    return v ?? null;
  }

  /** The id of the current version (for "is the checked key still current?"). */
  async currentId(secretId: string): Promise<string | null> {
    const [v] = await this.m.query(`SELECT id FROM secret_versions WHERE secret_id = $1 AND state = 'current'`, [secretId]);
    return v?.id ?? null;
  }

  /** What a listing of the keys (or the CreateAccessKey answer) said about this version's key. */
  async recordListing(id: string, l: KeyListing): Promise<void> {
    await this.m.query(`UPDATE secret_versions SET key_status = $2, key_created_at = $3, key_listed_at = $4 WHERE id = $1`, [id, l.keyStatus, l.keyCreatedAt, l.keyListedAt]);
  }

  /** The newest `take` versions in `states`, newest first. */
  newest(secretId: string, states: VersionState[], take: number): Promise<SecretVersionEntity[]> {
    return this.m.find(SecretVersionEntity, { where: { secretId, state: In(states) }, order: { version: 'DESC' }, take });
  }

  /** Versions after `version` in `states`, oldest first, at most `take`. */
  newerThan(secretId: string, version: number, states: VersionState[], take: number): Promise<SecretVersionEntity[]> {
    return this.m.find(SecretVersionEntity, {
      where: { secretId, version: MoreThan(version), state: In(states) },
      order: { version: 'ASC' },
      take,
    });
  }

  /** Inserts the version and returns it as stored (its defaults too: created_at, …). */
  async insert(row: NewSecretVersion): Promise<SecretVersionEntity> {
    const [stored] = await queryReturning<Record<string, unknown>>(
      this.m,
      INSERT_SQL(this.m),
      [row.id, row.secretId, row.version, row.state, row.kekId, row.wrappedKey, JSON.stringify(row.fields), row.keyHint, row.keyIdHmac,
        row.keyStatus ?? null, row.keyCreatedAt ?? null, row.keyListedAt ?? null, row.secretUnknown ?? false],
    );
    return toEntity(this.m, SecretVersionEntity, stored);
  }

  /**
   * A rotation's new value stored as the secret's pending version in one call (keyturn_store_pending, migration
   * StorePending1795838100000): the version counted under the secret's row lock, an abandoned pending version
   * discarded, `row` inserted, and the rotation's pending version and `step` recorded; only if `row.version` is
   * the next version (it is sealed with it). Returns the stored version, or null when nothing was written (the
   * counter moved on, or the secret is gone). Run it outside a transaction.
   */
  async storePending(rotationId: string, step: RotationStep, row: NewSecretVersion): Promise<SecretVersionEntity | null> {
    const [stored] = await queryReturning<Record<string, unknown>>(this.m, STORE_PENDING_SQL(this.m), [
      row.secretId, row.version, rotationId, step, row.id, row.kekId, row.wrappedKey, JSON.stringify(row.fields), row.keyHint, row.keyIdHmac,
      row.keyStatus ?? null, row.keyCreatedAt ?? null, row.keyListedAt ?? null,
    ]);
    return stored ? toEntity(this.m, SecretVersionEntity, stored) : null;
  }

  async setState(id: string, state: VersionState): Promise<void> {
    await updateById(this.m, SecretVersionEntity, id, { state }, true);
  }

  /**
   * The secret's pending version becomes current; returns it (null: there was none, nothing changed). The
   * caller moves the current one to previous first (one live version per state: unique indexes).
   */
  async promotePending(secretId: string): Promise<SecretVersionEntity | null> {
    const [row] = await queryReturning<Record<string, unknown>>(this.m, PROMOTE_PENDING_SQL(this.m), [secretId]);
    return row ? toEntity(this.m, SecretVersionEntity, row) : null;
  }

  /** Moves every version of the secret in state `from` to `to` (pending → discarded, current → previous, …). */
  async moveState(secretId: string, from: VersionState, to: VersionState): Promise<void> {
    await rowsOf(this.m, MOVE_STATE_SQL, [secretId, from, to]);
  }

  /**
   * Which secrets other than `exceptSecretId` hold a version (in any state but
   * retired) with one of these blind-index values, oldest version first.
   */
  holdersOfKeyIdHmacs(hmacs: string[], exceptSecretId: string): Promise<{ key_id_hmac: string; secret_id: string }[]> {
    return rowsOf<{ key_id_hmac: string; secret_id: string }>(this.m, HOLDERS_OF_KEY_ID_HMACS_SQL, [hmacs, exceptSecretId]);
  }
}
