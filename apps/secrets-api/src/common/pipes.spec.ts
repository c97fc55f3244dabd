import 'reflect-metadata';
import { ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsArray, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { KeyturnError } from '@keyturn/contracts';
import { QUERY_CACHE_SIZE, validationPipe } from './pipes.js';

class PageQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(500)
  limit?: number;

  @IsOptional() @IsString()
  cursor?: string;

  @IsString()
  note = 'default';
}

class TagsQuery {
  @IsOptional() @IsArray() @IsString({ each: true })
  tag?: string[];
}

const query = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'query', metatype });
const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return (e as KeyturnError).code;
  }
  throw new Error('no error');
};

describe('validationPipe on query strings', () => {
  it('gives a query it has validated before as a new instance of the DTO, equal to the first', async () => {
    const first = (await validationPipe.transform({ limit: '50' }, query(PageQuery))) as PageQuery;
    const second = (await validationPipe.transform({ limit: '50' }, query(PageQuery))) as PageQuery;
    expect(first).toBeInstanceOf(PageQuery);
    expect(second).toBeInstanceOf(PageQuery);
    expect(second).not.toBe(first);
    expect({ ...second }).toEqual({ ...first });
    expect({ ...second }).toEqual({ limit: 50, note: 'default' });
    // The second time class-transformer and class-validator did not run.
    const full = ValidationPipe.prototype.transform;
    let runs = 0;
    ValidationPipe.prototype.transform = function (this: ValidationPipe, ...a: Parameters<ValidationPipe['transform']>) {
      runs++;
      return full.apply(this, a);
    };
    try {
      await validationPipe.transform({ limit: '50' }, query(PageQuery));
      expect(runs).toBe(0);
      await validationPipe.transform({ limit: '51' }, query(PageQuery));
      expect(runs).toBe(1);
    } finally {
      ValidationPipe.prototype.transform = full;
    }
    // A handler changing its DTO does not reach the next request.
    second.limit = 7;
    expect({ ...((await validationPipe.transform({ limit: '50' }, query(PageQuery))) as PageQuery) }).toEqual({ limit: 50, note: 'default' });
  });

  it('refuses a bad query every time, with its code, even after a good one', async () => {
    await validationPipe.transform({ limit: '10' }, query(PageQuery));
    for (let i = 0; i < 2; i++) {
      expect(await code(validationPipe.transform({ limit: '0' }, query(PageQuery)))).toBe('VALIDATION_FAILED');
      expect(await code(validationPipe.transform({ limit: '10', extra: 'x' }, query(PageQuery)))).toBe('UNKNOWN_FIELD');
    }
  });

  it('keeps DTO classes apart and does not share arrays between requests', async () => {
    const a = (await validationPipe.transform({ tag: ['x', 'y'] }, query(TagsQuery))) as TagsQuery;
    const b = (await validationPipe.transform({ tag: ['x', 'y'] }, query(TagsQuery))) as TagsQuery;
    expect(a.tag).toEqual(['x', 'y']);
    expect(b.tag).not.toBe(a.tag);
    expect(await code(validationPipe.transform({ tag: ['x'] }, query(PageQuery)))).toBe('UNKNOWN_FIELD');
  });

  it('remembers a bounded number of query strings and still validates past the bound', async () => {
    for (let i = 1; i <= QUERY_CACHE_SIZE + 20; i++) {
      expect({ ...((await validationPipe.transform({ cursor: `c${i}` }, query(PageQuery))) as PageQuery) }).toEqual({ cursor: `c${i}`, note: 'default' });
    }
    expect({ ...((await validationPipe.transform({ cursor: 'c1' }, query(PageQuery))) as PageQuery) }).toEqual({ cursor: 'c1', note: 'default' });
    const remembered = (validationPipe as unknown as { queries: Map<unknown, Map<string, unknown>> }).queries.get(PageQuery)!;
    expect(remembered.size).toBeLessThanOrEqual(QUERY_CACHE_SIZE);
  });
});
