import { loadConfig } from '@keyturn/config';
import { ERRORS } from '@keyturn/contracts';
import { generateOpenApiDocument } from './openapi.js';

type Schema = { $ref?: string; oneOf?: Schema[] };
type Response = { content?: Record<string, { schema?: Schema }>; headers?: Record<string, unknown> };
type Operation = {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string }[];
  responses: Record<string, Response>;
};

const ERROR_REF = '#/components/schemas/ErrorResponse';
const PUBLIC = new Set(['GET /health/live', 'GET /health/ready', 'GET /metrics']);
/** Operations whose success answer is not JSON, with the media type their schema must be given for. */
const TEXT_OPERATIONS = new Map([['GET /metrics', 'text/plain']]);

describe('the OpenAPI document', () => {
  let doc: Awaited<ReturnType<typeof generateOpenApiDocument>>;
  let operations: [string, Operation][];

  beforeAll(async () => {
    // Preview mode: nothing connects, so these URLs are never dialled.
    doc = await generateOpenApiDocument(loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused', REDIS_URL: 'redis://127.0.0.1:1' }));
    operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item as Record<string, Operation>).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]),
    );
  });

  it('has the operations of every controller', () => {
    expect(operations.length).toBeGreaterThanOrEqual(22);
    expect(operations.map(([name]) => name)).toEqual(expect.arrayContaining(['POST /v1/secrets', 'GET /v1/queues', 'GET /health/ready']));
  });

  it('gives every operation a 2xx answer with a JSON schema (Prometheus text for /metrics)', () => {
    const without = operations
      .filter(([name, op]) => !Object.entries(op.responses).some(([status, r]) => /^2\d\d$/.test(status) && r.content?.[TEXT_OPERATIONS.get(name) ?? 'application/json']?.schema))
      .map(([name]) => name);
    expect(without).toEqual([]);
  });

  it('answers every error with the one ErrorResponse schema', () => {
    const wrong: string[] = [];
    for (const [name, op] of operations) {
      const statuses = Object.keys(op.responses);
      if (!statuses.some((s) => s.startsWith('4')) || !statuses.includes('500')) wrong.push(`${name}: no 4xx or no 500`);
      for (const [status, r] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        const schema = r.content?.['application/json']?.schema;
        const refs = [schema?.$ref, ...(schema?.oneOf ?? []).map((s) => s.$ref)];
        if (!refs.includes(ERROR_REF)) wrong.push(`${name} ${status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('lists every code of the error catalogue in ErrorResponse', () => {
    type Prop = { enum?: string[]; $ref?: string; allOf?: { $ref: string }[] };
    const schemas = doc.components?.schemas as Record<string, { properties: Record<string, Prop>; required: string[]; enum?: string[] }>;
    const schema = schemas.ErrorResponse;
    const code = schema.properties.code;
    // A named enum (ErrorCode) is a schema of its own.
    const ref = code.$ref ?? code.allOf?.[0]?.$ref;
    expect(ref).toBe('#/components/schemas/ErrorCode');
    const codes = schemas[ref!.split('/').pop()!].enum;
    expect([...(codes ?? [])].sort()).toEqual(Object.keys(ERRORS).sort());
    expect(schema.required.sort()).toEqual(['code', 'message', 'statusCode']);
  });

  it('requires the bearer API key everywhere but health and metrics', () => {
    expect(doc.components?.securitySchemes?.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    const wrong = operations
      .filter(([name, op]) => (PUBLIC.has(name) ? (op.security ?? []).length > 0 : !op.security?.some((s) => 'bearer' in s)))
      .map(([name]) => name);
    expect(wrong).toEqual([]);
    const publicErrors = operations.filter(([name]) => PUBLIC.has(name)).flatMap(([name, op]) => (op.responses['401'] ? [name] : []));
    expect(publicErrors).toEqual([]);
  });

  it('documents the headers: Location and Idempotent-Replayed on 202, Idempotency-Key, Retry-After on 429 and 503', () => {
    const missing: string[] = [];
    for (const [name, op] of operations) {
      for (const [status, r] of Object.entries(op.responses)) {
        const expected = status === '202' ? ['Location', 'Idempotent-Replayed'] : status === '429' || status === '503' ? ['Retry-After'] : [];
        for (const h of expected) if (r.headers?.[h] === undefined) missing.push(`${name} ${status} ${h}`);
      }
    }
    expect(missing).toEqual([]);
    const rotate = operations.find(([name]) => name === 'POST /v1/secrets/{id}/rotations')![1];
    expect(rotate.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]));
  });
});
