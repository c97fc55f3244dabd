import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { ACCESS_KEY_ID_INDEX, type EnvelopeCipher } from '@keyturn/crypto';
import { SecretVersionEntity, uuidv7 } from '@keyturn/store';
import { maskKeyId } from './secret-fields.js';

export const ENVELOPE_CIPHER = Symbol('ENVELOPE_CIPHER');

/**
 * The vault's crypto-facing side: seals a secret's fields into a version row
 * and opens one again, and finds key holders through the blind index. The API's
 * use cases (create, read, update, delete) are in libs/secrets.
 */
@Injectable()
export class SecretsService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(ENVELOPE_CIPHER) private readonly cipher: EnvelopeCipher,
  ) {}

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

  /** The blind indexes of an access key id under every configured KEK (to look it up without sending it). */
  accessKeyIndexes(accessKeyId: string): string[] {
    return this.cipher.blindIndexes(ACCESS_KEY_ID_INDEX, accessKeyId);
  }

  /** Decrypts a stored version. */
  open(v: SecretVersionEntity): Record<string, string> {
    return this.cipher.open(
      { secretId: v.secretId, version: v.version },
      { kekId: v.kekId, wrappedKey: v.wrappedKey, fields: v.fields },
    );
  }

  /** A new encrypted version row (not stored yet). */
  seal(secretId: string, version: number, state: SecretVersionEntity['state'], fields: Record<string, string>): SecretVersionEntity {
    const sealed = this.cipher.seal({ secretId, version }, fields);
    return Object.assign(new SecretVersionEntity(), {
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
  }

  /** Stores a new encrypted version in `m`'s transaction. */
  async insertVersion(
    m: EntityManager,
    secretId: string,
    version: number,
    state: SecretVersionEntity['state'],
    fields: Record<string, string>,
  ): Promise<SecretVersionEntity> {
    const row = this.seal(secretId, version, state, fields);
    await m.insert(SecretVersionEntity, row);
    return row;
  }
}
