import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14 (fewer round trips per rotation): a new key stored as the pending version, in the common case, in
 * one call instead of a transaction of six round trips (BEGIN; the next version number under the secret's
 * row lock; an abandoned pending version discarded; the new version; the rotation's pending version and
 * step; COMMIT).
 *
 * The version number is in the sealed value's associated data, so the caller seals it before the call with
 * the number it expects (the secret's counter as its run read it, plus one). keyturn_store_pending counts the
 * version under the row lock only if the counter is still one below that number, then makes the same writes
 * in the same order as the transaction, and returns the stored version. Otherwise (another change stored a
 * version meanwhile, or the secret is gone) it writes nothing and returns no row: the caller then stores the
 * key in the transaction, which counts first and seals after. Call it outside a transaction (autocommit): the
 * call is the transaction, so the key is stored entirely or not at all, as before.
 */
export class StorePending1795838100000 implements MigrationInterface {
  name = 'StorePending1795838100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION keyturn_store_pending(
        p_secret_id uuid, p_version int, p_rotation_id uuid, p_step varchar,
        p_id uuid, p_kek_id varchar, p_wrapped_key text, p_fields jsonb, p_key_hint varchar, p_key_id_hmac varchar,
        p_key_status varchar, p_key_created_at timestamptz, p_key_listed_at timestamptz)
      RETURNS SETOF secret_versions LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        v_row secret_versions;
      BEGIN
        UPDATE secrets SET version_counter = version_counter + 1, updated_at = now()
         WHERE id = p_secret_id AND version_counter = p_version - 1;
        IF NOT FOUND THEN RETURN; END IF;
        UPDATE secret_versions SET state = 'discarded', updated_at = now() WHERE secret_id = p_secret_id AND state = 'pending';
        INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields, key_hint, key_id_hmac, key_status, key_created_at, key_listed_at, secret_unknown)
             VALUES (p_id, p_secret_id, p_version, 'pending', p_kek_id, p_wrapped_key, p_fields, p_key_hint, p_key_id_hmac, p_key_status, p_key_created_at, p_key_listed_at, false)
          RETURNING * INTO v_row;
        UPDATE rotations SET pending_version = p_version, step = p_step, updated_at = now() WHERE id = p_rotation_id;
        RETURN NEXT v_row;
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION keyturn_store_pending(uuid, int, uuid, varchar, uuid, varchar, text, jsonb, varchar, varchar, varchar, timestamptz, timestamptz)`);
  }
}
