import pg from 'pg';
import { DataSource, MigrationExecutor } from 'typeorm';
import { STARTUP_EXIT, StartupError, endpointOf, networkReason, unreachable } from '@keyturn/config';
import { DEFAULT_POOL, dataSourceOptions } from './data-source.js';

export interface PrepareOptions {
  url: string;
  createDatabase: boolean;
  migrationsRun: boolean;
  /** How long the first connection may take before Postgres counts as unreachable. */
  connectTimeoutMs?: number;
  /** What a person wants to see: a database created, migrations applied. */
  log?: (msg: string) => void;
  /** Each migration by name. */
  debug?: (msg: string) => void;
}

// Any constant works; it only has to be the same in every Keyturn process.
const MIGRATION_LOCK = 7_264_001;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const PG_PORT = 5432;

/** The parts of DATABASE_URL a message may show: never the password. */
function describeUrl(url: string): { endpoint: string; host: string; port: string; user: string; database: string } {
  try {
    const u = new URL(url);
    return {
      endpoint: endpointOf(url, PG_PORT),
      host: u.hostname,
      port: u.port || String(PG_PORT),
      user: decodeURIComponent(u.username) || 'postgres',
      database: decodeURIComponent(u.pathname.replace(/^\//, '')),
    };
  } catch {
    return { endpoint: '(unparseable URL)', host: '', port: '', user: '', database: '' };
  }
}

/**
 * A failure to reach, log in to or create the database, as one line that says
 * what to do; undefined for any other error. `creating`: the error came from
 * CREATE DATABASE.
 */
export function postgresStartupError(e: unknown, url: string, ctx: { creating?: boolean } = {}): StartupError | undefined {
  const where = describeUrl(url);
  const at = `Postgres at ${where.endpoint} (DATABASE_URL)`;
  const reason = networkReason(e);
  if (reason) return unreachable('Postgres', 'DATABASE_URL', where.endpoint, reason, e);
  const code = (e as { code?: unknown })?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (code === '28P01' || code === '28000') {
    return new StartupError(
      `${at} refused user "${where.user}": ${message}. Set DATABASE_URL to a user and password that Postgres accepts.`,
      STARTUP_EXIT.NO_PERMISSION,
      { cause: e },
    );
  }
  // pg's words when the server asks for a SCRAM password (Postgres's default) and the URL has none.
  if (/SCRAM-SERVER-FIRST-MESSAGE: client password must be a (non-empty )?string/.test(message)) {
    return new StartupError(
      `${at} asks user "${where.user}" for a password, and DATABASE_URL has none. ` +
        `Put it in DATABASE_URL (postgres://${where.user}:<password>@${where.endpoint}/${where.database}).`,
      STARTUP_EXIT.NO_PERMISSION,
      { cause: e },
    );
  }
  if (code === '57P03' || code === '53300') {
    return new StartupError(`${at} is not available: ${message}. Wait until it runs, then start again.`, STARTUP_EXIT.UNAVAILABLE, { cause: e });
  }
  const missing = `database "${where.database}" does not exist on ${at}`;
  if (code === '3D000') {
    return new StartupError(
      `${missing}. Create it (createdb -h ${where.host} -p ${where.port} -U ${where.user} ${where.database}), ` +
        'set KEYTURN_CREATE_DATABASE=true, or set DATABASE_URL to a database that exists.',
      STARTUP_EXIT.UNAVAILABLE,
      { cause: e },
    );
  }
  if (ctx.creating && code === '42501') {
    return new StartupError(
      `${missing}, and user "${where.user}" may not create it: ${message}. ` +
        `Create it as a user who may (createdb -h ${where.host} -p ${where.port} -O ${where.user} ${where.database}), ` +
        `or let this user create databases (ALTER ROLE ${where.user} CREATEDB).`,
      STARTUP_EXIT.NO_PERMISSION,
      { cause: e },
    );
  }
  return undefined;
}

/** connect(), bounded: a host that drops packets would otherwise keep a start-up waiting for minutes. */
async function connectWithin(client: pg.Client, timeoutMs: number): Promise<void> {
  const connecting = client.connect();
  connecting.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void client.end().catch(() => undefined);
      reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
  });
  try {
    await Promise.race([connecting, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects to the database named in `url` once, so that every way of failing
 * to reach it is reported in one line before anything else starts; creates
 * the database when it is missing and `create` is set (a fresh developer machine).
 */
export async function ensureDatabase(
  url: string,
  opts: { create: boolean; connectTimeoutMs?: number; log?: (msg: string) => void },
): Promise<void> {
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const probe = new pg.Client({ connectionString: url });
  try {
    await connectWithin(probe, timeoutMs);
    await probe.end();
    return;
  } catch (e) {
    await probe.end().catch(() => undefined);
    if ((e as { code?: unknown }).code !== '3D000' || !opts.create) throw postgresStartupError(e, url) ?? e;
  }

  const name = describeUrl(url).database;
  // The maintenance database: every role may connect to it by default.
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  try {
    await connectWithin(client, timeoutMs);
  } catch (e) {
    await client.end().catch(() => undefined);
    throw postgresStartupError(e, url) ?? e;
  }
  try {
    await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    opts.log?.(`created database ${name}`);
  } catch (e) {
    // Another process created it between our check and our CREATE.
    if ((e as { code?: string }).code !== '42P04') throw postgresStartupError(e, url, { creating: true }) ?? e;
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
export async function runMigrations(url: string, log?: (msg: string) => void, debug?: (msg: string) => void): Promise<string[]> {
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
    // One line for a person; each migration's name only for whoever debugs the schema.
    for (const m of done) (debug ?? log)?.(`applied migration ${m.name}`);
    if (done.length && debug) log?.(`applied ${done.length} migration${done.length > 1 ? 's' : ''} (latest: ${done[done.length - 1]!.name})`);
    return done.map((m) => m.name);
  } finally {
    await ds.destroy();
  }
}

/**
 * Before an app starts: the database reachable (StartupError otherwise),
 * created if missing and allowed, and its migrations applied if asked.
 */
export async function prepareDatabase(opts: PrepareOptions): Promise<void> {
  await ensureDatabase(opts.url, { create: opts.createDatabase, connectTimeoutMs: opts.connectTimeoutMs, log: opts.log });
  if (opts.migrationsRun) await runMigrations(opts.url, opts.log, opts.debug);
}
