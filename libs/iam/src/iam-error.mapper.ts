import { IamErrorCode, type IamReason } from '@keyturn/contracts';
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

/** The parameters of a message with every string scrubbed: they are kept on the error. */
function scrubParams<P>(params: P, scrub: (s: string) => string): P {
  if (typeof params === 'string') return scrub(params) as P;
  if (Array.isArray(params)) return params.map((p) => scrubParams(p, scrub)) as P;
  if (params && typeof params === 'object') {
    return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, scrubParams(v, scrub)])) as P;
  }
  return params;
}

const KEY_ACTIONS = new Set(['iam:DeleteAccessKey', 'iam:UpdateAccessKey']);
const LOGIN_PROFILE_ACTIONS = new Set(['iam:GetLoginProfile', 'iam:UpdateLoginProfile', 'iam:ChangePassword']);

/**
 * What exactly AWS refused, where a use case must tell cases apart that share
 * a public code. The only place that reads AWS's text: IAM answers one
 * NoSuchEntity for a missing user, key or login profile, and says which only
 * in its message ("The Access Key with id … cannot be found.", "The user with
 * name … cannot be found.", "Login Profile for User … cannot be found.").
 */
function reasonOf(f: ErrorFacts, action: string): IamReason | undefined {
  // ChangePassword answers a wrong old password with InvalidUserType (AWS's text: "The old password was incorrect.").
  if (action === 'iam:ChangePassword' && (f.awsCode === 'InvalidUserType' || /old password|incorrect password/i.test(f.message))) {
    return 'wrong-old-password';
  }
  if (NO_SUCH_ENTITY.has(f.key)) {
    if (action === 'iam:GetAccountPasswordPolicy') return 'no-password-policy';
    if (KEY_ACTIONS.has(action)) {
      // The key is what these calls are about: unless AWS names the user, it is the key that is gone.
      return /access key/i.test(f.message) || !/user/i.test(f.message) ? 'no-such-access-key' : 'no-such-user';
    }
    if (LOGIN_PROFILE_ACTIONS.has(action)) {
      return /login profile/i.test(f.message) || !/user/i.test(f.message) ? 'no-such-login-profile' : 'no-such-user';
    }
    return 'no-such-user';
  }
  if (TRANSIENT_CONFLICT.has(f.key)) return 'entity-busy';
  return undefined;
}

/**
 * Maps anything an IAM or STS call can throw to an {@link IamError} whose
 * message a person can act on and that carries no key material, with a
 * sub-code (`reason`) where one applies.
 */
export function toIamError(err: unknown, action: string, context: IamErrorContext = {}): IamError {
  const scrub = (text: string) => scrubSecrets(text, context);
  if (err instanceof IamError) {
    return new IamError(err.code, scrubParams(err.params, scrub), { awsCode: err.awsCode, reason: err.reason, scrub });
  }
  const f = factsOf(err);
  const resource = context.resource;
  const awsMessage = f.message ? scrub(f.message) : undefined;
  const info = { awsCode: f.awsCode, reason: reasonOf(f, action), scrub };
  const call = { action, resource, awsMessage };

  if (ACCESS_DENIED.has(f.key)) {
    // GetAccessKeyLastUsed is checked against the key's owner; for a key IAM cannot find (deleted
    // since it was listed) AWS answers AccessDenied "on resource: access key <id>", never NoSuchEntity.
    if (action === 'iam:GetAccessKeyLastUsed' && /on resource: access key /i.test(f.message)) {
      return new IamError(IamErrorCode.NoSuchEntity, call, { ...info, reason: 'no-such-access-key' });
    }
    return new IamError(IamErrorCode.AccessDenied, call, info);
  }
  if (KEY_LIMIT.has(f.key)) return new IamError(IamErrorCode.KeyLimit, call, info);
  if (NO_SUCH_ENTITY.has(f.key)) return new IamError(IamErrorCode.NoSuchEntity, call, info);
  if (INVALID_CREDENTIALS.has(f.key)) {
    return new IamError(IamErrorCode.InvalidCredentials, { ...call, awsCode: f.awsCode ?? f.key }, info);
  }
  if (THROTTLED.has(f.key) || f.status === 429) {
    return new IamError(IamErrorCode.Throttled, { kind: 'aws', action, awsCode: f.awsCode, attempts: f.attempts }, info);
  }
  if (PASSWORD_POLICY.has(f.key)) return new IamError(IamErrorCode.PasswordPolicy, call, info);
  if (TRANSIENT_CONFLICT.has(f.key)) {
    return new IamError(IamErrorCode.Unexpected, { kind: 'busy', action, resource, awsCode: f.awsCode ?? f.key, awsMessage }, info);
  }
  if (isNetworkFailure(f)) {
    const what = f.awsCode || f.nodeCode || f.key || 'network error';
    return new IamError(IamErrorCode.Unreachable, { kind: 'network', action, what, attempts: f.attempts, httpStatus: f.status, awsMessage }, info);
  }
  if (f.awsCode === undefined) {
    // Not an answer from AWS: a bug or an unforeseen local failure, not a permission problem.
    return new IamError(IamErrorCode.Unexpected, { kind: 'local', action, resource, errorName: f.key || 'unknown error', awsMessage }, info);
  }
  return new IamError(IamErrorCode.Unexpected, { kind: 'aws', action, resource, awsCode: f.awsCode, httpStatus: f.status, awsMessage }, info);
}
