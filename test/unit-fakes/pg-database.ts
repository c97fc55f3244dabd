import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '@keyturn/store';

/** The machine's Postgres, where specs that need a real one make a database of their own. */
export const ADMIN_URL = process.env.E2E_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A database of this run's own on the machine's Postgres (`keyturn_unit_<label>_<random>`), for a spec's
 * beforeAll / afterAll: `create()` makes it empty, `drop()` removes it even with connections left open.
 */
export function throwawayDatabase(label: string): { name: string; url: string; create(): Promise<void>; drop(): Promise<void> } {
  const name = `keyturn_unit_${label}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: ADMIN_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  return {
    name,
    url: Object.assign(new URL(ADMIN_URL), { pathname: `/${name}` }).toString(),
    create: () => admin(`CREATE DATABASE ${name}`),
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** A data source on `url` with every migration run, as the apps' start-up leaves a database. */
export async function migratedDataSource(url: string): Promise<DataSource> {
  const ds = new DataSource(dataSourceOptions(url));
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  return ds;
}

/**
 * Records the first word (upper-cased) of every statement `ds` sends into `into`, as Postgres receives them
 * (BEGIN/COMMIT included). Inside a transaction statements go through TypeORM's query runner, which hands
 * each to its logger's logQuery (which decides whether to print it); outside one they go straight to the
 * driver's pg pool (libs/store rowsOf), a hot path's statement as a named one ({ name, text }).
 */
export function recordStatements(ds: DataSource, into: string[]): void {
  const record = (q: string) => into.push(q.trim().split(/\s+/)[0]!.toUpperCase());
  const logger = ds.logger;
  Object.assign(ds, { logger: Object.assign(Object.create(logger) as object, { logQuery: record }) });
  type Statement = string | { text: string };
  const pool = (ds.driver as unknown as { master: { query: (q: Statement, ...rest: unknown[]) => Promise<unknown> } }).master;
  const poolQuery = pool.query.bind(pool);
  pool.query = (q: Statement, ...rest: unknown[]) => {
    record(typeof q === 'string' ? q : q.text);
    return poolQuery(q, ...rest);
  };
}
