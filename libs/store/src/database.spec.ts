import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { StartupError } from '@keyturn/config';
import { postgresStartupError, prepareDatabase } from '@keyturn/store';

const ADMIN_URL = process.env.E2E_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const URL_ = 'postgres://app:s3cret-pw@db.example:6543/keyturn';
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });

describe('postgresStartupError (what each failure to reach the database tells a person)', () => {
  it('connection refused: 69, host:port and the fix, never the password', () => {
    const e = postgresStartupError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6543'), { code: 'ECONNREFUSED' }), URL_);
    expect(e).toBeInstanceOf(StartupError);
    expect(e!.exitCode).toBe(69);
    expect(e!.message).toBe(
      'Postgres at db.example:6543 (DATABASE_URL) is not reachable: connection refused. ' +
        'Start Postgres (for development: docker compose -f docker/compose.yml up -d postgres redis) or set DATABASE_URL to a server that runs.',
    );
    expect(e!.message).not.toContain('s3cret-pw');
  });

  it('a wrong password or an unknown role: 77, naming the user', () => {
    for (const [code, msg] of [
      ['28P01', 'password authentication failed for user "app"'],
      ['28000', 'role "app" does not exist'],
    ]) {
      const e = postgresStartupError(pgError(code, msg), URL_);
      expect([e?.exitCode, e?.message]).toEqual([
        77,
        `Postgres at db.example:6543 (DATABASE_URL) refused user "app": ${msg}. Set DATABASE_URL to a user and password that Postgres accepts.`,
      ]);
    }
  });

  it('a server that asks for a password when DATABASE_URL has none: 77', () => {
    const e = postgresStartupError(new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), 'postgres://app@db.example/keyturn');
    expect([e?.exitCode, e?.message]).toEqual([
      77,
      'Postgres at db.example:5432 (DATABASE_URL) asks user "app" for a password, and DATABASE_URL has none. Put it in DATABASE_URL (postgres://app:<password>@db.example:5432/keyturn).',
    ]);
  });

  it('a server that is starting, or full: 69 with the reason', () => {
    expect(postgresStartupError(pgError('57P03', 'the database system is starting up'), URL_)?.message).toBe(
      'Postgres at db.example:6543 (DATABASE_URL) is not available: the database system is starting up. Wait until it runs, then start again.',
    );
    expect(postgresStartupError(pgError('53300', 'sorry, too many clients already'), URL_)?.exitCode).toBe(69);
  });

  it('the database missing: 69 when creation is off; 77 when the user may not create it', () => {
    const off = postgresStartupError(pgError('3D000', 'database "keyturn" does not exist'), URL_);
    expect([off?.exitCode, off?.message]).toEqual([
      69,
      'database "keyturn" does not exist on Postgres at db.example:6543 (DATABASE_URL). ' +
        'Create it (createdb -h db.example -p 6543 -U app keyturn), set KEYTURN_CREATE_DATABASE=true, or set DATABASE_URL to a database that exists.',
    ]);
    const denied = postgresStartupError(pgError('42501', 'permission denied to create database'), URL_, { creating: true });
    expect([denied?.exitCode, denied?.message]).toEqual([
      77,
      'database "keyturn" does not exist on Postgres at db.example:6543 (DATABASE_URL), and user "app" may not create it: permission denied to create database. ' +
        'Create it as a user who may (createdb -h db.example -p 6543 -O app keyturn), or let this user create databases (ALTER ROLE app CREATEDB).',
    ]);
  });

  it('anything else is not a start-up error of its own', () => {
    expect(postgresStartupError(new Error('syntax error at or near'), URL_)).toBeUndefined();
  });
});

describe('prepareDatabase (the machine’s Postgres)', () => {
  it('a closed port fails at once with the one-line error, not the driver’s', async () => {
    const err = await prepareDatabase({ url: 'postgres://postgres@127.0.0.1:1/keyturn', createDatabase: true, migrationsRun: true, connectTimeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as StartupError).message).toMatch(/^Postgres at 127\.0\.0\.1:1 \(DATABASE_URL\) is not reachable: connection refused\./);
  });

  it('creates a missing database, reports one line per run of migrations, and each migration at debug', async () => {
    const name = `keyturn_unit_prepare_${randomBytes(4).toString('hex')}`;
    const url = Object.assign(new URL(ADMIN_URL), { pathname: `/${name}` }).toString();
    const info: string[] = [];
    const debug: string[] = [];
    try {
      await prepareDatabase({ url, createDatabase: true, migrationsRun: true, connectTimeoutMs: 5_000, log: (m) => info.push(m), debug: (m) => debug.push(m) });
      expect(info[0]).toBe(`created database ${name}`);
      expect(info[1]).toMatch(/^applied \d+ migrations \(latest: \w+\)$/);
      expect(info).toHaveLength(2);
      expect(debug.length).toBeGreaterThan(1);
      expect(debug.every((m) => /^applied migration \w+$/.test(m))).toBe(true);
      // A second start finds everything in place and says nothing at info.
      info.length = 0;
      await prepareDatabase({ url, createDatabase: true, migrationsRun: true, connectTimeoutMs: 5_000, log: (m) => info.push(m), debug: () => undefined });
      expect(info).toEqual([]);
    } finally {
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});
