import { SecretType } from '../secret-types.js';
import type { ScheduleProblem } from '../schedule.js';

/**
 * Every error code Keyturn emits, once: its HTTP status, whether a worker
 * tries again, and the one wording of its message. Call sites pass typed
 * parameters, so a code cannot be worded differently in another place.
 *
 * Parameters never hold a secret value (a key, a password, a token): pass
 * masked access key ids, ids and names only. Messages say what to do next.
 * docs/errors.md is generated from this file (`npm run docs:errors`).
 */

/** Where a code can be seen: an API answer, a rotation's or heartbeat's errorCode, or a process that refuses to start. */
export type ErrorSurface = 'api' | 'rotation' | 'heartbeat' | 'discovery' | 'startup';

/** The section of docs/errors.md a code is listed in. */
export type ErrorGroup = 'request' | 'access' | 'vault' | 'rotation' | 'heartbeat' | 'discovery' | 'iam' | 'crypto' | 'server';

interface SpecBase<P> {
  /** What the API answers with; for a code the API never answers, what it would be. */
  readonly status: number;
  /** A worker puts the job back and resumes it later (the same attempt may well succeed). */
  readonly retryable: boolean;
  /** AWS asks to slow down: retried with more room, and never a verdict on a key. */
  readonly throttling?: true;
  /** The code the API answers for this status when the framework raised the error. */
  readonly fallback?: true;
  readonly group: ErrorGroup;
  readonly seen: readonly ErrorSurface[];
  /** When it happens, for docs/errors.md. */
  readonly when: string;
  readonly message: (params: P) => string;
  /** Machine-readable, non-secret facts added to the API answer as `details`. */
  readonly details?: (params: P) => Record<string, unknown>;
}

export type ErrorSpec<P> = SpecBase<P> &
  ([P] extends [void] ? { readonly examples?: undefined } : { readonly examples: readonly [P, ...P[]] });

function spec<P = void>(s: ErrorSpec<P>): ErrorSpec<P> {
  return s;
}

/** A message the framework (Nest, fastify, Node's HTTP parser) wrote, passed through unchanged. */
export interface FrameworkDetail {
  kind: 'framework';
  detail: string;
}

const FRAMEWORK_EXAMPLE: FrameworkDetail = { kind: 'framework', detail: 'Cannot GET /v1/secretz' };

/** One IAM or STS call as the IAM mapper saw it. `awsMessage` is AWS's own text, already scrubbed of key material. */
export interface IamCall {
  action: string;
  resource?: string;
  awsCode?: string;
  awsMessage?: string;
  httpStatus?: number;
  attempts?: number;
}

/** What to do about a missing permission, where Keyturn knows the secret it was needed for. */
export type AccessDeniedAdvice = { kind: 'attach-policy'; secretId: string } | { kind: 'change-own-password'; secretId: string };

