import { connect } from 'node:net';
import type pg from 'pg';
import { checkResponse } from './openapi-check.js';
import {
  client,
  createApiKey,
  createTestEnv,
  fakeKey,
  rawDb,
  startApi,
  type ApiResponse,
  type Client,
  type RunningApi,
  type TestEnv,
} from './harness.js';

const ACCOUNT = '111111111111';
const OTHER_ACCOUNT = '222222222222';
const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

let seq = 0;
const uniqueName = (p = 'secret') => `${p} ${++seq}`;

function keyBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'aws-iam-key', name: uniqueName('key'), folder: '/v', username: 'ci-bot', accountId: ACCOUNT, ...fakeKey(), ...over };
}

function passwordBody(privilegedSecretId: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'aws-iam-console-password',
    name: uniqueName('console'),
    folder: '/v',
    username: 'ci-bot',
    accountId: ACCOUNT,
    password: 'Tr0ub4dor&3-console-pw',
    privilegedSecretId,
    ...over,
  };
}

/**
 * Every table a rejected request must leave alone. audit_events is left out on
 * purpose (failed attempts are recorded), and api_keys.last_used_at because
 * authenticating legitimately touches it.
 */
async function snapshot(db: pg.Client): Promise<string> {
  const secrets = await db.query('SELECT * FROM secrets ORDER BY id');
  const versions = await db.query('SELECT * FROM secret_versions ORDER BY id');
  const settings = await db.query('SELECT * FROM settings ORDER BY key');
  const keys = await db.query('SELECT * FROM api_keys ORDER BY id');
  const apiKeys = keys.rows.map(({ last_used_at: _ignored, ...rest }) => rest);
  return JSON.stringify({ secrets: secrets.rows, versions: versions.rows, settings: settings.rows, apiKeys });
}

/** Secret-looking strings in a request, which no error answer may repeat. */
function secretValuesIn(input: unknown): string[] {
  const found: string[] = [];
  const walk = (v: unknown, key?: string) => {
    if (typeof v === 'string' && key && /^(accessKeyId|secretAccessKey|password)$/.test(key) && v.length >= 4) found.push(v);
    else if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, k);
  };
  walk(input);
  return found;
}

/**
 * Sends bytes exactly as given (fetch cannot send broken HTTP) and reads the
 * answer until the server closes the connection.
 */
function rawHttp(baseUrl: string, request: string): Promise<ApiResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...headerLines] = head.split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]);
      if (!status) return reject(new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const headers = new Headers();
      for (const line of headerLines) headers.append(line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim());
      const bodyText = rest.join('\r\n\r\n');
      let body: unknown = bodyText;
      try {
        body = JSON.parse(bodyText);
      } catch {
        /* not JSON: the assertions on the shape report it */
      }
      // Checked against the OpenAPI document like every answer (test/e2e/openapi-check.ts).
      const [method, target] = request.split(' ');
      checkResponse({ method, url: target, status, contentType: headers.get('content-type'), body: bodyText ? body : undefined }).then(
        () => resolve({ status, headers, body }),
        reject,
      );
    });
    socket.end(request);
  });
}

/** {"x": {"x": … {"x": 1} … }} nested `levels` deep. */
const deepObject = (levels: number) => '{"x":'.repeat(levels) + '1' + '}'.repeat(levels);

interface BadInputCase {
  name: string;
  send: (c: Client) => Promise<ApiResponse>;
  status: number;
  code: string;
  /** The message must say what is wrong (usually by naming the field). */
  message: RegExp;
  /** Strings that must not appear anywhere in the answer. */
  secrets?: () => string[];
}

