import type { DataSource } from 'typeorm';
import { HeartbeatsRepository, MIGRATIONS, SecretVersionsRepository, SecretsRepository, uuidv7, type HeartbeatResult, type KeyListing } from '@keyturn/store';
import { HeartbeatFinish1795835000000 } from './migrations/1795835000000-heartbeat-finish.js';
import { migratedDataSource, throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';

// Real Postgres (the machine's), in a database of this run's own: the one-call
// finish of a heartbeat (keyturn_finish_heartbeat) must decide under the same
// row lock, see the same promotions and write the same rows as the transaction
// it stands in for.
const HOUR = 3_600_000;

describe('HeartbeatsRepository.finishUnchanged (Postgres)', () => {
  const database = throwawayDatabase('hbfinish');
  const url = database.url;
  let ds: DataSource;
  let heartbeats: HeartbeatsRepository;

  beforeAll(async () => {
    await database.create();
    ds = await migratedDataSource(url);
    heartbeats = new HeartbeatsRepository(ds.manager);
  });
  afterAll(async () => {
    await ds?.destroy();
    await database.drop();
  });

  /** A secret with a current version and a running heartbeat. */
  async function subject(status: string, failures: number): Promise<{ secretId: string; versionId: string; hbId: string }> {
    const secretId = uuidv7();
    const versionId = uuidv7();
    const hbId = uuidv7();
    await ds.query(
      `INSERT INTO secrets (id, type, name, folder, account_id, username, settings, version_counter, heartbeat_status, heartbeat_failures)
       VALUES ($1, 'aws-iam-key', $4, '/', '123456789012', 'alice', '{}', 1, $2, $3)`,
      [secretId, status, failures, `s-${secretId}`],
    );
    await ds.query(`INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields) VALUES ($1, $2, 1, 'current', 'k1', 'w', '{}')`, [versionId, secretId]);
    await ds.query(`INSERT INTO heartbeats (id, secret_id, status, trigger, requested_by, attempt, lease_expires_at) VALUES ($1, $2, 'running', 'api', 'test', 1, now() + interval '2 minutes')`, [hbId, secretId]);
    return { secretId, versionId, hbId };
  }

  /** The rows a finish writes, without the ids and times that differ between two subjects by construction. */
  async function rows(x: { secretId: string; versionId: string; hbId: string }) {
    const [h] = await ds.query(`SELECT status, outcome, finished_at, lease_expires_at, checked_arn, key_status, key_created_at, error_code, error_message, attempt FROM heartbeats WHERE id = $1`, [x.hbId]);
    const [s] = await ds.query(
      `SELECT s.heartbeat_status, s.heartbeat_failures, s.last_heartbeat_at, d.due_at AS next_heartbeat_at FROM secrets s LEFT JOIN heartbeat_due d ON d.secret_id = s.id WHERE s.id = $1`,
      [x.secretId],
    );
    const [v] = await ds.query(`SELECT state, key_status, key_created_at, key_listed_at FROM secret_versions WHERE id = $1`, [x.versionId]);
    return { h, s, v };
  }

  const at = new Date('2026-11-28T12:00:00.123Z');
  const listing: KeyListing = { keyStatus: 'Active', keyCreatedAt: new Date('2026-01-02T03:04:05Z'), keyListedAt: at };
  const ok = { outcome: 'success', at, detail: { checkedArn: 'arn:aws:iam::123456789012:user/alice', keyStatus: 'Active', keyCreatedAt: listing.keyCreatedAt } } as const;
  const bad = { outcome: 'failed', at, detail: { errorCode: 'IAM_INVALID_CREDENTIALS', errorMessage: 'The security token included in the request is invalid' } } as const;

  it.each([
    ['a success after a success, with a listing', 'success', 0, ok, listing, 1],
    ['a failure after a failure', 'failed', 1, bad, undefined, 2],
    ['a failure after three failures', 'failed', 3, bad, undefined, 8],
    ['a failure after nine failures (the backoff stays at 8×)', 'failed', 9, bad, undefined, 8],
  ])('%s: writes the rows the transaction wrote (finishChecked and recordListing)', async (_, status, failures, result, l, factor) => {
    // The transaction it stands in for, on one subject ...
    const before = await subject(status, failures);
    await ds.transaction(async (m) => {
      expect(await new SecretsRepository(m).lockHeartbeatState(before.secretId)).toEqual({ heartbeatStatus: status, heartbeatFailures: failures });
      expect(await new SecretVersionsRepository(m).currentId(before.secretId)).toBe(before.versionId);
      const r: HeartbeatResult = { ...result, secret: { status: result.outcome, failures: result.outcome === 'success' ? 0 : failures + 1, next: new Date(at.getTime() + HOUR * factor) } };
      await new HeartbeatsRepository(m).finishChecked(before.hbId, before.secretId, r);
      if (l) await new SecretVersionsRepository(m).recordListing(before.versionId, l);
    });
    // ... and the one call on a twin.
    const twin = await subject(status, failures);
    expect(await heartbeats.finishUnchanged(twin.hbId, twin.secretId, twin.versionId, { ...result, intervalMs: HOUR, ...(l ? { listing: l } : {}) })).toBe('finished');
    expect(await rows(twin)).toEqual(await rows(before));
    expect((await rows(twin)).s).toEqual({
      heartbeat_status: result.outcome,
      heartbeat_failures: result.outcome === 'success' ? 0 : failures + 1,
      last_heartbeat_at: at,
      next_heartbeat_at: new Date(at.getTime() + HOUR * factor),
    });
  });

  it('a status change writes nothing and says so (the caller records it with its event and audit entry)', async () => {
    const x = await subject('success', 0);
    const untouched = await rows(x);
    expect(await heartbeats.finishUnchanged(x.hbId, x.secretId, x.versionId, { ...bad, intervalMs: HOUR })).toBe('status-changed');
    expect(await rows(x)).toEqual(untouched);
  });

  it('a promotion that commits while the call waits for the secret’s row lock: nothing written, stale', async () => {
    const x = await subject('success', 0);
    const untouched = await rows(x);
    const rotation = ds.createQueryRunner();
    await rotation.connect();
    await rotation.startTransaction();
    let finished: Promise<string> | undefined;
    try {
      // A rotation's promotion takes the secret's row lock, then moves the versions along.
      await rotation.query(`SELECT id FROM secrets WHERE id = $1 FOR UPDATE`, [x.secretId]);
      finished = heartbeats.finishUnchanged(x.hbId, x.secretId, x.versionId, { ...ok, intervalMs: HOUR, listing });
      // The call is waiting for the lock (a backend of this database waits on a lock), not done before the promotion.
      await waitFor(async () => (await ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0].n > 0);
      await rotation.query(`UPDATE secret_versions SET state = 'previous' WHERE id = $1`, [x.versionId]);
      await rotation.query(`INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields) VALUES ($1, $2, 2, 'current', 'k1', 'w', '{}')`, [uuidv7(), x.secretId]);
      await rotation.commitTransaction();
    } finally {
      if (rotation.isTransactionActive) await rotation.rollbackTransaction();
      await rotation.release();
    }
    expect(await finished).toBe('stale');
    expect(await rows(x)).toEqual({ ...untouched, v: { ...untouched.v, state: 'previous' } });
  });

  it('a check of a version that is no longer current, or of a secret without one, writes nothing', async () => {
    const x = await subject('success', 0);
    const untouched = await rows(x);
    expect(await heartbeats.finishUnchanged(x.hbId, x.secretId, uuidv7(), { ...ok, intervalMs: HOUR })).toBe('stale');
    expect(await heartbeats.finishUnchanged(x.hbId, x.secretId, null, { ...ok, intervalMs: HOUR })).toBe('stale');
    expect(await rows(x)).toEqual(untouched);
  });

  it('a deleted secret: gone, nothing written', async () => {
    const x = await subject('success', 0);
    await ds.query(`DELETE FROM heartbeats WHERE id = $1`, [x.hbId]);
    await ds.query(`DELETE FROM secrets WHERE id = $1`, [x.secretId]);
    expect(await heartbeats.finishUnchanged(x.hbId, x.secretId, x.versionId, { ...ok, intervalMs: HOUR })).toBe('gone');
  });

  // Last: it takes the function away.
  it('the migration’s down drops the function, and up makes it again', async () => {
    const exists = async () => (await ds.query(`SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'keyturn_finish_heartbeat'`))[0].n;
    expect(await exists()).toBe(1);
    // Down to HeartbeatFinish: the migrations after it first (HeartbeatDue puts the function back as HeartbeatFinish made it).
    const after = MIGRATIONS.slice(MIGRATIONS.indexOf(HeartbeatFinish1795835000000) + 1);
    for (let i = 0; i < after.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    expect(await exists()).toBe(1);
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await exists()).toBe(0);
    await ds.runMigrations({ transaction: 'each' });
    expect(await exists()).toBe(1);
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
