/**
 * Every answer the e2e suites receive from the API is checked against the
 * OpenAPI document (status, content type, body schema), so the document cannot
 * drift from the code. The harness's client and checkedFetch call `checkResponse`.
 *
 * The document is generated once per test file, in-process and without a
 * database (Nest's preview mode, apps/secrets-api/src/openapi.ts): the same code
 * that serves /docs/openapi.json.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { fromSchema } from '@openapi-contrib/openapi-schema-to-json-schema';
import type { OpenAPIObject } from '@nestjs/swagger';
import { loadConfig } from '@keyturn/config';
import { generateOpenApiDocument } from '../../apps/secrets-api/src/openapi.js';

// ajv-formats is CommonJS: its default export arrives wrapped under Jest's ESM loader.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/** Paths the API serves beside the document: the document itself and its viewer, and Prometheus metrics. */
const OUTSIDE_THE_DOCUMENT = /^\/(docs|metrics)(\/|$|\?)/;
type Method = 'get' | 'put' | 'post' | 'delete' | 'patch' | 'options' | 'head';

interface ResponseObject {
  description?: string;
  content?: Record<string, { schema?: unknown }>;
  headers?: Record<string, unknown>;
}
interface OperationObject {
  responses?: Record<string, ResponseObject>;
}

let documentPromise: Promise<OpenAPIObject> | undefined;

/** The API's OpenAPI document (generated once per test file). */
export function openApiDocument(): Promise<OpenAPIObject> {
  documentPromise ??= generateOpenApiDocument(
    loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused', REDIS_URL: 'redis://127.0.0.1:1', KEYTURN_MASTER_KEY: '' }),
  );
  return documentPromise;
}

interface Compiled {
  doc: OpenAPIObject;
  routes: { re: RegExp; template: string; literal: number; item: Record<string, OperationObject> }[];
  validators: Map<string, ValidateFunction>;
  ajv: Ajv;
  components: Record<string, unknown>;
}

let compiled: Promise<Compiled> | undefined;

/** An OpenAPI 3.0 schema as JSON Schema (nullable → null allowed), without the draft-04 $schema ajv would look up. */
function jsonSchema(s: unknown): Record<string, unknown> {
  const { $schema: _draft, ...rest } = fromSchema(s as object, { strictMode: false }) as Record<string, unknown>;
  return rest;
}

function compile(): Promise<Compiled> {
  compiled ??= openApiDocument().then((doc) => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const components = Object.fromEntries(
      Object.entries(doc.components?.schemas ?? {}).map(([name, s]) => [name, jsonSchema(s)]),
    );
    const routes = Object.entries(doc.paths).map(([template, item]) => ({
      template,
      re: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
      literal: template.replace(/\{[^}]+\}/g, '').length,
      item: item as Record<string, OperationObject>,
    }));
    // The most literal template wins (/v1/secrets/{id}/value over a hypothetical /v1/secrets/{id}/{x}).
    routes.sort((a, b) => b.literal - a.literal);
    return { doc, routes, validators: new Map(), ajv, components };
  });
  return compiled;
}

function validator(c: Compiled, key: string, schema: unknown): ValidateFunction {
  let v = c.validators.get(key);
  if (!v) {
    // The response schema with the components beside it, so "#/components/schemas/X" resolves.
    v = c.ajv.compile({ ...jsonSchema(schema), components: { schemas: c.components } });
    c.validators.set(key, v);
  }
  return v;
}

export class OpenApiMismatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpenApiMismatch';
  }
}

export interface CheckedResponse {
  method: string;
  /** The request's path and query, as sent. */
  url: string;
  status: number;
  contentType: string | null;
  /** The parsed JSON body, the text when it is not JSON, undefined when empty. */
  body: unknown;
}

const show = (v: unknown) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? 'no body' : s.length > 600 ? `${s.slice(0, 600)}…` : s;
};

/**
 * Throws OpenApiMismatch unless the answer is one the document promises: the
 * operation (or, for a path or method it does not have, the error schema), a
 * documented status, JSON, and a body that matches the status's schema.
 */
export async function checkResponse(r: CheckedResponse): Promise<void> {
  if (process.env.E2E_OPENAPI_CHECK === 'off') return;
  const path = r.url.replace(/[?#].*$/, '');
  if (OUTSIDE_THE_DOCUMENT.test(path)) return;
  const c = await compile();
  const method = r.method.toLowerCase();
  const route = c.routes.find((x) => x.re.test(path));
  const op = route?.item[method as Method];
  const where = `${r.method.toUpperCase()} ${r.url}`;
  const fail = (why: string) => {
    throw new OpenApiMismatch(`OpenAPI: ${where} answered ${r.status}: ${why}\n  body: ${show(r.body)}`);
  };

  let schema: unknown;
  let key: string;
  if (!route || !op) {
    // No such operation (an unknown path, a method the path does not have, HEAD): a refusal in the error shape.
    if (method === 'head' && route?.item.get && r.status < 400) return;
    if (r.status < 400) fail(`the document has no operation ${r.method.toUpperCase()} ${route?.template ?? path}`);
    if (method === 'head') return;
    schema = { $ref: '#/components/schemas/ErrorResponse' };
    key = 'error';
  } else {
    const responses = op.responses ?? {};
    const res = responses[String(r.status)] ?? responses[`${String(r.status)[0]}XX`] ?? responses.default;
    const opName = `${r.method.toUpperCase()} ${route.template}`;
    if (!res) fail(`${opName} does not document status ${r.status} (it documents ${Object.keys(responses).join(', ')})`);
    const content = res!.content;
    if (!content) {
      if (r.body !== undefined && r.body !== '') fail(`${opName} documents no body for ${r.status}`);
      return;
    }
    const mediaType = Object.keys(content).find((m) => r.contentType?.toLowerCase().startsWith(m.toLowerCase()));
    if (!mediaType) fail(`content-type ${r.contentType ?? 'none'} is not one of ${Object.keys(content).join(', ')} (${opName})`);
    schema = content[mediaType!].schema;
    key = `${opName} ${r.status} ${mediaType}`;
    if (!schema) return;
  }
  if (r.contentType && !/^application\/json\b/i.test(r.contentType)) fail(`content-type ${r.contentType} is not JSON`);
  const validate = validator(c, key, schema);
  if (!validate(r.body)) {
    const problems = (validate.errors ?? []).slice(0, 8).map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
    fail(`the body does not match ${key === 'error' ? 'ErrorResponse' : key}:\n  - ${problems.join('\n  - ')}`);
  }
}

/** fetch, with the answer checked against the document (the body stays readable). */
export async function checkedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, init);
  const text = await res.clone().text();
  let body: unknown = text || undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: checkResponse says so where JSON is promised */
  }
  const u = new URL(url);
  await checkResponse({ method: init.method ?? 'GET', url: u.pathname + u.search, status: res.status, contentType: res.headers.get('content-type'), body });
  return res;
}
