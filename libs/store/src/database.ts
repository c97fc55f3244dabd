import pg from 'pg';
import { DataSource, MigrationExecutor } from 'typeorm';
import { DEFAULT_POOL, dataSourceOptions } from './data-source.js';

export interface PrepareOptions {
  url: string;
  createDatabase: boolean;
  migrationsRun: boolean;
  log?: (msg: string) => void;
}

// Any constant works; it only has to be the same in every Keyturn process.
const MIGRATION_LOCK = 7_264_001;

/** Creates the database named in `url` when missing (for a fresh developer machine). */
export async function ensureDatabase(url: string, log?: (msg: string) => void): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) return;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
        log?.(`created database ${name}`);
      } catch (e) {
        // Another process created it between our check and our CREATE.
        if ((e as { code?: string }).code !== '42P04') throw e;
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Applies pending migrations in one transaction that first takes a
 * transaction-scoped advisory lock, so that several processes starting at once
 * (npm start runs three) never race on the schema. Lock, check and migrations
 * share the transaction and so one server connection even behind a
 * transaction-mode pooler (PgBouncer, RDS Proxy), where a session lock would
 * land on one server connection and its unlock on another. The lock ends with
 * the transaction: a process that dies mid-migration leaves nothing held, and
 * nothing half-applied.
 */
export async function runMigrations(url: string, log?: (msg: string) => void): Promise<string[]> {
  const ds = new DataSource(dataSourceOptions(url, { poolSize: 1, connectTimeoutMs: DEFAULT_POOL.connectTimeoutMs }));
  await ds.initialize();
  try {
    const done = await ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      // The executor runs on this transaction's runner, so it starts no transaction of its own
      // and sees the migrations table as the process that held the lock before us left it.
      const executor = new MigrationExecutor(ds, m.queryRunner);
      executor.transaction = 'all';
      return executor.executePendingMigrations();
    });
    for (const m of done) log?.(`applied migration ${m.name}`);
    return done.map((m) => m.name);
  } finally {
    await ds.destroy();
  }
}

export async function prepareDatabase(opts: PrepareOptions): Promise<void> {
  if (opts.createDatabase) await ensureDatabase(opts.url, opts.log);
  if (opts.migrationsRun) await runMigrations(opts.url, opts.log);
}
