import { randomBytes } from 'node:crypto';
import pg from 'pg';

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
