import { IamErrorCode } from '@keyturn/contracts';
import { IamError } from './iam-client.port.js';

export interface IamErrorContext {
  /** What the action was applied to, e.g. "user/alice"; named in access-denied messages. */
  resource?: string;
  /** Values that must never appear in a message (the caller's secret key, passwords): replaced whole. */
  secrets?: readonly (string | undefined)[];
  /** Access key ids that may appear in a message: masked to "AKIA…WXYZ". */
  accessKeyIds?: readonly (string | undefined)[];
}

// Compared after stripping the SDK's "Exception" suffix: the v3 SDK names IAM's
// "NoSuchEntity" error NoSuchEntityException, while AWS's own code (err.Code) lacks it.
const ACCESS_DENIED = new Set(['AccessDenied', 'UnauthorizedOperation']);
const KEY_LIMIT = new Set(['LimitExceeded']);
const NO_SUCH_ENTITY = new Set(['NoSuchEntity']);
const INVALID_CREDENTIALS = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'ExpiredToken',
]);
const THROTTLED = new Set(['Throttling', 'RequestLimitExceeded', 'TooManyRequests', 'RequestThrottled', 'SlowDown']);
const PASSWORD_POLICY = new Set(['PasswordPolicyViolation']);
/** AWS answered, the request was fine, and the same call may succeed shortly. */
const TRANSIENT_CONFLICT = new Set(['EntityTemporarilyUnmodifiable', 'ConcurrentModification']);
const SERVICE_DOWN = new Set([
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  'ServiceFailure',
  'RequestTimeout',
  'TimeoutError',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

const NETWORK_CODE_IN_TEXT = new RegExp(`\\b(${[...NETWORK_CODES].join('|')})\\b`);

const ACCESS_KEY_ID = /\b(AKIA|ASIA)[A-Z0-9]{16}\b/g;
// A run of exactly 40 base64 characters mixing cases and digits is shaped like
// a secret access key; AWS text never needs one, so it goes even if it is not.
const SECRET_LIKE = /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
const MAX_MESSAGE = 1000;

/** "AKIA…WXYZ": enough to tell keys apart, not enough to use one. */
export function maskAccessKeyId(id: string): string {
  if (typeof id !== 'string' || id.length <= 8) return '…';
  return `${id.slice(0, 4)}…${id.slice(-4)}`;
}

/** Removes key material from text that may end up in an error, a log line or an API answer. */
export function scrubSecrets(text: string, context: Pick<IamErrorContext, 'secrets' | 'accessKeyIds'> = {}): string {
  let out = text;
  for (const secret of context.secrets ?? []) {
    if (secret) out = out.split(secret).join('[redacted]');
  }
  for (const id of context.accessKeyIds ?? []) {
    if (id) out = out.split(id).join(maskAccessKeyId(id));
  }
  out = out.replace(ACCESS_KEY_ID, (m) => maskAccessKeyId(m));
  out = out.replace(SECRET_LIKE, (m) => (/[a-z]/.test(m) && /[A-Z]/.test(m) && /\d/.test(m) ? '[redacted]' : m));
  return out.length > MAX_MESSAGE ? `${out.slice(0, MAX_MESSAGE)}…` : out;
}

interface ErrorFacts {
  /** AWS's code when AWS answered ("NoSuchEntity"), else undefined. */
  awsCode?: string;
  /** The code used for matching, without the SDK's "Exception" suffix. */
  key: string;
  status?: number;
  nodeCode?: string;
  message: string;
  attempts?: number;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function factsOf(err: unknown): ErrorFacts {
  if (typeof err !== 'object' || err === null) {
    return { key: '', message: typeof err === 'string' ? err : '' };
  }
  const e = err as Record<string, unknown>;
  const metadata = (e.$metadata ?? {}) as Record<string, unknown>;
  const status = typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
  const name = str(e.name);
  const errorBlock = (e.Error ?? {}) as Record<string, unknown>;
  const answered = status !== undefined || e.$fault === 'client' || e.$fault === 'server';
  const awsCode = answered ? (str(e.Code) ?? str(errorBlock.Code) ?? name) : undefined;
  let nodeCode = str(e.code);
  // fetch-style and wrapped errors carry the socket error as the cause.
  let cause = e.cause as Record<string, unknown> | undefined;
  for (let depth = 0; !nodeCode && cause && typeof cause === 'object' && depth < 5; depth++) {
    nodeCode = str(cause.code);
    cause = cause.cause as Record<string, unknown> | undefined;
  }
  // The SDK re-wraps errors it does not recognise as Error (one from another
  // realm, say) into "AWS SDK error wrapper for Error: connect ECONNREFUSED …",
  // dropping `code`; the message still names it.
  const message = str(e.message) ?? '';
  if (awsCode === undefined) nodeCode ??= NETWORK_CODE_IN_TEXT.exec(message)?.[1];
  const key = (awsCode ?? name ?? '').replace(/Exception$/, '');
  return {
    awsCode,
    key,
    status,
    nodeCode,
    message,
    attempts: typeof metadata.attempts === 'number' ? metadata.attempts : undefined,
  };
}

function isNetworkFailure(f: ErrorFacts): boolean {
  if (f.nodeCode && NETWORK_CODES.has(f.nodeCode)) return true;
  if (SERVICE_DOWN.has(f.key)) return true;
  if (/socket hang up/i.test(f.message)) return true;
  return f.status !== undefined && f.status >= 500;
}

/**
 * Maps anything an IAM or STS call can throw to an {@link IamError} whose
 * message a person can act on and that carries no key material.
 */
export function toIamError(err: unknown, action: string, context: IamErrorContext = {}): IamError {
  if (err instanceof IamError) {
    return new IamError(err.code, scrubSecrets(err.message, context), err.awsCode, err.action ?? action, err.retryable);
  }
  const f = factsOf(err);
  const on = context.resource ? ` on ${context.resource}` : '';
  const aws = f.message ? `: ${f.message}` : '';
  const attempts = f.attempts && f.attempts > 1 ? ` after ${f.attempts} attempts` : '';
  const make = (code: IamErrorCode, message: string, retryable = false) =>
    new IamError(code, scrubSecrets(message, context), f.awsCode, action, retryable);

  if (ACCESS_DENIED.has(f.key)) {
    return make(
      IamErrorCode.AccessDenied,
      `missing permission ${action}${on}${aws}; grant ${action} to the executing identity`,
    );
  }
  if (KEY_LIMIT.has(f.key)) {
    return make(
      IamErrorCode.KeyLimit,
      `${action}${on} hit an IAM limit${aws}; an IAM user may hold at most 2 access keys: delete one that is not in use`,
    );
  }
  if (NO_SUCH_ENTITY.has(f.key)) {
    return make(IamErrorCode.NoSuchEntity, `${action}${on} failed: the IAM entity does not exist${aws}`);
  }
  if (INVALID_CREDENTIALS.has(f.key)) {
    return make(
      IamErrorCode.InvalidCredentials,
      `AWS rejected the credentials used for ${action} (${f.awsCode ?? f.key})${aws}; check that the access key exists, is active and that its secret is current`,
    );
  }
  if (THROTTLED.has(f.key) || f.status === 429) {
    return make(
      IamErrorCode.Throttled,
      `${action} was throttled by AWS (${f.awsCode ?? 'HTTP 429'})${attempts}; try again later`,
      true,
    );
  }
  if (PASSWORD_POLICY.has(f.key)) {
    return make(
      IamErrorCode.PasswordPolicy,
      `${action}${on} refused the password: it does not satisfy the account's password policy${aws}`,
    );
  }
  if (TRANSIENT_CONFLICT.has(f.key)) {
    return make(
      IamErrorCode.Unexpected,
      `${action}${on} failed with AWS error ${f.awsCode}${aws}; the entity is being changed by another request: try again shortly`,
      true,
    );
  }
  if (isNetworkFailure(f)) {
    const what = f.awsCode || f.nodeCode || f.key || 'network error';
    const status = f.status !== undefined ? ` (HTTP ${f.status})` : '';
    return make(
      IamErrorCode.Unreachable,
      `could not reach AWS for ${action}${attempts} (${what}${status}${f.message && f.message !== what ? `: ${f.message}` : ''}); check the network and the endpoint settings (AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL_STS, AWS_REGION)`,
      true,
    );
  }
  if (f.awsCode === undefined) {
    // Not an answer from AWS: a bug or an unforeseen local failure, not a permission problem.
    return make(IamErrorCode.Unexpected, `${action}${on} failed before AWS answered (${f.key || 'unknown error'})${aws}`);
  }
  const status = f.status !== undefined ? ` (HTTP ${f.status})` : '';
  return make(IamErrorCode.Unexpected, `${action}${on} failed with AWS error ${f.awsCode}${status}${aws}`);
}
