import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Locks as lease rows (libs/store/src/lease-locks.service.ts) instead of session
 * advisory locks: a session lock pinned one pooled connection per running
 * rotation, and at a worker concurrency of 10 that was the whole pool.
 */
export class LeaseLocks1795830000000 implements MigrationInterface {
  name = 'LeaseLocks1795830000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE lease_locks (
        lock_key text PRIMARY KEY,
        owner text NOT NULL,
        expires_at timestamptz NOT NULL,
        taken_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE lease_locks`);
  }
}
