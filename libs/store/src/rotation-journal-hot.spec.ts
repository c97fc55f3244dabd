import type { DataSource, QueryRunner } from 'typeorm';
import { RotationsRepository, uuidv7 } from '@keyturn/store';
import { migratedDataSource, throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';

// Real Postgres (the machine's), in a database of this spec's own, so that the table statistics it reads
// count its own writes only.
//
// Each step of a rotation's run writes its progress to the rotation row (5–6 writes per rotation). A write
// that changes no indexed column can be a HOT update: the new row version goes on the same page and no index
// gets an entry. One that changes an indexed column adds an entry to every index of the table (primary key,
// rotations_secret, rotations_one_running, rotations_unfinished): that was ≈20 index insertions per
// rotation, most of what a rotation wrote to Postgres beyond the raw baseline (docs/performance.md).

describe("a running rotation's journal writes (Postgres)", () => {
  const database = throwawayDatabase('rotjournalhot');
  let ds: DataSource;
  /** One connection for every statement: each write its own transaction, as in a run, and the statistics of this backend. */
  let runner: QueryRunner;

  beforeAll(async () => {
    await database.create();
    ds = await migratedDataSource(database.url);
    runner = ds.createQueryRunner();
    await runner.connect();
  });
  afterAll(async () => {
    await runner?.release();
    await ds?.destroy();
    await database.drop();
  });

  /** rotations' update counts, this backend's writes flushed to the shared statistics first. */
  async function updateCounts(): Promise<{ updated: number; hot: number }> {
    // Flushed when the backend next goes idle: before it answers this statement.
    await runner.query(`SELECT pg_stat_force_next_flush()`);
    const [c] = await runner.query(`SELECT n_tup_upd::int AS updated, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables WHERE relname = 'rotations'`);
    return c as { updated: number; hot: number };
  }

  it('change no indexed column: each is a HOT update, though each sets updated_at', async () => {
    const secretId = uuidv7();
    const rotationId = uuidv7();
    await runner.query(`INSERT INTO secrets (id, type, name, folder, account_id, username) VALUES ($1, 'aws-iam-key', 'hot', '/', '111111111111', 'alice')`, [secretId]);
    await runner.query(
      `INSERT INTO rotations (id, secret_id, secret_type, status, step, requested_by, lease_owner, lease_expires_at, started_at)
       VALUES ($1, $2, 'aws-iam-key', 'running', 'prepare', 'test', 'w1', now() + interval '1 minute', now())`,
      [rotationId, secretId],
    );
    const rotations = new RotationsRepository(runner.manager);
    const rot = (await rotations.get(rotationId))!;
    const before = await updateCounts();
    const at = new Date();

    // The writes of a run between its claim and its finish, each in a transaction of its own (so each one's
    // now(), and so its updated_at, differs from the last).
    await rotations.journal(rot, { step: 'make-room', mode: 'basic' });
    await rotations.aboutToCreate(rot, at, null);
    await rotations.setPending(rot, 1, 'verify');
    await rotations.appendWarning(rot, { at: at.toISOString(), code: 'RETIRE_FAILED', message: 'a warning' });
    await rotations.renewLease(rot.id, 'w1', 60_000);
    await rotations.setStep(rot.id, 'retire');

    const after = await updateCounts();
    expect({ updated: after.updated - before.updated, hot: after.hot - before.hot }).toEqual({ updated: 6, hot: 6 });
    const [row] = await runner.query(`SELECT step, pending_version, updated_at > created_at AS touched FROM rotations WHERE id = $1`, [rotationId]);
    expect(row).toEqual({ step: 'retire', pending_version: 1, touched: true });
  });
});
