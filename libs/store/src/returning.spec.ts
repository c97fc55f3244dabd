import { DataSource } from 'typeorm';
import { dataSourceOptions, namedSql, rowsOf } from '@keyturn/store';
import { throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';

// Real Postgres (the machine's), in a database of this run's own: a hot path's NamedSql is prepared
// once on each connection, where the pool allows it, and sent as plain text everywhere else.

describe('rowsOf with a NamedSql (Postgres)', () => {
  const database = throwawayDatabase('named');
  const ONE = namedSql('spec_one', 'SELECT $1::int + 1 AS n');
  const prepared = async (ds: DataSource): Promise<string[]> =>
    (await rowsOf<{ name: string }>(ds.manager, 'SELECT name FROM pg_prepared_statements ORDER BY name', [])).map((r) => r.name);

  /** A data source of one connection, so every statement sees the same session. */
  const open = async (namedStatements: boolean): Promise<DataSource> => {
    const ds = new DataSource(dataSourceOptions(database.url, { poolSize: 1, connectTimeoutMs: 5_000, namedStatements }));
    return ds.initialize();
  };

  beforeAll(() => database.create());
  afterAll(() => database.drop());

  it('prepares it once per connection under its name, and answers as plain text would', async () => {
    const ds = await open(true);
    try {
      expect(await rowsOf(ds.manager, ONE, [1])).toEqual([{ n: 2 }]);
      expect(await rowsOf(ds.manager, ONE, [41])).toEqual([{ n: 42 }]);
      expect(await prepared(ds)).toEqual(['keyturn_spec_one']);
    } finally {
      await ds.destroy();
    }
  });

  it('sends it as plain text behind a transaction-mode pooler (namedStatements false), which may change connection between statements', async () => {
    const ds = await open(false);
    try {
      expect(await rowsOf(ds.manager, ONE, [1])).toEqual([{ n: 2 }]);
      expect(await prepared(ds)).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it('sends it as plain text inside a transaction (through the transaction’s own runner)', async () => {
    const ds = await open(true);
    try {
      expect(await ds.transaction((m) => rowsOf(m, ONE, [2]))).toEqual([{ n: 3 }]);
      expect(await prepared(ds)).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });
});