const on = (p: { resource?: string }) => (p.resource ? ` on ${p.resource}` : '');
const aws = (p: { awsMessage?: string }) => (p.awsMessage ? `: ${p.awsMessage}` : '');
const afterAttempts = (attempts?: number) => (attempts && attempts > 1 ? ` after ${attempts} attempts` : '');
const httpStatus = (status?: number) => (status !== undefined ? ` (HTTP ${status})` : '');
/** "an aws-iam-key", "a password". */
const an = (word: string) => `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
const quoted = (ids: readonly string[]) => ids.map((id) => `'${id}'`).join(', ');
const AUTH_FAILED = 'authentication failed (tampered, moved from another row, or wrong key)';
const KEY_SETTINGS = 'set it as KEYTURN_MASTER_KEY or add it to KEYTURN_PREVIOUS_MASTER_KEYS';
const KEK_ID_RULE = '1-32 characters of A-Z, a-z, 0-9, "_" or "-"';
const KEK_BYTES = 32;
const version = (p: { secretId: string; version: number }) => `secret ${p.secretId} version ${p.version}`;

export const ERRORS = {
  // ── Requests and input ──────────────────────────────────────────────────────
  BAD_REQUEST: spec<FrameworkDetail | { kind: 'http-framing'; parserCode?: string } | { kind: 'percent-encoding' }>({
    status: 400,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'broken HTTP framing (for example both Content-Length and Transfer-Encoding, a bad chunk size), broken percent-encoding in the path, or another 400 the framework raised',
    message: (p) =>
      p.kind === 'framework'
      ? p.detail
      : (p.kind === 'http-framing'
        ? `the request is not valid HTTP/1.1 (${p.parserCode ?? 'parse error'}); check its framing (Content-Length, Transfer-Encoding, chunk sizes)`
        : 'the URL path has broken percent-encoding; encode reserved characters as %XX with two hex digits'),
    examples: [{ kind: 'http-framing', parserCode: 'HPE_UNEXPECTED_CONTENT_LENGTH' }, { kind: 'percent-encoding' }, FRAMEWORK_EXAMPLE],
  }),
  MALFORMED_JSON: spec<{ kind: 'empty' | 'invalid' }>({
    status: 400,
    retryable: false,
    group: 'request',
    seen: ['api'],
    when: 'a body sent as JSON is empty or is not valid JSON',
    message: (p) => (p.kind === 'empty' ? 'the body is empty; send a JSON object' : 'the body is not valid JSON'),
    examples: [{ kind: 'invalid' }, { kind: 'empty' }],
  }),
  VALIDATION_FAILED: spec<
    { kind: 'fields'; problems: readonly string[] } | { kind: 'body-not-object' } | { kind: 'required-field'; field: string; secretType: string }
  >({
    status: 400,
    retryable: false,
    group: 'request',
    seen: ['api'],
    when: 'a field is wrong (every problem is named); also any path parameter, query parameter, field name or value with U+0000 or an unpaired surrogate (Postgres cannot store them), and a body nested deeper than 32 levels',
    message: (p) =>
      p.kind === 'fields'
        ? p.problems.join('; ')
        : p.kind === 'body-not-object'
          ? 'the request body must be a JSON object, sent with content-type: application/json'
          : `${p.field} is required for ${an(p.secretType)} secret`,
    examples: [
      { kind: 'fields', problems: ['accountId must be 12 digits'] },
      { kind: 'body-not-object' },
      { kind: 'required-field', field: 'password', secretType: SecretType.AwsIamConsolePassword },
    ],
  }),
  INVALID_SCHEDULE: spec<{ field: string; problem: ScheduleProblem; secretId?: string }>({
    status: 400,
    retryable: false,
    group: 'request',
    seen: ['api'],
    when:
      'autoChangeSchedule is not a 5-field cron expression, does not parse, has a seconds field or never fires; or autoChangeWindowMinutes is longer than the shortest period of the schedule it applies to (the secret\'s own or the global one, also for the secrets a global change would reach); nothing is changed',
    message: (p) => {
      const q = p.problem;
      const of = p.secretId ? ` (secret ${p.secretId})` : '';
      switch (q.reason) {
        case 'not-five-fields':
          return `${p.field} must be a 5-field cron expression in UTC (minute hour day-of-month month day-of-week), not ${q.fields} field(s)`;
        case 'seconds-field':
          return `${p.field} has a seconds field: a schedule may fire at most once a minute; use the 5 fields minute hour day-of-month month day-of-week`;
        case 'unparseable':
          return `${p.field} is not a valid cron expression: ${q.detail}`;
        case 'never-fires':
          return `${p.field} never fires (no date matches it, like 0 0 30 2 *); fix the day or month`;
        case 'window-too-long':
          return `${p.field}: a window of ${q.windowMinutes} minute(s) is longer than the schedule's shortest period of ${q.periodMinutes} minute(s)${of}; shorten the window or space the times out`;
      }
    },
    details: (p) => ({ field: p.field, reason: p.problem.reason, ...(p.secretId ? { secretId: p.secretId } : {}) }),
    examples: [
      { field: 'settings.autoChangeSchedule', problem: { reason: 'not-five-fields', fields: 3 } },
      { field: 'autoChangeSchedule', problem: { reason: 'seconds-field' } },
      { field: 'autoChangeSchedule', problem: { reason: 'unparseable', detail: 'Invalid value for minute: 61' } },
      { field: 'autoChangeSchedule', problem: { reason: 'never-fires' } },
      { field: 'settings.autoChangeWindowMinutes', problem: { reason: 'window-too-long', windowMinutes: 10, periodMinutes: 5 } },
      { field: 'autoChangeSchedule', problem: { reason: 'window-too-long', windowMinutes: 10, periodMinutes: 5 }, secretId: '0193a1b2-0000-7000-8000-000000000001' },
    ],
  }),
  UNKNOWN_FIELD: spec<{ problems: readonly string[] }>({
    status: 400,
    retryable: false,
    group: 'request',
    seen: ['api'],
    when: 'the body or the query has a field this route does not know (nothing is silently dropped)',
    message: (p) => p.problems.join('; '),
    examples: [{ problems: ['color is not a known field'] }],
  }),
  INVALID_ID: spec({
    status: 400,
    retryable: false,
    group: 'request',
    seen: ['api'],
    when: 'an id in the path is not a UUID',
    message: () => 'the id in the path must be a UUID',
  }),
  INVALID_CURSOR: spec({
    status: 400,
    retryable: false,
    group: 'request',
    seen: ['api'],
    when: 'a list cursor is not one this API returned',
    message: () => 'cursor is not one this API returned; start again without it',
  }),
  INVALID_IDEMPOTENCY_KEY: spec({
    status: 400,
    retryable: false,
    group: 'request',
    seen: ['api'],
    when: 'the Idempotency-Key header is not 1-128 visible ASCII characters',
    message: () => 'Idempotency-Key must be 1-128 visible ASCII characters',
  }),
  FIELD_NOT_ALLOWED: spec<{ field: string; secretType: string }>({
    status: 400,
    retryable: false,
    group: 'request',
    seen: ['api'],
    when: "a secret is created with a field of another secret type (a password on a key secret, say)",
    message: (p) => `${p.field} is not a field of ${an(p.secretType)} secret`,
    examples: [{ field: 'password', secretType: SecretType.AwsIamKey }],
  }),
  NOT_FOUND: spec<FrameworkDetail>({
    status: 404,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'no route has this path, or not with this method',
    message: (p) => p.detail,
    examples: [FRAMEWORK_EXAMPLE],
  }),
  METHOD_NOT_ALLOWED: spec<FrameworkDetail>({
    status: 405,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'the framework refused the method (routes answer 404 NOT_FOUND for a method they do not have)',
    message: (p) => p.detail,
    examples: [{ kind: 'framework', detail: 'Method Not Allowed' }],
  }),
  NOT_ACCEPTABLE: spec<FrameworkDetail>({
    status: 406,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'the framework cannot answer in a format the Accept header allows',
    message: (p) => p.detail,
    examples: [{ kind: 'framework', detail: 'Not Acceptable' }],
  }),
  REQUEST_TIMEOUT: spec<FrameworkDetail | { kind: 'slow-request' }>({
    status: 408,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'the request took too long to arrive',
    message: (p) => p.kind === 'framework' ? p.detail : 'the request took too long to arrive; send it again',
    examples: [{ kind: 'slow-request' }],
  }),
  CONFLICT: spec<FrameworkDetail>({
    status: 409,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'the framework raised a 409 without a more precise code',
    message: (p) => p.detail,
    examples: [{ kind: 'framework', detail: 'Conflict' }],
  }),
  PAYLOAD_TOO_LARGE: spec<FrameworkDetail | { kind: 'body' }>({
    status: 413,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'a body over 64 KiB',
    message: (p) => p.kind === 'framework' ? p.detail : 'the request body is too large',
    examples: [{ kind: 'body' }],
  }),
  URI_TOO_LONG: spec<FrameworkDetail | { kind: 'url' | 'path-segment' }>({
    status: 414,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'a path segment over 100 characters, or a request line over 8 KiB',
    message: (p) =>
      p.kind === 'framework'
      ? p.detail
      : (p.kind === 'url'
        ? 'the URL is longer than 16 KiB; send long values in a JSON body, or fewer query parameters'
        : 'a path segment is longer than 100 characters; ids in paths are 36-character UUIDs'),
    examples: [{ kind: 'url' }, { kind: 'path-segment' }],
  }),
  UNSUPPORTED_MEDIA_TYPE: spec<FrameworkDetail | { kind: 'not-json' }>({
    status: 415,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'a body that is not application/json',
    message: (p) => p.kind === 'framework' ? p.detail : 'send the body as application/json',
    examples: [{ kind: 'not-json' }],
  }),
  UNPROCESSABLE: spec<FrameworkDetail>({
    status: 422,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'the framework raised a 422 without a more precise code',
    message: (p) => p.detail,
    examples: [{ kind: 'framework', detail: 'Unprocessable Entity' }],
  }),
  TOO_MANY_REQUESTS: spec<FrameworkDetail>({
    status: 429,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'the framework raised a 429 without a more precise code',
    message: (p) => p.detail,
    examples: [{ kind: 'framework', detail: 'Too Many Requests' }],
  }),
  HEADERS_TOO_LARGE: spec<FrameworkDetail | { kind: 'headers' }>({
    status: 431,
    retryable: false,
    fallback: true,
    group: 'request',
    seen: ['api'],
    when: 'headers over 16 KiB',
    message: (p) => p.kind === 'framework' ? p.detail : 'the request headers are larger than 16 KiB; send fewer or shorter headers',
    examples: [{ kind: 'headers' }],
  }),

  // ── Authentication and authorization ────────────────────────────────────────
  UNAUTHENTICATED: spec<FrameworkDetail | { kind: 'no-api-key' }>({
    status: 401,
    retryable: false,
    fallback: true,
    group: 'access',
    seen: ['api'],
    when: 'the request has no "Authorization: Bearer" header',
    message: (p) => p.kind === 'framework' ? p.detail : 'send an API key as "Authorization: Bearer kt_…"',
    examples: [{ kind: 'no-api-key' }],
  }),
  INVALID_API_KEY: spec({
    status: 401,
    retryable: false,
    group: 'access',
    seen: ['api'],
    when: 'the bearer token is not a live API key (unknown, or revoked)',
    message: () => 'the API key is unknown or has been revoked',
  }),
  FORBIDDEN: spec<FrameworkDetail | { kind: 'role'; needed: string; has: string }>({
    status: 403,
    retryable: false,
    fallback: true,
    group: 'access',
    seen: ['api'],
    when: "the API key's role does not include the route's role",
    message: (p) => p.kind === 'framework' ? p.detail : `this endpoint needs the ${p.needed} role; this API key has the ${p.has} role`,
    examples: [{ kind: 'role', needed: 'operator', has: 'viewer' }],
  }),
  FOLDER_OUT_OF_SCOPE: spec<{ scopes: readonly string[]; folder: string }>({
    status: 403,
    retryable: false,
    group: 'access',
    seen: ['api'],
    when: "a secret would be created in, or moved to, a folder outside the API key's folder scopes",
    message: (p) => `this API key is limited to ${p.scopes.join(', ')}; folder ${p.folder} is outside it`,
    examples: [{ scopes: ['/team-a'], folder: '/team-b' }],
  }),
  API_KEY_ROLE_EXCEEDED: spec<{ role: string; allowed: readonly string[] }>({
    status: 403,
    retryable: false,
    group: 'access',
    seen: ['api'],
    when: 'an API key tries to create a key with a role above its own',
    message: (p) => `this API key cannot create a key with the ${p.role} role, which is above its own; choose one of ${p.allowed.join(', ')}`,
    examples: [{ role: 'admin', allowed: ['operator'] }],
  }),
  API_KEY_SCOPE_EXCEEDED: spec<{ scopes: readonly string[] }>({
    status: 403,
    retryable: false,
    group: 'access',
    seen: ['api'],
    when: 'a folder-scoped admin key tries to create a key reaching beyond its own folders',
    message: (p) =>
      `this API key is limited to ${p.scopes.join(', ')}; give the new key folderScopes within ${p.scopes.length > 1 ? 'them' : 'it'} (for example ${p.scopes[0]}/…)`,
    examples: [{ scopes: ['/team-a'] }],
  }),
  API_KEY_NOT_FOUND: spec<{ apiKeyId: string }>({
    status: 404,
    retryable: false,
    group: 'access',
    seen: ['api'],
    when: "an API key does not exist, or lies beyond the caller's folders",
    message: (p) => `API key ${p.apiKeyId} does not exist`,
    examples: [{ apiKeyId: '0193a1b2-0000-7000-8000-000000000001' }],
  }),
  TOO_MANY_FAILED_AUTHENTICATIONS: spec<{ retryAfterSeconds: number }>({
    status: 429,
    retryable: false,
    group: 'access',
    seen: ['api'],
    when: 'too many failed authentications from one address within the window; Retry-After says when to try again',
    message: (p) => `too many failed authentications from this address; try again in ${p.retryAfterSeconds} s`,
    examples: [{ retryAfterSeconds: 42 }],
  }),

  // ── Discovery ────────────────────────────────────────────────────────────────
  DISCOVERY_NOT_FOUND: spec<{ discoveryId: string }>({
    status: 404,
    retryable: false,
    group: 'discovery',
    seen: ['api'],
    when: "a discovery run does not exist, or its executor secret lies beyond the API key's folders (existence does not leak)",
    message: (p) => `discovery run ${p.discoveryId} does not exist`,
    examples: [{ discoveryId: '0193a1b2-0000-7000-8000-000000000001' }],
  }),
  DISCOVERY_FINDING_NOT_FOUND: spec<{ discoveryId: string; findingId: string }>({
    status: 404,
    retryable: false,
    group: 'discovery',
    seen: ['api'],
    when: 'a finding id is not one of this discovery run (it may belong to another run)',
    message: (p) => `finding ${p.findingId} is not a finding of discovery run ${p.discoveryId}; list them with GET /v1/discoveries/${p.discoveryId}/findings`,
    examples: [{ discoveryId: 'D1', findingId: 'F1' }],
  }),
  DISCOVERY_EXECUTOR_UNAVAILABLE: spec<{ executorSecretId: string | null }>({
    status: 422,
    retryable: false,
    group: 'discovery',
    seen: ['discovery'],
    when: 'when a discovery run starts, its executor secret was deleted, or has no current key',
    message: (p) =>
      p.executorSecretId
        ? `executor secret ${p.executorSecretId} has no current key any more; start a new discovery with a working ${SecretType.AwsIamKey} secret`
        : `the executor secret of this discovery was deleted; start a new discovery with a working ${SecretType.AwsIamKey} secret`,
    examples: [{ executorSecretId: 'S2' }, { executorSecretId: null }],
  }),
  INVALID_IAM_PATH: spec<{ field: string }>({
    status: 400,
    retryable: false,
    group: 'discovery',
    seen: ['api'],
    when: 'a path prefix is not an IAM path: it must start and end with "/" and hold 1-512 characters from U+0021 to U+007E',
    message: (p) => `${p.field} must be an IAM path: 1-512 characters from "!" to "~" that start and end with "/", e.g. /engineering/`,
    examples: [{ field: 'pathPrefix' }],
  }),

  // ── Secrets and associations ────────────────────────────────────────────────
  SECRET_NOT_FOUND: spec<{ secretId: string }>({
    status: 404,
    retryable: false,
    group: 'vault',
    seen: ['api', 'rotation'],
    when: "a secret does not exist, or lies beyond the API key's folders (existence does not leak); a change fails with it when its secret is deleted meanwhile",
    message: (p) => `secret ${p.secretId} does not exist`,
    examples: [{ secretId: '0193a1b2-0000-7000-8000-000000000001' }],
  }),
  VERSION_NOT_FOUND: spec<{ secretId: string; version: string }>({
    status: 404,
    retryable: false,
    group: 'vault',
    seen: ['api'],
    when: 'GET …/value?version= names a version the secret never had, or asks for `previous` before any change made one',
    message: (p) => (p.version === 'previous' ? `secret ${p.secretId} has no previous version` : `secret ${p.secretId} has no version ${p.version}`),
    examples: [
      { secretId: '0193a1b2-0000-7000-8000-000000000001', version: '7' },
      { secretId: '0193a1b2-0000-7000-8000-000000000001', version: 'previous' },
    ],
  }),
  VERSION_NOT_READABLE: spec<{ secretId: string; version: number; state: string }>({
    status: 404,
    retryable: false,
    group: 'vault',
    seen: ['api'],
    when: 'GET …/value?version= names a version whose key can no longer work (retired: deleted, or pushed out by a later change) or never became current (pending, discarded)',
    message: (p) =>
      p.state === 'retired'
        ? `version ${p.version} of secret ${p.secretId} is retired: its key was deleted or replaced, so it can no longer work`
        : `version ${p.version} of secret ${p.secretId} is ${p.state}: it never became current`,
    examples: [
      { secretId: '0193a1b2-0000-7000-8000-000000000001', version: 1, state: 'retired' },
      { secretId: '0193a1b2-0000-7000-8000-000000000001', version: 3, state: 'pending' },
    ],
  }),
  SECRET_NAME_TAKEN: spec<{ name: string; folder: string }>({
    status: 409,
    retryable: false,
    group: 'vault',
    seen: ['api'],
    when: 'another secret in the folder has this name',
    message: (p) => `a secret named "${p.name}" already exists in folder ${p.folder}`,
    examples: [{ name: 'ci-deployer', folder: '/team-a' }],
  }),
  SECRET_HAS_NO_VALUE: spec<{ secretId: string }>({
    status: 409,
    retryable: false,
    group: 'vault',
    seen: ['api', 'rotation', 'heartbeat'],
    when: 'a secret has no current value to read, change or check',
    message: (p) => `secret ${p.secretId} has no current value`,
    examples: [{ secretId: '0193a1b2-0000-7000-8000-000000000001' }],
  }),
  SECRET_HAS_DEPENDENTS: spec<{ secretId: string; dependents: readonly { id: string; name: string }[] }>({
    status: 409,
    retryable: false,
    group: 'vault',
    seen: ['api'],
    when: 'a secret to delete is the privileged account of other secrets (details.dependents lists them); ?force=true detaches them',
    message: (p) =>
      `secret ${p.secretId} is the privileged account of ${p.dependents.length} other secret(s): ` +
      `${p.dependents.map((d) => `${d.id} (${d.name})`).join(', ')}. Associate them with another key secret first, ` +
      'or delete with ?force=true to detach them (they then cannot be changed until re-associated).',
    details: (p) => ({ dependents: p.dependents.map((d) => d.id) }),
    examples: [{ secretId: 'S1', dependents: [{ id: 'S2', name: 'console' }] }],
  }),
  ROTATION_IN_PROGRESS: spec<{ secretId: string }>({
    status: 409,
    retryable: false,
    group: 'vault',
    seen: ['api'],
    when: 'a secret to delete has a change queued or running (it may hold a pending key only it knows)',
    message: (p) => `secret ${p.secretId} has a change queued or running; delete it once that change has finished`,
    examples: [{ secretId: 'S1' }],
  }),
  ACCESS_KEY_ALREADY_STORED: spec<{ holderSecretId: string | null }>({
    status: 409,
    retryable: false,
    group: 'vault',
    seen: ['api'],
    when: "an access key another secret already holds (current, previous or pending); the message names that secret only if the caller may see it",
    message: (p) =>
      p.holderSecretId
        ? `this access key is already stored in secret ${p.holderSecretId}; an access key can be held by one secret only. Use that secret (rotate or read it), or delete it before storing the key again.`
        : 'this access key is already stored in another secret; an access key can be held by one secret only. Use the secret that holds it.',
    examples: [{ holderSecretId: 'S1' }, { holderSecretId: null }],
  }),
  ASSOCIATION_CYCLE: spec<{ kind: 'self' } | { kind: 'cycle'; privilegedSecretId: string; secretId: string }>({
    status: 422,
    retryable: false,
    group: 'vault',
    seen: ['api'],
    when: 'a secret would be its own privileged account, directly or through a chain of associations',
    message: (p) =>
      p.kind === 'self'
        ? 'a secret cannot be its own privileged account; leave privilegedSecretId empty to change a key with itself (basic mode)'
        : `associating ${p.privilegedSecretId} would create a cycle of privileged accounts back to ${p.secretId}`,
    examples: [{ kind: 'self' }, { kind: 'cycle', privilegedSecretId: 'S2', secretId: 'S1' }],
  }),
  PRIVILEGED_SECRET_NOT_FOUND: spec<{ privilegedSecretId: string }>({
    status: 422,
    retryable: false,
    group: 'vault',
    seen: ['api', 'rotation'],
    when: "the privileged account (privilegedSecretId) does not exist, or lies beyond the API key's folders",
    message: (p) => `privileged secret ${p.privilegedSecretId} does not exist; associate another ${SecretType.AwsIamKey} secret (privilegedSecretId)`,
    examples: [{ privilegedSecretId: 'S2' }],
  }),
  PRIVILEGED_SECRET_WRONG_TYPE: spec<{ privilegedSecretId: string; secretType: string }>({
    status: 422,
    retryable: false,
    group: 'vault',
    seen: ['api'],
    when: `the privileged account is not an ${SecretType.AwsIamKey} secret`,
    message: (p) =>
      `privileged secret ${p.privilegedSecretId} is ${an(p.secretType)} secret; a privileged account must be ${an(SecretType.AwsIamKey)} secret`,
    examples: [{ privilegedSecretId: 'S2', secretType: SecretType.AwsIamConsolePassword }],
  }),
  PRIVILEGED_SECRET_OTHER_ACCOUNT: spec<{ privilegedSecretId: string; itsAccountId: string; accountId: string }>({
    status: 422,
    retryable: false,
    group: 'vault',
    seen: ['api'],
    when: 'the privileged account belongs to another AWS account',
    message: (p) =>
      `privileged secret ${p.privilegedSecretId} belongs to AWS account ${p.itsAccountId}, this secret to ${p.accountId}; IAM users can only be managed from their own account`,
    examples: [{ privilegedSecretId: 'S2', itsAccountId: '222222222222', accountId: '111111111111' }],
  }),
  PRIVILEGED_ACCOUNT_REQUIRED: spec<{ secretId: string; secretType: string }>({
    status: 422,
    retryable: false,
    group: 'vault',
    seen: ['api', 'rotation'],
    when: 'a console password is changed, or its required permissions asked for, before an aws-iam-key secret is associated with it',
    message: (p) =>
      `${an(p.secretType)} secret is changed only through an associated ${SecretType.AwsIamKey} secret: ` +
      `PATCH /v1/secrets/${p.secretId} with {"privilegedSecretId": "<key secret id>"} first (the user's own key, which needs iam:ChangePassword, ` +
      "or another user's key allowed iam:UpdateLoginProfile on this user)",
    examples: [{ secretId: 'S1', secretType: SecretType.AwsIamConsolePassword }],
  }),
  // ── Discovery ───────────────────────────────────────────────────────────────
  DISCOVERY_EXECUTOR_WRONG_TYPE: spec<{ executorSecretId: string; secretType: string }>({
    status: 422,
    retryable: false,
    group: 'vault',
    seen: ['api'],
    when: `a discovery, or its required permissions, names an executor (executorSecretId) that is not ${an(SecretType.AwsIamKey)} secret`,
    message: (p) =>
      `executor ${p.executorSecretId} is ${an(p.secretType)} secret; a discovery runs with the access key of ${an(SecretType.AwsIamKey)} secret (executorSecretId)`,
    examples: [{ executorSecretId: 'S1', secretType: SecretType.AwsIamConsolePassword }],
  }),

  // ── Changes (rotations) ─────────────────────────────────────────────────────
  ROTATION_NOT_FOUND: spec<{ rotationId: string }>({
    status: 404,
    retryable: false,
    group: 'rotation',
    seen: ['api'],
    when: "a rotation does not exist, or its secret lies beyond the API key's folders",
    message: (p) => `rotation ${p.rotationId} does not exist`,
    examples: [{ rotationId: 'R1' }],
  }),
  ROTATION_REQUEST_CONFLICT: spec<{ secretId: string }>({
    status: 409,
    retryable: false,
    group: 'rotation',
    seen: ['api'],
    when: "a secret's rotations kept changing under one request (rare); send it again",
    message: (p) => `the rotations of secret ${p.secretId} kept changing during this request; send it again`,
    examples: [{ secretId: 'S1' }],
  }),
  SUPERSEDED: spec<{ kind: 'rotation' | 'heartbeat' }>({
    status: 409,
    retryable: false,
    group: 'rotation',
    seen: ['rotation', 'heartbeat'],
    when: 'a waiting change or heartbeat was folded into an earlier waiting one of the same secret when coalescing was introduced (migration 1795830100000)',
    message: (p) =>
      p.kind === 'rotation'
        ? "another waiting change of this secret was requested earlier; it does this one's work (see that rotation)"
        : 'another waiting heartbeat of this secret was requested earlier and checks the key instead',
    examples: [{ kind: 'rotation' }, { kind: 'heartbeat' }],
  }),
  KEY_BELONGS_TO_OTHER_USER: spec<{ arn: string; username: string; accountId: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation', 'heartbeat'],
    when: "the stored key answers as another IAM user or account than the secret's username and accountId",
    message: (p) =>
      `the stored key belongs to ${p.arn}, not to IAM user ${p.username} in account ${p.accountId}; store the right key or fix the secret's username/accountId`,
    examples: [{ arn: 'arn:aws:iam::111111111111:user/bob', username: 'alice', accountId: '111111111111' }],
  }),
  CURRENT_KEY_INVALID: spec<{ username: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: 'AWS rejects the stored key of a key secret that rotates itself (no privileged account to rotate it through)',
    message: (p) =>
      `AWS rejects the stored key of ${p.username}, and a key secret without a privileged account rotates itself with that key. ` +
      'Associate a privileged account (privilegedSecretId) that may manage this user, or store a working key, then rotate again.',
    examples: [{ username: 'alice' }],
  }),
  USER_RECREATED: spec<{ username: string; userId: string; knownUserId: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: 'the IAM user has another UserId than when Keyturn first changed it: it was deleted and re-created under the same name',
    message: (p) =>
      `IAM user ${p.username} has UserId ${p.userId}, but this secret belongs to UserId ${p.knownUserId}: ` +
      'the user was deleted and re-created. Keyturn does not change a different user under the same name; create a new secret for it.',
    examples: [{ username: 'alice', userId: 'AIDANEW', knownUserId: 'AIDAOLD' }],
  }),
  KEY_HELD_BY_OTHER_SECRET: spec<{ username: string; maskedKeyId: string; holderSecretId: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: 'the IAM user already has 2 access keys and one of them is held by another Keyturn secret (never deleted for another secret); nothing was changed',
    message: (p) =>
      `IAM user ${p.username} already has 2 access keys and ${p.maskedKeyId} is held by Keyturn secret ${p.holderSecretId}, ` +
      'which Keyturn never deletes for another secret. Nothing was changed. Keep one Keyturn secret per IAM user: ' +
      `delete secret ${p.holderSecretId} (then delete its key in IAM) or this one, or give that secret shouldDeletePreviousKey, then rotate again.`,
    examples: [{ username: 'alice', maskedKeyId: 'AKIA…WXYZ', holderSecretId: 'S2' }],
  }),
  // ── Adoption (issue 15): a key whose secret part nobody knows ─────────────────
  SECRET_VALUE_UNKNOWN: spec<{ secretId: string; version: number }>({
    status: 409,
    retryable: false,
    group: 'vault',
    seen: ['api', 'heartbeat'],
    when: "the version is an adopted access key: Keyturn knows its id but not its secret part (AWS shows that only at creation), so there is no value to serve or check",
    message: (p) =>
      `version ${p.version} of secret ${p.secretId} is an adopted access key whose secret part nobody knows (AWS shows it only when a key is created); ` +
      'there is no value to read. Read the current version once the adopting rotation has succeeded (GET /v1/rotations/:id)',
    examples: [{ secretId: 'S1', version: 1 }],
  }),
  ADOPTED_KEY_GONE: spec<{ username: string; maskedKeyId: string }>({
    status: 409,
    retryable: false,
    group: 'rotation',
    seen: ['api', 'rotation'],
    when: 'the access key to adopt (or the adopted current key of a secret) no longer exists for that IAM user in AWS; nothing was changed',
    message: (p) =>
      `access key ${p.maskedKeyId} of IAM user ${p.username} no longer exists in AWS, so there is nothing to adopt; nothing was changed. ` +
      'Run discovery again to see the keys the user has now',
    examples: [{ username: 'alice', maskedKeyId: 'AKIA…WXYZ' }],
  }),
  ADOPTION_KEY_LIMIT: spec<{ username: string; maskedKeyIds: string[] }>({
    status: 409,
    retryable: false,
    group: 'rotation',
    seen: ['api'],
    when: 'adoption of a key of an IAM user who already has 2 access keys, without deleteFindingId; nothing was created and IAM is unchanged',
    message: (p) =>
      `IAM user ${p.username} already has 2 access keys (${p.maskedKeyIds.join(', ')}), and adoption must create a new one; nothing was changed. ` +
      'Name the other key to delete first as deleteFindingId (a finding of the same run and user that no secret manages)',
    examples: [{ username: 'alice', maskedKeyIds: ['AKIA…WXYZ', 'AKIA…ABCD'] }],
  }),
  ADOPTION_DELETE_FINDING_INVALID: spec<{ deleteFindingId: string; reason: 'same-key' | 'other-user' | 'managed' | 'gone' }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['api'],
    when: 'deleteFindingId names the adopted key itself, a key of another IAM user, a key a Keyturn secret manages, or a key no longer in AWS; nothing was changed',
    message: (p) =>
      `deleteFindingId ${p.deleteFindingId} cannot be deleted for this adoption: ` +
      {
        'same-key': 'it is the key being adopted; name the OTHER key of the user',
        'other-user': 'it is a key of another IAM user; name a key of the same user',
        managed: "a Keyturn secret manages that key, and Keyturn never deletes another secret's key; rotate or delete that secret instead",
        gone: 'that key no longer exists in AWS; run discovery again',
      }[p.reason] +
      '. Nothing was changed',
    examples: [
      { deleteFindingId: 'F2', reason: 'same-key' },
      { deleteFindingId: 'F2', reason: 'other-user' },
      { deleteFindingId: 'F2', reason: 'managed' },
      { deleteFindingId: 'F2', reason: 'gone' },
    ],
  }),
  KEY_LIMIT_UNMANAGED: spec<{ username: string; maskedKeyId: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: 'the IAM user already has 2 access keys and one of them is not managed by Keyturn (for example one a person created); nothing was changed',
    message: (p) =>
      `IAM user ${p.username} already has 2 access keys and ${p.maskedKeyId} ` +
      'is not managed by Keyturn (no secret holds it, and this rotation did not create it). Nothing was changed. ' +
      'Delete that key in IAM if it is unused, or store it in Keyturn, then rotate again.',
    examples: [{ username: 'alice', maskedKeyId: 'AKIA…WXYZ' }],
  }),
  KEY_LIMIT_RACE: spec<{ username: string }>({
    status: 422,
    retryable: true,
    group: 'rotation',
    seen: ['rotation'],
    when: 'CreateAccessKey hit the 2-key limit after make-room left a slot: an earlier call of this rotation created a key whose answer was lost; the next attempt deletes it',
    message: (p) => `IAM user ${p.username} reached 2 keys while this rotation created one; retrying after cleanup`,
    examples: [{ username: 'alice' }],
  }),
  NEW_KEY_NOT_STORED: spec<{ maskedKeyId: string; reason: string; deleted: boolean }>({
    status: 422,
    retryable: true,
    group: 'rotation',
    seen: ['rotation'],
    when: 'the new key could not be stored (database trouble); it is deleted in IAM (or by the next attempt), the current key is untouched, and the change is retried',
    message: (p) =>
      p.deleted
        ? `the new key ${p.maskedKeyId} could not be stored (${p.reason}), so it was deleted in IAM; the current key is unchanged and the change will be retried. ` +
          'If this repeats, check the database (see the worker log).'
        : `the new key ${p.maskedKeyId} could not be stored (${p.reason}) nor deleted in IAM yet; the next attempt deletes it before creating another. The current key is unchanged.`,
    examples: [
      { maskedKeyId: 'AKIA…WXYZ', reason: 'database error 57P01', deleted: true },
      { maskedKeyId: 'AKIA…WXYZ', reason: 'database error 57P01', deleted: false },
    ],
  }),
  PENDING_KEY_WRONG_USER: spec<{ maskedKeyId: string; arn: string; username: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: 'the new key answers as another IAM user than the secret names (it is discarded, the current key stays)',
    message: (p) =>
      `the new key ${p.maskedKeyId} answers as ${p.arn}, not as ${p.username}; it was discarded, and the current key is unchanged and still works. ` +
      `Delete ${p.maskedKeyId} from ${p.arn} in IAM if it exists, then rotate again.`,
    examples: [{ maskedKeyId: 'AKIA…WXYZ', arn: 'arn:aws:iam::111111111111:user/bob', username: 'alice' }],
  }),
  VERIFY_TIMEOUT: spec<{ windowSeconds: number; lastAnswer?: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: 'the new key did not start working within KEYTURN_VERIFY_WINDOW_MS; it was deleted and the current key is untouched',
    message: (p) =>
      `the new key did not work within ${p.windowSeconds} s (last answer: ${p.lastAnswer ?? 'none'}); ` +
      'it was deleted, and the current key is unchanged and still works. Rotate again, or raise KEYTURN_VERIFY_WINDOW_MS if IAM is slow to propagate in this account.',
    examples: [{ windowSeconds: 60, lastAnswer: 'IAM_INVALID_CREDENTIALS' }],
  }),
  NOTHING_TO_PROMOTE: spec<{ rotationId: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: 'a change resumed at promote finds no pending value (it was discarded meanwhile)',
    message: (p) => `rotation ${p.rotationId} has no pending value to promote; request a new change`,
    examples: [{ rotationId: 'R1' }],
  }),
  EXECUTOR_KEY_MISMATCH: spec<{ arn: string; username: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: "a console password's associated key of the same user answers as another user",
    message: (p) => `the associated key answers as ${p.arn}, not as ${p.username}; fix the associated key secret`,
    examples: [{ arn: 'arn:aws:iam::111111111111:user/bob', username: 'alice' }],
  }),
  PRIVILEGED_KEY_INVALID: spec<{ privilegedSecretId: string | null }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: "AWS rejects the associated key a console password is changed with",
    message: (p) =>
      `AWS rejects the key of the associated secret ${p.privilegedSecretId ?? '(none)'}; rotate or fix that key first, then change this password`,
    examples: [{ privilegedSecretId: 'S2' }],
  }),
  PRIVILEGED_SECRET_HAS_NO_VALUE: spec<{ privilegedSecretId: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: 'the associated privileged account has no current key to act with',
    message: (p) => `the privileged account ${p.privilegedSecretId} has no current key; store one there or associate another key secret`,
    examples: [{ privilegedSecretId: 'S2' }],
  }),
  PASSWORD_UNKNOWN: spec<{ username: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: 'a user changing its own console password: AWS accepts none of the passwords Keyturn has as the old one (it was changed outside Keyturn)',
    message: (p) =>
      `AWS does not accept any password Keyturn has for ${p.username} as the old password: it was changed outside Keyturn. ` +
      'Associate a privileged account (iam:UpdateLoginProfile) to reset it, or store the password AWS has, then change again.',
    examples: [{ username: 'alice' }],
  }),
  LOGIN_PROFILE_MISSING: spec<{ username: string }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: 'the IAM user has no console password (login profile) to change; Keyturn does not enable console access',
    message: (p) =>
      `IAM user ${p.username} has no console password (login profile) to change; create one in IAM first (Keyturn changes passwords, it does not enable console access)`,
    examples: [{ username: 'alice' }],
  }),
  PASSWORD_SETTINGS_INVALID: spec<{ kind: 'class-excluded' } | { kind: 'too-short'; length: number; classes: number }>({
    status: 422,
    retryable: false,
    group: 'rotation',
    seen: ['rotation'],
    when: "the secret's password settings leave no valid password (a whole character class excluded, or too short for the classes required); fails at once",
    message: (p) =>
      p.kind === 'class-excluded'
        ? 'the excluded characters (passwordExcludeCharacters) remove a whole required character class; exclude fewer characters'
        : `a password of ${p.length} characters cannot hold ${p.classes} character classes; raise passwordLength`,
    examples: [{ kind: 'class-excluded' }, { kind: 'too-short', length: 3, classes: 4 }],
  }),

  // ── Heartbeats ──────────────────────────────────────────────────────────────
  HEARTBEAT_NOT_FOUND: spec<{ heartbeatId: string }>({
    status: 404,
    retryable: false,
    group: 'heartbeat',
    seen: ['api'],
    when: "a heartbeat does not exist, or its secret lies beyond the API key's folders",
    message: (p) => `heartbeat ${p.heartbeatId} does not exist`,
    examples: [{ heartbeatId: 'H1' }],
  }),
  HEARTBEAT_REQUEST_CONFLICT: spec<{ secretId: string }>({
    status: 409,
    retryable: false,
    group: 'heartbeat',
    seen: ['api'],
    when: "a secret's heartbeats kept changing under one request (rare); send it again",
    message: (p) => `the heartbeats of secret ${p.secretId} kept changing during this request; send it again`,
    examples: [{ secretId: 'S1' }],
  }),
  HEARTBEAT_NOT_SUPPORTED: spec({
    status: 422,
    retryable: false,
    group: 'heartbeat',
    seen: ['api'],
    when: 'a heartbeat is asked for a console password secret',
    message: () =>
      'AWS offers no way to test a console password without signing in as the user, so console password secrets have no heartbeat; check the associated key secret instead',
  }),
  KEY_CHANGED_DURING_CHECK: spec<{ checks: number }>({
    status: 409,
    retryable: false,
    group: 'heartbeat',
    seen: ['heartbeat'],
    when: 'a rotation replaced the key during each of the three checks of one heartbeat; it ends without an outcome',
    message: (p) =>
      `the key was replaced by a rotation during each of ${p.checks} checks, so none of them says anything about the current key; ` +
      "the next heartbeat checks it (a promoted key is checked at the scheduler's next tick)",
    examples: [{ checks: 3 }],
  }),

  // ── AWS IAM and STS (mapped by libs/iam; status if the API ever answered one) ─
  IAM_ACCESS_DENIED: spec<IamCall & { advice?: AccessDeniedAdvice }>({
    status: 502,
    retryable: false,
    group: 'iam',
    seen: ['rotation', 'heartbeat', 'discovery'],
    when: 'the executing key lacks an IAM permission; the message names the action and where to find the policy',
    message: (p) => {
      const base = `missing permission ${p.action}${on(p)}${aws(p)}; grant ${p.action} to the executing identity`;
      if (p.advice?.kind === 'attach-policy') {
        return `${base}. The executing key lacks ${p.action}: attach the policy from GET /v1/secrets/${p.advice.secretId}/required-permissions and rotate again.`;
      }
      if (p.advice?.kind === 'change-own-password') {
        return (
          `${base}. A user changes its own console password with iam:ChangePassword, and only if the account's password policy allows users to change their password (AllowUsersToChangePassword); ` +
          `see GET /v1/secrets/${p.advice.secretId}/required-permissions`
        );
      }
      return base;
    },
    examples: [
      { action: 'iam:CreateAccessKey', resource: 'user/alice', awsMessage: 'User: arn:aws:iam::111111111111:user/ci is not authorized to perform: iam:CreateAccessKey' },
      { action: 'iam:CreateAccessKey', resource: 'user/alice', advice: { kind: 'attach-policy', secretId: 'S1' } },
      { action: 'iam:ChangePassword', advice: { kind: 'change-own-password', secretId: 'S1' } },
    ],
  }),
  IAM_KEY_LIMIT: spec<IamCall>({
    status: 502,
    retryable: false,
    group: 'iam',
    seen: ['rotation'],
    when: 'AWS refused a call for an IAM limit (an IAM user holds at most 2 access keys)',
    message: (p) => `${p.action}${on(p)} hit an IAM limit${aws(p)}; an IAM user may hold at most 2 access keys: delete one that is not in use`,
    examples: [{ action: 'iam:CreateAccessKey', resource: 'user/alice', awsMessage: 'Cannot exceed quota for AccessKeysPerUser: 2' }],
  }),
  IAM_NO_SUCH_ENTITY: spec<IamCall>({
    status: 502,
    retryable: false,
    group: 'iam',
    seen: ['rotation', 'heartbeat'],
    when: 'the IAM user, access key or login profile a call names does not exist (the sub-code says which)',
    message: (p) => `${p.action}${on(p)} failed: the IAM entity does not exist${aws(p)}`,
    examples: [{ action: 'iam:ListAccessKeys', resource: 'user/alice', awsMessage: 'The user with name alice cannot be found.' }],
  }),
  IAM_INVALID_CREDENTIALS: spec<IamCall & { awsCode: string }>({
    status: 502,
    retryable: false,
    group: 'iam',
    seen: ['rotation', 'heartbeat'],
    when: 'AWS rejects the key a call is made with (unknown, inactive, or a wrong secret); a heartbeat reports it as failed',
    message: (p) =>
      `AWS rejected the credentials used for ${p.action} (${p.awsCode})${aws(p)}; check that the access key exists, is active and that its secret is current`,
    examples: [{ action: 'sts:GetCallerIdentity', awsCode: 'InvalidClientTokenId', awsMessage: 'The security token included in the request is invalid.' }],
  }),
  IAM_THROTTLED: spec<
    { kind: 'aws'; action: string; awsCode?: string; attempts?: number } | { kind: 'pacer'; action: string; accountId: string; maxWaitMs: number }
  >({
    status: 502,
    retryable: true,
    throttling: true,
    group: 'iam',
    seen: ['rotation'],
    when: "AWS throttled a call, or the account's shared call budget (KEYTURN_AWS_RATE_PER_ACCOUNT) had no slot in time; retried with more room, never a failed heartbeat",
    message: (p) =>
      p.kind === 'aws'
        ? `${p.action} was throttled by AWS (${p.awsCode ?? 'HTTP 429'})${afterAttempts(p.attempts)}; try again later`
        : `${p.action} found no free call slot for AWS account ${p.accountId} within ${p.maxWaitMs} ms ` +
          '(KEYTURN_AWS_RATE_PER_ACCOUNT is shared by every worker); it will be retried. Raise the rate if the account allows it, or lower KEYTURN_WORKER_CONCURRENCY',
    examples: [
      { kind: 'aws', action: 'iam:ListAccessKeys', awsCode: 'Throttling', attempts: 5 },
      { kind: 'pacer', action: 'iam:CreateAccessKey', accountId: '111111111111', maxWaitMs: 15000 },
    ],
  }),
  IAM_UNREACHABLE: spec<
    | { kind: 'network'; action: string; what: string; attempts?: number; httpStatus?: number; awsMessage?: string }
    | { kind: 'budget'; action: string; budgetMs: number }
  >({
    status: 502,
    retryable: true,
    group: 'iam',
    seen: ['rotation', 'heartbeat'],
    when: 'AWS could not be reached, answered 5xx, or did not finish a call within its budget; a heartbeat reports unable-to-connect',
    message: (p) =>
      p.kind === 'network'
        ? `could not reach AWS for ${p.action}${afterAttempts(p.attempts)} (${p.what}${httpStatus(p.httpStatus)}${p.awsMessage && p.awsMessage !== p.what ? `: ${p.awsMessage}` : ''}); ` +
          'check the network and the endpoint settings (AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL_STS, AWS_REGION)'
        : `AWS did not finish ${p.action} within its budget of ${p.budgetMs} ms (KEYTURN_AWS_MAX_ATTEMPTS × KEYTURN_AWS_TIMEOUT_MS and backoff); ` +
          'the call was abandoned and will be retried. Check the network and the endpoint settings, or raise KEYTURN_AWS_TIMEOUT_MS',
    examples: [
      { kind: 'network', action: 'iam:CreateAccessKey', what: 'ECONNREFUSED', attempts: 5, awsMessage: 'connect ECONNREFUSED 127.0.0.1:443' },
      { kind: 'budget', action: 'iam:CreateAccessKey', budgetMs: 140000 },
    ],
  }),
  IAM_PASSWORD_POLICY: spec<IamCall & { advice?: { kind: 'password-settings' } }>({
    status: 502,
    retryable: false,
    group: 'iam',
    seen: ['rotation'],
    when: "AWS refused a password that does not satisfy the account's password policy",
    message: (p) => {
      const base = `${p.action}${on(p)} refused the password: it does not satisfy the account's password policy${aws(p)}`;
      return p.advice
        ? `AWS refused the generated password: ${base}. Check the secret's password settings (length, excluded characters) against the account's password policy.`
        : base;
    },
    examples: [
      { action: 'iam:UpdateLoginProfile', resource: 'user/alice', awsMessage: 'Password should have at least one symbol' },
      { action: 'iam:UpdateLoginProfile', resource: 'user/alice', advice: { kind: 'password-settings' } },
    ],
  }),
  IAM_UNEXPECTED: spec<
    | { kind: 'aws'; action: string; resource?: string; awsCode: string; httpStatus?: number; awsMessage?: string }
    | { kind: 'busy'; action: string; resource?: string; awsCode: string; awsMessage?: string }
    | { kind: 'local'; action: string; resource?: string; errorName: string; awsMessage?: string }
    | { kind: 'incompatible'; action: string; missingField: string }
  >({
    status: 502,
    retryable: false,
    group: 'iam',
    seen: ['rotation', 'heartbeat'],
    when: "any other answer from AWS (its code is named), a failure before AWS answered, or an endpoint that is not a compatible IAM/STS; a busy entity (EntityTemporarilyUnmodifiable, ConcurrentModification) is retried",
    message: (p) => {
      switch (p.kind) {
        case 'aws':
          return `${p.action}${on(p)} failed with AWS error ${p.awsCode}${httpStatus(p.httpStatus)}${aws(p)}`;
        case 'busy':
          return `${p.action}${on(p)} failed with AWS error ${p.awsCode}${aws(p)}; the entity is being changed by another request: try again shortly`;
        case 'local':
          return `${p.action}${on(p)} failed before AWS answered (${p.errorName})${aws(p)}`;
        case 'incompatible':
          return `${p.action} answered without ${p.missingField}; the endpoint may not be a compatible IAM/STS implementation`;
      }
    },
    examples: [
      { kind: 'aws', action: 'iam:CreateAccessKey', resource: 'user/x', awsCode: 'InvalidInput', httpStatus: 400, awsMessage: 'bad user name' },
      { kind: 'busy', action: 'iam:DeleteAccessKey', awsCode: 'EntityTemporarilyUnmodifiable' },
      { kind: 'local', action: 'iam:CreateAccessKey', errorName: 'RangeError', awsMessage: 'boom' },
      { kind: 'incompatible', action: 'iam:CreateAccessKey', missingField: 'AccessKey.SecretAccessKey' },
    ],
  }),

  // ── Keys and encryption (libs/crypto; never retried: it stays so on every attempt) ─
  UNKNOWN_KEK: spec<{ kekId: string; configured: readonly string[]; secretId?: string; version?: number }>({
    status: 500,
    retryable: false,
    group: 'crypto',
    seen: ['api', 'rotation', 'heartbeat'],
    when: 'a stored value is wrapped by a KEK that is not configured (KEYTURN_MASTER_KEY, KEYTURN_PREVIOUS_MASTER_KEYS)',
    message: (p) =>
      `${p.secretId !== undefined ? `cannot decrypt ${version({ secretId: p.secretId, version: p.version ?? 0 })}: ` : ''}` +
      `KEK '${p.kekId}' is not configured (configured: ${p.configured.join(', ')}); ${KEY_SETTINGS}`,
    examples: [{ kekId: 'k1', configured: ['k2'], secretId: 'S1', version: 3 }, { kekId: 'k1', configured: ['k2'] }],
  }),
  DECRYPT_FAILED: spec<{ secretId: string; version: number; kekId: string } | { secretId: string; version: number; field: string }>({
    status: 500,
    retryable: false,
    group: 'crypto',
    seen: ['api', 'rotation', 'heartbeat'],
    when: 'a data key or field fails authentication: the configured key under that id is the wrong one, or the row was tampered with or moved',
    message: (p) =>
      'field' in p
        ? `cannot decrypt field '${p.field}' of ${version(p)}: ${AUTH_FAILED}`
        : `cannot unwrap the data key of ${version(p)} with KEK '${p.kekId}': ${AUTH_FAILED}`,
    examples: [
      { secretId: 'S1', version: 3, kekId: 'k1' },
      { secretId: 'S1', version: 3, field: 'secretAccessKey' },
    ],
  }),
  MALFORMED_CIPHERTEXT: spec<
    | { kind: 'missing-field'; secretId: string; version: number; field: string }
    | { kind: 'no-data-key' | 'no-fields'; secretId: string; version: number }
    | { kind: 'wrapped-key-shape'; secretId: string; version: number; bytes: number }
    | { kind: 'field-shape'; secretId: string; version: number; field: string; ivBytes: number; tagBytes: number }
  >({
    status: 500,
    retryable: false,
    group: 'crypto',
    seen: ['api', 'rotation', 'heartbeat'],
    when: 'a stored value is damaged: a field, the wrapped data key or its parts are missing or of the wrong shape',
    message: (p) => {
      switch (p.kind) {
        case 'missing-field':
          return `${version(p)} has no field '${p.field}'`;
        case 'no-data-key':
          return `${version(p)}: sealed value has no kekId or wrappedKey`;
        case 'no-fields':
          return `${version(p)}: sealed value has no fields object`;
        case 'wrapped-key-shape':
          return `${version(p)}: wrapped data key is not base64 of ${p.bytes} bytes (iv|ciphertext|tag)`;
        case 'field-shape':
          return `cannot decrypt field '${p.field}' of ${version(p)}: expected base64 iv (${p.ivBytes} bytes), ct and tag (${p.tagBytes} bytes)`;
      }
    },
    examples: [
      { kind: 'missing-field', secretId: 'S1', version: 3, field: 'password' },
      { kind: 'no-data-key', secretId: 'S1', version: 3 },
      { kind: 'no-fields', secretId: 'S1', version: 3 },
      { kind: 'wrapped-key-shape', secretId: 'S1', version: 3, bytes: 60 },
      { kind: 'field-shape', secretId: 'S1', version: 3, field: 'password', ivBytes: 12, tagBytes: 16 },
    ],
  }),
  INVALID_MASTER_KEY: spec<
    | { source: string; kind: 'empty' | 'not-base64' | 'bad-id' }
    | { source: string; kind: 'bad-id-in-value'; idLength: number }
    | { source: string; kind: 'wrong-length'; bytes: number }
    | { source: string; kind: 'kek-wrong-length' | 'duplicate-id'; kekId: string }
  >({
    status: 500,
    retryable: false,
    group: 'crypto',
    seen: ['startup'],
    when: 'a configured master key is empty, not base64, not 32 bytes, has a bad id, or shares its id with another key',
    message: (p) => {
      const problem = (() => {
        switch (p.kind) {
          case 'empty':
            return 'is empty; expected "<id>:<base64 of 32 bytes>" (generate one with generateMasterKey())';
          case 'not-base64':
            return 'the key is not valid base64; expected "<id>:<base64 of 32 bytes>"';
          case 'bad-id':
            return `the key id must be ${KEK_ID_RULE}`;
          case 'bad-id-in-value':
            return `the key id (before ":") must be ${KEK_ID_RULE} (got ${p.idLength} characters)`;
          case 'wrong-length':
            return `the key must decode to exactly ${KEK_BYTES} bytes, got ${p.bytes}`;
          case 'kek-wrong-length':
            return `key '${p.kekId}' must be exactly ${KEK_BYTES} bytes`;
          case 'duplicate-id':
            return `KEK id '${p.kekId}' is used by two different keys; every KEK needs its own id`;
        }
      })();
      return `${p.source}: ${problem}`;
    },
    examples: [
      { source: 'KEYTURN_MASTER_KEY', kind: 'wrong-length', bytes: 16 },
      { source: 'KEYTURN_MASTER_KEY', kind: 'empty' },
      { source: 'KEYTURN_MASTER_KEY', kind: 'not-base64' },
      { source: 'master key', kind: 'bad-id' },
      { source: 'KEYTURN_MASTER_KEY', kind: 'bad-id-in-value', idLength: 33 },
      { source: 'active master key', kind: 'kek-wrong-length', kekId: 'k1' },
      { source: 'previous master key #1', kind: 'duplicate-id', kekId: 'k1' },
    ],
  }),

  // ── Server ──────────────────────────────────────────────────────────────────
  INTERNAL_ERROR: spec<FrameworkDetail | { kind: 'api'; requestId: string } | { kind: 'worker'; errorName: string }>({
    status: 500,
    // Stands for errors Keyturn does not know (a database hiccup, say): another attempt may well succeed.
    retryable: true,
    fallback: true,
    group: 'server',
    seen: ['api', 'rotation'],
    when: "a fault of Keyturn's; the message names the request id to look up in the log (a failed change: see the worker log)",
    message: (p) =>
      p.kind === 'framework'
      ? p.detail
      : (p.kind === 'api'
        ? `internal error; the server log has the details under request id ${p.requestId}`
        : `unexpected error (${p.errorName}); see the worker log`),
    examples: [{ kind: 'api', requestId: 'req-1a' }, { kind: 'worker', errorName: 'QueryFailedError' }],
  }),
  SHUTTING_DOWN: spec({
    status: 503,
    retryable: false,
    group: 'server',
    seen: ['api'],
    when: 'the API process is draining after SIGTERM; send the request again',
    message: () =>
      'this API process is shutting down; send the request again (another instance, or this one after its restart, will answer)',
  }),
  QUEUES_UNAVAILABLE: spec({
    status: 503,
    retryable: false,
    group: 'server',
    seen: ['api'],
    when: 'GET /v1/queues while Redis does not answer (the job counts live in Redis)',
    message: () => 'Redis does not answer, so the queues cannot be counted (/health/ready shows it); try again once Redis is back',
  }),
  MASTER_KEY_MISMATCH: spec<{ missing: readonly string[]; wrong: readonly string[]; configured: readonly string[] }>({
    status: 500,
    retryable: false,
    group: 'server',
    seen: ['startup'],
    when: 'at start, the configured master keys do not fit the database (a KEK in use is missing, or unwraps none of its data keys); the process exits 78',
    message: (p) => {
      const problems: string[] = [];
      if (p.missing.length) {
        problems.push(`data keys in the database are wrapped by KEK ${quoted(p.missing)}, which ${p.missing.length > 1 ? 'are' : 'is'} not configured`);
      }
      if (p.wrong.length) {
        problems.push(`KEK ${quoted(p.wrong)} is configured but cannot unwrap any data key stored under that id (the key does not match its id)`);
      }
      return (
        `the master key configuration does not fit the database: ${problems.join('; ')}. Configured KEK ids: ${quoted(p.configured)}. ` +
        'Set the master key that sealed these secrets as KEYTURN_MASTER_KEY, or add it to KEYTURN_PREVIOUS_MASTER_KEYS ' +
        '(the id is the part before ":"), then start again. Nothing was started.'
      );
    },
    examples: [{ missing: ['k1'], wrong: [], configured: ['k2'] }, { missing: [], wrong: ['k2'], configured: ['k2'] }],
  }),
} as const;

