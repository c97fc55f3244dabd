import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, KeyturnError, fallbackCodeFor } from '@keyturn/contracts';

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** The API's answer for an error of ours: status and wording from the catalogue. */
export function bodyOf(err: KeyturnError): ErrorBody {
  // A 5xx shows no internals: details are for a 4xx the caller can act on.
  const details = err.status < 500 ? err.details : undefined;
  return { statusCode: err.status, code: err.code, message: err.message, ...(details ? { details } : {}) };
}

/** Fastify's own errors (raised before a route runs), named by the catalogue. */
const FASTIFY_ERRORS: Record<string, (detail: string) => KeyturnError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new KeyturnError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, { kind: 'not-json' }),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: (detail) => new KeyturnError(ErrorCode.BAD_REQUEST, { kind: 'framework', detail }),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new KeyturnError(ErrorCode.PAYLOAD_TOO_LARGE, { kind: 'body' }),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new KeyturnError(ErrorCode.MALFORMED_JSON, { kind: 'empty' }),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new KeyturnError(ErrorCode.MALFORMED_JSON, { kind: 'invalid' }),
};

/** An error the framework raised with `status`: the catalogue's code for that status, the framework's message. */
function frameworkBody(status: number, message: string): ErrorBody {
  return { statusCode: status, code: fallbackCodeFor(status), message };
}

/**
 * Turns anything thrown into the API's error shape. 4xx messages come from
 * our own errors; a 5xx never shows internals, only the request id to look up.
 * A key problem (missing or wrong master key) is a KeyturnError too: still a
 * 500, but one an operator can act on (its message names ids only).
 */
export function toErrorBody(err: unknown, requestId: string): ErrorBody {
  if (err instanceof KeyturnError) return bodyOf(err);
  // Nest wraps fastify's own errors (bad JSON, wrong content type) in an HttpException; use the original's code.
  const cause = err instanceof HttpException ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string' && FASTIFY_ERRORS[cause.code]) {
    return bodyOf(FASTIFY_ERRORS[cause.code]((err as Error).message));
  }
  if (err instanceof HttpException) {
    const res = err.getResponse();
    const message =
      typeof res === 'string'
        ? res
        : Array.isArray((res as { message?: unknown }).message)
          ? ((res as { message: string[] }).message).join('; ')
          : String((res as { message?: unknown }).message ?? err.message);
    return frameworkBody(err.getStatus(), message);
  }
  const e = err as { code?: string; statusCode?: number; message?: string; name?: string };
  if (e && typeof e.code === 'string' && FASTIFY_ERRORS[e.code]) {
    return bodyOf(FASTIFY_ERRORS[e.code](String(e.message)));
  }
  if (e && e.name === 'SyntaxError' && e.statusCode === 400) {
    return bodyOf(new KeyturnError(ErrorCode.MALFORMED_JSON, { kind: 'invalid' }));
  }
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return frameworkBody(e.statusCode, String(e.message));
  }
  return bodyOf(new KeyturnError(ErrorCode.INTERNAL_ERROR, { kind: 'api', requestId }));
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
