import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { In, type EntityManager } from 'typeorm';
import { SecretEntity } from '../entities/secret.entity.js';
import { SecretVersionEntity } from '../entities/secret-version.entity.js';
import type { NewSecretVersion } from './secret-versions.repository.js';
import { setHeartbeatDue } from './heartbeat-due.sql.js';
import { RotationEntity } from '../entities/rotation.entity.js';
import {
  listSecretsSql,
  secretFromRow,
  sqlOn,
  SECRET_BY_ID_SQL,
  SECRET_VIEW_SQL,
  SECRET_WITH_CURRENT_VERSION_SQL,
  type SecretListFilter,
  type Sql,
} from './read-paths.sql.js';

/** The part of a version row that opens it and names it (ETag): what the value read needs. */
export type OpenableVersion = Pick<SecretVersionEntity, 'id' | 'secretId' | 'version' | 'kekId' | 'wrappedKey' | 'fields' | 'secretUnknown'>;

/**
 * The API's reads and writes of secrets and their versions (create, read,
 * update, delete, list). The worker's own methods are in SecretsRepository.
 * `transaction` hands a copy bound to one transaction.
 */
@Injectable()
export class SecretsApiRepository {
  private readonly sql: Sql;

  constructor(@InjectEntityManager() private readonly m: EntityManager) {
    this.sql = sqlOn(m);
  }

  transaction<T>(work: (tx: SecretsApiRepository) => Promise<T>): Promise<T> {
    return this.m.transaction((m) => work(new SecretsApiRepository(m)));
  }

  async findById(id: string): Promise<SecretEntity | null> {
    const [row] = await this.sql(SECRET_BY_ID_SQL, [id]);
    return row ? secretFromRow(row) : null;
  }

  /** The secret and its current version (null when it has none), in one round trip. */
  async findWithCurrentVersion(id: string): Promise<{ secret: SecretEntity; current: OpenableVersion | null } | null> {
    const [row] = await this.sql(SECRET_WITH_CURRENT_VERSION_SQL, [id]);
    if (!row) return null;
    const current =
      row.v_id === null
        ? null
        : {
            id: row.v_id as string,
            secretId: id,
            version: row.v_version as number,
            kekId: row.v_kek_id as string,
            wrappedKey: row.v_wrapped_key as string,
            fields: row.v_fields as SecretVersionEntity['fields'],
            secretUnknown: row.v_secret_unknown as boolean,
          };
    return { secret: secretFromRow(row), current };
  }

  /** The secret, its current version number and the stored global settings (null: none stored), in one round trip. */
  async findView(id: string): Promise<{ secret: SecretEntity; currentVersion: number | null; globalSettings: Record<string, unknown> | null } | null> {
    const [row] = await this.sql(SECRET_VIEW_SQL, [id]);
    if (!row) return null;
    return {
      secret: secretFromRow(row),
      currentVersion: row.current_version as number | null,
      globalSettings: row.global_settings as Record<string, unknown> | null,
    };
  }

  /** The next link of an association chain. */
  async privilegedSecretIdOf(id: string): Promise<string | null> {
    const row = await this.m.findOne(SecretEntity, { where: { id }, select: { id: true, privilegedSecretId: true } });
    return row?.privilegedSecretId ?? null;
  }

  nameTaken(folder: string, name: string): Promise<boolean> {
    return this.m.exists(SecretEntity, { where: { folder, name } });
  }

  /** The first live (current, previous or pending) version whose blind index is one of `hmacs`, with its secret's folder. */
  async liveHolderOf(hmacs: string[]): Promise<{ secretId: string; folder: string } | null> {
    const rows: { secret_id: string; folder: string }[] = await this.m.query(
      `SELECT v.secret_id, s.folder FROM secret_versions v JOIN secrets s ON s.id = v.secret_id
        WHERE v.key_id_hmac = ANY($1) AND v.state IN ('current', 'previous', 'pending')
        ORDER BY v.id LIMIT 1`,
      [hmacs],
    );
    return rows.length ? { secretId: rows[0].secret_id, folder: rows[0].folder } : null;
  }

