import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { MIGRATIONS, dataSourceOptions } from '@keyturn/store';
import { OneWaiting1795830100000 } from './migrations/1795830100000-one-waiting.js';
import { throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';

// Real Postgres (the machine's), in a database of this run's own.

async function migrate(url: string, migrations: typeof MIGRATIONS): Promise<void> {
  const ds = new DataSource({ ...dataSourceOptions(url), migrations });
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
  } finally {
    await ds.destroy();
  }
}

describe('migration OneWaiting: a database that already holds a backlog', () => {
  const database = throwawayDatabase('waiting');
  const url = database.url;
  let db: pg.Client;

  beforeAll(async () => {
    await database.create();
    await migrate(url, MIGRATIONS.filter((m) => m !== OneWaiting1795830100000));
    db = new pg.Client({ connectionString: url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await database.drop();
  });

  it('keeps the oldest waiting rotation and heartbeat per secret, supersedes the rest, and then allows no second one', async () => {
    const secret = randomUUID();
    await db.query(`INSERT INTO secrets (id, type, name, folder, username, account_id) VALUES ($1, 'aws-iam-key', 's', '/', 'u', '123456789012')`, [secret]);
    const rot = async (minutesAgo: number, extra: { status?: string; started?: boolean; key?: string } = {}) => {
      const id = randomUUID();
      await db.query(
        `INSERT INTO rotations (id, secret_id, secret_type, status, step, requested_by, idempotency_key, created_at, started_at)
         VALUES ($1, $2, 'aws-iam-key', $3, 'prepare', 'test', $4, now() - $5 * interval '1 minute', CASE WHEN $6 THEN now() END)`,
        [id, secret, extra.status ?? 'queued', extra.key ?? null, minutesAgo, extra.started ?? false],
      );
      return id;
    };
    const oldest = await rot(30, { key: 'first' });
    const dupA = await rot(20, { key: 'deploy-1' });
    const dupB = await rot(10);
    const retrying = await rot(40, { started: true });
    const hb = async (minutesAgo: number, attempt = 0) => {
      const id = randomUUID();
      await db.query(
        `INSERT INTO heartbeats (id, secret_id, status, trigger, requested_by, attempt, created_at) VALUES ($1, $2, 'queued', 'api', 'test', $3, now() - $4 * interval '1 minute')`,
        [id, secret, attempt, minutesAgo],
      );
      return id;
    };
    const hbOldest = await hb(30);
    const hbDup = await hb(20);
    const hbThrottled = await hb(40, 1);

    await migrate(url, MIGRATIONS);

    const rotations = await db.query(`SELECT id, status, error_code FROM rotations WHERE secret_id = $1`, [secret]);
    expect(Object.fromEntries(rotations.rows.map((r) => [r.id, [r.status, r.error_code]]))).toEqual({
      [oldest]: ['queued', null],
      [dupA]: ['failed', 'SUPERSEDED'],
      [dupB]: ['failed', 'SUPERSEDED'],
      [retrying]: ['queued', null],
    });
    // A client retrying with a superseded rotation's key gets the rotation that absorbed it.
    const keys = await db.query(`SELECT idempotency_key, rotation_id FROM rotation_idempotency_keys WHERE secret_id = $1 ORDER BY idempotency_key`, [secret]);
    expect(keys.rows).toEqual([
      { idempotency_key: 'deploy-1', rotation_id: oldest },
      { idempotency_key: 'first', rotation_id: oldest },
    ]);
    const heartbeats = await db.query(`SELECT id, status, error_code FROM heartbeats WHERE secret_id = $1`, [secret]);
    expect(Object.fromEntries(heartbeats.rows.map((r) => [r.id, [r.status, r.error_code]]))).toEqual({
      [hbOldest]: ['queued', null],
      [hbDup]: ['done', 'SUPERSEDED'],
      [hbThrottled]: ['queued', null],
    });

    await expect(rot(0)).rejects.toMatchObject({ code: '23505' });
    await expect(hb(0)).rejects.toMatchObject({ code: '23505' });
  });
});
