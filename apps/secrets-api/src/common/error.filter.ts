import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { KeyturnError } from '@keyturn/contracts';
import { CryptoError } from '@keyturn/crypto';

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE',
  429: 'TOO_MANY_REQUESTS',
  431: 'HEADERS_TOO_LARGE',
};

/** Fastify's own errors (raised before a route runs) mapped to stable codes. */
const FASTIFY_CODES: Record<string, { code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'BAD_REQUEST' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', message: 'the request body is too large' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'MALFORMED_JSON', message: 'the body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'MALFORMED_JSON', message: 'the body is not valid JSON' },
};

/**
 * Turns anything thrown into the API's error shape. 4xx messages come from
 * our own errors; a 5xx never shows internals, only the request id to look up.
 */
export function toErrorBody(err: unknown, requestId: string): ErrorBody {
  if (err instanceof KeyturnError) {
    return { statusCode: err.status, code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  }
  // A server-side key problem (missing or wrong master key): still a 500, but one an operator can act on.
  // CryptoError messages name ids and fields only, never key material or plaintext.
  if (err instanceof CryptoError) {
    return { statusCode: 500, code: err.code, message: err.message };
  }
  // Nest wraps fastify's own errors (bad JSON, wrong content type) in an HttpException; use the original's code.
  const cause = err instanceof HttpException ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string' && FASTIFY_CODES[cause.code]) {
    const m = FASTIFY_CODES[cause.code];
    return { statusCode: (err as HttpException).getStatus(), code: m.code, message: m.message ?? (err as Error).message };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const res = err.getResponse();
    const message =
      typeof res === 'string'
        ? res
        : Array.isArray((res as { message?: unknown }).message)
          ? ((res as { message: string[] }).message).join('; ')
          : String((res as { message?: unknown }).message ?? err.message);
    return { statusCode: status, code: STATUS_CODES[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST'), message };
  }
  const e = err as { code?: string; statusCode?: number; message?: string; name?: string };
  if (e && typeof e.code === 'string' && FASTIFY_CODES[e.code]) {
    const m = FASTIFY_CODES[e.code];
    return { statusCode: e.statusCode ?? 400, code: m.code, message: m.message ?? String(e.message) };
  }
  if (e && e.name === 'SyntaxError' && e.statusCode === 400) {
    return { statusCode: 400, code: 'MALFORMED_JSON', message: 'the body is not valid JSON' };
  }
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { statusCode: e.statusCode, code: STATUS_CODES[e.statusCode] ?? 'BAD_REQUEST', message: String(e.message) };
  }
  return {
    statusCode: 500,
    code: 'INTERNAL_ERROR',
    message: `internal error; the server log has the details under request id ${requestId}`,
  };
}

@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(err: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<FastifyRequest>();
    const reply = ctx.getResponse<FastifyReply>();
    const body = toErrorBody(err, String(req.id));
    if (body.statusCode >= 500) {
      // Errors of ours never carry key material (docs/architecture.md, Errors); log name, message and stack only.
      const e = err as Error;
      this.logger.error({ reqId: req.id, err: { name: e?.name, message: e?.message, stack: e?.stack } }, 'request failed');
    }
    void reply.status(body.statusCode).send(body);
  }
}
