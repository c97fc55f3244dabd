import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { Brackets, DataSource, In, type EntityManager, Repository } from 'typeorm';
import {
  ErrorCode,
  KeyturnError,
  SecretType,
  inFolderScope,
  type Actor,
  type HeartbeatStatus,
} from '@keyturn/contracts';
import { ACCESS_KEY_ID_INDEX, type EnvelopeCipher } from '@keyturn/crypto';
import { RotationEntity, SecretEntity, SecretVersionEntity, uuidv7, type SecretSettings } from '@keyturn/store';
import { SettingsService } from './settings.service.js';
import { effectiveSettings, type EffectiveSettings } from './settings.js';
import { ALL_SECRET_FIELDS, SECRET_FIELDS, maskKeyId } from './secret-fields.js';

export const ENVELOPE_CIPHER = Symbol('ENVELOPE_CIPHER');

export interface CreateSecretInput {
  type: SecretType;
  name: string;
  folder?: string;
  username: string;
  accountId: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  password?: string;
  privilegedSecretId?: string | null;
  settings?: SecretSettings;
}

export interface UpdateSecretInput {
  name?: string;
  folder?: string;
  privilegedSecretId?: string | null;
  settings?: SecretSettings;
}

export interface ListSecretsQuery {
  limit: number;
  cursor?: string;
  type?: SecretType;
  folder?: string;
  heartbeatStatus?: HeartbeatStatus;
}

