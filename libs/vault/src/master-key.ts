import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Keyring, generateMasterKey, parseMasterKey } from '@keyturn/crypto';
import type { KeyturnConfig } from '@keyturn/config';

/**
 * The key-encryption keyring: KEYTURN_MASTER_KEY is the active KEK, and
 * KEYTURN_PREVIOUS_MASTER_KEYS lets data keys wrapped by older KEKs be read
 * until `npm run cli -- rewrap` has moved them. Outside production a missing
 * master key is generated into a 0600 file, loudly.
 */
export function resolveKeyring(config: KeyturnConfig, warn: (msg: string) => void): Keyring {
  let spec = config.crypto.masterKey;
  if (!spec) {
    if (config.isProduction) throw new Error('KEYTURN_MASTER_KEY is required in production');
    const file = config.crypto.masterKeyFile;
    if (!existsSync(file)) createKeyFile(file);
    spec = readFileSync(file, 'utf8').trim();
    warn(
      `KEYTURN_MASTER_KEY is not set: using the development key in ${file}. ` +
        'Anyone who can read that file can decrypt every secret. Set KEYTURN_MASTER_KEY in production.',
    );
  }
  const previous = config.crypto.previousMasterKeys.map((s) => parseMasterKey(s));
  return new Keyring(parseMasterKey(spec), previous);
}

/**
 * Several processes may start at once on a fresh machine: write a temporary
 * file and hard-link it into place, so exactly one key wins and nobody reads a
 * half-written file.
 */
function createKeyFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, generateMasterKey() + '\n', { mode: 0o600 });
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;
  } finally {
    unlinkSync(tmp);
  }
}
