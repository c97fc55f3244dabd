import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Adoption (issue 15 item 3): a key found by discovery is taken over without
 * anyone knowing its secret part. Its version stores the access key id only
 * and is marked `secret_unknown`, so nothing ever serves or uses a value that
 * is not there. The adopting rotation may have to delete another key of the
 * user first (the request's deleteFindingId): its blind index is recorded on
 * the rotation, never the key id, so a resumed attempt deletes the same key.
 */
export class AdoptedVersions1795832600000 implements MigrationInterface {
  name = 'AdoptedVersions1795832600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE secret_versions ADD COLUMN secret_unknown boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE rotations ADD COLUMN delete_key_id_hmac varchar(64)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rotations DROP COLUMN delete_key_id_hmac`);
    await q.query(`ALTER TABLE secret_versions DROP COLUMN secret_unknown`);
  }
}
