import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14 (fewer round trips per rotation): a verified key's promotion, in the common case, in one call
 * instead of a transaction of eight round trips (BEGIN; the secret's lock with the check recorded; previous
 * → retired; current → previous; pending → current; the heartbeat row; the rotation's step; COMMIT).
 *
 * keyturn_promote_checked locks the secret's row first, as the transaction did (heartbeats take it too, so a
 * promotion and a heartbeat's result are ordered), then runs the same statements in the same order: a
 * VOLATILE function's statements each take a new snapshot under READ COMMITTED, as the transaction's
 * separate statements did, and run one after another, so each version move sees the one before it (one
 * UPDATE moving all three could break the one-version-per-state indexes mid-statement). It writes only when
 * there is a pending version to promote and the secret's heartbeat status is already 'success'; otherwise it
 * writes nothing and says why: 'nothing-to-promote' (no pending version, or the secret is gone) or
 * 'status-changed' (the caller promotes in a transaction that also records the status change with its event
 * and audit entry). Call it outside a transaction (autocommit): the call is the transaction.
 *
 * What it writes is what ChangeJournal.promote's transaction writes with a verified key (the migration's spec
 * compares the two): the secret's rotation and check times, its status 'success' with no failures, the next
 * check due at p_next_due; the version moves; a finished heartbeat (trigger 'rotation') for the verify step,
 * with the promoted key's create date; the rotation's step.
 */
export class PromoteChecked1795838000000 implements MigrationInterface {
  name = 'PromoteChecked1795838000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION keyturn_promote_checked(
        p_secret_id uuid, p_rotation_id uuid, p_step varchar, p_at timestamptz, p_next_due timestamptz,
        p_heartbeat_id uuid, p_requested_by varchar, p_checked_arn varchar)
      RETURNS text LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        v_status text;
        v_key_created_at timestamptz;
      BEGIN
        SELECT heartbeat_status INTO v_status FROM secrets WHERE id = p_secret_id FOR UPDATE;
        IF NOT FOUND THEN RETURN 'nothing-to-promote'; END IF;
        -- Statements of their own, after the lock (see above).
        PERFORM 1 FROM secret_versions WHERE secret_id = p_secret_id AND state = 'pending';
        IF NOT FOUND THEN RETURN 'nothing-to-promote'; END IF;
        IF v_status IS DISTINCT FROM 'success' THEN RETURN 'status-changed'; END IF;
        UPDATE secrets SET last_rotated_at = now(), heartbeat_status = 'success', heartbeat_failures = 0, last_heartbeat_at = p_at, updated_at = now()
         WHERE id = p_secret_id;
        UPDATE heartbeat_due SET due_at = p_next_due WHERE secret_id = p_secret_id;
        UPDATE secret_versions SET state = 'retired', updated_at = now() WHERE secret_id = p_secret_id AND state = 'previous';
        UPDATE secret_versions SET state = 'previous', updated_at = now() WHERE secret_id = p_secret_id AND state = 'current';
        UPDATE secret_versions SET state = 'current', updated_at = now() WHERE secret_id = p_secret_id AND state = 'pending'
          RETURNING key_created_at INTO v_key_created_at;
        INSERT INTO heartbeats (id, secret_id, status, outcome, trigger, requested_by, checked_arn, key_status, key_created_at, attempt, created_at, finished_at)
             VALUES (p_heartbeat_id, p_secret_id, 'done', 'success', 'rotation', p_requested_by, p_checked_arn, 'Active', v_key_created_at, 1, p_at, p_at);
        UPDATE rotations SET step = p_step, updated_at = now() WHERE id = p_rotation_id;
        RETURN 'promoted';
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION keyturn_promote_checked(uuid, uuid, varchar, timestamptz, timestamptz, uuid, varchar, varchar)`);
  }
}
