import { ErrorCode, IamErrorCode, KeyturnError, errorMessage, type ErrorParams } from '@keyturn/contracts';
import { IamError } from '@keyturn/iam';

/**
 * The code and message stored on a failed rotation; never a stack or key
 * material. A missing permission gets the advice that fits a rotation, unless
 * the use case already gave a more precise one.
 */
export function describeFailure(e: unknown, secretId: string): { code: ErrorCode; message: string } {
  if (e instanceof IamError && e.code === IamErrorCode.AccessDenied) {
    const params = e.params as ErrorParams<typeof IamErrorCode.AccessDenied>;
    if (!params.advice) {
      const advised = new IamError(IamErrorCode.AccessDenied, { ...params, advice: { kind: 'attach-policy', secretId } }, { awsCode: e.awsCode, reason: e.reason });
      return { code: advised.code, message: advised.message };
    }
  }
  // CryptoError messages name secret, version, field and KEK ids only, never key material.
  if (e instanceof KeyturnError) return { code: e.code, message: e.message };
  return {
    code: ErrorCode.INTERNAL_ERROR,
    message: errorMessage(ErrorCode.INTERNAL_ERROR, { kind: 'worker', errorName: (e as Error)?.name ?? 'Error' }),
  };
}

/** Retire failed after a successful promotion: the runner schedules another try. */
export class RetirePendingError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'RetirePendingError';
  }
}

