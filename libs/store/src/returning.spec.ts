import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import { dataSourceOptions, namedSql, rowsOf } from '@keyturn/store';
import { throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';

// Real Postgres (the machine's), in a database of this run's own: a hot path's NamedSql is prepared
// once on each connection (a transaction's too), where the pool allows it, and sent as plain text everywhere else.

describe('rowsOf with a NamedSql (Postgres)', () => {
  const database = throwawayDatabase('named');
  const ONE = namedSql('spec_one', 'SELECT $1::int + 1 AS n');
  /** The statements prepared on the session `m` runs on (a transaction's, or the pool's one connection). */
  const preparedIn = async (m: EntityManager): Promise<string[]> =>
    (await rowsOf<{ name: string }>(m, 'SELECT name FROM pg_prepared_statements ORDER BY name', [])).map((r) => r.name);
  const prepared = (ds: DataSource): Promise<string[]> => preparedIn(ds.manager);

  /** Runs `f` on a data source of one connection (so every statement sees the same session), then closes it. */
  const withSource = async (namedStatements: boolean, f: (ds: DataSource) => Promise<void>): Promise<void> => {
    const ds = await new DataSource(dataSourceOptions(database.url, { poolSize: 1, connectTimeoutMs: 5_000, namedStatements })).initialize();
    try {
      await f(ds);
    } finally {
      await ds.destroy();
    }
  };

  beforeAll(() => database.create());
  afterAll(() => database.drop());

  it('prepares it once per connection under its name, and answers as plain text would', () =>
    withSource(true, async (ds) => {
      expect(await rowsOf(ds.manager, ONE, [1])).toEqual([{ n: 2 }]);
      expect(await rowsOf(ds.manager, ONE, [41])).toEqual([{ n: 42 }]);
      expect(await prepared(ds)).toEqual(['keyturn_spec_one']);
    }));

  it('sends it as plain text behind a transaction-mode pooler (namedStatements false), which may change connection between statements', () =>
    withSource(false, async (ds) => {
      expect(await rowsOf(ds.manager, ONE, [1])).toEqual([{ n: 2 }]);
      expect(await prepared(ds)).toEqual([]);
    }));

  it('prepares it inside a transaction too, on the transaction’s own connection, which keeps it for later statements', () =>
    withSource(true, async (ds) => {
      const inside = await ds.transaction(async (m) => {
        const answers = [await rowsOf(m, ONE, [2]), await rowsOf(m, ONE, [3])];
        return { answers, prepared: await preparedIn(m) };
      });
      expect(inside).toEqual({ answers: [[{ n: 3 }], [{ n: 4 }]], prepared: ['keyturn_spec_one'] });
      // One connection: the pool's next statement runs where the transaction ran, and finds it prepared there.
      expect(await prepared(ds)).toEqual(['keyturn_spec_one']);
      expect(await rowsOf(ds.manager, ONE, [4])).toEqual([{ n: 5 }]);
    }));

  it('sends it as plain text inside a transaction behind a transaction-mode pooler (namedStatements false)', () =>
    withSource(false, async (ds) => {
      const inside = await ds.transaction(async (m) => ({
        answer: await rowsOf(m, ONE, [2]),
        prepared: await preparedIn(m),
    }));
    expect(inside).toEqual({ answer: [{ n: 3 }], prepared: [] });
    expect(await prepared(ds)).toEqual([]);
    }));

  it('fails inside a transaction as the query runner would: a QueryFailedError with the driver’s code', () =>
    withSource(true, async (ds) => {
      const BAD = namedSql('spec_bad', 'SELECT 1 / $1::int AS n');
      const failure = ds.transaction((m) => rowsOf(m, BAD, [0]));
      await expect(failure).rejects.toBeInstanceOf(QueryFailedError);
      await expect(failure).rejects.toMatchObject({ code: '22012' });
    }));
});
