import type { EntityManager } from 'typeorm';
import type { HeartbeatStatus, SecretType } from '@keyturn/contracts';
import type { SecretEntity } from '../entities/secret.entity.js';
import { namedSql, rowsOf, type NamedSql } from '../returning.js';
import { SECRETS_WITH_DUE } from './heartbeat-due.sql.js';

/**
 * The SQL of the API's hot paths (API-key lookup, value read, metadata read,
 * list, audit insert), written by hand: no query building and no entity
 * hydration per request. Rows come back as plain objects shaped like the
 * entities. The statements are exported so that the raw baseline of
 * `npm run bench:read` runs exactly these (see docs/performance.md).
 */

/** Runs one statement and returns its rows. */
export type Sql = <R = Record<string, unknown>>(text: string | NamedSql, values: readonly unknown[]) => Promise<R[]>;

/**
 * Statements on `m`: inside a transaction through its query runner; outside
 * one straight on the driver's pg pool (nothing between the caller and pg),
 * which is what the hot paths use, their constant statements prepared once
 * per connection (NamedSql).
 */
export function sqlOn(m: EntityManager): Sql {
  return (text, values) => rowsOf(m, text, values);
}

export const API_KEY_BY_TOKEN_HASH_SQL = namedSql('api_key_by_token_hash', 'SELECT id, name, role, folder_scopes, last_used_at, revoked_at FROM api_keys WHERE token_hash = $1');
export const API_KEY_TOUCH_SQL = namedSql('api_key_touch', 'UPDATE api_keys SET last_used_at = $2 WHERE id = $1');

/** A settings row's stored value ($1 = its key): SettingsService.getGlobal, which every rotation reads. */
export const SETTING_VALUE_SQL = namedSql('setting_value', 'SELECT value FROM settings WHERE key = $1');

/** The secret's columns, and its due time from heartbeat_due (FROM SECRETS_WITH_DUE) as `next_heartbeat_at`. */
const SECRET_COLUMNS =
  's.id, s.type, s.name, s.folder, s.username, s.account_id, s.iam_user_id, s.privileged_secret_id, s.settings, s.heartbeat_status, ' +
  's.last_heartbeat_at, d.due_at AS next_heartbeat_at, s.heartbeat_failures, s.last_rotated_at, s.version_counter, s.created_at, s.updated_at, ' +
  's.next_auto_change_at, s.auto_change_scheduled_for, s.auto_change_basis';

export const SECRET_BY_ID_SQL = namedSql('secret_by_id', `SELECT ${SECRET_COLUMNS} FROM ${SECRETS_WITH_DUE} WHERE s.id = $1`);

/** GET /v1/secrets/:id/value: the secret and its current version in one round trip (no version: the v_ columns are null). */
export const SECRET_WITH_CURRENT_VERSION_SQL = namedSql(
  'secret_with_current_version',
  `SELECT ${SECRET_COLUMNS}, v.id AS v_id, v.version AS v_version, v.kek_id AS v_kek_id, v.wrapped_key AS v_wrapped_key, v.fields AS v_fields, v.secret_unknown AS v_secret_unknown ` +
    `FROM ${SECRETS_WITH_DUE} LEFT JOIN secret_versions v ON v.secret_id = s.id AND v.state = 'current' WHERE s.id = $1`,
);

/** GET /v1/secrets/:id: the secret, its current version number and the global settings in one round trip. */
export const SECRET_VIEW_SQL = namedSql(
  'secret_view',
  `SELECT ${SECRET_COLUMNS}, ` +
    `(SELECT v.version FROM secret_versions v WHERE v.secret_id = s.id AND v.state = 'current') AS current_version, ` +
    `(SELECT g.value FROM settings g WHERE g.key = 'global') AS global_settings ` +
    `FROM ${SECRETS_WITH_DUE} WHERE s.id = $1`,
);

export const AUDIT_INSERT_SQL = namedSql(
  'audit_insert',
  'INSERT INTO audit_events (id, at, actor_id, actor_name, action, target_type, target_id, secret_id, outcome, error_code, request_id, ip, details) ' +
    'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)',
);

export interface SecretListFilter {
  limit: number;
  /** Only ids after this one (keyset pagination over the UUIDv7 primary key). */
  afterId?: string;
  type?: SecretType;
  heartbeatStatus?: HeartbeatStatus;
  /** A folder and everything under it. */
  folder?: string;
  /** The caller's folder scopes (empty: every folder). */
  scopes: readonly string[];
}

/** GET /v1/secrets: one page in id order, one row more than `limit` when there is a next page. */
export function listSecretsSql(f: SecretListFilter): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const where: string[] = [];
  const param = (v: unknown) => `$${values.push(v)}`;
  if (f.afterId) where.push(`s.id > ${param(f.afterId)}`);
  if (f.type) where.push(`s.type = ${param(f.type)}`);
  if (f.heartbeatStatus) where.push(`s.heartbeat_status = ${param(f.heartbeatStatus)}`);
  for (const prefixes of [f.folder ? [f.folder] : [], f.scopes]) {
    if (!prefixes.length || prefixes.some((p) => p === '/')) continue;
    const any = prefixes.map((p) => {
      const exact = p.replace(/\/+$/, '');
      const like = exact.replace(/[\\%_]/g, (c) => '\\' + c) + '/%';
      return `(s.folder = ${param(exact)} OR s.folder LIKE ${param(like)})`;
    });
    where.push(`(${any.join(' OR ')})`);
  }
  const text = `SELECT ${SECRET_COLUMNS} FROM ${SECRETS_WITH_DUE} ${where.length ? `WHERE ${where.join(' AND ')} ` : ''}ORDER BY s.id ASC LIMIT ${param(f.limit + 1)}`;
  return { text, values };
}

/** A secrets row (SECRET_COLUMNS) as the entity's shape. */
export function secretFromRow(r: Record<string, unknown>): SecretEntity {
  return {
    id: r.id as string,
    type: r.type as SecretType,
    name: r.name as string,
    folder: r.folder as string,
    username: r.username as string,
    accountId: r.account_id as string,
    iamUserId: r.iam_user_id as string | null,
    privilegedSecretId: r.privileged_secret_id as string | null,
    settings: r.settings as SecretEntity['settings'],
    heartbeatStatus: r.heartbeat_status as HeartbeatStatus,
    lastHeartbeatAt: r.last_heartbeat_at as Date | null,
    nextHeartbeatAt: r.next_heartbeat_at as Date | null,
    heartbeatFailures: r.heartbeat_failures as number,
    lastRotatedAt: r.last_rotated_at as Date | null,
    versionCounter: r.version_counter as number,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    nextAutoChangeAt: r.next_auto_change_at as Date | null,
    autoChangeScheduledFor: r.auto_change_scheduled_for as Date | null,
    autoChangeBasis: r.auto_change_basis as string | null,
  };
}
