import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs an `UPDATE … RETURNING` and gives back the returned rows. TypeORM's
 * postgres driver answers UPDATE with `[rows, affected]` and SELECT with
 * `rows`; this hides the difference.
 */
export async function queryReturning<T>(db: DataSource | EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const r: unknown = await db.query(sql, params);
  return (Array.isArray(r) && Array.isArray(r[0]) ? r[0] : r) as T[];
}