describe('secrets API: bad input is a 4xx that changes nothing', () => {
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  let db: pg.Client;
  // Fixtures: two key secrets in one account (B uses A), a console password using A,
  // and a key secret in another account.
  let keyA: string;
  let keyB: string;
  let console1: string;
  let foreignKey: string;
  let takenName: string;
  let viewerToken: string;

  beforeAll(async () => {
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    db = await rawDb(t);
    const a = await admin.post('/v1/secrets', keyBody());
    expect(a.status).toBe(201);
    keyA = a.body.id;
    takenName = a.body.name;
    const b = await admin.post('/v1/secrets', keyBody({ privilegedSecretId: keyA }));
    expect(b.status).toBe(201);
    keyB = b.body.id;
    const p = await admin.post('/v1/secrets', passwordBody(keyA));
    expect(p.status).toBe(201);
    console1 = p.body.id;
    const f = await admin.post('/v1/secrets', keyBody({ accountId: OTHER_ACCOUNT }));
    expect(f.status).toBe(201);
    foreignKey = f.body.id;
    viewerToken = (await createApiKey(admin, 'viewer', { name: 'validation viewer' })).token;
    // Global settings exist as a row, so a bad PUT has something to leave alone.
    expect((await admin.put('/v1/settings', { passwordLength: 30 })).status).toBe(200);
  });
  afterAll(async () => {
    await db?.end();
    await api?.close();
    await t?.drop();
  });

  const post = (body: Record<string, unknown>) => (c: Client) => c.post('/v1/secrets', body);
  const raw = (method: string, path: string, body: string, headers: Record<string, string> = {}) => (c: Client) =>
    c.call(method, path, { raw: body, headers });

  const emojiPassword = 'Sunny-day-\u{1F600}-pw';
  const ctrlPassword = 'Control-\u0001-pw-123';
  const longPassword = 'P'.repeat(129);
  const shortSecretKey = fakeKey().secretAccessKey.slice(0, 39);
  const longSecretKey = fakeKey().secretAccessKey + 'A';
  const badAccessKey = 'ASIA' + fakeKey().accessKeyId.slice(4);
  const strayKey = fakeKey();

  const cases: BadInputCase[] = [
    // The body itself
    { name: 'malformed JSON', send: raw('POST', '/v1/secrets', '{"type": "aws-iam-key", "name": '), status: 400, code: 'MALFORMED_JSON', message: /JSON/ },
    { name: 'JSON array body', send: raw('POST', '/v1/secrets', JSON.stringify([keyBody()])), status: 400, code: 'VALIDATION_FAILED', message: /body must be a JSON object/ },
    { name: 'JSON string body', send: raw('POST', '/v1/secrets', JSON.stringify('aws-iam-key')), status: 400, code: 'VALIDATION_FAILED', message: /body must be a JSON object/ },
    { name: 'JSON number body', send: raw('POST', '/v1/secrets', '42'), status: 400, code: 'VALIDATION_FAILED', message: /body must be a JSON object/ },
    { name: 'JSON null body', send: raw('POST', '/v1/secrets', 'null'), status: 400, code: 'VALIDATION_FAILED', message: /body must be a JSON object/ },
    {
      name: 'wrong content-type (XML)',
      send: raw('POST', '/v1/secrets', '<secret/>', { 'content-type': 'application/xml' }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: /application\/json/,
    },
    {
      name: 'wrong content-type (text/plain holding JSON)',
      send: raw('POST', '/v1/secrets', JSON.stringify(keyBody()), { 'content-type': 'text/plain' }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: /application\/json/,
    },
    { name: 'empty body with a JSON content-type', send: raw('POST', '/v1/secrets', ''), status: 400, code: 'MALFORMED_JSON', message: /empty/ },
    { name: 'no body at all', send: (c) => c.call('POST', '/v1/secrets'), status: 400, code: 'VALIDATION_FAILED', message: /body must be a JSON object/ },
    { name: 'empty object', send: post({}), status: 400, code: 'VALIDATION_FAILED', message: /type must be one of/ },
    {
      name: 'body over 64 KiB',
      send: post(keyBody({ name: 'x'.repeat(70 * 1024) })),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      message: /too large/,
    },
    // Fields
    { name: 'unknown top-level field', send: post(keyBody({ color: 'blue' })), status: 400, code: 'UNKNOWN_FIELD', message: /color is not a known field/ },
    {
      name: 'unknown nested settings field',
      send: post(keyBody({ settings: { rotateOnFullMoon: true } })),
      status: 400,
      code: 'UNKNOWN_FIELD',
      message: /settings\.rotateOnFullMoon is not a known field/,
    },
    { name: 'settings not an object', send: post(keyBody({ settings: 'often' })), status: 400, code: 'VALIDATION_FAILED', message: /settings/ },
    { name: 'missing type', send: post(keyBody({ type: undefined })), status: 400, code: 'VALIDATION_FAILED', message: /type must be one of aws-iam-key, aws-iam-console-password/ },
    { name: 'unknown type', send: post(keyBody({ type: 'gcp-service-account' })), status: 400, code: 'VALIDATION_FAILED', message: /type must be one of/ },
    { name: 'type of the wrong JSON type', send: post(keyBody({ type: 7 })), status: 400, code: 'VALIDATION_FAILED', message: /type must be one of/ },
    { name: 'missing username', send: post(keyBody({ username: undefined })), status: 400, code: 'VALIDATION_FAILED', message: /username/ },
    { name: 'IAM user name too long (65)', send: post(keyBody({ username: 'u'.repeat(65) })), status: 400, code: 'VALIDATION_FAILED', message: /username must be 1-64/ },
    { name: 'IAM user name with bad characters', send: post(keyBody({ username: 'ci bot/../x' })), status: 400, code: 'VALIDATION_FAILED', message: /username must be 1-64 of letters/ },
    { name: 'account id of 11 digits', send: post(keyBody({ accountId: '12345678901' })), status: 400, code: 'VALIDATION_FAILED', message: /accountId must be 12 digits/ },
    { name: 'account id of 13 digits', send: post(keyBody({ accountId: '1234567890123' })), status: 400, code: 'VALIDATION_FAILED', message: /accountId must be 12 digits/ },
    { name: 'account id with non-digits', send: post(keyBody({ accountId: '12345678901a' })), status: 400, code: 'VALIDATION_FAILED', message: /accountId must be 12 digits/ },
    { name: 'account id as a number', send: post(keyBody({ accountId: 123456789012 })), status: 400, code: 'VALIDATION_FAILED', message: /accountId/ },
    {
      name: 'access key id of the wrong shape (temporary ASIA key)',
      send: post(keyBody({ accessKeyId: badAccessKey })),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /accessKeyId must be AKIA/,
      secrets: () => [badAccessKey],
    },
    {
      name: 'access key id in lower case',
      send: post(keyBody({ accessKeyId: 'akia' + 'a'.repeat(16) })),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /accessKeyId must be AKIA/,
      secrets: () => ['akia' + 'a'.repeat(16)],
    },
    {
      name: 'secret access key of 39 characters',
      send: post(keyBody({ secretAccessKey: shortSecretKey })),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /secretAccessKey must be 40 characters/,
      secrets: () => [shortSecretKey],
    },
    {
      name: 'secret access key of 41 characters',
      send: post(keyBody({ secretAccessKey: longSecretKey })),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /secretAccessKey must be 40 characters/,
      secrets: () => [longSecretKey],
    },
    { name: 'key secret without its secret access key', send: post(keyBody({ secretAccessKey: undefined })), status: 400, code: 'VALIDATION_FAILED', message: /secretAccessKey/ },
    // Needs the fixtures, so the bodies are built when the case runs.
    {
      name: 'password of 129 characters',
      send: (c) => c.post('/v1/secrets', passwordBody(keyA, { password: longPassword })),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /password must be 1-128 characters/,
      secrets: () => [longPassword],
    },
    {
      name: 'password with an emoji',
      send: (c) => c.post('/v1/secrets', passwordBody(keyA, { password: emojiPassword })),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /password must be 1-128 characters from U\+0020 to U\+00FF/,
      secrets: () => [emojiPassword],
    },
    {
      name: 'password with a control character',
      send: (c) => c.post('/v1/secrets', passwordBody(keyA, { password: ctrlPassword })),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /password must be 1-128 characters from U\+0020 to U\+00FF/,
      secrets: () => [ctrlPassword],
    },
    { name: 'empty password', send: (c) => c.post('/v1/secrets', passwordBody(keyA, { password: '' })), status: 400, code: 'VALIDATION_FAILED', message: /password/ },
    {
      name: 'password field on a key secret',
      send: post(keyBody({ password: 'Should-Not-Be-Here-1' })),
      status: 400,
      code: 'FIELD_NOT_ALLOWED',
      message: /password is not a field of an? aws-iam-key secret/,
      secrets: () => ['Should-Not-Be-Here-1'],
    },
    {
      name: 'key fields on a password secret',
      send: (c) => c.post('/v1/secrets', passwordBody(keyA, strayKey)),
      status: 400,
      code: 'FIELD_NOT_ALLOWED',
      message: /(accessKeyId|secretAccessKey) is not a field of an? aws-iam-console-password secret/,
      secrets: () => [strayKey.accessKeyId, strayKey.secretAccessKey, 'Tr0ub4dor&3-console-pw'],
    },
    { name: 'empty name', send: post(keyBody({ name: '' })), status: 400, code: 'VALIDATION_FAILED', message: /name must be 1-128 printable characters/ },
    { name: 'name of 129 characters', send: post(keyBody({ name: 'n'.repeat(129) })), status: 400, code: 'VALIDATION_FAILED', message: /name must be 1-128 printable characters/ },
    { name: 'name with a control character', send: post(keyBody({ name: 'deploy\nkey' })), status: 400, code: 'VALIDATION_FAILED', message: /name must be 1-128 printable characters/ },
    { name: 'folder without a leading slash', send: post(keyBody({ folder: 'team/prod' })), status: 400, code: 'VALIDATION_FAILED', message: /folder must look like \/team\/prod/ },
    { name: 'folder with a ".." segment', send: post(keyBody({ folder: '/v/../admin' })), status: 400, code: 'VALIDATION_FAILED', message: /folder segments cannot be "\." or "\.\."/ },
    { name: 'folder that is only ".."', send: post(keyBody({ folder: '/..' })), status: 400, code: 'VALIDATION_FAILED', message: /folder segments cannot be/ },
    { name: 'folder with a "." segment', send: post(keyBody({ folder: '/v/./x' })), status: 400, code: 'VALIDATION_FAILED', message: /folder segments cannot be/ },
    { name: 'folder with an empty segment', send: post(keyBody({ folder: '/v//x' })), status: 400, code: 'VALIDATION_FAILED', message: /folder must look like/ },
    { name: 'folder with a trailing slash', send: post(keyBody({ folder: '/v/' })), status: 400, code: 'VALIDATION_FAILED', message: /folder must look like/ },
    { name: 'folder too long (513)', send: post(keyBody({ folder: '/' + Array.from({ length: 9 }, () => 'f'.repeat(60)).join('/') })), status: 400, code: 'VALIDATION_FAILED', message: /folder/ },
    { name: 'privilegedSecretId not a UUID', send: post(keyBody({ privilegedSecretId: 'key-a' })), status: 400, code: 'VALIDATION_FAILED', message: /privilegedSecretId must be a UUID/ },
    {
      name: 'privilegedSecretId unknown',
      send: post(keyBody({ privilegedSecretId: '01890000-0000-7000-8000-000000000000' })),
      status: 422,
      code: 'PRIVILEGED_SECRET_NOT_FOUND',
      message: /privileged secret 01890000-0000-7000-8000-000000000000 does not exist/,
    },
    {
      name: 'privileged secret is a console password',
      send: (c) => c.post('/v1/secrets', keyBody({ privilegedSecretId: console1 })),
      status: 422,
      code: 'PRIVILEGED_SECRET_WRONG_TYPE',
      message: /must be an aws-iam-key secret/,
    },
    {
      name: 'privileged secret in another AWS account',
      send: (c) => c.post('/v1/secrets', keyBody({ privilegedSecretId: foreignKey })),
      status: 422,
      code: 'PRIVILEGED_SECRET_OTHER_ACCOUNT',
      message: /belongs to AWS account 222222222222/,
    },
    { name: 'duplicate name in a folder', send: (c) => c.post('/v1/secrets', keyBody({ name: takenName })), status: 409, code: 'SECRET_NAME_TAKEN', message: /already exists in folder \/v/ },
    {
      name: 'settings.passwordLength 7',
      send: post(keyBody({ settings: { passwordLength: 7 } })),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /settings\.passwordLength must not be less than 8/,
    },
    {
      name: 'settings.autoChangeIntervalDays 0',
      send: post(keyBody({ settings: { autoChangeIntervalDays: 0 } })),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /settings\.autoChangeIntervalDays must not be less than 1/,
    },
    {
      name: 'settings.shouldDeletePreviousKey not a boolean',
      send: post(keyBody({ settings: { shouldDeletePreviousKey: 'yes' } })),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /settings\.shouldDeletePreviousKey must be a boolean/,
    },
    // By id
    { name: 'GET with a malformed UUID', send: (c) => c.get('/v1/secrets/not-a-uuid'), status: 400, code: 'INVALID_ID', message: /must be a UUID/ },
    { name: 'GET value with a malformed UUID', send: (c) => c.get('/v1/secrets/1234/value'), status: 400, code: 'INVALID_ID', message: /must be a UUID/ },
    { name: 'PATCH with a malformed UUID', send: (c) => c.patch('/v1/secrets/zzz', { name: 'x' }), status: 400, code: 'INVALID_ID', message: /must be a UUID/ },
    { name: 'DELETE with a malformed UUID', send: (c) => c.del("/v1/secrets/1'%20OR%20'1'='1"), status: 400, code: 'INVALID_ID', message: /must be a UUID/ },
    { name: 'DELETE api key with a malformed UUID', send: (c) => c.del('/v1/api-keys/abc'), status: 400, code: 'INVALID_ID', message: /must be a UUID/ },
    { name: 'GET an unknown secret', send: (c) => c.get('/v1/secrets/01890000-0000-7000-8000-0000000000aa'), status: 404, code: 'SECRET_NOT_FOUND', message: /does not exist/ },
    { name: 'DELETE with force=maybe', send: (c) => c.del(`/v1/secrets/${keyB}?force=maybe`), status: 400, code: 'VALIDATION_FAILED', message: /force/ },
    // PATCH
    { name: 'PATCH with an unknown field', send: (c) => c.patch(`/v1/secrets/${keyB}`, { owner: 'me' }), status: 400, code: 'UNKNOWN_FIELD', message: /owner is not a known field/ },
    {
      name: 'PATCH trying to set a secret field',
      send: (c) => c.patch(`/v1/secrets/${console1}`, { password: 'Patched-In-Pw-99' }),
      status: 400,
      code: 'UNKNOWN_FIELD',
      message: /password is not a known field/,
      secrets: () => ['Patched-In-Pw-99'],
    },
    { name: 'PATCH trying to change the type', send: (c) => c.patch(`/v1/secrets/${keyB}`, { type: 'aws-iam-console-password' }), status: 400, code: 'UNKNOWN_FIELD', message: /type is not a known field/ },
    { name: 'PATCH moving into a ".." folder', send: (c) => c.patch(`/v1/secrets/${keyB}`, { folder: '/v/..' }), status: 400, code: 'VALIDATION_FAILED', message: /folder segments cannot be/ },
    { name: 'PATCH with a bad folder', send: (c) => c.patch(`/v1/secrets/${keyB}`, { folder: 'nope' }), status: 400, code: 'VALIDATION_FAILED', message: /folder must look like/ },
    { name: 'PATCH settings out of range', send: (c) => c.patch(`/v1/secrets/${keyB}`, { settings: { passwordLength: 129 } }), status: 400, code: 'VALIDATION_FAILED', message: /settings\.passwordLength must not be greater than 128/ },
    { name: 'PATCH self-association', send: (c) => c.patch(`/v1/secrets/${keyA}`, { privilegedSecretId: keyA }), status: 422, code: 'ASSOCIATION_CYCLE', message: /its own privileged account/ },
    { name: 'PATCH making a cycle A→B→A', send: (c) => c.patch(`/v1/secrets/${keyA}`, { privilegedSecretId: keyB }), status: 422, code: 'ASSOCIATION_CYCLE', message: /cycle/ },
    { name: 'PATCH to a privileged secret of the wrong type', send: (c) => c.patch(`/v1/secrets/${keyB}`, { privilegedSecretId: console1 }), status: 422, code: 'PRIVILEGED_SECRET_WRONG_TYPE', message: /aws-iam-key/ },
    { name: 'PATCH to a privileged secret in another account', send: (c) => c.patch(`/v1/secrets/${keyB}`, { privilegedSecretId: foreignKey }), status: 422, code: 'PRIVILEGED_SECRET_OTHER_ACCOUNT', message: /account/ },
    { name: 'PATCH renaming onto a taken name', send: (c) => c.patch(`/v1/secrets/${keyB}`, { name: takenName }), status: 409, code: 'SECRET_NAME_TAKEN', message: /already exists/ },
    // Lists
    { name: 'list limit 0', send: (c) => c.get('/v1/secrets?limit=0'), status: 400, code: 'VALIDATION_FAILED', message: /limit must not be less than 1/ },
    { name: 'list limit 501', send: (c) => c.get('/v1/secrets?limit=501'), status: 400, code: 'VALIDATION_FAILED', message: /limit must not be greater than 500/ },
    { name: "list limit 'abc'", send: (c) => c.get('/v1/secrets?limit=abc'), status: 400, code: 'VALIDATION_FAILED', message: /limit must be a whole number/ },
    { name: 'list limit 2.5', send: (c) => c.get('/v1/secrets?limit=2.5'), status: 400, code: 'VALIDATION_FAILED', message: /limit must be a whole number/ },
    { name: 'list with a bad cursor', send: (c) => c.get('/v1/secrets?cursor=not-a-cursor'), status: 400, code: 'INVALID_CURSOR', message: /cursor/ },
    { name: 'list with an unknown type filter', send: (c) => c.get('/v1/secrets?type=gcp'), status: 400, code: 'VALIDATION_FAILED', message: /type must be one of/ },
    { name: 'list with an unknown heartbeatStatus', send: (c) => c.get('/v1/secrets?heartbeatStatus=great'), status: 400, code: 'VALIDATION_FAILED', message: /heartbeatStatus must be one of/ },
    { name: 'list with a bad folder filter', send: (c) => c.get('/v1/secrets?folder=v'), status: 400, code: 'VALIDATION_FAILED', message: /folder must look like/ },
    { name: 'list with a ".." folder filter', send: (c) => c.get('/v1/secrets?folder=%2Fv%2F..'), status: 400, code: 'VALIDATION_FAILED', message: /folder segments cannot be/ },
    { name: 'list with an unknown query parameter', send: (c) => c.get('/v1/secrets?owner=me'), status: 400, code: 'UNKNOWN_FIELD', message: /owner is not a known field/ },
    { name: 'audit with a bad limit', send: (c) => c.get('/v1/audit?limit=0'), status: 400, code: 'VALIDATION_FAILED', message: /limit must not be less than 1/ },
    { name: 'audit with a bad cursor', send: (c) => c.get('/v1/audit?cursor=%%%'), status: 400, code: 'INVALID_CURSOR', message: /cursor/ },
    { name: 'audit with a bad from', send: (c) => c.get('/v1/audit?from=yesterday'), status: 400, code: 'VALIDATION_FAILED', message: /from must be an ISO 8601 time/ },
    { name: 'audit with a bad secretId', send: (c) => c.get('/v1/audit?secretId=12'), status: 400, code: 'VALIDATION_FAILED', message: /secretId must be a UUID/ },
    // Settings and API keys
    { name: 'PUT settings passwordLength 7', send: (c) => c.put('/v1/settings', { passwordLength: 7 }), status: 400, code: 'VALIDATION_FAILED', message: /passwordLength must not be less than 8/ },
    { name: 'PUT settings autoChangeIntervalDays 0', send: (c) => c.put('/v1/settings', { autoChangeIntervalDays: 0 }), status: 400, code: 'VALIDATION_FAILED', message: /autoChangeIntervalDays must not be less than 1/ },
    { name: 'PUT settings with an unknown field', send: (c) => c.put('/v1/settings', { rotateEverything: true }), status: 400, code: 'UNKNOWN_FIELD', message: /rotateEverything is not a known field/ },
    { name: 'PUT settings with a wrong JSON type', send: (c) => c.put('/v1/settings', { shouldDeletePreviousKey: 'true' }), status: 400, code: 'VALIDATION_FAILED', message: /shouldDeletePreviousKey must be a boolean/ },
    { name: 'PUT settings with a JSON array', send: raw('PUT', '/v1/settings', '[]'), status: 400, code: 'VALIDATION_FAILED', message: /body must be a JSON object/ },
    { name: 'create API key with an unknown role', send: (c) => c.post('/v1/api-keys', { name: 'x', role: 'root' }), status: 400, code: 'VALIDATION_FAILED', message: /role must be one of admin, operator, reader, viewer, auditor/ },
    { name: 'create API key with a bad folder scope', send: (c) => c.post('/v1/api-keys', { name: 'x', role: 'viewer', folderScopes: ['team'] }), status: 400, code: 'VALIDATION_FAILED', message: /folder scope/ },
    { name: 'create API key with a ".." folder scope', send: (c) => c.post('/v1/api-keys', { name: 'x', role: 'viewer', folderScopes: ['/team/..'] }), status: 400, code: 'VALIDATION_FAILED', message: /folder scope segments cannot be/ },
    { name: 'create API key with an unknown field', send: (c) => c.post('/v1/api-keys', { name: 'x', role: 'viewer', token: 'kt_mine' }), status: 400, code: 'UNKNOWN_FIELD', message: /token is not a known field/ },
    { name: 'unknown route', send: (c) => c.get('/v1/secretz'), status: 404, code: 'NOT_FOUND', message: /secretz/ },
    { name: 'method a route does not have', send: (c) => c.put('/v1/secrets', {}), status: 404, code: 'NOT_FOUND', message: /PUT/ },
    { name: 'revoke an unknown API key', send: (c) => c.del('/v1/api-keys/01890000-0000-7000-8000-0000000000bb'), status: 404, code: 'API_KEY_NOT_FOUND', message: /does not exist/ },
    // NUL (U+0000) and unpaired surrogates: Postgres cannot store them, so they must be refused up front, wherever they are.
    { name: 'NUL in PATCH settings.passwordExcludeCharacters', send: (c) => c.patch(`/v1/secrets/${keyB}`, { settings: { passwordExcludeCharacters: 'ab\u0000' } }), status: 400, code: 'VALIDATION_FAILED', message: /settings\.passwordExcludeCharacters .*U\+0000/ },
    { name: 'NUL in PUT /v1/settings', send: (c) => c.put('/v1/settings', { passwordExcludeCharacters: '\u0000' }), status: 400, code: 'VALIDATION_FAILED', message: /passwordExcludeCharacters .*U\+0000/ },
    { name: 'NUL in a secret name', send: post(keyBody({ name: 'nul\u0000name' })), status: 400, code: 'VALIDATION_FAILED', message: /name .*U\+0000/ },
    { name: 'NUL in an audit query', send: (c) => c.get('/v1/audit?actorId=%00'), status: 400, code: 'VALIDATION_FAILED', message: /actorId .*U\+0000/ },
    { name: 'NUL in an unknown query parameter', send: (c) => c.get('/v1/secrets?%00=1'), status: 400, code: 'VALIDATION_FAILED', message: /U\+0000/ },
    { name: 'NUL as an API key id', send: (c) => c.del('/v1/api-keys/%00'), status: 400, code: 'VALIDATION_FAILED', message: /id .*U\+0000/ },
    {
      name: 'NUL as a secret id, from a viewer (before, the refused request’s audit write failed)',
      send: () => client(api.url, viewerToken).post('/v1/secrets/%00/rotations'),
      status: 400,
      code: 'VALIDATION_FAILED',
      message: /id .*U\+0000/,
    },
    { name: 'NUL as a JSON key', send: raw('POST', '/v1/secrets', '{"\\u0000": 1}'), status: 400, code: 'VALIDATION_FAILED', message: /field name .*U\+0000/ },
    { name: 'NUL as a nested JSON key', send: raw('PUT', '/v1/settings', '{"passwordLength": 20, "x": {"\\u0000": 1}}'), status: 400, code: 'VALIDATION_FAILED', message: /U\+0000/ },
    { name: 'unpaired surrogate in PUT /v1/settings', send: raw('PUT', '/v1/settings', '{"passwordExcludeCharacters": "\\ud800"}'), status: 400, code: 'VALIDATION_FAILED', message: /passwordExcludeCharacters .*surrogate/ },
    // Depth
    { name: 'body nested 5,000 levels deep', send: raw('POST', '/v1/secrets', deepObject(5000)), status: 400, code: 'VALIDATION_FAILED', message: /nested deeper than/ },
    { name: 'settings nested 5,000 levels deep', send: raw('PUT', '/v1/settings', `{"passwordLength": ${deepObject(5000)}}`), status: 400, code: 'VALIDATION_FAILED', message: /nested deeper than/ },
    { name: 'array nested 5,000 levels deep', send: raw('POST', '/v1/api-keys', `{"name": "x", "role": "viewer", "folderScopes": ${'['.repeat(5000)}${']'.repeat(5000)}}`), status: 400, code: 'VALIDATION_FAILED', message: /nested deeper than/ },
    // Fastify's and Node's own refusals answer in the same shape as every other error.
    {
      name: 'bad framing: Content-Length and Transfer-Encoding together',
      send: () => rawHttp(api.url, 'POST /v1/secrets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'),
      status: 400,
      code: 'BAD_REQUEST',
      message: /HTTP/,
    },
    {
      name: 'bad framing: a chunk size that is not hexadecimal',
      send: () => rawHttp(api.url, 'POST /v1/secrets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'),
      status: 400,
      code: 'BAD_REQUEST',
      message: /HTTP/,
    },
    {
      name: 'header section over 16 KiB',
      send: () => rawHttp(api.url, `GET /v1/secrets HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(20_000)}\r\n\r\n`),
      status: 431,
      code: 'HEADERS_TOO_LARGE',
      message: /headers/,
    },
    {
      name: 'URL over 16 KiB',
      send: () => rawHttp(api.url, `GET /v1/secrets?folder=${'f'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
      status: 414,
      code: 'URI_TOO_LONG',
      message: /URL/,
    },
    { name: 'path parameter over 100 characters', send: (c) => c.get(`/v1/secrets/${'x'.repeat(300)}`), status: 414, code: 'URI_TOO_LONG', message: /URL|path/ },
    { name: 'path with broken percent-encoding', send: (c) => c.get('/v1/secrets/%E0%A4%A'), status: 400, code: 'BAD_REQUEST', message: /URL|path|encod/i },
  ];

  it('covers at least 25 distinct kinds of bad input', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    // Touch the key first so its last-used time is not the change we see.
    await admin.get('/v1/secrets?limit=1');
    const before = await snapshot(db);
    const res = await c.send(admin);
    const after = await snapshot(db);

    expect({ status: res.status, code: res.body?.code }).toEqual({ status: c.status, code: c.code });
    expect(res.body).toEqual(expect.objectContaining({ statusCode: c.status, code: expect.stringMatching(UPPER_SNAKE), message: expect.any(String) }));
    expect(res.body.message).toMatch(c.message);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const text = JSON.stringify(res.body);
    for (const s of c.secrets?.() ?? []) expect(text).not.toContain(s);
    expect(after).toEqual(before);
  });

  it('never echoes submitted key material in a 4xx, whatever else is wrong with the request', async () => {
    const key = fakeKey();
    const bodies = [
      keyBody({ ...key, name: '' }),
      keyBody({ ...key, accountId: 'x' }),
      keyBody({ ...key, color: 'blue' }),
      keyBody({ ...key, password: 'Extra-Password-77' }),
      keyBody({ ...key, privilegedSecretId: console1 }),
      keyBody({ ...key, name: takenName }),
      { ...passwordBody(keyA), password: 'Valid-But-Unwanted-88', settings: { passwordLength: 1 } },
    ];
    for (const body of bodies) {
      const res = await admin.post('/v1/secrets', body);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      const text = JSON.stringify(res.body) + JSON.stringify([...res.headers.entries()]);
      for (const s of secretValuesIn(body)) expect(text).not.toContain(s);
    }
  });
});

describe('secrets API: lists, settings and deletion', () => {
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;

  beforeAll(async () => {
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
  });
  afterAll(async () => {
    await api?.close();
    await t?.drop();
  });

  async function listAll(query: string, limit: number): Promise<{ items: any[]; pages: number }> {
    const items: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const sep = query ? '&' : '';
      const res: ApiResponse = await admin.get(`/v1/secrets?${query}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages++;
      expect(pages).toBeLessThan(100);
    } while (cursor);
    return { items, pages };
  }

  it('pages through every secret exactly once, filters by type, folder and heartbeat status, and never shows secret fields', async () => {
    const secretStrings: string[] = [];
    const ids = new Map<string, { folder: string; type: string }>();
    const folders = ['/a', '/a/b', '/a/b/c', '/ab', '/b', '/'];
    let keyId = '';
    for (let i = 0; i < 20; i++) {
      const key = fakeKey();
      secretStrings.push(key.accessKeyId, key.secretAccessKey);
      const folder = folders[i % folders.length];
      const res = await admin.post('/v1/secrets', keyBody({ ...key, folder }));
      expect(res.status).toBe(201);
      ids.set(res.body.id, { folder, type: 'aws-iam-key' });
      keyId = res.body.id;
    }
    for (let i = 0; i < 6; i++) {
      const password = `Console-Password-${i}-xyzzy`;
      secretStrings.push(password);
      const folder = folders[i % folders.length];
      const res = await admin.post('/v1/secrets', passwordBody(keyId, { password, folder }));
      expect(res.status).toBe(201);
      ids.set(res.body.id, { folder, type: 'aws-iam-console-password' });
    }

    const all = await listAll('', 10);
    expect(all.pages).toBe(3);
    expect(all.items.map((s) => s.id).sort()).toEqual([...ids.keys()].sort());
    expect(new Set(all.items.map((s) => s.id)).size).toBe(26);
    // The last page ends the list.
    const last = await admin.get(`/v1/secrets?limit=26`);
    expect(last.body.nextCursor).toBeNull();
    const exact = await admin.get(`/v1/secrets?limit=25`);
    expect(exact.body.nextCursor).not.toBeNull();

    const text = JSON.stringify(all.items);
    for (const s of secretStrings) expect(text).not.toContain(s);
    for (const item of all.items) {
      expect(item).not.toHaveProperty('accessKeyId');
      expect(item).not.toHaveProperty('secretAccessKey');
      expect(item).not.toHaveProperty('password');
      expect(item).not.toHaveProperty('fields');
      const one = await admin.get(`/v1/secrets/${item.id}`);
      expect(one.status).toBe(200);
      const oneText = JSON.stringify(one.body);
      for (const s of secretStrings) expect(oneText).not.toContain(s);
    }

    const byType = await listAll('type=aws-iam-console-password', 4);
    expect(byType.items).toHaveLength(6);
    expect(byType.items.every((s) => s.type === 'aws-iam-console-password')).toBe(true);

    const expectFolder = async (folder: string, within: (f: string) => boolean) => {
      const got = await listAll(`folder=${encodeURIComponent(folder)}`, 3);
      const want = [...ids].filter(([, v]) => within(v.folder)).map(([id]) => id).sort();
      expect(want.length).toBeGreaterThan(0);
      expect(got.items.map((s) => s.id).sort()).toEqual(want);
    };
    await expectFolder('/a', (f) => f === '/a' || f.startsWith('/a/'));
    await expectFolder('/a/b', (f) => f === '/a/b' || f.startsWith('/a/b/'));
    await expectFolder('/ab', (f) => f === '/ab');
    await expectFolder('/', () => true);

    const unknown = await listAll('heartbeatStatus=unknown', 7);
    expect(unknown.items).toHaveLength(20);
    const notSupported = await listAll('heartbeatStatus=not-supported', 7);
    expect(notSupported.items).toHaveLength(6);
    const failed = await admin.get('/v1/secrets?heartbeatStatus=failed');
    expect(failed.body).toEqual({ items: [], nextCursor: null });

    const combined = await listAll('type=aws-iam-key&folder=%2Fa%2Fb', 2);
    expect(combined.items.map((s) => s.id).sort()).toEqual(
      [...ids].filter(([, v]) => v.type === 'aws-iam-key' && (v.folder === '/a/b' || v.folder.startsWith('/a/b/'))).map(([id]) => id).sort(),
    );
  });

  it('merges PATCHed settings (null removes an override) and shows effective settings; delete implies inactivate', async () => {
    const put = await admin.put('/v1/settings', { shouldInactivatePreviousKey: false, shouldDeletePreviousKey: false, passwordLength: 20 });
    expect(put.status).toBe(200);
    const created = await admin.post('/v1/secrets', keyBody({ settings: { passwordLength: 40, autoChangeIntervalDays: 30 } }));
    expect(created.status).toBe(201);
    const id = created.body.id;

    let res = await admin.patch(`/v1/secrets/${id}`, { settings: { shouldDeletePreviousKey: true } });
    expect(res.status).toBe(200);
    expect(res.body.settings).toEqual({ passwordLength: 40, autoChangeIntervalDays: 30, shouldDeletePreviousKey: true });
    expect(res.body.effectiveSettings).toEqual(
      expect.objectContaining({ passwordLength: 40, autoChangeIntervalDays: 30, shouldDeletePreviousKey: true, shouldInactivatePreviousKey: true }),
    );

    res = await admin.patch(`/v1/secrets/${id}`, { settings: { passwordLength: null, shouldDeletePreviousKey: null } });
    expect(res.status).toBe(200);
    expect(res.body.settings).toEqual({ autoChangeIntervalDays: 30 });
    const got = await admin.get(`/v1/secrets/${id}`);
    expect(got.body.settings).toEqual({ autoChangeIntervalDays: 30 });
    expect(got.body.effectiveSettings).toEqual(
      expect.objectContaining({ passwordLength: 20, autoChangeIntervalDays: 30, shouldDeletePreviousKey: false, shouldInactivatePreviousKey: false }),
    );

    // The global setting alone also implies inactivate.
    await admin.put('/v1/settings', { shouldDeletePreviousKey: true });
    const again = await admin.get(`/v1/secrets/${id}`);
    expect(again.body.effectiveSettings).toEqual(expect.objectContaining({ shouldDeletePreviousKey: true, shouldInactivatePreviousKey: true }));
    // PATCH of other fields leaves settings alone.
    const renamed = await admin.patch(`/v1/secrets/${id}`, { name: uniqueName('renamed') });
    expect(renamed.body.settings).toEqual({ autoChangeIntervalDays: 30 });
  });

  it('PUT /v1/settings is a partial update: fields not sent keep their value', async () => {
    const first = await admin.put('/v1/settings', { passwordLength: 31, autoChangeIntervalDays: 45, passwordRequireSymbols: false });
    expect(first.status).toBe(200);
    expect(first.body).toEqual(expect.objectContaining({ passwordLength: 31, autoChangeIntervalDays: 45, passwordRequireSymbols: false }));

    const second = await admin.put('/v1/settings', { passwordReuseHistory: 7 });
    expect(second.status).toBe(200);
    const kept = { passwordLength: 31, autoChangeIntervalDays: 45, passwordRequireSymbols: false, passwordReuseHistory: 7 };
    expect(second.body).toEqual(expect.objectContaining(kept));
    const got = await admin.get('/v1/settings');
    expect(got.status).toBe(200);
    expect(got.body).toEqual(expect.objectContaining(kept));
    expect(Object.keys(got.body).sort()).toEqual(Object.keys(second.body).sort());
  });

  it('refuses to delete a privileged account in use (409 naming the dependents); force deletes it and detaches them', async () => {
    const key = await admin.post('/v1/secrets', keyBody());
    const dep1 = await admin.post('/v1/secrets', passwordBody(key.body.id));
    const dep2 = await admin.post('/v1/secrets', keyBody({ privilegedSecretId: key.body.id }));
    expect([key.status, dep1.status, dep2.status]).toEqual([201, 201, 201]);

    const refused = await admin.del(`/v1/secrets/${key.body.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('SECRET_HAS_DEPENDENTS');
    expect(refused.body.message).toContain(dep1.body.id);
    expect(refused.body.message).toContain(dep2.body.id);
    expect(refused.body.message).toMatch(/force=true/);
    expect([...refused.body.details.dependents].sort()).toEqual([dep1.body.id, dep2.body.id].sort());
    expect((await admin.get(`/v1/secrets/${key.body.id}`)).status).toBe(200);
    expect((await admin.get(`/v1/secrets/${dep1.body.id}`)).body.privilegedSecretId).toBe(key.body.id);

    const forced = await admin.del(`/v1/secrets/${key.body.id}?force=true`);
    expect(forced.status).toBe(200);
    expect(forced.body).toEqual({ id: key.body.id, deleted: true, detached: expect.arrayContaining([dep1.body.id, dep2.body.id]) });
    expect((await admin.get(`/v1/secrets/${key.body.id}`)).status).toBe(404);
    expect((await admin.get(`/v1/secrets/${dep1.body.id}`)).body.privilegedSecretId).toBeNull();
    expect((await admin.get(`/v1/secrets/${dep2.body.id}`)).body.privilegedSecretId).toBeNull();
    // The detached secrets themselves are intact.
    expect((await admin.get(`/v1/secrets/${dep1.body.id}/value`)).status).toBe(200);

    // A secret nobody depends on is deleted without force.
    const lone = await admin.post('/v1/secrets', keyBody());
    const gone = await admin.del(`/v1/secrets/${lone.body.id}`);
    expect(gone.body).toEqual({ id: lone.body.id, deleted: true, detached: [] });
  });
});
