import { In, MoreThan, type EntityManager } from 'typeorm';
import { SecretVersionEntity, type VersionState } from '../entities/secret-version.entity.js';

export type LiveState = 'current' | 'previous' | 'pending';

/** A version as the vault sealed it, ready to insert. */
export type NewSecretVersion = Pick<
  SecretVersionEntity,
  'id' | 'secretId' | 'version' | 'state' | 'kekId' | 'wrappedKey' | 'fields' | 'keyHint' | 'keyIdHmac'
> &
  Partial<Pick<SecretVersionEntity, 'secretUnknown'>>;

/** The versions of secrets (encrypted; this repository never sees a plaintext field). */
export class SecretVersionsRepository {
  constructor(private readonly m: EntityManager) {}

  /** The current, previous and pending versions of a secret. */
  live(secretId: string): Promise<SecretVersionEntity[]> {
    return this.m.findBy(SecretVersionEntity, { secretId, state: In(['current', 'previous', 'pending']) });
  }

  inState(secretId: string, state: LiveState): Promise<SecretVersionEntity | null> {
    return this.m.findOneBy(SecretVersionEntity, { secretId, state });
  }

  /** The id of the current version (for "is the checked key still current?"). */
  async currentId(secretId: string): Promise<string | null> {
    const v = await this.m.findOne(SecretVersionEntity, { where: { secretId, state: 'current' }, select: { id: true } });
    return v?.id ?? null;
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

  async insert(row: NewSecretVersion): Promise<void> {
    await this.m.insert(SecretVersionEntity, row);
  }

  async setState(id: string, state: VersionState): Promise<void> {
    await this.m.update(SecretVersionEntity, { id }, { state });
  }

  /** Moves every version of the secret in state `from` to `to` (pending → discarded, current → previous, …). */
  async moveState(secretId: string, from: VersionState, to: VersionState): Promise<void> {
    await this.m.update(SecretVersionEntity, { secretId, state: from }, { state: to });
  }

  /**
   * Which secrets other than `exceptSecretId` hold a version (in any state but
   * retired) with one of these blind-index values, oldest version first.
   */
  holdersOfKeyIdHmacs(hmacs: string[], exceptSecretId: string): Promise<{ key_id_hmac: string; secret_id: string }[]> {
    return this.m.query(
      `SELECT key_id_hmac, secret_id FROM secret_versions
        WHERE key_id_hmac = ANY($1) AND state <> 'retired' AND secret_id <> $2
        ORDER BY id`,
      [hmacs, exceptSecretId],
    );
  }
}
