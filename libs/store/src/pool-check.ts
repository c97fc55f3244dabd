import pg from 'pg';
import { ConfigError, dbPoolNeed, dbPoolSize, type KeyturnConfig, type KeyturnProcess } from '@keyturn/config';
import type { PoolOptions } from './data-source.js';

/** The pool options of this process, from the configuration alone (throws ConfigError for a pool below the need). */
export function poolOptions(config: KeyturnConfig, proc: KeyturnProcess): PoolOptions {
  return { poolSize: dbPoolSize(config, proc), connectTimeoutMs: config.database.connectTimeoutMs, namedStatements: config.database.pooler !== 'transaction' };
}

/**
 * poolOptions, and a ConfigError when Postgres could never hold the pool: a
 * worker whose jobs cannot all get a connection would fail them one by one
 * with "too many clients" instead of refusing to start.
 */
export async function checkedPoolOptions(config: KeyturnConfig, proc: KeyturnProcess): Promise<PoolOptions> {
  const pool = poolOptions(config, proc);
  // Behind a transaction-mode pooler the pool's connections go to the pooler, which multiplexes them onto
  // its own few server connections: Postgres's max_connections does not bound them (the pooler's max_client_conn does).
  if (config.database.pooler === 'transaction') return pool;
  const problem = await checkPoolFitsServer(config.database.url, pool.poolSize);
  if (problem) {
    const need = dbPoolNeed(config, proc);
    const fix =
      proc === 'rotation-worker'
        ? 'lower KEYTURN_WORKER_CONCURRENCY (a worker needs 2 × concurrency + 2 connections) and run more worker processes instead, or raise max_connections in Postgres'
        : 'lower KEYTURN_DB_POOL_SIZE, or raise max_connections in Postgres';
    const pooler = 'If DATABASE_URL goes through a transaction-mode pooler (PgBouncer, RDS Proxy), set KEYTURN_DB_POOLER=transaction instead';
    throw new ConfigError([
      `KEYTURN_DB_POOL_SIZE / KEYTURN_WORKER_CONCURRENCY: ${proc} would open up to ${pool.poolSize} Postgres connections ` +
        `(${config.database.poolSize !== undefined ? 'KEYTURN_DB_POOL_SIZE' : need.why}), but ${problem}; ${fix}. ${pooler}`,
    ]);
  }
  return pool;
}

/**
 * Null when Postgres can hold a pool of `size` connections for this user and
 * database, else why not. "Could never fit" compares the pool alone with the
 * server's limits; other clients' connections are not counted, since they come and go.
 */
export async function checkPoolFitsServer(url: string, size: number): Promise<string | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`
      SELECT current_setting('max_connections')::int AS max,
             current_setting('superuser_reserved_connections')::int AS su_reserved,
             coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved,
             r.rolsuper AS superuser, r.rolconnlimit AS role_limit, d.datconnlimit AS db_limit
        FROM pg_roles r, pg_database d
       WHERE r.rolname = current_user AND d.datname = current_database()`);
    const s = rows[0] as { max: number; su_reserved: number; reserved: number; superuser: boolean; role_limit: number; db_limit: number };
    // Superusers may use the reserved slots; everyone else may not.
    const limits = [
      { n: s.superuser ? s.max : s.max - s.su_reserved - s.reserved, what: `max_connections=${s.max}${s.superuser ? '' : ` less ${s.su_reserved + s.reserved} reserved`}` },
      ...(s.role_limit >= 0 && !s.superuser ? [{ n: s.role_limit, what: `the role's CONNECTION LIMIT ${s.role_limit}` }] : []),
      ...(s.db_limit >= 0 ? [{ n: s.db_limit, what: `the database's CONNECTION LIMIT ${s.db_limit}` }] : []),
    ];
    const tightest = limits.reduce((a, b) => (b.n < a.n ? b : a));
    return size > tightest.n ? `Postgres accepts at most ${tightest.n} connections here (${tightest.what})` : null;
  } finally {
    await client.end();
  }
}