  /** The secret, its due time (heartbeat_due: a key with `nextHeartbeatAt` only) and its first version. */
  async insert(secret: Partial<SecretEntity>, firstVersion: NewSecretVersion): Promise<void> {
    const { nextHeartbeatAt, ...row } = secret;
    await this.m.insert(SecretEntity, row);
    if (nextHeartbeatAt && row.id) await setHeartbeatDue(this.m, row.id, nextHeartbeatAt);
    await this.m.insert(SecretVersionEntity, firstVersion);
  }

  /** The secret's columns in `changes`, and its due time when `nextHeartbeatAt` is among them (a key only). */
  async update(id: string, changes: Partial<SecretEntity>): Promise<void> {
    const { nextHeartbeatAt, ...columns } = changes;
    if (Object.keys(columns).length) await this.m.update(SecretEntity, { id }, columns);
    if (nextHeartbeatAt !== undefined) await setHeartbeatDue(this.m, id, nextHeartbeatAt);
  }

  /** Every version of a secret, newest first, without its encrypted fields. */
  versions(secretId: string): Promise<Pick<SecretVersionEntity, 'version' | 'state' | 'keyHint' | 'secretUnknown' | 'createdAt' | 'promotedAt' | 'retiredAt'>[]> {
    return this.m.find(SecretVersionEntity, {
      where: { secretId },
      select: { version: true, state: true, keyHint: true, secretUnknown: true, createdAt: true, promotedAt: true, retiredAt: true },
      order: { version: 'DESC' },
    });
  }

  /** One version by number; for `previous`, the version in state previous, or else the newest retired one (what became of it). */
  async versionFor(secretId: string, which: number | 'previous'): Promise<SecretVersionEntity | null> {
    if (which !== 'previous') return this.m.findOneBy(SecretVersionEntity, { secretId, version: which });
    return (
      (await this.m.findOneBy(SecretVersionEntity, { secretId, state: 'previous' })) ??
      (await this.m.findOne(SecretVersionEntity, { where: { secretId, state: 'retired' }, order: { version: 'DESC' } }))
    );
  }

  currentVersion(secretId: string): Promise<SecretVersionEntity | null> {
    return this.m.findOneBy(SecretVersionEntity, { secretId, state: 'current' });
  }

  async currentVersionNumber(secretId: string): Promise<number | null> {
    const v = await this.m.findOne(SecretVersionEntity, { where: { secretId, state: 'current' }, select: { version: true } });
    return v?.version ?? null;
  }

  hasChangeInFlight(secretId: string): Promise<boolean> {
    return this.m.exists(RotationEntity, { where: { secretId, status: In(['queued', 'running']) } });
  }

  dependentsOf(id: string): Promise<{ id: string; name: string }[]> {
    return this.m.find(SecretEntity, { where: { privilegedSecretId: id }, select: { id: true, name: true } });
  }

  async detachDependents(id: string): Promise<void> {
    await this.m.update(SecretEntity, { privilegedSecretId: id }, { privilegedSecretId: null });
  }

  async delete(id: string): Promise<void> {
    await this.m.delete(SecretEntity, { id });
  }

  /** The longest own window among secrets that follow the global schedule (no own schedule), with one secret that has it. */
  async longestOwnWindowWithoutOwnSchedule(): Promise<{ id: string; windowMinutes: number } | null> {
    const rows: { id: string; window: number }[] = await this.m.query(
      `SELECT id, (settings->>'autoChangeWindowMinutes')::int AS window FROM secrets
        WHERE settings ? 'autoChangeWindowMinutes' AND NOT settings ? 'autoChangeSchedule'
        ORDER BY 2 DESC, id LIMIT 1`,
    );
    return rows.length ? { id: rows[0].id, windowMinutes: rows[0].window } : null;
  }

  /** Each own schedule of the secrets that follow the global window (no own window), with one secret that has it. */
  ownSchedulesWithoutOwnWindow(): Promise<{ id: string; schedule: string }[]> {
    return this.m.query(
      `SELECT DISTINCT ON (settings->>'autoChangeSchedule') id, settings->>'autoChangeSchedule' AS schedule FROM secrets
        WHERE settings ? 'autoChangeSchedule' AND NOT settings ? 'autoChangeWindowMinutes'
        ORDER BY settings->>'autoChangeSchedule', id`,
    );
  }

  /** One page in id order, and one row more than `limit` when there is a next page. */
  async list(f: SecretListFilter): Promise<SecretEntity[]> {
    const { text, values } = listSecretsSql(f);
    return (await this.sql(text, values)).map(secretFromRow);
  }
}
