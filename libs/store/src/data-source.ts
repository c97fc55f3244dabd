import { DataSource, type DataSourceOptions } from 'typeorm';
import { NAMED_STATEMENTS_OPTION } from './returning.js';
import { SecretEntity } from './entities/secret.entity.js';
import { SecretVersionEntity } from './entities/secret-version.entity.js';
import { SettingEntity } from './entities/setting.entity.js';
import { ApiKeyEntity } from './entities/api-key.entity.js';
import { AuditEventEntity } from './entities/audit-event.entity.js';
import { InitialSchema1795825837718 } from './migrations/1795825837718-initial-schema.js';
import { AccessControl1795826000000 } from './migrations/1795826000000-access-control.js';
import { RotationEntity } from './entities/rotation.entity.js';
import { Rotations1795827000000 } from './migrations/1795827000000-rotations.js';
import { HeartbeatEntity } from './entities/heartbeat.entity.js';
import { EventEntity, WebhookDeliveryEntity } from './entities/event.entity.js';
import { HeartbeatsEvents1795828000000 } from './migrations/1795828000000-heartbeats-events.js';
import { AccessKeyBlindIndex1795829000000 } from './migrations/1795829000000-access-key-blind-index.js';
import { LeaseLocks1795830000000 } from './migrations/1795830000000-lease-locks.js';
import { OneWaiting1795830100000 } from './migrations/1795830100000-one-waiting.js';
import { ReaderRole1795830200000 } from './migrations/1795830200000-reader-role.js';
import { VersionTimes1795830300000 } from './migrations/1795830300000-version-times.js';
import { RotationRetireTimes1795830400000 } from './migrations/1795830400000-rotation-retire-times.js';
import { AutoChangeSchedule1795831000000 } from './migrations/1795831000000-auto-change-schedule.js';
import { Discovery1795832000000 } from './migrations/1795832000000-discovery.js';
import { AdoptedVersions1795832600000 } from './migrations/1795832600000-adopted-versions.js';
import { KeyListing1795834000000 } from './migrations/1795834000000-key-listing.js';
import { HeartbeatFinish1795835000000 } from './migrations/1795835000000-heartbeat-finish.js';
import { HeartbeatDue1795836000000 } from './migrations/1795836000000-heartbeat-due.js';
import { HeartbeatDueRows1795837000000 } from './migrations/1795837000000-heartbeat-due-rows.js';
import { PromoteChecked1795838000000 } from './migrations/1795838000000-promote-checked.js';
import { StorePending1795838100000 } from './migrations/1795838100000-store-pending.js';
import { RotationsHotJournal1795838200000 } from './migrations/1795838200000-rotations-hot-journal.js';

// Listed explicitly, not globbed: the same list works from ts-jest, from dist
// and from the TypeORM CLI, and a migration cannot be skipped by a path typo.
export const ENTITIES = [SecretEntity, SecretVersionEntity, SettingEntity, ApiKeyEntity, AuditEventEntity, RotationEntity, HeartbeatEntity, EventEntity, WebhookDeliveryEntity];
export const MIGRATIONS = [
  InitialSchema1795825837718,
  AccessControl1795826000000,
  Rotations1795827000000,
  HeartbeatsEvents1795828000000,
  AccessKeyBlindIndex1795829000000,
  LeaseLocks1795830000000,
  OneWaiting1795830100000,
  ReaderRole1795830200000,
  VersionTimes1795830300000,
  RotationRetireTimes1795830400000,
  AutoChangeSchedule1795831000000,
  Discovery1795832000000,
  AdoptedVersions1795832600000,
  KeyListing1795834000000,
  HeartbeatFinish1795835000000,
  HeartbeatDue1795836000000,
  HeartbeatDueRows1795837000000,
  PromoteChecked1795838000000,
  StorePending1795838100000,
  RotationsHotJournal1795838200000,
];

export interface PoolOptions {
  /** Most connections this process opens (see dbPoolSize in libs/config). */
  poolSize: number;
  /** A query waiting longer than this for a connection fails (a retryable error) instead of hanging. */
  connectTimeoutMs: number;
  /**
   * The hot paths' statements are kept prepared on each connection (NamedSql).
   * False behind a transaction-mode pooler, which may hand each statement to a
   * different server connection (KEYTURN_DB_POOLER=transaction).
   */
  namedStatements?: boolean;
}

export const DEFAULT_POOL: PoolOptions = { poolSize: 10, connectTimeoutMs: 10_000, namedStatements: true };

export function dataSourceOptions(url: string, pool: PoolOptions = DEFAULT_POOL): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: { max: pool.poolSize, connectionTimeoutMillis: pool.connectTimeoutMs, application_name: 'keyturn', [NAMED_STATEMENTS_OPTION]: pool.namedStatements ?? true },
  };
}

/** For the TypeORM CLI: `npx typeorm migration:show -d dist/libs/store/src/data-source.js`. */
export default new DataSource(
  dataSourceOptions(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/keyturn'),
);
