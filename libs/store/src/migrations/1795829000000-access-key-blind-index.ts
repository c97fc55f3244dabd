import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A keyed blind index of the access key id on each key version, so Keyturn can
 * find which secret holds a key without storing or querying the id itself.
 * The value needs the master key, so existing rows are filled in at start-up
 * (backfillAccessKeyIndex in libs/vault), not here.
 */
export class AccessKeyBlindIndex1795829000000 implements MigrationInterface {
  name = 'AccessKeyBlindIndex1795829000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE secret_versions ADD COLUMN key_id_hmac varchar(64)`);
    // One live holder per access key: two concurrent stores of the same key cannot both commit.
    await q.query(
      `CREATE UNIQUE INDEX secret_versions_key_id_hmac_live ON secret_versions (key_id_hmac)
         WHERE key_id_hmac IS NOT NULL AND state IN ('current', 'previous', 'pending')`,
    );
    // Make-room also asks about discarded versions, which the unique index leaves out.
    await q.query(`CREATE INDEX secret_versions_key_id_hmac ON secret_versions (key_id_hmac) WHERE key_id_hmac IS NOT NULL`);
    // What the start-up backfill still has to do: empty once it has run, so every later start finds nothing at once.
    await q.query(
      `CREATE INDEX secret_versions_key_id_hmac_missing ON secret_versions (id)
         WHERE key_id_hmac IS NULL AND (fields -> 'accessKeyId') IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX secret_versions_key_id_hmac_missing`);
    await q.query(`DROP INDEX secret_versions_key_id_hmac`);
    await q.query(`DROP INDEX secret_versions_key_id_hmac_live`);
    await q.query(`ALTER TABLE secret_versions DROP COLUMN key_id_hmac`);
  }
}
