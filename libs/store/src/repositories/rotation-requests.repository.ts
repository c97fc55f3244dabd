import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { IsNull, type EntityManager } from 'typeorm';
import { RotationEntity } from '../entities/rotation.entity.js';

/**
 * The API's side of the rotations table: join or create a secret's waiting
 * rotation (with its Idempotency-Key), and read rotations. The worker's side
 * (claim, journal, promote) is in its own repository.
 */
@Injectable()
export class RotationRequestsRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  async byIdempotencyKey(secretId: string, key: string): Promise<RotationEntity | null> {
    const [hit]: { rotation_id: string }[] = await this.m.query(
      `SELECT rotation_id FROM rotation_idempotency_keys WHERE secret_id = $1 AND idempotency_key = $2`,
      [secretId, key],
    );
    return hit ? this.m.findOneBy(RotationEntity, { id: hit.rotation_id }) : null;
  }

  /**
   * In one transaction: the secret's waiting rotation (queued, never started),
   * or `row` inserted as the new one; and `idempotencyKey`, if given, remembered
   * for it. A unique violation (another request won a race) is the caller's to retry.
   */
  joinOrCreateWaiting(row: Partial<RotationEntity> & { id: string; secretId: string }, idempotencyKey?: string): Promise<{ id: string; created: boolean }> {
    return this.m.transaction(async (m) => {
      const waiting = await m.findOne(RotationEntity, { where: { secretId: row.secretId, status: 'queued', startedAt: IsNull() }, select: { id: true } });
      const id = waiting?.id ?? row.id;
      if (!waiting) await m.insert(RotationEntity, row as RotationEntity);
      if (idempotencyKey) {
        await m.query(`INSERT INTO rotation_idempotency_keys (secret_id, idempotency_key, rotation_id) VALUES ($1, $2, $3)`, [row.secretId, idempotencyKey, id]);
      }
      return { id, created: !waiting };
    });
  }

  findById(id: string): Promise<RotationEntity | null> {
    return this.m.findOneBy(RotationEntity, { id });
  }

  findByIdOrFail(id: string): Promise<RotationEntity> {
    return this.m.findOneByOrFail(RotationEntity, { id });
  }

  /** The newest first. */
  listForSecret(secretId: string, limit: number): Promise<RotationEntity[]> {
    return this.m.find(RotationEntity, { where: { secretId }, order: { id: 'DESC' }, take: limit });
  }
}
