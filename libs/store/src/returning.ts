import { DataSource, type EntityManager } from 'typeorm';

interface PgPool {
  query(text: string, values: readonly unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * The rows of one statement on `m`. Inside a transaction, through its query
 * runner; outside one, straight on the driver's pg pool: TypeORM's `query()`
 * would make, connect and release a query runner around each statement, CPU
 * the worker's hot paths (a heartbeat's claim, a rotation's reads and state
 * moves) spend on every job. pg's errors carry the same `code` and
 * `constraint` that TypeORM's QueryFailedError copies from them.
 */
export async function rowsOf<T = Record<string, unknown>>(m: EntityManager, sql: string, params: readonly unknown[]): Promise<T[]> {
  if (!m.queryRunner) return (await driverPool(m).query(sql, params)).rows as T[];
  const r: unknown = await m.query(sql, params as unknown[]);
  // TypeORM's postgres driver answers UPDATE with `[rows, affected]` and SELECT with `rows`.
  return (Array.isArray(r) && Array.isArray(r[0]) ? r[0] : r) as T[];
}

/** The data source's pg pool (the one TypeORM's query runners draw from). */
export function driverPool(m: EntityManager): PgPool {
  return (m.connection.driver as unknown as { master: PgPool }).master;
}

/** Runs an `UPDATE … RETURNING` (or any statement) and gives back the returned rows (see rowsOf). */
export async function queryReturning<T>(db: DataSource | EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  return rowsOf<T>(db instanceof DataSource ? db.manager : db, sql, params);
}
