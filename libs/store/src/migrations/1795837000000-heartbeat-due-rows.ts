import type { MigrationInterface, QueryRunner } from 'typeorm';
import { FINISH_HEARTBEAT_WITH_DUE_TABLE } from './1795836000000-heartbeat-due.js';

/**
 * Every key secret gets its row in heartbeat_due, made with the secret, and
 * the row carries the secret's account id; heartbeats reference that row
 * instead of the secret (docs/performance.md, "Scheduler"). The scheduler's
 * claim then never reads or locks the wide `secrets` row:
 *
 * - before, it joined `secrets` for the account id and took FOR KEY SHARE on
 *   each claimed secret's row (which the heartbeat rows' foreign key to
 *   `secrets` took anyway). At a million secrets that was a random page of
 *   the secrets heap and of its primary key per claimed secret, and the lock
 *   dirtied the heap page (a WAL record, a full-page image after each
 *   checkpoint): about half of the claim's time;
 * - now the heartbeat rows' foreign key checks the due row, which the claim
 *   has just updated in the same transaction.
 *
 * Integrity is unchanged: a heartbeat's secret exists (through its due row,
 * whose own foreign key to `secrets` is as before), and deleting a secret
 * deletes its due row and, with it, its heartbeats (ON DELETE CASCADE, twice).
 * A due row is therefore never deleted on its own: "not due" is a null
 * `due_at`, and every write of a due time is an UPDATE of the row.
 *
 * The row comes from a trigger on `secrets` (AFTER INSERT, for the key type
 * only: only keys heartbeat), so no insert of a key secret, whatever path it
 * takes, can leave one without it; the same trigger carries a change of the
 * secret's account id (none is made today: it comes from the user's ARN at
 * creation) to the copy.
 *
 * keyturn_finish_heartbeat is made again to update the row instead of
 * upserting it. Down puts the foreign key, the table and the function back as
 * HeartbeatDue1795836000000 made them: rows without a due time are dropped.
 */
export class HeartbeatDueRows1795837000000 implements MigrationInterface {
  name = 'HeartbeatDueRows1795837000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE heartbeat_due ALTER COLUMN due_at DROP NOT NULL, ADD COLUMN account_id char(12)`);
    await q.query(`UPDATE heartbeat_due d SET account_id = s.account_id FROM secrets s WHERE s.id = d.secret_id`);
    await q.query(`
      INSERT INTO heartbeat_due (secret_id, account_id, due_at)
      SELECT id, account_id, NULL FROM secrets WHERE type = 'aws-iam-key'
      ON CONFLICT (secret_id) DO NOTHING`);
    await q.query(`ALTER TABLE heartbeat_due ALTER COLUMN account_id SET NOT NULL`);
    await q.query(`
      CREATE FUNCTION keyturn_heartbeat_due_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO heartbeat_due (secret_id, account_id, due_at) VALUES (NEW.id, NEW.account_id, NULL);
        ELSE
          UPDATE heartbeat_due SET account_id = NEW.account_id WHERE secret_id = NEW.id;
        END IF;
        RETURN NULL;
      END
      $fn$`);
    await q.query(`
      CREATE TRIGGER secrets_heartbeat_due_row AFTER INSERT ON secrets
      FOR EACH ROW WHEN (NEW.type = 'aws-iam-key') EXECUTE FUNCTION keyturn_heartbeat_due_row()`);
    await q.query(`
      CREATE TRIGGER secrets_heartbeat_due_account AFTER UPDATE OF account_id ON secrets
      FOR EACH ROW WHEN (NEW.type = 'aws-iam-key' AND NEW.account_id IS DISTINCT FROM OLD.account_id) EXECUTE FUNCTION keyturn_heartbeat_due_row()`);
    await q.query(`ALTER TABLE heartbeats DROP CONSTRAINT heartbeats_secret_id_fkey`);
    await q.query(`ALTER TABLE heartbeats ADD CONSTRAINT heartbeats_secret_id_fkey FOREIGN KEY (secret_id) REFERENCES heartbeat_due (secret_id) ON DELETE CASCADE`);
    await q.query(FINISH_HEARTBEAT_UPDATING_DUE_ROW);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(FINISH_HEARTBEAT_WITH_DUE_TABLE);
    await q.query(`ALTER TABLE heartbeats DROP CONSTRAINT heartbeats_secret_id_fkey`);
    await q.query(`ALTER TABLE heartbeats ADD CONSTRAINT heartbeats_secret_id_fkey FOREIGN KEY (secret_id) REFERENCES secrets (id) ON DELETE CASCADE`);
    await q.query(`DROP TRIGGER secrets_heartbeat_due_account ON secrets`);
    await q.query(`DROP TRIGGER secrets_heartbeat_due_row ON secrets`);
    await q.query(`DROP FUNCTION keyturn_heartbeat_due_row()`);
    await q.query(`DELETE FROM heartbeat_due WHERE due_at IS NULL`);
    await q.query(`ALTER TABLE heartbeat_due DROP COLUMN account_id, ALTER COLUMN due_at SET NOT NULL`);
  }
}

const DUE_UPSERT = `
          INSERT INTO heartbeat_due (secret_id, due_at)
          VALUES (p_secret_id, p_at + p_interval_ms * (CASE WHEN p_outcome = 'success' THEN 1 ELSE 1 << least(greatest(v_failures - 1, 0), 3) END) * interval '1 millisecond')
          ON CONFLICT (secret_id) DO UPDATE SET due_at = EXCLUDED.due_at;`;
const DUE_UPDATE = `
          UPDATE heartbeat_due
             SET due_at = p_at + p_interval_ms * (CASE WHEN p_outcome = 'success' THEN 1 ELSE 1 << least(greatest(v_failures - 1, 0), 3) END) * interval '1 millisecond'
           WHERE secret_id = p_secret_id;`;

/** As HeartbeatDue1795836000000 made it (same decisions, same writes), except that the key's due row, which exists, is updated. */
const FINISH_HEARTBEAT_UPDATING_DUE_ROW = (() => {
  if (!FINISH_HEARTBEAT_WITH_DUE_TABLE.includes(DUE_UPSERT)) throw new Error('HeartbeatDueRows1795837000000: the finish function is not the one HeartbeatDue1795836000000 made');
  return FINISH_HEARTBEAT_WITH_DUE_TABLE.replace(DUE_UPSERT, DUE_UPDATE);
})();
