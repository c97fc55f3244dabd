import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The function as this migration makes it, from its name on (HeartbeatDue1795836000000 puts it back with it in its down). */
export const FINISH_HEARTBEAT_1795835000000 = `keyturn_finish_heartbeat(
        p_heartbeat_id uuid, p_secret_id uuid, p_checked_version_id uuid, p_outcome text, p_at timestamptz, p_interval_ms bigint,
        p_checked_arn varchar, p_key_status varchar, p_key_created_at timestamptz, p_error_code varchar, p_error_message text,
        p_listing boolean, p_listed_key_status varchar, p_listed_key_created_at timestamptz, p_listed_at timestamptz)
      RETURNS text LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        v_status text;
        v_failures int;
        v_current uuid;
      BEGIN
        SELECT heartbeat_status, heartbeat_failures INTO v_status, v_failures FROM secrets WHERE id = p_secret_id FOR UPDATE;
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
        UPDATE secrets SET heartbeat_status = p_outcome, heartbeat_failures = v_failures, last_heartbeat_at = p_at,
               next_heartbeat_at = p_at + p_interval_ms * (CASE WHEN p_outcome = 'success' THEN 1 ELSE 1 << least(greatest(v_failures - 1, 0), 3) END) * interval '1 millisecond',
               updated_at = now()
         WHERE id = p_secret_id;
        IF p_listing AND p_checked_version_id IS NOT NULL THEN
          UPDATE secret_versions SET key_status = p_listed_key_status, key_created_at = p_listed_key_created_at, key_listed_at = p_listed_at
           WHERE id = p_checked_version_id;
        END IF;
        RETURN 'finished';
      END
      $fn$`;

/**
 * Issue 14 (fewer round trips per heartbeat): a heartbeat's result, in the
 * common case, in one call instead of a transaction of five statements
 * (BEGIN, lock, current version, write, COMMIT). keyturn_finish_heartbeat
 * locks the secret's row, then reads its current version in a statement of
 * its own: a VOLATILE function's statements each take a new snapshot under
 * READ COMMITTED, so it sees a promotion that committed while it waited for
 * the lock, as the separate statement of the transaction did. It writes only
 * when the checked version is still current and the secret's heartbeat
 * status stays as it is; otherwise it writes nothing and says why ('stale':
 * the check no longer counts; 'status-changed': the caller records the result
 * with its event and audit entry in a transaction; 'gone': the secret was
 * deleted). Call it outside a transaction (autocommit), so the lock lasts only
 * as long as the call.
 *
 * The failure count and the backoff match HeartbeatUseCase: a success resets
 * the count and the next check comes after the interval; a failure adds one
 * and the interval doubles per earlier consecutive failure, at most 8 times.
 */
export class HeartbeatFinish1795835000000 implements MigrationInterface {
  name = 'HeartbeatFinish1795835000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION ${FINISH_HEARTBEAT_1795835000000}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION keyturn_finish_heartbeat(uuid, uuid, uuid, text, timestamptz, bigint, varchar, varchar, timestamptz, varchar, text, boolean, varchar, timestamptz, timestamptz)`);
  }
}
