import type { DataSource } from 'typeorm';
import { EnvelopeCipher, generateMasterKey, keyringFromStrings } from '@keyturn/crypto';
import { MasterKeyMismatchError, assertKeyringFitsDatabase } from './key-check.js';

interface Row {
  secret_id: string;
  version: number;
  kek_id: string;
  wrapped_key: string;
}

/** Answers the two queries the check makes from an in-memory secret_versions. */
function fakeDb(rows: Row[]): DataSource {
  return {
    query: async (sql: string, params?: unknown[]) => {
      if (/WITH RECURSIVE/.test(sql)) return [...new Set(rows.map((r) => r.kek_id))].sort().map((kek_id) => ({ kek_id }));
      return rows.filter((r) => r.kek_id === params?.[0]).slice(0, 3);
    },
  } as unknown as DataSource;
}

function sealedRow(masterKey: string, secretId: string): Row {
  const sealed = new EnvelopeCipher(keyringFromStrings(masterKey)).seal({ secretId, version: 1 }, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE' });
  return { secret_id: secretId, version: 1, kek_id: sealed.kekId, wrapped_key: sealed.wrappedKey };
}

async function mismatch(db: DataSource, ...keys: string[]): Promise<MasterKeyMismatchError | undefined> {
  const ring = keyringFromStrings(keys[0], keys.slice(1));
  try {
    await assertKeyringFitsDatabase(db, new EnvelopeCipher(ring), ring.ids);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(MasterKeyMismatchError);
    return e as MasterKeyMismatchError;
  }
}

describe('assertKeyringFitsDatabase', () => {
  const k1 = generateMasterKey();
  const k2 = generateMasterKey();
  const id = (k: string) => k.split(':')[0];

  it('passes when every KEK in use is configured and unwraps, and on an empty database', async () => {
    expect(await mismatch(fakeDb([sealedRow(k1, 's1'), sealedRow(k2, 's2')]), k2, k1)).toBeUndefined();
    expect(await mismatch(fakeDb([]), k1)).toBeUndefined();
  });

  it('names a KEK in use that is not configured, and never the key material', async () => {
    const e = await mismatch(fakeDb([sealedRow(k1, 's1')]), k2);
    expect(e).toMatchObject({ code: 'MASTER_KEY_MISMATCH', missing: [id(k1)], wrong: [], configured: [id(k2)] });
    expect(e!.message).toContain(`'${id(k1)}'`);
    expect(e!.message).toMatch(/KEYTURN_PREVIOUS_MASTER_KEYS/);
    for (const k of [k1, k2]) expect(e!.message).not.toContain(k.split(':')[1]);
  });

  it('catches the right id with the wrong bytes: a real unwrap', async () => {
    const impostor = `${id(k1)}:${generateMasterKey().split(':')[1]}`;
    const e = await mismatch(fakeDb([sealedRow(k1, 's1')]), impostor);
    expect(e).toMatchObject({ missing: [], wrong: [id(k1)] });
    expect(e!.message).toMatch(/cannot unwrap/);
  });

  it('one damaged row among a KEK’s data keys is not a wrong key', async () => {
    const damaged = { ...sealedRow(k1, 's1'), wrapped_key: sealedRow(k1, 's9').wrapped_key }; // bound to another secret
    expect(await mismatch(fakeDb([damaged, sealedRow(k1, 's2')]), k1)).toBeUndefined();
  });
});
