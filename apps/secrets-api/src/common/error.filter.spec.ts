import { BadRequestException, HttpException, NotFoundException } from '@nestjs/common';
import { ErrorCode, KeyturnError } from '@keyturn/contracts';
import { CryptoError } from '@keyturn/crypto';
import { toErrorBody } from './error.filter.js';

describe('toErrorBody', () => {
  it('answers a KeyturnError with the status the catalogue gives its code', () => {
    expect(toErrorBody(new KeyturnError(ErrorCode.SECRET_NOT_FOUND, { secretId: 'S1' }), 'r1')).toEqual({
      statusCode: 404,
      code: 'SECRET_NOT_FOUND',
      message: 'secret S1 does not exist',
    });
    expect(toErrorBody(new KeyturnError(ErrorCode.PRIVILEGED_ACCOUNT_REQUIRED, { secretId: 'S1', secretType: 'aws-iam-console-password' }), 'r1').statusCode).toBe(422);
  });

  it('adds details of a 4xx', () => {
    const body = toErrorBody(new KeyturnError(ErrorCode.SECRET_HAS_DEPENDENTS, { secretId: 'S1', dependents: [{ id: 'D1', name: 'x' }] }), 'r1');
    expect(body).toMatchObject({ statusCode: 409, code: 'SECRET_HAS_DEPENDENTS', details: { dependents: ['D1'] } });
  });

  it('answers a key problem with 500 and its own code, without details', () => {
    const e = new CryptoError(ErrorCode.UNKNOWN_KEK, { kekId: 'k1', configured: ['k2'], secretId: 'S1', version: 2 }, { secretId: 'S1', version: 2, kekId: 'k1' });
    expect(toErrorBody(e, 'r1')).toEqual({ statusCode: 500, code: 'UNKNOWN_KEK', message: e.message });
  });

  it("names the framework's own errors by their status", () => {
    expect(toErrorBody(new NotFoundException('Cannot GET /v1/secretz'), 'r1')).toEqual({ statusCode: 404, code: 'NOT_FOUND', message: 'Cannot GET /v1/secretz' });
    expect(toErrorBody(new BadRequestException(['a is wrong', 'b is wrong']), 'r1')).toEqual({ statusCode: 400, code: 'BAD_REQUEST', message: 'a is wrong; b is wrong' });
    expect(toErrorBody(new HttpException('teapot', 418), 'r1')).toEqual({ statusCode: 418, code: 'BAD_REQUEST', message: 'teapot' });
  });

  it('hides anything else behind INTERNAL_ERROR and the request id', () => {
    expect(toErrorBody(new Error('password=hunter2'), 'r9')).toEqual({
      statusCode: 500,
      code: 'INTERNAL_ERROR',
      message: 'internal error; the server log has the details under request id r9',
    });
  });
});
