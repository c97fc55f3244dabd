import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Discovery (issue 15): a run scans an AWS account's IAM users and access
 * keys. The run row is the journal (phase, next ListUsers marker, lease), the
 * users it listed are rows of their own so a killed worker resumes with the
 * users not yet scanned, and each access key found is a finding. A finding
 * never holds the key's secret, nor even its plain id: a masked id for people
 * and a blind index (under the active KEK) for matching.
 */
export class Discovery1795832000000 implements MigrationInterface {
  name = 'Discovery1795832000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE discovery_runs (
        id uuid PRIMARY KEY,
        executor_secret_id uuid REFERENCES secrets(id) ON DELETE SET NULL,
        path_prefix text NOT NULL DEFAULT '/',
        trigger text NOT NULL CHECK (trigger IN ('api', 'schedule')),
        requested_by text NOT NULL,
        status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        phase text NOT NULL DEFAULT 'list-users' CHECK (phase IN ('list-users', 'scan-users', 'done')),
        next_marker text,
        users_total int,
        users_scanned int NOT NULL DEFAULT 0,
        attempt int NOT NULL DEFAULT 0,
        warnings jsonb NOT NULL DEFAULT '[]'::jsonb,
        error_code text,
        error_message text,
        lease_owner text,
        lease_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
      )`);
    // The reconciler's scan (unfinished runs) and the latest succeeded run (metrics).
    await q.query(`CREATE INDEX discovery_runs_unfinished ON discovery_runs (created_at) WHERE status IN ('queued', 'running')`);
    await q.query(`CREATE INDEX discovery_runs_succeeded ON discovery_runs (finished_at) WHERE status = 'succeeded'`);
    await q.query(`
      CREATE TABLE discovery_users (
        run_id uuid NOT NULL REFERENCES discovery_runs(id) ON DELETE CASCADE,
        user_name text NOT NULL,
        user_id text NOT NULL,
        user_arn text NOT NULL,
        user_path text NOT NULL,
        user_created_at timestamptz,
        has_console_password boolean,
        scanned_at timestamptz,
        PRIMARY KEY (run_id, user_name)
      )`);
    await q.query(`CREATE INDEX discovery_users_unscanned ON discovery_users (run_id, user_name) WHERE scanned_at IS NULL`);
    await q.query(`
      CREATE TABLE discovery_findings (
        id uuid PRIMARY KEY,
        run_id uuid NOT NULL REFERENCES discovery_runs(id) ON DELETE CASCADE,
        user_name text NOT NULL,
        user_id text NOT NULL,
        user_arn text NOT NULL,
        access_key_id_masked text NOT NULL,
        key_id_hmac text NOT NULL,
        key_status text NOT NULL CHECK (key_status IN ('Active', 'Inactive')),
        key_created_at timestamptz,
        last_used_at timestamptz,
        last_used_service text,
        last_used_region text,
        has_console_password boolean,
        managed_secret_id uuid REFERENCES secrets(id) ON DELETE SET NULL,
        UNIQUE (run_id, key_id_hmac)
      )`);
    await q.query(`CREATE INDEX discovery_findings_run ON discovery_findings (run_id, id)`);
    await q.query(`CREATE INDEX discovery_findings_user ON discovery_findings (run_id, user_name)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE discovery_findings`);
    await q.query(`DROP TABLE discovery_users`);
    await q.query(`DROP TABLE discovery_runs`);
  }
}