/** What any viewer may see: never a secret field. */
export interface SecretMetadata {
  id: string;
  type: SecretType;
  name: string;
  folder: string;
  username: string;
  accountId: string;
  privilegedSecretId: string | null;
  settings: SecretSettings;
  effectiveSettings?: EffectiveSettings;
  heartbeatStatus: HeartbeatStatus;
  lastHeartbeatAt: string | null;
  nextHeartbeatAt: string | null;
  lastRotatedAt: string | null;
  currentVersion?: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface SecretValue {
  id: string;
  type: SecretType;
  username: string;
  accountId: string;
  version: number;
  fields: Record<string, string>;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toMetadata(s: SecretEntity): SecretMetadata {
  return {
    id: s.id,
    type: s.type,
    name: s.name,
    folder: s.folder,
    username: s.username,
    accountId: s.accountId,
    privilegedSecretId: s.privilegedSecretId,
    settings: s.settings,
    heartbeatStatus: s.heartbeatStatus,
    lastHeartbeatAt: iso(s.lastHeartbeatAt),
    nextHeartbeatAt: iso(s.nextHeartbeatAt),
    lastRotatedAt: iso(s.lastRotatedAt),
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

@Injectable()
export class SecretsService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @InjectRepository(SecretEntity) private readonly secrets: Repository<SecretEntity>,
    @InjectRepository(SecretVersionEntity) private readonly versions: Repository<SecretVersionEntity>,
    @Inject(ENVELOPE_CIPHER) private readonly cipher: EnvelopeCipher,
    private readonly settings: SettingsService,
  ) {}

  async create(actor: Actor, input: CreateSecretInput): Promise<SecretMetadata> {
    const folder = input.folder ?? '/';
    this.assertScope(actor, folder);
    const fields = this.fieldsOf(input);
    const id = uuidv7();
    if (input.privilegedSecretId) {
      await this.assertAssociation(actor, id, input.accountId, input.privilegedSecretId);
    }
    try {
      await this.ds.transaction(async (m) => {
        await this.assertNameFree(m, folder, input.name);
        if (fields.accessKeyId) await this.assertKeyNotStored(actor, m, fields.accessKeyId);
        await m.insert(SecretEntity, {
          id,
          type: input.type,
          name: input.name,
          folder,
          username: input.username,
          accountId: input.accountId,
          privilegedSecretId: input.privilegedSecretId ?? null,
          settings: input.settings ?? {},
          heartbeatStatus: input.type === SecretType.AwsIamConsolePassword ? 'not-supported' : 'unknown',
          // A new key is checked at the scheduler's next tick; console passwords have no heartbeat.
          nextHeartbeatAt: input.type === SecretType.AwsIamKey ? new Date() : null,
          versionCounter: 1,
        });
        await this.insertVersion(m, id, 1, 'current', fields);
      });
    } catch (e) {
      // Another request stored the same key between our check and our insert: the unique index settled it.
      if (fields.accessKeyId && isUniqueViolation(e, 'secret_versions_key_id_hmac_live')) {
        await this.assertKeyNotStored(actor, this.ds.manager, fields.accessKeyId);
        throw keyAlreadyStored(null);
      }
      throw e;
    }
    return this.get(actor, id);
  }

  /**
   * Which other secrets hold these access keys (in any version state but
   * retired): access key id → secret id. Looked up through the blind index,
   * under every configured KEK, so no key id is ever sent to the database.
   */
  async holdersOfAccessKeys(accessKeyIds: string[], exceptSecretId: string): Promise<Map<string, string>> {
    const byIndex = new Map<string, string>();
    for (const keyId of accessKeyIds) {
      for (const h of this.cipher.blindIndexes(ACCESS_KEY_ID_INDEX, keyId)) byIndex.set(h, keyId);
    }
    const holders = new Map<string, string>();
    if (!byIndex.size) return holders;
    const rows: { key_id_hmac: string; secret_id: string }[] = await this.ds.query(
      `SELECT key_id_hmac, secret_id FROM secret_versions
        WHERE key_id_hmac = ANY($1) AND state <> 'retired' AND secret_id <> $2
        ORDER BY id`,
      [[...byIndex.keys()], exceptSecretId],
    );
    for (const r of rows) {
      const keyId = byIndex.get(r.key_id_hmac)!;
      if (!holders.has(keyId)) holders.set(keyId, r.secret_id);
    }
    return holders;
  }

  /**
   * An access key lives in one secret only: two secrets holding one key would
   * each believe they own it, and a rotation of one kills the other's value.
   * A holder outside the caller's folder scopes is not named (404 rules).
   */
  private async assertKeyNotStored(actor: Actor, m: EntityManager, accessKeyId: string): Promise<void> {
    const rows: { secret_id: string; folder: string }[] = await m.query(
      `SELECT v.secret_id, s.folder FROM secret_versions v JOIN secrets s ON s.id = v.secret_id
        WHERE v.key_id_hmac = ANY($1) AND v.state IN ('current', 'previous', 'pending')
        ORDER BY v.id LIMIT 1`,
      [this.cipher.blindIndexes(ACCESS_KEY_ID_INDEX, accessKeyId)],
    );
    if (!rows.length) return;
    throw keyAlreadyStored(inFolderScope(actor, rows[0].folder) ? rows[0].secret_id : null);
  }

  async list(actor: Actor, q: ListSecretsQuery): Promise<{ items: SecretMetadata[]; nextCursor: string | null }> {
    const qb = this.secrets.createQueryBuilder('s').orderBy('s.id', 'ASC').limit(q.limit + 1);
    if (q.cursor) qb.andWhere('s.id > :cursor', { cursor: decodeCursor(q.cursor) });
    if (q.type) qb.andWhere('s.type = :type', { type: q.type });
    if (q.heartbeatStatus) qb.andWhere('s.heartbeat_status = :hs', { hs: q.heartbeatStatus });
    if (q.folder) addFolderFilter(qb, [q.folder], 'f');
    if (actor.folderScopes.length) addFolderFilter(qb, actor.folderScopes, 'scope');
    const rows = await qb.getMany();
    const more = rows.length > q.limit;
    const items = rows.slice(0, q.limit).map(toMetadata);
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1].id) : null };
  }

  async get(actor: Actor, id: string): Promise<SecretMetadata> {
    const s = await this.load(actor, id);
    const current = await this.versions.findOne({ where: { secretId: id, state: 'current' }, select: { version: true } });
    return {
      ...toMetadata(s),
      effectiveSettings: effectiveSettings(await this.settings.getGlobal(), s.settings),
      currentVersion: current?.version ?? null,
    };
  }

  /** Loads a secret the actor may see; anything outside its scope is "not found", so existence does not leak. */
  async load(actor: Actor, id: string): Promise<SecretEntity> {
    const s = await this.secrets.findOneBy({ id });
    if (!s || !inFolderScope(actor, s.folder)) {
      throw new KeyturnError(ErrorCode.SECRET_NOT_FOUND, { secretId: id });
    }
    return s;
  }

  async getValue(actor: Actor, id: string): Promise<SecretValue> {
    const s = await this.load(actor, id);
    const v = await this.versions.findOneBy({ secretId: id, state: 'current' });
    if (!v) throw new KeyturnError(ErrorCode.SECRET_HAS_NO_VALUE, { secretId: id });
    return {
      id: s.id,
      type: s.type,
      username: s.username,
      accountId: s.accountId,
      version: v.version,
      fields: this.open(v),
    };
  }

  /** Decrypts a stored version (for the rotation and heartbeat use cases). */
  open(v: SecretVersionEntity): Record<string, string> {
    return this.cipher.open(
      { secretId: v.secretId, version: v.version },
      { kekId: v.kekId, wrappedKey: v.wrappedKey, fields: v.fields },
    );
  }

  async update(actor: Actor, id: string, patch: UpdateSecretInput): Promise<SecretMetadata> {
    const s = await this.load(actor, id);
    const folder = patch.folder ?? s.folder;
    if (patch.folder !== undefined) this.assertScope(actor, folder);
    if (patch.privilegedSecretId) {
      await this.assertAssociation(actor, id, s.accountId, patch.privilegedSecretId);
    }
    await this.ds.transaction(async (m) => {
      if (patch.name !== undefined || patch.folder !== undefined) {
        const name = patch.name ?? s.name;
        if (name !== s.name || folder !== s.folder) await this.assertNameFree(m, folder, name);
      }
      const changes: Partial<SecretEntity> = {};
      if (patch.name !== undefined) changes.name = patch.name;
      if (patch.folder !== undefined) changes.folder = patch.folder;
      if (patch.privilegedSecretId !== undefined) changes.privilegedSecretId = patch.privilegedSecretId;
      // Settings merge: a key set to null removes the override.
      if (patch.settings !== undefined) {
        const merged: Record<string, unknown> = { ...s.settings };
        for (const [k, v] of Object.entries(patch.settings)) {
          // A DTO instance carries every declared field, unsent ones as undefined: those keep their value.
          if (v === undefined) continue;
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        changes.settings = merged as SecretSettings;
      }
      if (Object.keys(changes).length) await m.update(SecretEntity, { id }, changes);
    });
    return this.get(actor, id);
  }

  async remove(actor: Actor, id: string, force: boolean): Promise<{ detached: string[] }> {
    await this.load(actor, id);
    return this.ds.transaction(async (m) => {
      // A change in flight may hold a pending key in AWS that only this secret knows about.
      if (await m.exists(RotationEntity, { where: { secretId: id, status: In(['queued', 'running']) } })) {
        throw new KeyturnError(ErrorCode.ROTATION_IN_PROGRESS, { secretId: id });
      }
      const dependents = await m.find(SecretEntity, { where: { privilegedSecretId: id }, select: { id: true, name: true } });
      if (dependents.length && !force) {
        throw new KeyturnError(ErrorCode.SECRET_HAS_DEPENDENTS, { secretId: id, dependents });
      }
      if (dependents.length) await m.update(SecretEntity, { privilegedSecretId: id }, { privilegedSecretId: null });
      await m.delete(SecretEntity, { id });
      return { detached: dependents.map((d) => d.id) };
    });
  }

  /** Stores a new encrypted version in `m`'s transaction. */
  async insertVersion(
    m: EntityManager,
    secretId: string,
    version: number,
    state: SecretVersionEntity['state'],
    fields: Record<string, string>,
  ): Promise<SecretVersionEntity> {
    const sealed = this.cipher.seal({ secretId, version }, fields);
    const row: SecretVersionEntity = m.create(SecretVersionEntity, {
      id: uuidv7(),
      secretId,
      version,
      state,
      kekId: sealed.kekId,
      wrappedKey: sealed.wrappedKey,
      fields: sealed.fields,
      keyHint: fields.accessKeyId ? maskKeyId(fields.accessKeyId) : null,
      // Under the KEK that wraps this version, so the index moves with it on rewrap.
      keyIdHmac: fields.accessKeyId ? this.cipher.blindIndex(ACCESS_KEY_ID_INDEX, fields.accessKeyId, sealed.kekId) : null,
    });
    await m.insert(SecretVersionEntity, row);
    return row;
  }

  private fieldsOf(input: CreateSecretInput): Record<string, string> {
    const wanted = SECRET_FIELDS[input.type];
    for (const f of ALL_SECRET_FIELDS) {
      if (!wanted.includes(f) && (input as unknown as Record<string, unknown>)[f] !== undefined) {
        throw new KeyturnError(ErrorCode.FIELD_NOT_ALLOWED, { field: f, secretType: input.type });
      }
    }
    const out: Record<string, string> = {};
    for (const f of wanted) {
      const v = (input as unknown as Record<string, unknown>)[f];
      if (typeof v !== 'string' || !v) {
        throw new KeyturnError(ErrorCode.VALIDATION_FAILED, { kind: 'required-field', field: f, secretType: input.type });
      }
      out[f] = v;
    }
    return out;
  }

  private assertScope(actor: Actor, folder: string): void {
    if (!inFolderScope(actor, folder)) {
      throw new KeyturnError(ErrorCode.FOLDER_OUT_OF_SCOPE, { scopes: actor.folderScopes, folder });
    }
  }

  private async assertNameFree(m: EntityManager, folder: string, name: string): Promise<void> {
    if (await m.exists(SecretEntity, { where: { folder, name } })) {
      throw new KeyturnError(ErrorCode.SECRET_NAME_TAKEN, { name, folder });
    }
  }

  /**
   * A privileged account must be an aws-iam-key secret of the same AWS account,
   * and following the chain of associations must never come back to `selfId`.
   */
  private async assertAssociation(
    actor: Actor,
    selfId: string,
    accountId: string,
    privilegedId: string,
  ): Promise<void> {
    if (privilegedId === selfId) {
      throw new KeyturnError(ErrorCode.ASSOCIATION_CYCLE, { kind: 'self' });
    }
    const p = await this.secrets.findOneBy({ id: privilegedId });
    if (!p || !inFolderScope(actor, p.folder)) {
      throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_NOT_FOUND, { privilegedSecretId: privilegedId });
    }
    if (p.type !== SecretType.AwsIamKey) {
      throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_WRONG_TYPE, { privilegedSecretId: privilegedId, secretType: p.type });
    }
    if (p.accountId !== accountId) {
      throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_OTHER_ACCOUNT, { privilegedSecretId: privilegedId, itsAccountId: p.accountId, accountId });
    }
    // Walk the chain; it is short in practice, and bounded in case of existing bad data.
    let next: string | null = p.privilegedSecretId;
    for (let hops = 0; next && hops < 100; hops++) {
      if (next === selfId) {
        throw new KeyturnError(ErrorCode.ASSOCIATION_CYCLE, { kind: 'cycle', privilegedSecretId: privilegedId, secretId: selfId });
      }
      const row: SecretEntity | null = await this.secrets.findOne({ where: { id: next }, select: { id: true, privilegedSecretId: true } });
      next = row?.privilegedSecretId ?? null;
    }
  }
}

function keyAlreadyStored(holderSecretId: string | null): KeyturnError {
  return new KeyturnError(ErrorCode.ACCESS_KEY_ALREADY_STORED, { holderSecretId });
}

function isUniqueViolation(e: unknown, constraint: string): boolean {
  const err = e as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  return (err.code ?? err.driverError?.code) === '23505' && (err.constraint ?? err.driverError?.constraint) === constraint;
}

function addFolderFilter(
  qb: ReturnType<Repository<SecretEntity>['createQueryBuilder']>,
  prefixes: string[],
  tag: string,
): void {
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

export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
    throw new KeyturnError(ErrorCode.INVALID_CURSOR);
  }
  return id;
}

