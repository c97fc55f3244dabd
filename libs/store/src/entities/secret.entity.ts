import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { HeartbeatStatus, SecretSettings, SecretType } from '@keyturn/contracts';

/** Per-secret settings (the schema is libs/contracts/src/settings.ts); absent fields fall back to the global settings. */
export type { SecretSettings };

@Entity({ name: 'secrets' })
export class SecretEntity {
  /** UUIDv7: time-ordered, so the primary key is also the keyset pagination order. */
  @PrimaryColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  type: SecretType;

  @Column({ type: 'varchar', length: 128 })
  name: string;

  @Column({ type: 'varchar', length: 512 })
  folder: string;

  /** The IAM user name the secret belongs to. */
  @Column({ type: 'varchar', length: 64 })
  username: string;

  @Column({ name: 'account_id', type: 'char', length: 12 })
  accountId: string;

  /** AWS's UserId, learned at the first rotation: a re-created user with the same name has another. */
  @Column({ name: 'iam_user_id', type: 'varchar', length: 128, nullable: true })
  iamUserId: string | null;

  @Column({ name: 'privileged_secret_id', type: 'uuid', nullable: true })
  privilegedSecretId: string | null;

  @Column({ type: 'jsonb', default: () => `'{}'::jsonb` })
  settings: SecretSettings;

  @Column({ name: 'heartbeat_status', type: 'text', default: 'unknown' })
  heartbeatStatus: HeartbeatStatus;

  @Column({ name: 'last_heartbeat_at', type: 'timestamptz', nullable: true })
  lastHeartbeatAt: Date | null;

  /**
   * When the next heartbeat is due (null: never, or not yet). Not a column of
   * `secrets`: a key secret's row in heartbeat_due (migration
   * HeartbeatDue1795836000000), which the repositories read by a join and
   * write themselves (see repositories/heartbeat-due.sql.ts).
   */
  nextHeartbeatAt: Date | null;

  /** Consecutive failed heartbeats: the re-check interval backs off with them. */
  @Column({ name: 'heartbeat_failures', type: 'int', default: 0 })
  heartbeatFailures: number;

  @Column({ name: 'last_rotated_at', type: 'timestamptz', nullable: true })
  lastRotatedAt: Date | null;

  /** When the next scheduled automatic change starts (its scheduled time plus the random offset inside the window); null without a schedule. */
  @Column({ name: 'next_auto_change_at', type: 'timestamptz', nullable: true })
  nextAutoChangeAt: Date | null;

  /** The scheduled (fire) time of that change: the next one is the schedule's first time after it. */
  @Column({ name: 'auto_change_scheduled_for', type: 'timestamptz', nullable: true })
  autoChangeScheduledFor: Date | null;

  /** The schedule and window ("<cron>|<minutes>") the two times were computed from; another one means they are stale. */
  @Column({ name: 'auto_change_basis', type: 'text', nullable: true })
  autoChangeBasis: string | null;

  /** The highest version number handed out so far (versions are never reused). */
  @Column({ name: 'version_counter', type: 'int', default: 0 })
  versionCounter: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
