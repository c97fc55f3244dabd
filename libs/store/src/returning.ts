import { DataSource, QueryFailedError, type EntityManager, type QueryRunner } from 'typeorm';

/** A pg pool or client, as far as rowsOf uses it. */
interface PgQueryable {
  query(text: string | { name: string; text: string; values: readonly unknown[] }, values?: readonly unknown[]): Promise<{ rows: unknown[] }>;
}

interface PgPool extends PgQueryable {
  options?: { keyturnNamedStatements?: boolean };
}

/**
 * A statement of a hot path that Postgres may keep parsed and planned on each
 * connection, under `name` (a named prepared statement: planning the worker's
 * heartbeat claim cost more Postgres CPU than running it). Only constant
 * texts: every name is kept once per connection. Prepared only where the
 * pool allows it (PoolOptions.namedStatements: not behind a transaction-mode
 * pooler), outside a transaction and inside one (on the transaction's own
 * connection); otherwise sent as plain text.
 */
export interface NamedSql {
  readonly name: string;
  readonly text: string;
}

export function namedSql(name: string, text: string): NamedSql {
  return { name: `keyturn_${name}`, text };
}

/** The option of the pg pool (DataSource `extra`) that allows named statements on its connections. */
export const NAMED_STATEMENTS_OPTION = 'keyturnNamedStatements';

/**
 * The rows of one statement on `m`. Inside a transaction, through its query
 * runner; outside one, straight on the driver's pg pool: TypeORM's `query()`
 * would make, connect and release a query runner around each statement, CPU
 * the worker's hot paths (a heartbeat's claim, a rotation's reads and state
 * moves) spend on every job. pg's errors carry the same `code` and
 * `constraint` that TypeORM's QueryFailedError copies from them.
 *
 * A NamedSql is sent as a named statement where the pool allows it (not
 * behind a transaction-mode pooler): outside a transaction on the pool,
 * inside one on the transaction's own pg client (its query runner's
 * connection; a runner not connected yet goes through `query()`, which
 * connects it). There it is logged as the runner logs a statement, and a
 * failure is the QueryFailedError the runner would throw.
 */
export async function rowsOf<T = Record<string, unknown>>(m: EntityManager, sql: string | NamedSql, params: readonly unknown[]): Promise<T[]> {
  const text = typeof sql === 'string' ? sql : sql.text;
  const runner = m.queryRunner;
  if (!runner) {
    const pool = driverPool(m);
    if (typeof sql !== 'string' && pool.options?.[NAMED_STATEMENTS_OPTION] === true) return (await pool.query({ name: sql.name, text, values: params })).rows as T[];
    return (await pool.query(text, params)).rows as T[];
  }
  if (typeof sql !== 'string' && !runner.isReleased && driverPool(m).options?.[NAMED_STATEMENTS_OPTION] === true) {
    const client = (runner as QueryRunner & { databaseConnection?: PgQueryable }).databaseConnection;
    if (client) {
      m.connection.logger.logQuery(text, params as unknown[], runner);
      try {
        return (await client.query({ name: sql.name, text, values: params })).rows as T[];
      } catch (e) {
        m.connection.logger.logQueryError(e as Error, text, params as unknown[], runner);
        throw new QueryFailedError(text, params as unknown[], e as Error);
      }
    }
  }
  const r: unknown = await m.query(text, params as unknown[]);
  // TypeORM's postgres driver answers UPDATE with `[rows, affected]` and SELECT with `rows`.
  return (Array.isArray(r) && Array.isArray(r[0]) ? r[0] : r) as T[];
}

/** The data source's pg pool (the one TypeORM's query runners draw from). */
export function driverPool(m: EntityManager): PgPool {
  return (m.connection.driver as unknown as { master: PgPool }).master;
}

/** Runs an `UPDATE … RETURNING` (or any statement) and gives back the returned rows (see rowsOf). */
export async function queryReturning<T>(db: DataSource | EntityManager, sql: string | NamedSql, params: unknown[]): Promise<T[]> {
  return rowsOf<T>(db instanceof DataSource ? db.manager : db, sql, params);
}
