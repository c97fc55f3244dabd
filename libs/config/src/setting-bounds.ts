import { z } from 'zod';
import { envSchema, type Env } from './env.schema.js';

/** A numeric setting's accepted range, read from the schema itself (README's table is checked against it). */
export interface NumericSetting {
  name: keyof Env;
  min: number;
  /** true when `min` itself is refused (a positive number: more than 0). */
  minExclusive: boolean;
  max: number;
  integer: boolean;
  /** undefined: unset means "derived" (see the setting's description). */
  default?: number;
}

/** Every numeric environment variable with its bounds and default, in schema order. */
export function numericSettings(): NumericSetting[] {
  const out: NumericSetting[] = [];
  for (const [name, field] of Object.entries(envSchema.shape)) {
    let inner: z.ZodType = field;
    while (!(inner instanceof z.ZodNumber) && 'unwrap' in inner && typeof inner.unwrap === 'function') inner = inner.unwrap() as z.ZodType;
    if (!(inner instanceof z.ZodNumber)) continue;
    const min = inner.minValue ?? Number.NEGATIVE_INFINITY;
    const max = inner.maxValue ?? Number.POSITIVE_INFINITY;
    const parsed = field.safeParse(undefined);
    out.push({
      name: name as keyof Env,
      min,
      minExclusive: !inner.safeParse(min).success,
      max,
      integer: inner.isInt,
      default: parsed.success && typeof parsed.data === 'number' ? parsed.data : undefined,
    });
  }
  return out;
}
