import { ParseUUIDPipe, ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { ErrorCode, KeyturnError } from '@keyturn/contracts';

export const UuidParam = new ParseUUIDPipe({
  exceptionFactory: () => new KeyturnError(ErrorCode.INVALID_ID),
});

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) =>
      m.startsWith('property ') && m.endsWith('should not exist') ? `${path} is not a known field` : m.replace(e.property, path),
    );
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/**
 * A body that is not a JSON object (an array, a string, null, nothing) would
 * otherwise be reported field by field ("0 is not a known field"), which
 * points the caller the wrong way.
 */
const PLAIN_TYPES: unknown[] = [String, Boolean, Number, Array, Object];

class KeyturnValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const dto = typeof metadata.metatype === 'function' && !PLAIN_TYPES.includes(metadata.metatype);
    if (metadata.type === 'body' && dto && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw new KeyturnError(ErrorCode.VALIDATION_FAILED, { kind: 'body-not-object' });
    }
    return super.transform(value, metadata);
  }
}

/** Unknown fields are refused (not silently dropped), and every problem is named in one 400. */
export const validationPipe = new KeyturnValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  transformOptions: { enableImplicitConversion: false },
  validationError: { target: false, value: false },
  exceptionFactory: (errors) => {
    const problems = flatten(errors);
    const unknown = problems.every((p) => p.endsWith('is not a known field'));
    return unknown ? new KeyturnError(ErrorCode.UNKNOWN_FIELD, { problems }) : new KeyturnError(ErrorCode.VALIDATION_FAILED, { kind: 'fields', problems });
  },
});
