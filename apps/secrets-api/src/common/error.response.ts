import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ERRORS, ErrorCode } from '@keyturn/contracts';

/**
 * The API's one error shape (common/error.filter.ts, toErrorBody), as the OpenAPI
 * document shows it: every error answer of every operation references this schema.
 */
export class ErrorResponse {
  @ApiProperty({ minimum: 400, maximum: 599, example: 404 })
  statusCode: number;

  @ApiProperty({ enum: Object.keys(ERRORS), enumName: 'ErrorCode', description: 'A code of the error catalogue (docs/errors.md)', example: ErrorCode.SECRET_NOT_FOUND })
  code: ErrorCode;

  @ApiProperty({ description: 'What happened and what to do next; never a secret value' })
  message: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'Machine-readable, non-secret facts (4xx only), e.g. the problems of a refused request',
  })
  details?: Record<string, unknown>;
}

export const RETRY_AFTER = { 'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } } };

/** What each error status means across the API; an operation lists the statuses it can answer. */
const WHEN: Record<number, string> = {
  400: 'The request is malformed or invalid (VALIDATION_FAILED, UNKNOWN_FIELD, INVALID_ID, MALFORMED_JSON, …)',
  401: 'No API key, or one that is not valid (UNAUTHENTICATED, INVALID_API_KEY)',
  403: 'The API key’s role or folders do not allow this (FORBIDDEN, FOLDER_OUT_OF_SCOPE, …)',
  404: 'Not found, or outside the API key’s folders',
  405: 'Method not allowed',
  406: 'Not acceptable',
  408: 'The request was not received in time',
  409: 'Conflicts with the current state',
  413: 'The body is larger than 64 KiB',
  414: 'The URL is too long',
  415: 'The body is not JSON',
  422: 'Understood but cannot be done for this secret',
  429: 'Too many failed authentications from this address (Retry-After)',
  431: 'The request headers are too large',
  500: 'An internal error; the message names the request id to look up in the logs',
  502: 'AWS refused or failed a call the request needed',
  503: 'The API is shutting down or a dependency is unavailable; try again',
};

/** Error answers, all with the one ErrorResponse schema (and Retry-After on 429 and 503). */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ErrorResponse),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: WHEN[status] ?? 'An error',
        schema: { $ref: getSchemaPath(ErrorResponse) },
        ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
      }),
    ),
  );
}

/**
 * The errors any request can meet whatever the operation: framework refusals
 * (bad framing, slow or oversized requests) and the server's own failures.
 */
export const ANY_REQUEST_ERRORS = [400, 408, 414, 431, 500, 503];
/** An operation behind an API key: no key or a wrong one, too many failures, a role that does not allow it. */
export const AUTH_ERRORS = [401, 403, 429];
/** An operation with a JSON body. */
export const BODY_ERRORS = [413, 415];
