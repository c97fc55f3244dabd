import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1795825837718 implements MigrationInterface {
  name = 'InitialSchema1795825837718';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE secrets (
        id uuid PRIMARY KEY,
        type text NOT NULL CHECK (type IN ('aws-iam-key', 'aws-iam-console-password')),
        name varchar(128) NOT NULL,
        folder varchar(512) NOT NULL,
        username varchar(64) NOT NULL,
        account_id char(12) NOT NULL,
        iam_user_id varchar(128),
        privileged_secret_id uuid REFERENCES secrets(id) ON DELETE RESTRICT,
        settings jsonb NOT NULL DEFAULT '{}'::jsonb,
        heartbeat_status text NOT NULL DEFAULT 'unknown',
        last_heartbeat_at timestamptz,
        next_heartbeat_at timestamptz,
        last_rotated_at timestamptz,
        version_counter int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Keyset pagination walks the primary key (UUIDv7, time-ordered); these keep filtered walks on an index.
    await q.query(`CREATE INDEX secrets_type_id ON secrets (type, id)`);
    await q.query(`CREATE INDEX secrets_heartbeat_status_id ON secrets (heartbeat_status, id)`);
    await q.query(`CREATE INDEX secrets_folder_id ON secrets (folder text_pattern_ops, id)`);
    await q.query(`CREATE INDEX secrets_privileged_secret_id ON secrets (privileged_secret_id) WHERE privileged_secret_id IS NOT NULL`);
    await q.query(`CREATE INDEX secrets_account_user ON secrets (account_id, username)`);
    await q.query(`CREATE UNIQUE INDEX secrets_folder_name ON secrets (folder, name)`);

    await q.query(`
      CREATE TABLE secret_versions (
        id uuid PRIMARY KEY,
        secret_id uuid NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        version int NOT NULL,
        state text NOT NULL CHECK (state IN ('current', 'previous', 'pending', 'retired', 'discarded')),
        kek_id varchar(32) NOT NULL,
        wrapped_key text NOT NULL,
        fields jsonb NOT NULL,
        key_hint varchar(32),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (secret_id, version)
      )`);
    // At most one current, one previous and one pending version per secret, whatever the workers do.
    for (const state of ['current', 'previous', 'pending']) {
      await q.query(
        `CREATE UNIQUE INDEX secret_versions_one_${state} ON secret_versions (secret_id) WHERE state = '${state}'`,
      );
    }
    await q.query(`CREATE INDEX secret_versions_kek ON secret_versions (kek_id)`);

    await q.query(`
      CREATE TABLE settings (
        key varchar(64) PRIMARY KEY,
        value jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE settings`);
    await q.query(`DROP TABLE secret_versions`);
    await q.query(`DROP TABLE secrets`);
  }
}
