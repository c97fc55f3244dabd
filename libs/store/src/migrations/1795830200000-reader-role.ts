import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The reader role (issue 12 item 1): between operator and viewer, for the
 * applications that use a secret. The role column's check admits it.
 */
export class ReaderRole1795830200000 implements MigrationInterface {
  name = 'ReaderRole1795830200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check`);
    await q.query(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'operator', 'reader', 'viewer', 'auditor'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check`);
    await q.query(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'operator', 'viewer', 'auditor'))`);
  }
}
