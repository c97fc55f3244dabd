import type { ArgumentMetadata } from '@nestjs/common';
import { ErrorCode } from '@keyturn/contracts';
import { CreateSecretBodyPipe } from './create-secret-body.pipe.js';
import { CREATE_SECRET_DTOS, CreateSecretDto } from './secret.dto.js';

const meta: ArgumentMetadata = { type: 'body', metatype: Object, data: undefined };
const pipe = new CreateSecretBodyPipe();
const common = { name: 'ci', username: 'ci', accountId: '123456789012' };
const key = { type: 'aws-iam-key', ...common, accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'a'.repeat(40) };

async function problemsOf(body: unknown): Promise<{ code: string; message: string }> {
  try {
    await pipe.transform(body, meta);
    return { code: 'ok', message: '' };
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
}

describe('CreateSecretBodyPipe', () => {
  it('validates a body against its type’s DTO', async () => {
    const out = await pipe.transform(key, meta);
    expect(out).toBeInstanceOf(CREATE_SECRET_DTOS.get('aws-iam-key')!);
    expect(out).toMatchObject(key);
    expect(await problemsOf({ ...key, accessKeyId: 'ASIAIOSFODNN7EXAMPLE' })).toEqual({ code: ErrorCode.VALIDATION_FAILED, message: expect.stringMatching(/accessKeyId must be AKIA/) });
    expect(await problemsOf({ type: 'aws-iam-console-password', ...common, password: '\u{1F600}' })).toEqual({
      code: ErrorCode.VALIDATION_FAILED,
      message: expect.stringMatching(/password must be 1-128 characters from U\+0020 to U\+00FF/),
    });
  });

  it('lets another type’s field through to the use case (which answers FIELD_NOT_ALLOWED), but not an unknown one', async () => {
    expect((await problemsOf({ ...key, password: 'x' })).code).toBe('ok');
    expect(await problemsOf({ ...key, color: 'blue' })).toEqual({ code: ErrorCode.UNKNOWN_FIELD, message: expect.stringMatching(/color is not a known field/) });
  });

  it('answers a missing, unknown or prototype-named type with the common DTO’s rule naming the types', async () => {
    for (const type of [undefined, 'gcp-service-account', 'constructor', '__proto__', 7]) {
      expect(await problemsOf({ ...key, type })).toEqual({ code: ErrorCode.VALIDATION_FAILED, message: expect.stringMatching(/type must be one of aws-iam-key, aws-iam-console-password/) });
    }
    expect(CREATE_SECRET_DTOS.get('constructor')).toBeUndefined();
    expect(Object.getPrototypeOf(CREATE_SECRET_DTOS.get('aws-iam-key')!)).toBe(CreateSecretDto);
  });

  it('refuses a body that is not an object', async () => {
    for (const body of [null, [], 'aws-iam-key', 42]) expect(await problemsOf(body)).toEqual({ code: ErrorCode.VALIDATION_FAILED, message: expect.stringMatching(/body must be a JSON object/) });
  });
});
