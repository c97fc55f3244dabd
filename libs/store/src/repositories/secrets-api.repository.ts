import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { Brackets, In, type EntityManager, type SelectQueryBuilder } from 'typeorm';
import type { HeartbeatStatus, SecretType } from '@keyturn/contracts';
import { SecretEntity } from '../entities/secret.entity.js';
import { SecretVersionEntity } from '../entities/secret-version.entity.js';
import type { NewSecretVersion } from './secret-versions.repository.js';
import { RotationEntity } from '../entities/rotation.entity.js';

export interface SecretListFilter {
  limit: number;
  /** Only ids after this one (keyset pagination over the UUIDv7 primary key). */
  afterId?: string;
  type?: SecretType;
  heartbeatStatus?: HeartbeatStatus;
  /** A folder and everything under it. */
  folder?: string;
  /** The caller's folder scopes (empty: every folder). */
  scopes: readonly string[];
}

/**
 * The API's reads and writes of secrets and their versions (create, read,
 * update, delete, list). The worker's own methods are in SecretsRepository.
 * `transaction` hands a copy bound to one transaction.
 */
@Injectable()
export class SecretsApiRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  transaction<T>(work: (tx: SecretsApiRepository) => Promise<T>): Promise<T> {
    return this.m.transaction((m) => work(new SecretsApiRepository(m)));
  }

  findById(id: string): Promise<SecretEntity | null> {
    return this.m.findOneBy(SecretEntity, { id });
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

  async insert(secret: Partial<SecretEntity>, firstVersion: NewSecretVersion): Promise<void> {
    await this.m.insert(SecretEntity, secret);
    await this.m.insert(SecretVersionEntity, firstVersion);
  }

  async update(id: string, changes: Partial<SecretEntity>): Promise<void> {
    if (Object.keys(changes).length) await this.m.update(SecretEntity, { id }, changes);
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

  /** One page in id order, and one row more than `limit` when there is a next page. */
  list(f: SecretListFilter): Promise<SecretEntity[]> {
    const qb = this.m.createQueryBuilder(SecretEntity, 's').orderBy('s.id', 'ASC').limit(f.limit + 1);
    if (f.afterId) qb.andWhere('s.id > :cursor', { cursor: f.afterId });
    if (f.type) qb.andWhere('s.type = :type', { type: f.type });
    if (f.heartbeatStatus) qb.andWhere('s.heartbeat_status = :hs', { hs: f.heartbeatStatus });
    if (f.folder) addFolderFilter(qb, [f.folder], 'f');
    if (f.scopes.length) addFolderFilter(qb, f.scopes, 'scope');
    return qb.getMany();
  }
}

function addFolderFilter(qb: SelectQueryBuilder<SecretEntity>, prefixes: readonly string[], tag: string): void {
  if (prefixes.some((p) => p === '/')) return;
  qb.andWhere(
    new Brackets((w) => {
      prefixes.forEach((p, i) => {
        const exact = p.replace(/\/+$/, '');
        const like = exact.replace(/[\\%_]/g, (c) => '\\' + c) + '/%';
        w.orWhere(`(s.folder = :${tag}e${i} OR s.folder LIKE :${tag}l${i})`, {
          [`${tag}e${i}`]: exact,
          [`${tag}l${i}`]: like,
        });
      });
    }),
  );
}
