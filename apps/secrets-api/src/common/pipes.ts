import { ParseUUIDPipe, ValidationPipe, type ValidationError } from '@nestjs/common';
import { KeyturnError } from '@keyturn/contracts';

export const UuidParam = new ParseUUIDPipe({
  exceptionFactory: () => new KeyturnError('INVALID_ID', 'the id in the path must be a UUID', 400),
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

/** Unknown fields are refused (not silently dropped), and every problem is named in one 400. */
export const validationPipe = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  transformOptions: { enableImplicitConversion: false },
  validationError: { target: false, value: false },
  exceptionFactory: (errors) => {
    const problems = flatten(errors);
    const unknown = problems.every((p) => p.endsWith('is not a known field'));
    return new KeyturnError(unknown ? 'UNKNOWN_FIELD' : 'VALIDATION_FAILED', problems.join('; '), 400);
  },
});
