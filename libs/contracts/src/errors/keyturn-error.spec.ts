import { ERRORS, ErrorCode, KeyturnError, errorMessage, isRetryable, isThrottled } from '@keyturn/contracts';

describe('KeyturnError', () => {
  it('takes its status and retry rule from the catalogue and its message from the template', () => {
    const e = new KeyturnError(ErrorCode.SECRET_NOT_FOUND, { secretId: 'S1' });
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('SECRET_NOT_FOUND');
    expect(e.status).toBe(404);
    expect(e.retryable).toBe(false);
    expect(e.message).toBe('secret S1 does not exist');
    expect(e.message).toBe(errorMessage(ErrorCode.SECRET_NOT_FOUND, { secretId: 'S1' }));
    expect(e.details).toBeUndefined();
    expect(e.name).toBe('KeyturnError');
  });

  it('takes a code without parameters', () => {
    const e = new KeyturnError(ErrorCode.INVALID_ID);
    expect(e).toMatchObject({ code: 'INVALID_ID', status: 400, message: 'the id in the path must be a UUID' });
  });

  it('carries the details the catalogue derives from its parameters', () => {
    const e = new KeyturnError(ErrorCode.SECRET_HAS_DEPENDENTS, { secretId: 'S1', dependents: [{ id: 'D1', name: 'ci' }] });
    expect(e.status).toBe(409);
    expect(e.details).toEqual({ dependents: ['D1'] });
    expect(e.message).toContain('D1 (ci)');
  });

  it('keeps the cause it was given', () => {
    const cause = new Error('deep');
    expect(new KeyturnError(ErrorCode.INTERNAL_ERROR, { kind: 'worker', errorName: 'Error' }, { cause }).cause).toBe(cause);
  });
});

describe('isRetryable', () => {
  it('retries what the catalogue marks retryable', () => {
    expect(isRetryable(new KeyturnError(ErrorCode.KEY_LIMIT_RACE, { username: 'alice' }))).toBe(true);
    expect(isRetryable(new KeyturnError(ErrorCode.NEW_KEY_NOT_STORED, { maskedKeyId: 'AKIA…WXYZ', reason: 'database error 57P01', deleted: true }))).toBe(true);
  });

  it('fails at once on what a person must fix', () => {
    expect(isRetryable(new KeyturnError(ErrorCode.KEY_HELD_BY_OTHER_SECRET, { username: 'alice', maskedKeyId: 'AKIA…WXYZ', holderSecretId: 'S2' }))).toBe(false);
    expect(isRetryable(new KeyturnError(ErrorCode.PASSWORD_SETTINGS_INVALID, { kind: 'class-excluded' }))).toBe(false);
    expect(isRetryable(new KeyturnError(ErrorCode.SECRET_NOT_FOUND, { secretId: 'S1' }))).toBe(false);
  });

  it('never retries a key or ciphertext problem: it stays so on every attempt', () => {
    for (const code of [ErrorCode.UNKNOWN_KEK, ErrorCode.DECRYPT_FAILED, ErrorCode.INVALID_MASTER_KEY, ErrorCode.MALFORMED_CIPHERTEXT]) {
      expect([code, ERRORS[code].retryable]).toEqual([code, false]);
    }
    expect(isRetryable(new KeyturnError(ErrorCode.UNKNOWN_KEK, { kekId: 'k1', configured: ['k2'] }))).toBe(false);
  });

  it('retries an error Keyturn does not know (a database hiccup, a dropped connection)', () => {
    expect(isRetryable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isRetryable(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(true);
    expect(isRetryable('a string')).toBe(true);
    expect(isRetryable(undefined)).toBe(true);
  });
});

describe('isThrottled', () => {
  it('is true for AWS asking to slow down only', () => {
    expect(isThrottled(new KeyturnError(ErrorCode.IAM_THROTTLED, { kind: 'aws', action: 'iam:ListAccessKeys', awsCode: 'Throttling' }))).toBe(true);
    expect(isThrottled(new KeyturnError(ErrorCode.IAM_UNREACHABLE, { kind: 'network', action: 'iam:ListAccessKeys', what: 'ECONNRESET' }))).toBe(false);
    expect(isThrottled(new Error('Throttling'))).toBe(false);
  });
});
