import { ERRORS, type ErrorCode, type ErrorParams } from './error-catalogue.js';

export interface KeyturnErrorOptions {
  cause?: unknown;
}

/** A code's parameters, left out for a code whose message takes none. */
export type ErrorArgs<C extends ErrorCode> = [ErrorParams<C>] extends [void]
  ? [params?: undefined, options?: KeyturnErrorOptions]
  : [params: ErrorParams<C>, options?: KeyturnErrorOptions];

/**
 * The one base of Keyturn's errors: a stable code from the catalogue, the
 * message its template makes of `params`, and the status and retry rule the
 * catalogue gives the code. Never carries key material: parameters are ids,
 * names and masked key ids (see error-catalogue.ts).
 */
export class KeyturnError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  /** What the message was made from; kept so a layer above can word the same failure with more advice. */
  readonly params: ErrorParams<C>;
  readonly details?: Record<string, unknown>;

  constructor(code: C, ...[params, options]: ErrorArgs<C>) {
    const spec = ERRORS[code] as { message: (p: unknown) => string; details?: (p: unknown) => Record<string, unknown> };
    super(spec.message(params), options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'KeyturnError';
    this.code = code;
    this.params = params as ErrorParams<C>;
    const details = spec.details?.(params);
    if (details) this.details = details;
  }

  /** The HTTP status the API answers with. */
  get status(): number {
    return ERRORS[this.code].status;
  }

  /** Whether a worker should try again later (see isRetryable). */
  get retryable(): boolean {
    return ERRORS[this.code].retryable;
  }
}

/**
 * THE decision "is it worth another attempt?", for every worker path. Keyturn's
 * errors answer from the catalogue (a CryptoError never: a missing or wrong
 * master key stays so on every attempt). Anything else (a database hiccup, a
 * dropped connection) is retried: another attempt may well succeed.
 */
export function isRetryable(e: unknown): boolean {
  return e instanceof KeyturnError ? e.retryable : true;
}

/** AWS asked to slow down: not a failure, and not a verdict on a key. Retried with more room. */
export function isThrottled(e: unknown): boolean {
  return e instanceof KeyturnError && (ERRORS[(e as KeyturnError).code] as { throttling?: true }).throttling === true;
}
