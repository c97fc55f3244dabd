import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a version became current and when it was retired (issue 12 item 2:
 * GET /v1/secrets/:id/versions). A trigger stamps them on every state change,
 * whichever code path makes it (API create, worker promote, retire, CLI), so
 * they cannot be forgotten. Versions older than this migration keep null.
 */
export class VersionTimes1795830300000 implements MigrationInterface {
  name = 'VersionTimes1795830300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE secret_versions ADD COLUMN promoted_at timestamptz, ADD COLUMN retired_at timestamptz`);
    await q.query(`
      CREATE FUNCTION secret_versions_stamp_times() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.state = 'current' AND (TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM 'current') THEN
          NEW.promoted_at := now();
        END IF;
        IF NEW.state = 'retired' AND (TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM 'retired') THEN
          NEW.retired_at := now();
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER secret_versions_stamp_times BEFORE INSERT OR UPDATE OF state ON secret_versions
        FOR EACH ROW EXECUTE FUNCTION secret_versions_stamp_times()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER secret_versions_stamp_times ON secret_versions`);
    await q.query(`DROP FUNCTION secret_versions_stamp_times()`);
    await q.query(`ALTER TABLE secret_versions DROP COLUMN promoted_at, DROP COLUMN retired_at`);
  }
}
