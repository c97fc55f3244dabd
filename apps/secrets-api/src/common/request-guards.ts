import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, KeyturnError } from '@keyturn/contracts';
import { bodyOf, type ErrorBody } from './error.filter.js';

/**
 * No body of this API nests deeper than 3 levels. Past this, a request is
 * refused before class-transformer walks it (it recurses, and a body nested a
 * few thousand levels deep overflows the stack).
 */
const MAX_INPUT_DEPTH = 32;

// Postgres refuses U+0000 in text and jsonb, and unpaired surrogates in jsonb.
const NUL = /\u0000/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function unstorable(s: string): string | null {
  if (NUL.test(s)) return 'a NUL character (U+0000), which Keyturn cannot store; remove it';
  if (LONE_SURROGATE.test(s)) return 'an unpaired UTF-16 surrogate (U+D800 to U+DFFF alone), which is not valid Unicode; send valid text';
  return null;
}

const clipPath = (p: string) => (p.length > 120 ? `${p.slice(0, 120)}…` : p);

/**
 * The first problem with a parsed input (a body, a query, the path
 * parameters), or null. Iterative, so a deep input cannot overflow the stack
 * here either. Messages name where the problem is, never the value.
 */
function findInputProblem(input: unknown, where: string, describe: (path: string) => string): string | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: input, path: '', depth: 0 }];
  while (stack.length) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const why = unstorable(value);
      if (why) return `${describe(path)} contains ${why}`;
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH) return `${where} is nested deeper than ${MAX_INPUT_DEPTH} levels; no field of this API needs more than 3`;
    for (const [key, child] of Object.entries(value)) {
      const why = unstorable(key);
      if (why) return `a field name in ${path ? clipPath(path) : where} contains ${why}`;
      stack.push({ value: child, path: Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key, depth: depth + 1 });
    }
  }
  return null;
}

/**
 * One check for every route, before guards, pipes and audit writes see the
 * request: text Postgres cannot store and inputs nested too deep are a 400,
 * not a 500 from deep inside (a failed insert, a stack overflow).
 */
export function installInputGuard(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', async (req: FastifyRequest) => {
    const problem =
      findInputProblem(req.params, 'the path', (p) => `the path parameter ${clipPath(p)}`) ??
      findInputProblem(req.query, 'the query', (p) => `the query parameter ${clipPath(p)}`) ??
      findInputProblem(req.body, 'the body', (p) => (p ? clipPath(p) : 'the body'));
    if (problem) throw new KeyturnError(ErrorCode.VALIDATION_FAILED, { kind: 'fields', problems: [problem] });
  });
}

function json(body: ErrorBody): string {
  return JSON.stringify(body);
}

/**
 * Node's HTTP parser refuses some requests before fastify sees them (broken
 * framing, oversized headers); they get the API's error shape too. A request
 * line that alone overflows the header limit is a URL that is too long: 414.
 */
export function clientErrorHandler(err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let body: ErrorBody;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    body = bodyOf(new KeyturnError(ErrorCode.REQUEST_TIMEOUT, { kind: 'slow-request' }));
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    // Node hands over the bytes it had read. A request line that alone takes half
    // the limit is a URL that is too long (414), not too many headers (431).
    const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : null;
    const lineEnd = raw ? raw.indexOf('\r\n') : -1;
    const startsRequest = raw !== null && /^[A-Z]+ /.test(raw.subarray(0, 16).toString('latin1'));
    const requestLineEnded = !startsRequest || (lineEnd !== -1 && lineEnd < 8 * 1024);
    body = bodyOf(
      requestLineEnded ? new KeyturnError(ErrorCode.HEADERS_TOO_LARGE, { kind: 'headers' }) : new KeyturnError(ErrorCode.URI_TOO_LONG, { kind: 'url' }),
    );
  } else {
    body = bodyOf(new KeyturnError(ErrorCode.BAD_REQUEST, { kind: 'http-framing', parserCode: err.code }));
  }
  if (socket.writable) {
    const text = json(body);
    socket.write(
      `HTTP/1.1 ${body.statusCode} ${STATUS_CODES[body.statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(err);
}

/** Errors fastify's router raises before any route (and so before Nest's filter) runs. */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  let body: ErrorBody;
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    body = bodyOf(new KeyturnError(ErrorCode.URI_TOO_LONG, { kind: 'path-segment' }));
  } else if (err.code === 'FST_ERR_BAD_URL') {
    body = bodyOf(new KeyturnError(ErrorCode.BAD_REQUEST, { kind: 'percent-encoding' }));
  } else {
    // Only FST_ERR_ASYNC_CONSTRAINT is left, a server fault: routes here have no async constraints.
    body = bodyOf(new KeyturnError(ErrorCode.INTERNAL_ERROR, { kind: 'api', requestId: String(req.id) }));
    req.log.error({ reqId: req.id, err: { name: err.name, message: err.message, code: err.code } }, 'router failed');
  }
  void reply.status(body.statusCode).header('content-type', 'application/json; charset=utf-8').send(json(body));
}
