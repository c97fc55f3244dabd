import type { EntityManager } from 'typeorm';
import type { HeartbeatStatus } from '@keyturn/contracts';
import { SecretEntity } from '../entities/secret.entity.js';

/**
 * The secrets table. Methods are grouped by the side that needs them.
 */
export class SecretsRepository {
  constructor(private readonly m: EntityManager) {}

  // ------------------------------------------------------------ worker side (rotation and heartbeat)

  get(id: string): Promise<SecretEntity | null> {
    return this.m.findOneBy(SecretEntity, { id });
  }

  /** The row under FOR UPDATE (promotion, storing a pending version and a heartbeat's result take it). */
  lockForUpdate(id: string): Promise<SecretEntity | null> {
    return this.m.findOne(SecretEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** The IAM user id seen at the first change: a re-created user of the same name is told apart by it. */
  async setIamUserId(id: string, iamUserId: string): Promise<void> {
    await this.m.update(SecretEntity, { id }, { iamUserId });
  }

  async setVersionCounter(id: string, versionCounter: number): Promise<void> {
    await this.m.update(SecretEntity, { id }, { versionCounter });
  }

  /** A change was promoted: `last_rotated_at` now, and a secret with a heartbeat is checked at the next tick. */
  async markChanged(id: string, checkHeartbeatNow: boolean): Promise<void> {
    await this.m.query(
      `UPDATE secrets SET last_rotated_at = now(), next_heartbeat_at = CASE WHEN $2::boolean THEN now() ELSE next_heartbeat_at END WHERE id = $1`,
      [id, checkHeartbeatNow],
    );
  }

  /** A heartbeat's result on the secret: status, consecutive failures and when it is due again. */
  async recordHeartbeat(id: string, r: { status: HeartbeatStatus; failures: number; at: Date; next: Date }): Promise<void> {
    await this.m.update(SecretEntity, { id }, { heartbeatStatus: r.status, heartbeatFailures: r.failures, lastHeartbeatAt: r.at, nextHeartbeatAt: r.next });
  }
  // ------------------------------------------------------------ end of the worker side
}
