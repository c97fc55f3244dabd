import { Logger } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { RotationEntity, SecretEntity, SecretVersionEntity, type RotationWarning } from '@keyturn/store';
import { ErrorCode, KeyturnError, warningMessage, type WarningCode, type WarningParams } from '@keyturn/contracts';

const logger = new Logger('Rotation');

/** Records a rotation's progress on its row: the step it reached, and warnings. */
export async function journal(ds: DataSource, rot: RotationEntity, changes: Partial<RotationEntity>): Promise<void> {
  Object.assign(rot, changes);
  await ds.manager.update(RotationEntity, { id: rot.id }, changes as never);
}

/** Records a warning on the rotation; its message is the catalogue's wording for `params`. */
export async function warn<W extends WarningCode>(ds: DataSource, rot: RotationEntity, code: W, params: WarningParams<W>, now = Date.now()): Promise<void> {
  const message = warningMessage(code, params);
  const w: RotationWarning = { at: new Date(now).toISOString(), code, message };
  rot.warnings = [...(rot.warnings ?? []), w];
  await ds.manager
    .createQueryBuilder()
    .update(RotationEntity)
    .set({ warnings: () => `warnings || :w::jsonb` })
    .setParameter('w', JSON.stringify([w]))
    .where('id = :id', { id: rot.id })
    .execute();
  logger.warn({ rotationId: rot.id, code, message }, 'rotation warning');
}

/**
 * Promote, in one transaction: pending → current, current → previous,
 * previous → retired, and the rotation moves to `next`. A crash leaves either
 * all of it or none of it.
 */
export async function promotePending(ds: DataSource, rot: RotationEntity, next: RotationEntity['step']): Promise<void> {
  await ds.transaction(async (m) => {
    await m.findOne(SecretEntity, { where: { id: rot.secretId }, lock: { mode: 'pessimistic_write' } });
    const pending = await m.findOneBy(SecretVersionEntity, { secretId: rot.secretId, state: 'pending' });
    if (!pending) throw new KeyturnError(ErrorCode.NOTHING_TO_PROMOTE, { rotationId: rot.id });
    await m.update(SecretVersionEntity, { secretId: rot.secretId, state: 'previous' }, { state: 'retired' });
    await m.update(SecretVersionEntity, { secretId: rot.secretId, state: 'current' }, { state: 'previous' });
    await m.update(SecretVersionEntity, { id: pending.id }, { state: 'current' });
    // A changed key is checked at the scheduler's next tick, so its heartbeat status follows the change.
    await m.query(
      `UPDATE secrets SET last_rotated_at = now(), next_heartbeat_at = CASE WHEN type = 'aws-iam-key' THEN now() ELSE next_heartbeat_at END WHERE id = $1`,
      [rot.secretId],
    );
    await m.update(RotationEntity, { id: rot.id }, { step: next });
  });
  rot.step = next;
}

/** Stores `fields` as the secret's pending version and records it on the rotation, in one transaction. */
export async function storePending(
  ds: DataSource,
  rot: RotationEntity,
  fields: Record<string, string>,
  insertVersion: (m: EntityManager, secretId: string, version: number, state: 'pending', f: Record<string, string>) => Promise<unknown>,
  next: RotationEntity['step'],
): Promise<number> {
  let version = 0;
  await ds.transaction(async (m) => {
    const s = await m.findOne(SecretEntity, { where: { id: rot.secretId }, lock: { mode: 'pessimistic_write' } });
    if (!s) throw new KeyturnError(ErrorCode.SECRET_NOT_FOUND, { secretId: rot.secretId });
    version = s.versionCounter + 1;
    // An abandoned pending value (never applied, or applied and superseded) becomes history.
    await m.update(SecretVersionEntity, { secretId: s.id, state: 'pending' }, { state: 'discarded' });
    await m.update(SecretEntity, { id: s.id }, { versionCounter: version });
    await insertVersion(m, s.id, version, 'pending', fields);
    await m.update(RotationEntity, { id: rot.id }, { pendingVersion: version, step: next });
  });
  rot.pendingVersion = version;
  rot.step = next;
  return version;
}
