import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { RotationEntity } from '../entities/rotation.entity.js';
import { SecretEntity } from '../entities/secret.entity.js';
import { SecretVersionEntity } from '../entities/secret-version.entity.js';
import type { NewSecretVersion } from './secret-versions.repository.js';
import { setHeartbeatDue } from './heartbeat-due.sql.js';

/**
 * Adoption of a discovered key (issue 15 item 3): the new secret, its adopted
 * version (the key id only, `secret_unknown`) and the rotation that replaces
 * it, written in one transaction, so there is never an adopted secret without
 * its rotation, nor a rotation without its secret. The job is enqueued after
 * the commit; a lost enqueue is the reconciler's, as for every rotation.
 */
@Injectable()
export class AdoptionsRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  /** False when the folder already has a secret of that name (nothing written). */
  adopt(secret: Partial<SecretEntity> & { id: string; folder: string; name: string }, version: NewSecretVersion, rotation: Partial<RotationEntity> & { id: string }): Promise<boolean> {
    return this.m.transaction(async (m) => {
      if (await m.exists(SecretEntity, { where: { folder: secret.folder, name: secret.name } })) return false;
      const { nextHeartbeatAt, ...row } = secret;
      await m.insert(SecretEntity, row);
      // An adopted key is due once its rotation has replaced the key (the promotion makes it due), unless told otherwise.
      if (nextHeartbeatAt) await setHeartbeatDue(m, secret.id, nextHeartbeatAt);
      await m.insert(SecretVersionEntity, { ...version, secretUnknown: true });
      await m.insert(RotationEntity, rotation);
      return true;
    });
  }
}
