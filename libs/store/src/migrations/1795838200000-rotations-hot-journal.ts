import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14 (Postgres work per rotation): a running rotation's journal writes (step, mode, pending version,
 * "about to create", warnings, lease) become HOT updates.
 *
 * Each of them sets `updated_at`, and `rotations_unfinished` was keyed on it: a write that changes an
 * indexed column cannot be a HOT update, so each of the 5–6 writes of a run added an entry to every index
 * of the table (primary key, rotations_secret, rotations_one_running, rotations_unfinished), ≈20 index
 * insertions per rotation, and a row version on another page. The index now has the same rows (its
 * predicate is unchanged) keyed on `created_at`, which no write changes; the reconciler that reads it
 * still picks rows by `updated_at`, among the unfinished rows only, and takes them oldest first.
 *
 * `fillfactor` 70: a HOT update needs room on the row's page; rows inserted at the default 100 fill their
 * page, and a run's first write would move its row to another page (a non-HOT update) for want of room.
 * Applies to pages filled from now on.
 */
export class RotationsHotJournal1795838200000 implements MigrationInterface {
  name = 'RotationsHotJournal1795838200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX rotations_unfinished`);
    await q.query(`CREATE INDEX rotations_unfinished ON rotations (created_at) WHERE status IN ('queued', 'running') OR retire_pending`);
    await q.query(`ALTER TABLE rotations SET (fillfactor = 70)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rotations RESET (fillfactor)`);
    await q.query(`DROP INDEX rotations_unfinished`);
    await q.query(`CREATE INDEX rotations_unfinished ON rotations (updated_at) WHERE status IN ('queued', 'running') OR retire_pending`);
  }
}
