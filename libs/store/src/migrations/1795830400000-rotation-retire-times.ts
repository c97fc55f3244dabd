import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The grace period of the previous key (issue 12 item 3): a rotation that
 * succeeded with a grace records when its previous key is due to be retired
 * (retire_at) and when that happened (retired_at). Postgres is the truth: the
 * reconciler finds due retires here after a worker crash or a Redis loss.
 */
export class RotationRetireTimes1795830400000 implements MigrationInterface {
  name = 'RotationRetireTimes1795830400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rotations ADD COLUMN retire_at timestamptz, ADD COLUMN retired_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rotations DROP COLUMN retired_at, DROP COLUMN retire_at`);
  }
}
