import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Rotations1795827000000 implements MigrationInterface {
  name = 'Rotations1795827000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rotations (
        id uuid PRIMARY KEY,
        secret_id uuid NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        secret_type text NOT NULL,
        status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        step text NOT NULL,
        mode text CHECK (mode IN ('basic', 'privileged')),
        executor_secret_id uuid,
        attempt int NOT NULL DEFAULT 0,
        requested_by varchar(128) NOT NULL,
        trigger varchar(16) NOT NULL DEFAULT 'api',
        idempotency_key varchar(128),
        pending_version int,
        about_to_create_at timestamptz,
        lease_owner varchar(128),
        lease_expires_at timestamptz,
        retire_pending boolean NOT NULL DEFAULT false,
        error_code varchar(64),
        error_message text,
        warnings jsonb NOT NULL DEFAULT '[]'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // One running rotation per secret, whatever the number of workers.
    await q.query(`CREATE UNIQUE INDEX rotations_one_running ON rotations (secret_id) WHERE status = 'running'`);
    await q.query(`CREATE UNIQUE INDEX rotations_idempotency ON rotations (secret_id, idempotency_key) WHERE idempotency_key IS NOT NULL`);
    await q.query(`CREATE INDEX rotations_secret ON rotations (secret_id, id)`);
    // The reconciler's scan: unfinished work, and succeeded rotations whose retire is still owed.
    await q.query(`CREATE INDEX rotations_unfinished ON rotations (updated_at) WHERE status IN ('queued', 'running') OR retire_pending`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rotations`);
  }
}
