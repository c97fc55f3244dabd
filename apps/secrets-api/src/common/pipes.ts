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

/** Query strings remembered per DTO class (a bound, not a goal: pollers repeat a handful). */
export const QUERY_CACHE_SIZE = 500;

type Fields = Record<string, string | number | boolean | null | undefined>;

class KeyturnValidationPipe extends ValidationPipe {
  /**
   * Per query DTO class: a query string that passed validation, and the fields it
   * became. Validation is a pure function of the query, and pollers send the same
   * few (`?limit=50`, none at all) on every request, so class-transformer and
   * class-validator run once per distinct query instead of once per request. A
   * query that fails is never remembered: it is refused in full every time.
   */
  private readonly queries = new Map<unknown, Map<string, Fields>>();

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const metatype = metadata.metatype;
    const dto = typeof metatype === 'function' && !PLAIN_TYPES.includes(metatype);
    if (metadata.type === 'body' && dto && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw new KeyturnError(ErrorCode.VALIDATION_FAILED, { kind: 'body-not-object' });
    }
    if (metadata.type !== 'query' || !dto || value === null || typeof value !== 'object') return super.transform(value, metadata);
    let known = this.queries.get(metatype);
    if (!known) this.queries.set(metatype, (known = new Map()));
    const key = JSON.stringify(value);
    const fields = known.get(key);
    // A fresh instance each time: a handler may change its DTO without reaching the next request.
    if (fields) return Object.assign(Object.create(metatype.prototype as object) as object, fields);
    const out = (await super.transform(value, metadata)) as object;
    const own = Object.entries(out);
    // Only flat values are remembered (an array or object would be shared between requests).
    if (own.every(([, v]) => v === null || typeof v !== 'object')) {
      if (known.size >= QUERY_CACHE_SIZE) known.delete(known.keys().next().value!);
      known.set(key, Object.fromEntries(own) as Fields);
    }
    return out;
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
