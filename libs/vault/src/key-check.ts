import { DataSource } from 'typeorm';
import { ACCESS_KEY_ID_INDEX, CryptoError, EnvelopeCipher, type SealedVersion } from '@keyturn/crypto';
import type { KeyturnConfig } from '@keyturn/config';
import { ErrorCode, KeyturnError } from '@keyturn/contracts';
import { dataSourceOptions } from '@keyturn/store';
import { resolveKeyring } from './master-key.js';

/** Exit status for a configuration that cannot work (sysexits EX_CONFIG), as for a bad environment. */
export const EXIT_CONFIG = 78;

/** Rows tried per KEK before concluding that it cannot unwrap anything: one damaged row is not a wrong key. */
const SAMPLES_PER_KEK = 3;

/**
 * The configured master keys do not fit the database. The message names KEK
 * ids only (the part before ":"), never key material, and says what to do.
 */
export class MasterKeyMismatchError extends KeyturnError<typeof ErrorCode.MASTER_KEY_MISMATCH> {
  constructor(
    /** KEK ids that wrap stored data keys but are not configured. */
    readonly missing: string[],
    /** KEK ids that are configured but unwrap none of their stored data keys: right id, wrong bytes. */
    readonly wrong: string[],
    readonly configured: string[],
  ) {
    super(ErrorCode.MASTER_KEY_MISMATCH, { missing, wrong, configured });
    this.name = 'MasterKeyMismatchError';
  }
}

/**
 * Every KEK id in use in secret_versions must be configured and must really
 * unwrap a stored data key (a real unwrap, so a right id with the wrong bytes
 * is caught too). Otherwise an app would boot green and fail every read and
 * every rotation with UNKNOWN_KEK or DECRYPT_FAILED.
 */
export async function assertKeyringFitsDatabase(ds: DataSource, cipher: EnvelopeCipher, configured: string[]): Promise<void> {
  // A loose index scan over secret_versions_kek: one probe per distinct KEK, whatever the table's size.
  const inUse: { kek_id: string }[] = await ds.query(`
    WITH RECURSIVE k AS (
      (SELECT kek_id FROM secret_versions ORDER BY kek_id LIMIT 1)
      UNION ALL
      SELECT (SELECT v.kek_id FROM secret_versions v WHERE v.kek_id > k.kek_id ORDER BY v.kek_id LIMIT 1) FROM k WHERE k.kek_id IS NOT NULL
    )
    SELECT kek_id FROM k WHERE kek_id IS NOT NULL`);
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const { kek_id: kekId } of inUse) {
    if (!configured.includes(kekId)) {
      missing.push(kekId);
      continue;
    }
    const rows: { secret_id: string; version: number; wrapped_key: string }[] = await ds.query(
      `SELECT secret_id, version, wrapped_key FROM secret_versions WHERE kek_id = $1 ORDER BY id DESC LIMIT ${SAMPLES_PER_KEK}`,
      [kekId],
    );
    const unwraps = rows.some((r) => {
      try {
        cipher.verifyDataKey({ secretId: r.secret_id, version: r.version }, { kekId, wrappedKey: r.wrapped_key, fields: {} });
        return true;
      } catch (e) {
        if (e instanceof CryptoError) return false;
        throw e;
      }
    });
    if (!unwraps) wrong.push(kekId);
  }
  if (missing.length || wrong.length) throw new MasterKeyMismatchError(missing, wrong, configured);
}

export interface BackfillResult {
  indexed: number;
  /** Versions left without an index: a damaged row, or a key another secret already holds. */
  skipped: number;
}

/**
 * Fills in key_id_hmac on key versions written before the blind index existed.
 * Idempotent and safe to run from several processes at once: each row is
 * updated only while still empty and still under the KEK it was read with.
 */
export async function backfillAccessKeyIndex(
  ds: DataSource,
  cipher: EnvelopeCipher,
  warn: (msg: string) => void,
  batch = 500,
): Promise<BackfillResult> {
  const result: BackfillResult = { indexed: 0, skipped: 0 };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows: { id: string; secret_id: string; version: number; kek_id: string; wrapped_key: string; fields: SealedVersion['fields'] }[] =
      await ds.query(
        `SELECT id, secret_id, version, kek_id, wrapped_key, fields FROM secret_versions
          WHERE key_id_hmac IS NULL AND (fields -> 'accessKeyId') IS NOT NULL AND id > $1
          ORDER BY id LIMIT $2`,
        [after, batch],
      );
    for (const r of rows) {
      after = r.id;
      const ctx = { secretId: r.secret_id, version: r.version };
      let hmac: string;
      try {
        const accessKeyId = cipher.openField(ctx, { kekId: r.kek_id, wrappedKey: r.wrapped_key, fields: r.fields }, 'accessKeyId');
        hmac = cipher.blindIndex(ACCESS_KEY_ID_INDEX, accessKeyId, r.kek_id);
      } catch (e) {
        if (!(e instanceof CryptoError)) throw e;
        warn(`access key index: skipped secret ${r.secret_id} version ${r.version}: ${e.message}`);
        result.skipped++;
        continue;
      }
      try {
        await ds.query(`UPDATE secret_versions SET key_id_hmac = $1 WHERE id = $2 AND kek_id = $3 AND key_id_hmac IS NULL`, [hmac, r.id, r.kek_id]);
        result.indexed++;
      } catch (e) {
        if ((e as { code?: string }).code !== '23505') throw e;
        // Stored twice before Keyturn refused that: the first holder keeps the index; a person must choose.
        const [other] = await ds.query(
          `SELECT secret_id FROM secret_versions WHERE key_id_hmac = $1 AND state IN ('current', 'previous', 'pending') LIMIT 1`,
          [hmac],
        );
        warn(
          `secrets ${other?.secret_id ?? '(another)'} and ${r.secret_id} hold the same access key; an access key belongs in one secret only. ` +
            `Delete one of them. Until then secret ${r.secret_id} version ${r.version} stays out of the access key index.`,
        );
        result.skipped++;
      }
    }
    if (rows.length < batch) return result;
  }
}

/**
 * The start-up check every app runs before it serves or processes anything:
 * the master keys fit the database, then the access key index is complete.
 * Throws MasterKeyMismatchError (main.ts turns it into exit 78).
 */
export async function verifyVaultKeys(config: KeyturnConfig, log: { info(msg: string): void; warn(msg: string): void }): Promise<void> {
  // VaultModule warns about a development key; saying it once is enough.
  const keyring = resolveKeyring(config, () => undefined);
  const cipher = new EnvelopeCipher(keyring);
  const ds = new DataSource({ ...dataSourceOptions(config.database.url), extra: { max: 1, application_name: 'keyturn-key-check' } });
  await ds.initialize();
  try {
    await assertKeyringFitsDatabase(ds, cipher, keyring.ids);
    const r = await backfillAccessKeyIndex(ds, cipher, (m) => log.warn(m));
    if (r.indexed) log.info(`access key index: filled in ${r.indexed} stored version(s)`);
  } finally {
    await ds.destroy();
  }
}

/** For main.ts: a key mismatch ends the process with its message and exit 78; anything else is rethrown. */
export function exitOnKeyMismatch(e: unknown): never {
  if (e instanceof MasterKeyMismatchError) {
    process.stderr.write(`keyturn: ${e.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  throw e;
}
