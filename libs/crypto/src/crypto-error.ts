export type CryptoErrorCode = 'DECRYPT_FAILED' | 'UNKNOWN_KEK' | 'INVALID_MASTER_KEY' | 'MALFORMED_CIPHERTEXT';

/** Where a failure happened; ids and names only, never plaintext or key bytes. */
export interface CryptoErrorDetails {
  secretId?: string;
  version?: number;
  field?: string;
  kekId?: string;
}

/**
 * Every failure of libs/crypto. The message is safe to log and to show a
 * person: it names the secret, version, field and KEK id involved, and never
 * carries plaintext, key bytes or ciphertext.
 */
export class CryptoError extends Error {
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
    readonly details: CryptoErrorDetails = {},
  ) {
    super(message);
    this.name = 'CryptoError';
  }
}
