/**
 * The check every e2e answer goes through (openapi-check.ts) has teeth: it refuses
 * what the document does not promise, and passes what it does.
 */
import { checkResponse, OpenApiMismatch } from './openapi-check.js';

const ID = '01890000-0000-7000-8000-000000000001';
const JSON_TYPE = 'application/json; charset=utf-8';
const error = (statusCode: number, code: string) => ({ statusCode, code, message: 'm' });
const rotation = {
  id: ID,
  secretId: ID,
  secretType: 'aws-iam-key',
  status: 'queued',
  step: 'prepare',
  mode: null,
  executorSecretId: null,
  attempt: 0,
  trigger: 'api',
  requestedBy: ID,
  errorCode: null,
  errorMessage: null,
  warnings: [],
  retirePending: false,
  retireAt: null,
  retiredAt: null,
  scheduledFor: null,
  createdAt: '2026-11-28T12:00:00.000Z',
  startedAt: null,
  finishedAt: null,
};

describe('the OpenAPI response check', () => {
  const check = (method: string, url: string, status: number, body: unknown, contentType: string | null = JSON_TYPE) =>
    checkResponse({ method, url, status, contentType, body });

  it('passes documented answers', async () => {
    await check('POST', `/v1/secrets/${ID}/rotations`, 202, rotation);
    await check('GET', `/v1/rotations/${ID}?x=1`, 404, error(404, 'ROTATION_NOT_FOUND'));
    await check('GET', '/health/ready', 503, { status: 'unavailable', checks: { postgres: 'ok', redis: 'down' } });
    await check('GET', '/health/ready', 503, error(503, 'SHUTTING_DOWN'));
    await check('GET', '/v1/nowhere', 404, error(404, 'NOT_FOUND'));
    await check('GET', '/docs', 200, '<html>', 'text/html');
  });

  it('refuses a status the operation does not document', async () => {
    await expect(check('GET', `/v1/rotations/${ID}`, 409, error(409, 'CONFLICT'))).rejects.toThrow(
      new OpenApiMismatch(`OpenAPI: GET /v1/rotations/${ID} answered 409: GET /v1/rotations/{id} does not document status 409 (it documents 200, 400, 401, 403, 404, 408, 414, 429, 431, 500, 503)\n  body: ${JSON.stringify(error(409, 'CONFLICT'))}`),
    );
  });

  it('refuses a body that does not match, naming the field', async () => {
    await expect(check('POST', `/v1/secrets/${ID}/rotations`, 202, { ...rotation, status: 'sleeping' })).rejects.toThrow(/\/status must be equal to one of the allowed values/);
    await expect(check('POST', `/v1/secrets/${ID}/rotations`, 202, { ...rotation, attempt: undefined })).rejects.toThrow(/must have required property 'attempt'/);
    await expect(check('GET', `/v1/rotations/${ID}`, 404, { error: 'not found' })).rejects.toThrow(/must have required property 'code'/);
    await expect(check('GET', `/v1/rotations/${ID}`, 404, error(404, 'NO_SUCH_CODE'))).rejects.toThrow(/\/code must be equal to one of the allowed values/);
  });

  it('refuses an answer that is not JSON, and a success on a path or method the document does not have', async () => {
    await expect(check('GET', `/v1/rotations/${ID}`, 200, 'ok', 'text/plain')).rejects.toThrow(/content-type text\/plain is not one of application\/json/);
    await expect(check('GET', '/v1/nowhere', 200, {})).rejects.toThrow(/the document has no operation GET \/v1\/nowhere/);
    await expect(check('PUT', '/v1/secrets', 200, {})).rejects.toThrow(/the document has no operation PUT \/v1\/secrets/);
    await expect(check('GET', '/v1/nowhere', 404, { message: 'Not Found' })).rejects.toThrow(/does not match ErrorResponse/);
  });
});
