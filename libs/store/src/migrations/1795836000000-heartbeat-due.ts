import type { MigrationInterface, QueryRunner } from 'typeorm';
import { FINISH_HEARTBEAT_1795835000000 } from './1795835000000-heartbeat-finish.js';

/**
 * The heartbeat due time of key secrets moves out of `secrets` into a narrow
 * table of its own, heartbeat_due (docs/performance.md, "Scheduler"). The
 * scheduler's claim moved `secrets.next_heartbeat_at` ahead; that column was
 * indexed (secrets_heartbeat_due), so every claim was a non-HOT update of the
 * wide row: a new entry in each of the secrets' indexes, full-page images of
 * their pages and about 4.4 KB of WAL per claimed secret, which made the claim
 * slow down as the table outgrew shared_buffers. A heartbeat's finish wrote
 * the column too. Now the claim and the finish move a row of two columns
 * (primary key and due-time index), and a finish that keeps the secret's
 * heartbeat status changes no indexed column of `secrets` (HOT).
 *
 * A row exists exactly for a key secret ('aws-iam-key') that has a due time;
 * the other types never have one, and deleting a secret deletes its row. The
 * API still shows the due time as the secret's `nextHeartbeatAt` (null: no
 * row), read by a join on the primary key.
 *
 * keyturn_finish_heartbeat is made again to write the new table; down puts
 * the column (with the due times), its index and the function as they were
 * back. A non-key secret's due time is not carried over (it was never used:
 * the claim only ever took key secrets), so down leaves it null.
 */
export class HeartbeatDue1795836000000 implements MigrationInterface {
  name = 'HeartbeatDue1795836000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE heartbeat_due (
        secret_id uuid PRIMARY KEY REFERENCES secrets(id) ON DELETE CASCADE,
        due_at timestamptz NOT NULL
      )`);
    await q.query(`
      INSERT INTO heartbeat_due (secret_id, due_at)
      SELECT id, next_heartbeat_at FROM secrets WHERE type = 'aws-iam-key' AND next_heartbeat_at IS NOT NULL`);
    await q.query(`CREATE INDEX heartbeat_due_due_at ON heartbeat_due (due_at)`);
    await q.query(`DROP INDEX secrets_heartbeat_due`);
    await q.query(`ALTER TABLE secrets DROP COLUMN next_heartbeat_at`);
    await q.query(FINISH_HEARTBEAT_WITH_DUE_TABLE);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE secrets ADD COLUMN next_heartbeat_at timestamptz`);
    await q.query(`UPDATE secrets s SET next_heartbeat_at = d.due_at FROM heartbeat_due d WHERE d.secret_id = s.id`);
    await q.query(`CREATE INDEX secrets_heartbeat_due ON secrets (next_heartbeat_at) WHERE type = 'aws-iam-key' AND next_heartbeat_at IS NOT NULL`);
    // The function exactly as HeartbeatFinish1795835000000 made it.
    await q.query(`CREATE OR REPLACE FUNCTION ${FINISH_HEARTBEAT_1795835000000}`);
    await q.query(`DROP TABLE heartbeat_due`);
  }
}

const SIGNATURE = `keyturn_finish_heartbeat(
        p_heartbeat_id uuid, p_secret_id uuid, p_checked_version_id uuid, p_outcome text, p_at timestamptz, p_interval_ms bigint,
        p_checked_arn varchar, p_key_status varchar, p_key_created_at timestamptz, p_error_code varchar, p_error_message text,
        p_listing boolean, p_listed_key_status varchar, p_listed_key_created_at timestamptz, p_listed_at timestamptz)`;

/**
 * As HeartbeatFinish1795835000000 made it (same decisions, same writes), except
 * that the next check's time goes to heartbeat_due (an upsert: an adopted key
 * has no row until it is first due) and only for a key secret. Exported for
 * HeartbeatDueRows1795837000000, which makes it from this text and puts it back
 * in its down.
 */
export const FINISH_HEARTBEAT_WITH_DUE_TABLE = `
      CREATE OR REPLACE FUNCTION ${SIGNATURE}
      RETURNS text LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        v_type text;
        v_status text;
        v_failures int;
        v_current uuid;
      BEGIN
        SELECT type, heartbeat_status, heartbeat_failures INTO v_type, v_status, v_failures FROM secrets WHERE id = p_secret_id FOR UPDATE;
        IF NOT FOUND THEN RETURN 'gone'; END IF;
        -- A statement of its own, after the lock (see above).
        SELECT id INTO v_current FROM secret_versions WHERE secret_id = p_secret_id AND state = 'current';
        IF v_current IS DISTINCT FROM p_checked_version_id THEN RETURN 'stale'; END IF;
        IF v_status IS DISTINCT FROM p_outcome THEN RETURN 'status-changed'; END IF;
        v_failures := CASE WHEN p_outcome = 'success' THEN 0 ELSE v_failures + 1 END;
        UPDATE heartbeats SET status = 'done', outcome = p_outcome, finished_at = p_at, lease_expires_at = NULL,
               checked_arn = p_checked_arn, key_status = p_key_status, key_created_at = p_key_created_at,
               error_code = p_error_code, error_message = p_error_message
         WHERE id = p_heartbeat_id;
        UPDATE secrets SET heartbeat_status = p_outcome, heartbeat_failures = v_failures, last_heartbeat_at = p_at, updated_at = now()
         WHERE id = p_secret_id;
        IF v_type = 'aws-iam-key' THEN
          INSERT INTO heartbeat_due (secret_id, due_at)
          VALUES (p_secret_id, p_at + p_interval_ms * (CASE WHEN p_outcome = 'success' THEN 1 ELSE 1 << least(greatest(v_failures - 1, 0), 3) END) * interval '1 millisecond')
          ON CONFLICT (secret_id) DO UPDATE SET due_at = EXCLUDED.due_at;
        END IF;
        IF p_listing AND p_checked_version_id IS NOT NULL THEN
          UPDATE secret_versions SET key_status = p_listed_key_status, key_created_at = p_listed_key_created_at, key_listed_at = p_listed_at
           WHERE id = p_checked_version_id;
        END IF;
        RETURN 'finished';
      END
      $fn$`;

