import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Per secret, the oldest rotation that waits (queued, never started) and the ids of the younger ones it absorbs. */
const SUPERSEDED_ROTATIONS = `
  SELECT id, keeper FROM (
    SELECT id, first_value(id) OVER (PARTITION BY secret_id ORDER BY created_at, id) AS keeper
      FROM rotations WHERE status = 'queued' AND started_at IS NULL) w
   WHERE id <> keeper`;

/**
 * A bounded backlog (issue 10 item 11): a secret has at most one waiting
 * rotation and one waiting heartbeat, enforced by partial unique indexes, so
 * concurrent requests cannot add a second. A rotation sent back to `queued`
 * for a retry has `started_at` set and counts as the one in progress; a
 * heartbeat put back after throttling has `attempt > 0`. Idempotency keys move
 * to their own table, so a request that joins a waiting rotation keeps its key.
 *
 * A database that already holds a backlog keeps each secret's oldest waiting
 * row; the younger ones end as `SUPERSEDED` (their jobs then find nothing to
 * do), and their idempotency keys point at the rotation that absorbed them.
 */
export class OneWaiting1795830100000 implements MigrationInterface {
  name = 'OneWaiting1795830100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rotation_idempotency_keys (
        secret_id uuid NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        idempotency_key varchar(128) NOT NULL,
        rotation_id uuid NOT NULL REFERENCES rotations(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (secret_id, idempotency_key)
      )`);
    await q.query(`
      INSERT INTO rotation_idempotency_keys (secret_id, idempotency_key, rotation_id, created_at)
      SELECT r.secret_id, r.idempotency_key, coalesce(s.keeper, r.id), r.created_at
        FROM rotations r LEFT JOIN (${SUPERSEDED_ROTATIONS}) s ON s.id = r.id
       WHERE r.idempotency_key IS NOT NULL`);
    await q.query(`
      UPDATE rotations SET status = 'failed', error_code = 'SUPERSEDED',
             error_message = 'another waiting change of this secret was requested earlier; it does this one''s work (see that rotation)',
             finished_at = now(), updated_at = now()
       WHERE id IN (SELECT id FROM (${SUPERSEDED_ROTATIONS}) s)`);
    await q.query(`CREATE UNIQUE INDEX rotations_one_waiting ON rotations (secret_id) WHERE status = 'queued' AND started_at IS NULL`);

    await q.query(`
      UPDATE heartbeats SET status = 'done', error_code = 'SUPERSEDED',
             error_message = 'another waiting heartbeat of this secret was requested earlier and checks the key instead',
             finished_at = now(), lease_expires_at = NULL
       WHERE id IN (SELECT id FROM (
               SELECT id, row_number() OVER (PARTITION BY secret_id ORDER BY created_at, id) AS n
                 FROM heartbeats WHERE status = 'queued' AND attempt = 0) w
              WHERE n > 1)`);
    await q.query(`CREATE UNIQUE INDEX heartbeats_one_waiting ON heartbeats (secret_id) WHERE status = 'queued' AND attempt = 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX heartbeats_one_waiting`);
    await q.query(`DROP INDEX rotations_one_waiting`);
    await q.query(`DROP TABLE rotation_idempotency_keys`);
  }
}
