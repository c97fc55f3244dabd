import { ACCESS_KEY_ID_INDEX, type EnvelopeCipher } from '@keyturn/crypto';
import { uuidv7, type NewSecretVersion, type SecretVersionEntity } from '@keyturn/store';
import { maskKeyId } from './secret-fields.js';

/**
 * The vault's envelope encryption as the use cases see it: open a stored
 * version, seal a new one, and the blind-index values of an access key id. One
 * implementation for the API and the worker; a port, so the use cases' unit
 * specs run without keys.
 */
export const VERSION_CIPHER = Symbol('VERSION_CIPHER');
/** The EnvelopeCipher over the configured keyring (rewrap and the start-up check use it directly). */
export const ENVELOPE_CIPHER = Symbol('ENVELOPE_CIPHER');

export interface VersionCipher {
  open(row: Pick<SecretVersionEntity, 'secretId' | 'version' | 'kekId' | 'wrappedKey' | 'fields'>): Record<string, string>;
  /** The row to insert for `fields` as `version` of the secret (encrypted; key hint and blind index for access keys). */
  seal(secretId: string, version: number, state: SecretVersionEntity['state'], fields: Record<string, string>): NewSecretVersion;
  /** The blind-index values of an access key id, one per configured KEK (lookups must try them all). */
  accessKeyIdIndexes(accessKeyId: string): string[];
}

/** The envelope cipher of the configured keyring (ENVELOPE_CIPHER), seen as versions. */
export function envelopeVersionCipher(cipher: EnvelopeCipher): VersionCipher {
  return {
    open: (v) => cipher.open({ secretId: v.secretId, version: v.version }, { kekId: v.kekId, wrappedKey: v.wrappedKey, fields: v.fields }),
    seal: (secretId, version, state, fields) => {
      const sealed = cipher.seal({ secretId, version }, fields);
      return {
        id: uuidv7(),
        secretId,
        version,
        state,
        kekId: sealed.kekId,
        wrappedKey: sealed.wrappedKey,
        fields: sealed.fields,
        keyHint: fields.accessKeyId ? maskKeyId(fields.accessKeyId) : null,
        // Under the KEK that wraps this version, so the index moves with it on rewrap.
        keyIdHmac: fields.accessKeyId ? cipher.blindIndex(ACCESS_KEY_ID_INDEX, fields.accessKeyId, sealed.kekId) : null,
      };
    },
    accessKeyIdIndexes: (accessKeyId) => cipher.blindIndexes(ACCESS_KEY_ID_INDEX, accessKeyId),
  };
}
