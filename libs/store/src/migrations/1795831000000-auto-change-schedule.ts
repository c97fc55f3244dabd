import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Automatic-change schedules (issue 12 item 5). A secret with a schedule holds
 * its next change: the scheduled (fire) time, the moment inside the window the
 * change starts, and the schedule and window they were computed from (so a
 * change of the global schedule is noticed and recomputed). Schedulers claim
 * due rows with FOR UPDATE SKIP LOCKED through the partial index, and the
 * rotation they request records the time it was scheduled for.
 */
export class AutoChangeSchedule1795831000000 implements MigrationInterface {
  name = 'AutoChangeSchedule1795831000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE secrets ADD COLUMN next_auto_change_at timestamptz, ADD COLUMN auto_change_scheduled_for timestamptz, ADD COLUMN auto_change_basis text`);
    await q.query(`CREATE INDEX secrets_auto_change_due ON secrets (next_auto_change_at) WHERE next_auto_change_at IS NOT NULL`);
    await q.query(`ALTER TABLE rotations ADD COLUMN scheduled_for timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rotations DROP COLUMN scheduled_for`);
    await q.query(`DROP INDEX secrets_auto_change_due`);
    await q.query(`ALTER TABLE secrets DROP COLUMN auto_change_basis, DROP COLUMN auto_change_scheduled_for, DROP COLUMN next_auto_change_at`);
  }
}
