import {
  ERRORS,
  ErrorCode,
  IAM_REASONS,
  IamErrorCode,
  WARNINGS,
  WarningCode,
  errorExamples,
  errorMessage,
  fallbackCodeFor,
  warningExamples,
  warningMessage,
} from '@keyturn/contracts';

const codes = Object.keys(ERRORS) as ErrorCode[];
const warnings = Object.keys(WARNINGS) as WarningCode[];
const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

describe('error catalogue', () => {
  it.each(codes)('%s has a status, a retry rule, where it shows, when it happens, and a message for every example', (code) => {
    const e = ERRORS[code];
    expect(code).toMatch(UPPER_SNAKE);
    expect(ErrorCode[code]).toBe(code);
    expect(Number.isInteger(e.status)).toBe(true);
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.status).toBeLessThanOrEqual(599);
    expect(typeof e.retryable).toBe('boolean');
    expect(e.seen.length).toBeGreaterThan(0);
    expect(e.when.length).toBeGreaterThan(15);
    const examples = errorExamples(code);
    expect(examples.length).toBeGreaterThan(0);
    for (const params of examples) {
      const message = errorMessage(code, params as never);
      expect(message.length).toBeGreaterThan(5);
      expect(message.trim()).toBe(message);
      expect(message).not.toMatch(/\bundefined\b|\bnull\b|\[object Object\]|NaN/);
    }
  });

  it.each(warnings)('warning %s has a message for every example and says when it happens', (code) => {
    expect(code).toMatch(UPPER_SNAKE);
    expect(WarningCode[code]).toBe(code);
    expect(WARNINGS[code].when.length).toBeGreaterThan(15);
    for (const params of warningExamples(code)) {
      const message = warningMessage(code, params as never);
      expect(message.length).toBeGreaterThan(5);
      expect(message).not.toMatch(/\bundefined\b|\bnull\b|\[object Object\]|NaN/);
    }
  });

  it('describes every code once: no two entries share their "when"', () => {
    const whens = [...codes.map((c) => ERRORS[c].when), ...warnings.map((w) => WARNINGS[w].when)];
    expect(new Set(whens).size).toBe(whens.length);
  });

  it('a code is both an error and a warning only where the warning is the softer form of the same finding', () => {
    expect(warnings.filter((w) => (codes as string[]).includes(w))).toEqual(['CURRENT_KEY_INVALID']);
  });

  it('names one fallback code per HTTP status, for errors the framework raises', () => {
    const fallbacks = codes.filter((c) => ERRORS[c].fallback);
    const statuses = fallbacks.map((c) => ERRORS[c].status);
    expect(new Set(statuses).size).toBe(statuses.length);
    for (const c of fallbacks) expect(fallbackCodeFor(ERRORS[c].status)).toBe(c);
    expect(fallbackCodeFor(400)).toBe(ErrorCode.BAD_REQUEST);
    expect(fallbackCodeFor(418)).toBe(ErrorCode.BAD_REQUEST);
    expect(fallbackCodeFor(504)).toBe(ErrorCode.INTERNAL_ERROR);
  });

  it('keeps the statuses the API answers today', () => {
    const today: Partial<Record<ErrorCode, number>> = {
      VALIDATION_FAILED: 400,
      UNKNOWN_FIELD: 400,
      MALFORMED_JSON: 400,
      INVALID_ID: 400,
      INVALID_CURSOR: 400,
      INVALID_IDEMPOTENCY_KEY: 400,
      FIELD_NOT_ALLOWED: 400,
      UNAUTHENTICATED: 401,
      INVALID_API_KEY: 401,
      FORBIDDEN: 403,
      FOLDER_OUT_OF_SCOPE: 403,
      API_KEY_ROLE_EXCEEDED: 403,
      API_KEY_SCOPE_EXCEEDED: 403,
      SECRET_NOT_FOUND: 404,
      API_KEY_NOT_FOUND: 404,
      ROTATION_NOT_FOUND: 404,
      HEARTBEAT_NOT_FOUND: 404,
      SECRET_NAME_TAKEN: 409,
      SECRET_HAS_NO_VALUE: 409,
      SECRET_HAS_DEPENDENTS: 409,
      ROTATION_IN_PROGRESS: 409,
      ACCESS_KEY_ALREADY_STORED: 409,
      ROTATION_REQUEST_CONFLICT: 409,
      HEARTBEAT_REQUEST_CONFLICT: 409,
      ASSOCIATION_CYCLE: 422,
      PRIVILEGED_SECRET_NOT_FOUND: 422,
      PRIVILEGED_SECRET_WRONG_TYPE: 422,
      PRIVILEGED_SECRET_OTHER_ACCOUNT: 422,
      PRIVILEGED_ACCOUNT_REQUIRED: 422,
      HEARTBEAT_NOT_SUPPORTED: 422,
      TOO_MANY_FAILED_AUTHENTICATIONS: 429,
      SHUTTING_DOWN: 503,
      INTERNAL_ERROR: 500,
      UNKNOWN_KEK: 500,
      DECRYPT_FAILED: 500,
      INVALID_MASTER_KEY: 500,
      MALFORMED_CIPHERTEXT: 500,
    };
    for (const [code, status] of Object.entries(today)) expect([code, ERRORS[code as ErrorCode].status]).toEqual([code, status]);
  });

  it('retries only passing faults: throttling, an unreachable AWS, a busy IAM entity, and the two protocol races', () => {
    expect(codes.filter((c) => ERRORS[c].retryable).sort()).toEqual(
      ['IAM_THROTTLED', 'IAM_UNREACHABLE', 'INTERNAL_ERROR', 'KEY_LIMIT_RACE', 'NEW_KEY_NOT_STORED'].sort(),
    );
    expect(codes.filter((c) => ERRORS[c].throttling)).toEqual(['IAM_THROTTLED']);
    for (const c of ['UNKNOWN_KEK', 'DECRYPT_FAILED', 'INVALID_MASTER_KEY', 'MALFORMED_CIPHERTEXT'] as const) expect(ERRORS[c].retryable).toBe(false);
  });

  it('keeps the IAM codes of libs/iam, each an IAM_* catalogue entry', () => {
    expect(Object.values(IamErrorCode).sort()).toEqual(codes.filter((c) => c.startsWith('IAM_')).sort());
    expect(IamErrorCode.AccessDenied).toBe('IAM_ACCESS_DENIED');
    expect(IamErrorCode.NoSuchEntity).toBe('IAM_NO_SUCH_ENTITY');
  });

  it('gives every IAM sub-code the public code it refines', () => {
    for (const [reason, r] of Object.entries(IAM_REASONS)) {
      expect([reason, Object.values(IamErrorCode)]).toEqual([reason, expect.arrayContaining(r.codes)]);
      expect(r.when.length).toBeGreaterThan(15);
    }
    expect(IAM_REASONS['no-such-access-key'].codes).toEqual(['IAM_NO_SUCH_ENTITY']);
    expect(IAM_REASONS['entity-busy'].retryable).toBe(true);
  });

  it('PRIVILEGED_ACCOUNT_REQUIRED has one wording, which says how to associate', () => {
    const m = errorMessage(ErrorCode.PRIVILEGED_ACCOUNT_REQUIRED, { secretId: 'S1', secretType: 'aws-iam-console-password' });
    expect(m).toContain('PATCH /v1/secrets/S1');
    expect(m).toContain('privilegedSecretId');
  });
});
