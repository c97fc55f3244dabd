import { IamErrorCode, KeyturnError } from '@keyturn/contracts';
import { CryptoError } from '@keyturn/crypto';
import { IamError } from '@keyturn/iam';

/**
 * A rotation failure a person can act on. `retryable` errors send the rotation
 * back to the queue (it resumes at its recorded step); the others end it as failed.
 */
export class RotationError extends KeyturnError {
  constructor(
    code: string,
    message: string,
    readonly retryable = false,
  ) {
    super(code, message, 422);
    this.name = 'RotationError';
  }
}

const RETRYABLE_IAM = new Set<string>([IamErrorCode.Throttled, IamErrorCode.Unreachable]);

export function isRetryable(e: unknown): boolean {
  if (e instanceof RotationError) return e.retryable;
  if (e instanceof IamError) return e.retryable || RETRYABLE_IAM.has(e.code);
  // A missing or wrong master key, or a damaged row, stays so on every attempt: fail at once, with its code.
  if (e instanceof CryptoError) return false;
  // Database and other unexpected errors: another attempt may well succeed.
  return !(e instanceof KeyturnError);
}

/** The code and message stored on a failed rotation; never a stack or key material. */
export function describeFailure(e: unknown, secretId: string): { code: string; message: string } {
  if (e instanceof IamError) {
    if (e.code === IamErrorCode.AccessDenied) {
      return {
        code: e.code,
        message: `${e.message}. The executing key lacks ${e.action ?? 'a permission'}: attach the policy from GET /v1/secrets/${secretId}/required-permissions and rotate again.`,
      };
    }
    return { code: e.code, message: e.message };
  }
  if (e instanceof KeyturnError) return { code: e.code, message: e.message };
  // CryptoError messages name secret, version, field and KEK ids only, never key material.
  if (e instanceof CryptoError) return { code: e.code, message: e.message };
  return { code: 'INTERNAL_ERROR', message: `unexpected error (${(e as Error)?.name ?? 'Error'}); see the worker log` };
}
