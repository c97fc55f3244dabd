import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { HeartbeatsRepository, SecretVersionsRepository, Transactions, uuidv7 } from '@keyturn/store';
import type { VersionCipher } from '@keyturn/vault';
import { CONFIG, FakeClock, FakeIam } from '../../../test/unit-fakes/worker.fixture.js';
import { HeartbeatUseCase } from './heartbeat.usecase.js';
import { recordStatements, migratedDataSource, throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';

// The heartbeat's finish on real Postgres (docs/architecture.md, "Heartbeats"):
// the common case in one call (keyturn_finish_heartbeat), a status change with
// its event and audit entry in a transaction, a promotion that commits while the
// finish waits for the secret's row lock making the check not count.
const HOUR = 3_600_000;
/** Versions here hold their fields in the clear: the cipher is not what these tests are about. */
const plainCipher = { open: (v: { fields: unknown }) => v.fields as Record<string, string> } as unknown as VersionCipher;

describe('HeartbeatUseCase on Postgres', () => {
  const database = throwawayDatabase('hbpg');
  const url = database.url;
  let ds: DataSource;
  /** Statements the use case sent, as Postgres received them (BEGIN/COMMIT included). */
  const statements: string[] = [];

  beforeAll(async () => {
    await database.create();
    ds = await migratedDataSource(url);
    recordStatements(ds, statements);
  });
  afterAll(async () => {
    await ds?.destroy();
    await database.drop();
  });

  async function world(status: string, failures = 0) {
    const clock = new FakeClock();
    const iam = new FakeIam(clock);
    const user = `u${randomBytes(4).toString('hex')}`;
    iam.addUser(user, { keys: 1 });
    const key = iam.user(user).keys[0]!;
    const secretId = uuidv7();
    const versionId = uuidv7();
    const hbId = uuidv7();
    await ds.query(
      `INSERT INTO secrets (id, type, name, folder, account_id, username, settings, version_counter, heartbeat_status, heartbeat_failures)
       VALUES ($1, 'aws-iam-key', $2, '/', '111111111111', $2, '{}', 1, $3, $4)`,
      [secretId, user, status, failures],
    );
    await ds.query(`INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields) VALUES ($1, $2, 1, 'current', 'k1', 'w', $3)`, [
      versionId,
      secretId,
      { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    ]);
    await ds.query(`INSERT INTO heartbeats (id, secret_id, status, trigger, requested_by) VALUES ($1, $2, 'queued', 'api', 'test')`, [hbId, secretId]);
    const useCase = new HeartbeatUseCase(new HeartbeatsRepository(ds.manager), new SecretVersionsRepository(ds.manager), new Transactions(ds), plainCipher, iam, CONFIG, clock);
    return { clock, iam, user, key, secretId, versionId, hbId, useCase };
  }

  const one = async (sql: string, params: unknown[]) => ((await ds.query(sql, params)) as Record<string, unknown>[])[0];
  const hbRow = (id: string) => one(`SELECT status, outcome, finished_at, lease_expires_at, checked_arn, key_status, error_code FROM heartbeats WHERE id = $1`, [id]);
  const secretRow = (id: string) =>
    one(`SELECT s.heartbeat_status, s.heartbeat_failures, s.last_heartbeat_at, d.due_at AS next_heartbeat_at FROM secrets s LEFT JOIN heartbeat_due d ON d.secret_id = s.id WHERE s.id = $1`, [id]);
  const eventsOf = (secretId: string) => ds.query(`SELECT type, payload FROM events WHERE secret_id = $1`, [secretId]);
  const deliveriesOf = (secretId: string) => ds.query(`SELECT d.url, d.status FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE e.secret_id = $1 ORDER BY d.url`, [secretId]);
  const auditOf = (secretId: string) => ds.query(`SELECT actor_id, action, outcome, target_type, target_id, error_code, details FROM audit_events WHERE secret_id = $1`, [secretId]);

  it('the claim commits without waiting for the WAL flush (a claim lost in a crash is a heartbeat checked again), in its own transaction only', async () => {
    const { hbId } = await world('success');
    const runner = ds.createQueryRunner();
    try {
      await runner.startTransaction();
      const setting = async () => ((await runner.query(`SHOW synchronous_commit`)) as { synchronous_commit: string }[])[0]!.synchronous_commit;
      expect(await setting()).toBe('on');
      expect((await new HeartbeatsRepository(runner.manager).claimForCheck(hbId))?.hb.id).toBe(hbId);
      expect(await setting()).toBe('off');
      await runner.commitTransaction();
      // The connection's own setting is back: the result the heartbeat writes next waits for the flush.
      expect(await setting()).toBe('on');
    } finally {
      await runner.release();
    }
    expect(await hbRow(hbId)).toMatchObject({ status: 'running' });
  });

  it('unchanged status: one call, no transaction; the heartbeat, the secret and the listing written', async () => {
    const x = await world('success');
    statements.length = 0;
    expect(await x.useCase.execute(x.hbId)).toEqual({ kind: 'done' });
    // The claim, then the finish: no BEGIN, no COMMIT.
    expect(statements).toEqual(['WITH', 'SELECT']);
    const now = new Date(x.clock.now());
    expect(await hbRow(x.hbId)).toEqual({
      status: 'done', outcome: 'success', finished_at: now, lease_expires_at: null,
      checked_arn: `arn:aws:iam::111111111111:user/${x.user}`, key_status: 'Active', error_code: null,
    });
    expect(await secretRow(x.secretId)).toEqual({ heartbeat_status: 'success', heartbeat_failures: 0, last_heartbeat_at: now, next_heartbeat_at: new Date(x.clock.now() + HOUR) });
    expect(await one(`SELECT key_status, key_created_at, key_listed_at FROM secret_versions WHERE id = $1`, [x.versionId])).toEqual({ key_status: 'Active', key_created_at: x.key.createDate, key_listed_at: now });
    expect(await eventsOf(x.secretId)).toEqual([]);
    expect(await auditOf(x.secretId)).toEqual([]);
  });

  it('a status change: the result, its event (one delivery per webhook URL) and its audit entry, in one transaction', async () => {
    const x = await world('success', 0);
    x.key.status = 'Inactive';
    statements.length = 0;
    expect(await x.useCase.execute(x.hbId)).toEqual({ kind: 'done' });
    // The claim, the one-call finish (which wrote nothing: the status changes), then the transaction.
    expect(statements.slice(0, 3)).toEqual(['WITH', 'SELECT', 'START']);
    expect(statements.at(-1)).toBe('COMMIT');
    expect(await hbRow(x.hbId)).toMatchObject({ status: 'done', outcome: 'failed', error_code: 'IAM_INVALID_CREDENTIALS' });
    expect(await secretRow(x.secretId)).toEqual({ heartbeat_status: 'failed', heartbeat_failures: 1, last_heartbeat_at: new Date(x.clock.now()), next_heartbeat_at: new Date(x.clock.now() + HOUR) });
    expect(await eventsOf(x.secretId)).toEqual([
      { type: 'heartbeat.status-changed', payload: { secretId: x.secretId, heartbeatId: x.hbId, from: 'success', to: 'failed', errorCode: 'IAM_INVALID_CREDENTIALS' } },
    ]);
    expect(await deliveriesOf(x.secretId)).toEqual(CONFIG.webhooks.urls.map((u) => ({ url: u, status: 'pending' })));
    expect(await auditOf(x.secretId)).toEqual([
      {
        actor_id: 'system:heartbeat',
        action: 'heartbeat.status-changed',
        outcome: 'failure',
        target_type: 'heartbeat',
        target_id: x.hbId,
        error_code: 'IAM_INVALID_CREDENTIALS',
        details: { from: 'success', to: 'failed' },
      },
    ]);
  });

  it('a promotion that commits while the finish waits for the lock: the check does not count, the new current key is checked', async () => {
    const x = await world('success');
    const rotation = ds.createQueryRunner();
    await rotation.connect();
    const real = x.iam.getCallerIdentity.bind(x.iam);
    let promoted: Promise<void> | undefined;
    let newKeyId = '';
    x.iam.getCallerIdentity = async (c) => {
      const answer = await real(c);
      if (!promoted) {
        // A rotation holds the secret's row lock as the check ends, and commits its promotion only once the finish waits for it.
        const k = x.iam.addKey(x.user, new Date(x.clock.now()));
        newKeyId = k.accessKeyId;
        await rotation.startTransaction();
        await rotation.query(`SELECT id FROM secrets WHERE id = $1 FOR UPDATE`, [x.secretId]);
        await rotation.query(`UPDATE secret_versions SET state = 'previous' WHERE id = $1`, [x.versionId]);
        await rotation.query(`INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields) VALUES ($1, $2, 2, 'current', 'k1', 'w', $3)`, [
          uuidv7(),
          x.secretId,
          { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey },
        ]);
        promoted = (async () => {
          await waitFor(async () => (await ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0].n > 0);
          await rotation.commitTransaction();
        })();
      }
      return answer;
    };
    try {
      expect(await x.useCase.execute(x.hbId)).toEqual({ kind: 'done' });
      await promoted;
    } finally {
      if (rotation.isTransactionActive) await rotation.rollbackTransaction();
      await rotation.release();
    }
    expect(x.iam.callsOf('getCallerIdentity')).toHaveLength(2);
    expect([...new Set(x.iam.callerKeys)]).toEqual([x.key.accessKeyId, newKeyId]);
    // The first check wrote nothing (its key's listing neither); the second, on the new key, is the result.
    expect(await one(`SELECT key_listed_at FROM secret_versions WHERE id = $1`, [x.versionId])).toEqual({ key_listed_at: null });
    expect(await hbRow(x.hbId)).toMatchObject({ status: 'done', outcome: 'success' });
    expect(await eventsOf(x.secretId)).toEqual([]);
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
