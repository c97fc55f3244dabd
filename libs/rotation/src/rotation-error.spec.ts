import { CryptoError } from '@keyturn/crypto';
import { IamErrorCode } from '@keyturn/contracts';
import { IamError } from '@keyturn/iam';
import { RotationError, describeFailure, isRetryable } from './rotation-error.js';

describe('isRetryable / describeFailure', () => {
  it('a crypto failure is never retryable: another attempt cannot find a missing or wrong master key', () => {
    for (const code of ['UNKNOWN_KEK', 'DECRYPT_FAILED', 'MALFORMED_CIPHERTEXT', 'INVALID_MASTER_KEY'] as const) {
      expect(isRetryable(new CryptoError(code, `cannot decrypt secret s version 1 (${code})`, { kekId: 'k1' }))).toBe(false);
    }
  });

  it('a crypto failure is reported with its own code and message, not as INTERNAL_ERROR', () => {
    const e = new CryptoError('UNKNOWN_KEK', "cannot decrypt secret s version 1: it was sealed with KEK 'k1', which is not configured", { kekId: 'k1' });
    expect(describeFailure(e, 's')).toEqual({ code: 'UNKNOWN_KEK', message: e.message });
  });

  it('keeps the other rules: rotation errors say themselves, throttling and unknown errors are retried', () => {
    expect(isRetryable(new RotationError('KEY_HELD_BY_OTHER_SECRET', 'x'))).toBe(false);
    expect(isRetryable(new RotationError('NEW_KEY_NOT_STORED', 'x', true))).toBe(true);
    expect(isRetryable(new IamError(IamErrorCode.Throttled, 'slow down'))).toBe(true);
    expect(isRetryable(new Error('connection terminated'))).toBe(true);
  });
});
