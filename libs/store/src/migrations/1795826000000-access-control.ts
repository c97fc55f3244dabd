import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AccessControl1795826000000 implements MigrationInterface {
  name = 'AccessControl1795826000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        name varchar(128) NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer', 'auditor')),
        folder_scopes text[] NOT NULL DEFAULT '{}',
        token_hash char(64) NOT NULL UNIQUE,
        token_prefix varchar(16) NOT NULL,
        created_by varchar(128),
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX api_keys_active_admin ON api_keys (role) WHERE revoked_at IS NULL`);

    await q.query(`
      CREATE TABLE audit_events (
        id uuid PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor_id varchar(128) NOT NULL,
        actor_name varchar(128) NOT NULL,
        action varchar(64) NOT NULL,
        target_type varchar(32),
        target_id varchar(128),
        secret_id uuid,
        outcome varchar(16) NOT NULL CHECK (outcome IN ('success', 'failure')),
        error_code varchar(64),
        request_id varchar(128),
        ip varchar(64),
        details jsonb NOT NULL DEFAULT '{}'::jsonb
      )`);
    await q.query(`CREATE INDEX audit_events_secret ON audit_events (secret_id, id) WHERE secret_id IS NOT NULL`);
    await q.query(`CREATE INDEX audit_events_actor ON audit_events (actor_id, id)`);
    await q.query(`CREATE INDEX audit_events_action ON audit_events (action, id)`);
    await q.query(`CREATE INDEX audit_events_at ON audit_events (at)`);
    // The audit trail is append-only at the database level, whatever the application does.
    await q.query(`
      CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_events`);
    await q.query(`DROP FUNCTION audit_events_append_only()`);
    await q.query(`DROP TABLE api_keys`);
  }
}
