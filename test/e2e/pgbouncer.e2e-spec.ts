import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { MIGRATIONS, runMigrations } from '@keyturn/store';
import { PG_ADMIN_URL, dropDatabase } from './harness.js';
import { PgBouncer } from './pgbouncer.js';

/**
 * Keyturn through PgBouncer in transaction mode: each statement (or
 * transaction) may run on another server connection, so nothing may rely on
 * session state — session advisory locks, SET, prepared statements kept by name.
 */
describe('Postgres behind PgBouncer in transaction mode', () => {
  let bouncer: PgBouncer;
  let admin: pg.Client;

  beforeAll(async () => {
    bouncer = await PgBouncer.start({ poolSize: 10 });
    admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await bouncer?.stop();
  });

  /** `p`, or a failure naming the hang once `ms` have passed. */
  async function within<T>(p: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function freshDatabase(): Promise<string> {
    const name = `keyturn_e2e_pgb_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    return name;
  }

  it('three processes starting at once migrate a fresh database through the pooler: one applies every migration, none fails or hangs, no lock stays held', async () => {
    const name = await freshDatabase();
    try {
      const url = bouncer.url(name);
      const settled = await within(Promise.allSettled([runMigrations(url), runMigrations(url), runMigrations(url)]), 60_000);
      expect(settled.map((s) => (s.status === 'fulfilled' ? s.value.length : `rejected: ${(s.reason as Error).message}`)).sort()).toEqual(
        [0, 0, MIGRATIONS.length].sort(),
      );
      const { rows } = await admin.query(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = $1`,
        [name],
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await dropDatabase(name);
    }
  }, 120_000);
});
