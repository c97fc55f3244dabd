import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HeartbeatsEvents1795828000000 implements MigrationInterface {
  name = 'HeartbeatsEvents1795828000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE heartbeats (
        id uuid PRIMARY KEY,
        secret_id uuid NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        status text NOT NULL CHECK (status IN ('queued', 'running', 'done')),
        outcome text CHECK (outcome IN ('success', 'failed', 'unable-to-connect')),
        trigger varchar(16) NOT NULL,
        requested_by varchar(128) NOT NULL,
        checked_arn varchar(2048),
        key_status varchar(16),
        key_created_at timestamptz,
        error_code varchar(64),
        error_message text,
        attempt int NOT NULL DEFAULT 0,
        lease_expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
    await q.query(`CREATE INDEX heartbeats_secret ON heartbeats (secret_id, id)`);
    await q.query(`CREATE INDEX heartbeats_unfinished ON heartbeats (created_at) WHERE status <> 'done'`);

    await q.query(`ALTER TABLE secrets ADD COLUMN heartbeat_failures int NOT NULL DEFAULT 0`);
    // The scheduler's scan: due key secrets in due order, never a full-table read.
    await q.query(`CREATE INDEX secrets_heartbeat_due ON secrets (next_heartbeat_at) WHERE type = 'aws-iam-key' AND next_heartbeat_at IS NOT NULL`);
    await q.query(`UPDATE secrets SET next_heartbeat_at = now() WHERE type = 'aws-iam-key' AND next_heartbeat_at IS NULL`);

    await q.query(`
      CREATE TABLE events (
        id uuid PRIMARY KEY,
        type varchar(64) NOT NULL,
        secret_id uuid,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX events_secret ON events (secret_id, id)`);
    await q.query(`
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY,
        event_id uuid NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        url varchar(2048) NOT NULL,
        status varchar(16) NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_status_code int,
        last_error text,
        delivered_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE events`);
    await q.query(`DROP INDEX secrets_heartbeat_due`);
    await q.query(`ALTER TABLE secrets DROP COLUMN heartbeat_failures`);
    await q.query(`DROP TABLE heartbeats`);
  }
}
