import { KeyturnError, type CryptoErrorCode, type ErrorArgs } from '@keyturn/contracts';

export type { CryptoErrorCode };

/** Where a failure happened; ids and names only, never plaintext or key bytes. */
export type CryptoErrorDetails = {
  secretId?: string;
  version?: number;
  field?: string;
  kekId?: string;
};

/**
 * Every failure of libs/crypto. The message is safe to log and to show a
 * person: it names the secret, version, field and KEK id involved, and never
 * carries plaintext, key bytes or ciphertext. Never retryable (see the
 * catalogue): a missing or wrong key stays so on every attempt.
 */
export class CryptoError<C extends CryptoErrorCode = CryptoErrorCode> extends KeyturnError<C> {
  override readonly details: CryptoErrorDetails;

  constructor(code: C, params: ErrorArgs<C>[0], details: CryptoErrorDetails = {}) {
    super(code, ...([params] as unknown as ErrorArgs<C>));
    this.name = 'CryptoError';
    this.details = details;
  }
}
