import type { DataSource } from 'typeorm';
import { Not } from 'typeorm';
import { ACCESS_KEY_ID_INDEX, type EnvelopeCipher } from '@keyturn/crypto';
import { SecretVersionEntity } from '@keyturn/store';

export interface RewrapResult {
  rewrapped: number;
  remaining: number;
}

/**
 * Re-wraps every data key that is not under the active key-encryption key, in
 * small transactions, while Keyturn runs. Field ciphertexts are untouched; a
 * row changed meanwhile (a rotation promoting it) is simply picked up again.
 * The access key index follows the KEK, so it is recomputed under the new one
 * (the old KEK is still configured, so the access key id can be read).
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
        const ctx = { secretId: v.secretId, version: v.version };
        const old = { kekId: v.kekId, wrappedKey: v.wrappedKey, fields: v.fields };
        const sealed = cipher.rewrap(ctx, old);
        const keyIdHmac = Object.hasOwn(v.fields, 'accessKeyId')
          ? cipher.blindIndex(ACCESS_KEY_ID_INDEX, cipher.openField(ctx, old, 'accessKeyId'), sealed.kekId)
          : v.keyIdHmac;
        await m.update(SecretVersionEntity, { id: v.id, kekId: v.kekId }, { kekId: sealed.kekId, wrappedKey: sealed.wrappedKey, keyIdHmac });
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