export type ErrorCode = keyof typeof ERRORS;
/** `ErrorCode.SECRET_NOT_FOUND === 'SECRET_NOT_FOUND'`: how code outside this file names a code. */
export const ErrorCode = Object.freeze(Object.fromEntries(Object.keys(ERRORS).map((k) => [k, k]))) as { readonly [K in ErrorCode]: K };

export type ErrorParams<C extends ErrorCode> = Parameters<(typeof ERRORS)[C]['message']>[0];

/** The codes libs/iam maps every AWS SDK failure to, under their old enum names. */
export const IamErrorCode = {
  AccessDenied: ErrorCode.IAM_ACCESS_DENIED,
  KeyLimit: ErrorCode.IAM_KEY_LIMIT,
  NoSuchEntity: ErrorCode.IAM_NO_SUCH_ENTITY,
  InvalidCredentials: ErrorCode.IAM_INVALID_CREDENTIALS,
  Throttled: ErrorCode.IAM_THROTTLED,
  Unreachable: ErrorCode.IAM_UNREACHABLE,
  PasswordPolicy: ErrorCode.IAM_PASSWORD_POLICY,
  /** Anything AWS answered that has no better code (kept with AWS's own code in the message). */
  Unexpected: ErrorCode.IAM_UNEXPECTED,
} as const;
export type IamErrorCode = (typeof IamErrorCode)[keyof typeof IamErrorCode];

