import { createHash, randomBytes } from 'node:crypto';
import { ErrorCode, type ErrorParams } from '@keyturn/contracts';
import { decodeBase64Strict } from './base64.js';
import { CryptoError } from './crypto-error.js';

/** A key-encryption key: wraps the per-version data keys. */
export interface Kek {
  id: string;
  key: Buffer;
}

export const KEK_BYTES = 32;
const KEK_ID = /^[A-Za-z0-9_-]{1,32}$/;

type InvalidKey = ErrorParams<typeof ErrorCode.INVALID_MASTER_KEY>;
/** One of the catalogue's master key problems, without the setting it came from. */
type Problem<P = InvalidKey> = P extends unknown ? Omit<P, 'source'> : never;

function invalid(source: string, problem: Problem): CryptoError {
  return new CryptoError(ErrorCode.INVALID_MASTER_KEY, { source, ...problem } as InvalidKey);
}

/** Throws INVALID_MASTER_KEY unless the id and key length are usable. */
export function assertValidKek(kek: Kek, source = 'master key'): void {
  if (typeof kek.id !== 'string' || !KEK_ID.test(kek.id)) {
    throw invalid(source, { kind: 'bad-id' });
  }
  if (!Buffer.isBuffer(kek.key) || kek.key.length !== KEK_BYTES) {
    throw invalid(source, { kind: 'kek-wrong-length', kekId: kek.id });
  }
}

/**
 * Parses `"<id>:<base64 of 32 bytes>"` or a bare base64 32-byte key (its id is
 * then derived from the key, so the same key always gets the same id).
 * `source` names the setting in error messages, e.g. "KEYTURN_MASTER_KEY".
 * Messages never echo the value: a mistyped value is usually mostly key.
 */
export function parseMasterKey(value: string, source = 'master key'): Kek {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid(source, { kind: 'empty' });
  }
  const text = value.trim();
  const colon = text.indexOf(':');
  const id = colon >= 0 ? text.slice(0, colon) : undefined;
  const encoded = colon >= 0 ? text.slice(colon + 1) : text;

  if (id !== undefined && !KEK_ID.test(id)) {
    throw invalid(source, { kind: 'bad-id-in-value', idLength: id.length });
  }
  const key = decodeBase64Strict(encoded);
  if (!key || encoded === '') {
    throw invalid(source, { kind: 'not-base64' });
  }
  if (key.length !== KEK_BYTES) {
    const got = key.length;
    key.fill(0);
    throw invalid(source, { kind: 'wrong-length', bytes: got });
  }
  return { id: id ?? deriveKekId(key), key };
}

/** `k` + the first 8 hex characters of sha256(key): stable, and reveals nothing usable about the key. */
export function deriveKekId(key: Buffer): string {
  return `k${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/** A fresh `"<id>:<base64>"` master key; the id is derived from the key so it is unique in practice. */
export function generateMasterKey(): string {
  const key = randomBytes(KEK_BYTES);
  try {
    return `${deriveKekId(key)}:${key.toString('base64')}`;
  } finally {
    key.fill(0);
  }
}
