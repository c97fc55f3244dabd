import type { EntityManager } from 'typeorm';
import { rowsOf } from '../returning.js';

/**
 * heartbeat_due (migration HeartbeatDue1795836000000): the heartbeat due time
 * of key secrets, in a narrow table of its own so that moving it (the
 * scheduler's claim, a heartbeat's finish) does not rewrite the wide secrets
 * row and its indexes. A row exists exactly for a key secret that has a due
 * time: the writes below give none to a secret of another type, and deleting a
 * secret deletes its row (ON DELETE CASCADE). Reads show it as the secret's
 * `nextHeartbeatAt` (no row: null) through SECRETS_WITH_DUE.
 */

/**
 * The secret types that heartbeat, as SQL (`type IN (${HEARTBEAT_TYPES})`): the only ones a write gives a
 * due row. keyturn_finish_heartbeat (migration HeartbeatDue1795836000000) names them too.
 */
export const HEARTBEAT_TYPES = `'aws-iam-key'`;

/** `secrets s` with its due time (`d.due_at`, null without a row): a join on both primary keys. */
export const SECRETS_WITH_DUE = 'secrets s LEFT JOIN heartbeat_due d ON d.secret_id = s.id';

/** Sets the due time ($2) of secret $1 when it is a key; a secret of another type gets no row. */
export const SET_HEARTBEAT_DUE_SQL = `INSERT INTO heartbeat_due (secret_id, due_at)
  SELECT id, $2::timestamptz FROM secrets WHERE id = $1 AND type IN (${HEARTBEAT_TYPES})
  ON CONFLICT (secret_id) DO UPDATE SET due_at = EXCLUDED.due_at`;

/** A secret's due time: `at`, or none (null: never checked until something makes it due). */
export async function setHeartbeatDue(m: EntityManager, secretId: string, at: Date | null): Promise<void> {
  if (at === null) await rowsOf(m, `DELETE FROM heartbeat_due WHERE secret_id = $1`, [secretId]);
  else await rowsOf(m, SET_HEARTBEAT_DUE_SQL, [secretId, at]);
}