/** The codes of libs/crypto. */
export type CryptoErrorCode = 'UNKNOWN_KEK' | 'DECRYPT_FAILED' | 'INVALID_MASTER_KEY' | 'MALFORMED_CIPHERTEXT';

/**
 * Sub-codes of IAM errors: what exactly AWS refused, decided by the IAM mapper
 * from the action and AWS's code (AWS's text is read there and nowhere else).
 * The public code stays the broader one.
 */
export const IAM_REASONS = {
  'no-such-access-key': {
    codes: [ErrorCode.IAM_NO_SUCH_ENTITY],
    when:
      'the access key a DeleteAccessKey or UpdateAccessKey names does not exist (already deleted: deleting it again is a no-op); ' +
      'also a GetAccessKeyLastUsed of a key IAM cannot find, which AWS answers with AccessDenied naming the key (not the user) instead of NoSuchEntity',
  },
  'no-such-user': {
    codes: [ErrorCode.IAM_NO_SUCH_ENTITY],
    when: 'the IAM user a call names does not exist',
  },
  'no-such-login-profile': {
    codes: [ErrorCode.IAM_NO_SUCH_ENTITY],
    when: 'the IAM user has no console password (login profile)',
  },
  'no-password-policy': {
    codes: [ErrorCode.IAM_NO_SUCH_ENTITY],
    when: "the account has no password policy (AWS's default applies)",
  },
  'wrong-old-password': {
    codes: [ErrorCode.IAM_UNEXPECTED],
    when: 'ChangePassword refused the old password (AWS answers InvalidUserType, or says the old password is incorrect)',
  },
  'entity-busy': {
    codes: [ErrorCode.IAM_UNEXPECTED],
    retryable: true,
    when: 'another request is changing the IAM entity (EntityTemporarilyUnmodifiable, ConcurrentModification); the same call may succeed shortly',
  },
} as const satisfies Record<string, { codes: readonly IamErrorCode[]; when: string; retryable?: boolean }>;

export type IamReason = keyof typeof IAM_REASONS;

/** The message of `code` for `params`: the only way a message is worded. */
export function errorMessage<C extends ErrorCode>(code: C, ...[params]: [ErrorParams<C>] extends [void] ? [] : [ErrorParams<C>]): string {
  return (ERRORS[code].message as (p: unknown) => string)(params);
}

/** The example parameters of `code` (one per wording), for docs and specs. */
export function errorExamples<C extends ErrorCode>(code: C): readonly ErrorParams<C>[] {
  return ((ERRORS[code] as { examples?: readonly ErrorParams<C>[] }).examples ?? [undefined as ErrorParams<C>]);
}

const FALLBACKS = new Map<number, ErrorCode>(
  (Object.keys(ERRORS) as ErrorCode[]).filter((c) => (ERRORS[c] as { fallback?: true }).fallback).map((c) => [ERRORS[c].status, c]),
);

/** The code for an error the framework raised with `status` and no code of ours. */
export function fallbackCodeFor(status: number): ErrorCode {
  return FALLBACKS.get(status) ?? (status >= 500 ? ErrorCode.INTERNAL_ERROR : ErrorCode.BAD_REQUEST);
}
