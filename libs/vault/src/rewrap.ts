import type { DataSource } from 'typeorm';
import { Not } from 'typeorm';
import type { EnvelopeCipher } from '@keyturn/crypto';
import { SecretVersionEntity } from '@keyturn/store';

export interface RewrapResult {
  rewrapped: number;
  remaining: number;
}

/**
 * Re-wraps every data key that is not under the active key-encryption key, in
 * small transactions, while Keyturn runs. Field ciphertexts are untouched; a
 * row changed meanwhile (a rotation promoting it) is simply picked up again.
 */
export async function rewrapAll(
  ds: DataSource,
  cipher: EnvelopeCipher,
  activeKekId: string,
  batch = 200,
  onProgress?: (done: number) => void,
): Promise<RewrapResult> {
  let rewrapped = 0;
  for (;;) {
    const n = await ds.transaction(async (m) => {
      const rows = await m
        .createQueryBuilder(SecretVersionEntity, 'v')
        .where('v.kek_id <> :active', { active: activeKekId })
        .orderBy('v.id')
        .limit(batch)
        .setLock('pessimistic_write')
        .setOnLocked('skip_locked')
        .getMany();
      for (const v of rows) {
        const sealed = cipher.rewrap(
          { secretId: v.secretId, version: v.version },
          { kekId: v.kekId, wrappedKey: v.wrappedKey, fields: v.fields },
        );
        await m.update(SecretVersionEntity, { id: v.id, kekId: v.kekId }, { kekId: sealed.kekId, wrappedKey: sealed.wrappedKey });
      }
      return rows.length;
    });
    rewrapped += n;
    onProgress?.(rewrapped);
    if (n < batch) break;
  }
  const remaining = await ds.getRepository(SecretVersionEntity).countBy({ kekId: Not(activeKekId) });
  return { rewrapped, remaining };
}
