import { DataSource } from 'typeorm';
import { ErrorCode } from '@keyturn/contracts';
import { RotationsRepository, SecretVersionsRepository, SecretsRepository, Transactions, dataSourceOptions, uuidv7, type RotationEntity } from '@keyturn/store';
import type { VersionCipher } from '@keyturn/vault';
import { CONFIG, FakeClock } from '../../../test/unit-fakes/worker.fixture.js';
import { throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';
import { ChangeJournal } from './change-journal.service.js';

// A verified key's promotion on real Postgres (docs/architecture.md, "The rotation protocol"): the common
// case in one call (keyturn_promote_checked), a heartbeat status change in a transaction with its event,
// and nothing to promote writing nothing. Both paths must leave the same rows.
const HOUR = 3_600_000;
const plainCipher = { open: (v: { fields: unknown }) => v.fields as Record<string, string> } as unknown as VersionCipher;

describe('ChangeJournal.promote on Postgres', () => {
  const database = throwawayDatabase('promotepg');
  let ds: DataSource;
  /** Statements sent, as Postgres received them (BEGIN/COMMIT included). */
  const statements: string[] = [];

  beforeAll(async () => {
    await database.create();
    ds = new DataSource(dataSourceOptions(database.url));
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    const record = (q: string) => statements.push(q.trim().split(/\s+/)[0]!.toUpperCase());
    const logger = ds.logger;
    Object.assign(ds, { logger: Object.assign(Object.create(logger) as object, { logQuery: record }) });
    type Statement = string | { text: string };
    const pool = (ds.driver as unknown as { master: { query: (q: Statement, ...rest: unknown[]) => Promise<unknown> } }).master;
    const poolQuery = pool.query.bind(pool);
    pool.query = (q: Statement, ...rest: unknown[]) => {
      record(typeof q === 'string' ? q : q.text);
      return poolQuery(q, ...rest);
    };
  });
  afterAll(async () => {
    await ds?.destroy();
    await database.drop();
  });

  /** A key secret with a previous, a current and (unless `pending` is false) a pending version, and a running rotation at verify. */
  async function world(status: string, pending = true) {
    const clock = new FakeClock();
    const secretId = uuidv7();
    const rotationId = uuidv7();
    const createdAt = new Date('2030-01-01T11:59:00.000Z');
    await ds.query(
      `INSERT INTO secrets (id, type, name, folder, account_id, username, settings, version_counter, heartbeat_status, heartbeat_failures)
       VALUES ($1, 'aws-iam-key', $2, '/', '111111111111', 'alice', '{}', 3, $3, $4)`,
      [secretId, `s-${secretId}`, status, status === 'success' ? 0 : 2],
    );
    const states = pending ? ['previous', 'current', 'pending'] : ['previous', 'current'];
    for (const [i, state] of states.entries()) {
      await ds.query(
        `INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields, key_created_at) VALUES ($1, $2, $3, $4, 'k1', 'w', '{"accessKeyId": "AKIA"}', $5)`,
        [uuidv7(), secretId, i + 1, state, state === 'pending' ? createdAt : null],
      );
    }
    await ds.query(`INSERT INTO rotations (id, secret_id, secret_type, status, step, requested_by, pending_version) VALUES ($1, $2, 'aws-iam-key', 'running', 'verify', 'test', 3)`, [
      rotationId,
      secretId,
    ]);
    const journal = new ChangeJournal(
      new RotationsRepository(ds.manager),
      new SecretsRepository(ds.manager),
      new SecretVersionsRepository(ds.manager),
      new Transactions(ds),
      plainCipher,
      clock,
      CONFIG,
    );
    const rot = (await new RotationsRepository(ds.manager).get(rotationId)) as RotationEntity;
    const at = new Date(clock.now());
    return { secretId, rotationId, rot, journal, at, createdAt, verified: { at, arn: 'arn:aws:iam::111111111111:user/alice', heartbeatIntervalSeconds: null } };
  }

  /** Everything a promotion writes, as one comparable value. */
  async function rowsOf(secretId: string, rotationId: string) {
    const [secret] = await ds.query(
      `SELECT s.heartbeat_status, s.heartbeat_failures, s.last_heartbeat_at, s.last_rotated_at IS NOT NULL AS rotated, d.due_at
         FROM secrets s JOIN heartbeat_due d ON d.secret_id = s.id WHERE s.id = $1`,
      [secretId],
    );
    const versions = await ds.query(`SELECT version, state FROM secret_versions WHERE secret_id = $1 ORDER BY version`, [secretId]);
    const heartbeats = await ds.query(
      `SELECT status, outcome, trigger, requested_by, checked_arn, key_status, key_created_at, attempt, created_at, finished_at FROM heartbeats WHERE secret_id = $1`,
      [secretId],
    );
    const [rotation] = await ds.query(`SELECT step FROM rotations WHERE id = $1`, [rotationId]);
    const events = await ds.query(`SELECT type FROM events WHERE secret_id = $1`, [secretId]);
    return { secret, versions, heartbeats, rotation, events };
  }

  const expected = (x: { at: Date; createdAt: Date }) => ({
    secret: { heartbeat_status: 'success', heartbeat_failures: 0, last_heartbeat_at: x.at, rotated: true, due_at: new Date(x.at.getTime() + HOUR) },
    versions: [
      { version: 1, state: 'retired' },
      { version: 2, state: 'previous' },
      { version: 3, state: 'current' },
    ],
    heartbeats: [
      {
        status: 'done', outcome: 'success', trigger: 'rotation', requested_by: 'system:rotation-worker', checked_arn: 'arn:aws:iam::111111111111:user/alice',
        key_status: 'Active', key_created_at: x.createdAt, attempt: 1, created_at: x.at, finished_at: x.at,
      },
    ],
    rotation: { step: 'retire' },
  });

  it('status already success: one call, no transaction; the versions moved, the verify step recorded as the heartbeat, the step', async () => {
    const x = await world('success');
    statements.length = 0;
    await x.journal.promote(x.rot, 'retire', x.verified);
    expect(statements).toEqual(['SELECT']);
    expect(x.rot.step).toBe('retire');
    expect(await rowsOf(x.secretId, x.rotationId)).toEqual({ ...expected(x), events: [] });
  });

  it('a status change: the same rows, and the change announced, in one transaction', async () => {
    const x = await world('failing');
    statements.length = 0;
    await x.journal.promote(x.rot, 'retire', x.verified);
    // The call wrote nothing and said so; the transaction did it all.
    expect(statements[0]).toBe('SELECT');
    expect(statements[1]).toBe('START');
    expect(statements.at(-1)).toBe('COMMIT');
    expect(await rowsOf(x.secretId, x.rotationId)).toEqual({ ...expected(x), events: [{ type: 'heartbeat.status-changed' }] });
  });

  it('the one call is all or nothing: a write that fails in it (a heartbeat id already taken) leaves every row as it was', async () => {
    const x = await world('success');
    const heartbeatId = uuidv7();
    await ds.query(`INSERT INTO heartbeats (id, secret_id, status, trigger, requested_by) VALUES ($1, $2, 'done', 'api', 'test')`, [heartbeatId, x.secretId]);
    const before = await rowsOf(x.secretId, x.rotationId);
    const check = { at: x.at, next: new Date(x.at.getTime() + HOUR), heartbeatId, requestedBy: 'system:rotation-worker', checkedArn: x.verified.arn };
    // The heartbeat insert comes after the secret's write and the version moves.
    await expect(new SecretsRepository(ds.manager).promoteChecked(x.secretId, x.rotationId, 'retire', check)).rejects.toMatchObject({ code: '23505', constraint: 'heartbeats_pkey' });
    expect(await rowsOf(x.secretId, x.rotationId)).toEqual(before);
  });

  it('nothing pending: NOTHING_TO_PROMOTE and nothing written', async () => {
    const x = await world('success', false);
    const before = await rowsOf(x.secretId, x.rotationId);
    statements.length = 0;
    await expect(x.journal.promote(x.rot, 'retire', x.verified)).rejects.toMatchObject({ code: ErrorCode.NOTHING_TO_PROMOTE });
    expect(statements).toEqual(['SELECT']);
    expect(await rowsOf(x.secretId, x.rotationId)).toEqual(before);
    expect(x.rot.step).toBe('verify');
  });
});
