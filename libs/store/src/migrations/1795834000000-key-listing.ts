import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14 (AWS calls are the real budget): a heartbeat makes one AWS call
 * (GetCallerIdentity) and lists the user's keys (ListAccessKeys, for the key's
 * status and age) at most daily. What the last listing said about a version's
 * key is kept on the version: its status and create date as IAM listed them
 * (or as CreateAccessKey answered them) and when. key_listed_at is set even
 * when listing was denied (status and create date null), so a key that may not
 * list its keys is not asked again on every heartbeat.
 */
export class KeyListing1795834000000 implements MigrationInterface {
  name = 'KeyListing1795834000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE secret_versions ADD COLUMN key_status varchar(16), ADD COLUMN key_created_at timestamptz, ADD COLUMN key_listed_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE secret_versions DROP COLUMN key_listed_at, DROP COLUMN key_created_at, DROP COLUMN key_status`);
  }
}
