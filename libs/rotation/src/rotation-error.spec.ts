import { CryptoError } from '@keyturn/crypto';
import { ErrorCode, IamErrorCode, KeyturnError, isRetryable } from '@keyturn/contracts';
import { IamError } from '@keyturn/iam';
import { describeFailure } from './rotation-error.js';

describe('isRetryable / describeFailure', () => {
  it('a crypto failure is never retryable: another attempt cannot find a missing or wrong master key', () => {
    const failures = [
      new CryptoError(ErrorCode.UNKNOWN_KEK, { kekId: 'k1', configured: ['k2'], secretId: 's', version: 1 }, { kekId: 'k1' }),
      new CryptoError(ErrorCode.DECRYPT_FAILED, { secretId: 's', version: 1, kekId: 'k1' }, { kekId: 'k1' }),
      new CryptoError(ErrorCode.MALFORMED_CIPHERTEXT, { kind: 'no-fields', secretId: 's', version: 1 }, { kekId: 'k1' }),
      new CryptoError(ErrorCode.INVALID_MASTER_KEY, { source: 'KEYTURN_MASTER_KEY', kind: 'empty' }, { kekId: 'k1' }),
    ];
    for (const e of failures) expect([e.code, isRetryable(e)]).toEqual([e.code, false]);
  });

  it('a crypto failure is reported with its own code and message, not as INTERNAL_ERROR', () => {
    const e = new CryptoError(ErrorCode.UNKNOWN_KEK, { kekId: 'k1', configured: ['k2'], secretId: 's', version: 1 }, { kekId: 'k1' });
    expect(e.message).toMatch(/KEK 'k1'.*not configured/);
    expect(describeFailure(e, 's')).toEqual({ code: 'UNKNOWN_KEK', message: e.message });
  });

  it('keeps the other rules: rotation errors say themselves, throttling and unknown errors are retried', () => {
    expect(isRetryable(new KeyturnError(ErrorCode.KEY_HELD_BY_OTHER_SECRET, { username: 'u', maskedKeyId: 'AKIA…WXYZ', holderSecretId: 's2' }))).toBe(false);
    expect(isRetryable(new KeyturnError(ErrorCode.NEW_KEY_NOT_STORED, { maskedKeyId: 'AKIA…WXYZ', reason: 'database error 57P01', deleted: true }))).toBe(true);
    expect(isRetryable(new IamError(IamErrorCode.Throttled, { kind: 'aws', action: 'iam:ListAccessKeys', awsCode: 'Throttling' }))).toBe(true);
    expect(isRetryable(new Error('connection terminated'))).toBe(true);
  });

  it('an IAM_ACCESS_DENIED failure says where to find the policy the executing key lacks', () => {
    const e = new IamError(IamErrorCode.AccessDenied, { action: 'iam:CreateAccessKey', resource: 'user/alice', awsMessage: 'not authorized' });
    const d = describeFailure(e, 'S1');
    expect(d.code).toBe('IAM_ACCESS_DENIED');
    expect(d.message).toContain(e.message);
    expect(d.message).toContain('The executing key lacks iam:CreateAccessKey: attach the policy from GET /v1/secrets/S1/required-permissions and rotate again.');
  });

  it('an IAM_ACCESS_DENIED that already carries its advice keeps it', () => {
    const e = new IamError(IamErrorCode.AccessDenied, { action: 'iam:ChangePassword', advice: { kind: 'change-own-password', secretId: 'S1' } });
    expect(describeFailure(e, 'S1')).toEqual({ code: 'IAM_ACCESS_DENIED', message: e.message });
    expect(e.message).toContain('AllowUsersToChangePassword');
  });

  it('an unknown error is INTERNAL_ERROR, naming only its class', () => {
    expect(describeFailure(new TypeError('secret AKIAIOSFODNN7EXAMPLE'), 'S1')).toEqual({
      code: 'INTERNAL_ERROR',
      message: 'unexpected error (TypeError); see the worker log',
    });
  });
});
