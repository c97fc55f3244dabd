import type { EntityManager } from 'typeorm';
import { rowsOf } from '../returning.js';

/**
 * heartbeat_due (migrations HeartbeatDue1795836000000, HeartbeatDueRows1795837000000): the heartbeat due
 * time of key secrets, in a narrow table of its own so that moving it (the scheduler's claim, a heartbeat's
 * finish) does not rewrite the wide secrets row and its indexes. Every key secret has exactly one row, made
 * with the secret by a trigger and holding a copy of its account id; a secret of another type has none, and
 * deleting a secret deletes its row. Heartbeats reference the row (not the secret), so the scheduler's claim
 * and its heartbeat rows never touch `secrets`. "Not due" is a null `due_at`: a row is never deleted on its
 * own (that would delete the secret's heartbeats), and every write of a due time is an UPDATE. Reads show it
 * as the secret's `nextHeartbeatAt` through SECRETS_WITH_DUE.
 */

/** `secrets s` with its due time (`d.due_at`, null without a row): a join on both primary keys. */
export const SECRETS_WITH_DUE = 'secrets s LEFT JOIN heartbeat_due d ON d.secret_id = s.id';

/** Sets the due time ($2, null: none) of secret $1 when it is a key; a secret of another type has no row. */
export const SET_HEARTBEAT_DUE_SQL = `UPDATE heartbeat_due SET due_at = $2::timestamptz WHERE secret_id = $1`;

/** A secret's due time: `at`, or none (null: never checked until something makes it due). */
export async function setHeartbeatDue(m: EntityManager, secretId: string, at: Date | null): Promise<void> {
  await rowsOf(m, SET_HEARTBEAT_DUE_SQL, [secretId, at]);
}
