import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { SecretType } from '@keyturn/contracts';

export type RotationStatus = 'queued' | 'running' | 'succeeded' | 'failed';
/**
 * Key rotation: prepare → make-room → create → verify → promote → retire → done.
 * Console password: prepare → generate → apply → promote → done.
 */
export type RotationStep =
  | 'prepare'
  | 'make-room'
  | 'create'
  | 'verify'
  | 'generate'
  | 'apply'
  | 'promote'
  | 'retire'
  | 'done';

export interface RotationWarning {
  at: string;
  code: string;
  message: string;
}

@Entity({ name: 'rotations' })
export class RotationEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column({ name: 'secret_id', type: 'uuid' })
  secretId: string;

  @Column({ name: 'secret_type', type: 'text' })
  secretType: SecretType;

  @Column({ type: 'text' })
  status: RotationStatus;

  @Column({ type: 'text' })
  step: RotationStep;

  /** basic: the target changes itself; privileged: another key secret changes it. Set by prepare. */
  @Column({ type: 'text', nullable: true })
  mode: 'basic' | 'privileged' | null;

  @Column({ name: 'executor_secret_id', type: 'uuid', nullable: true })
  executorSecretId: string | null;

  @Column({ type: 'int', default: 0 })
  attempt: number;

  @Column({ name: 'requested_by', type: 'varchar', length: 128 })
  requestedBy: string;

  @Column({ type: 'varchar', length: 16, default: 'api' })
  trigger: 'api' | 'schedule';

  @Column({ name: 'idempotency_key', type: 'varchar', length: 128, nullable: true })
  idempotencyKey: string | null;

  /** The version number stored as pending by this rotation. */
  @Column({ name: 'pending_version', type: 'int', nullable: true })
  pendingVersion: number | null;

  /** Written just before CreateAccessKey: a key AWS made after this and we never stored is an orphan. */
  @Column({ name: 'about_to_create_at', type: 'timestamptz', nullable: true })
  aboutToCreateAt: Date | null;

  /**
   * Adoption with a full user: the blind index (under the KEK active at the
   * request) of the other key to delete before creating one. Never the key id.
   */
  @Column({ name: 'delete_key_id_hmac', type: 'varchar', length: 64, nullable: true })
  deleteKeyIdHmac: string | null;

  @Column({ name: 'lease_owner', type: 'varchar', length: 128, nullable: true })
  leaseOwner: string | null;

  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt: Date | null;

  /** Retire failed after promotion: the rotation succeeded, and retire is retried. */
  @Column({ name: 'retire_pending', type: 'boolean', default: false })
  retirePending: boolean;

  /** With a grace period: when the previous key is due to be retired (retire_pending stays true until then). */
  @Column({ name: 'retire_at', type: 'timestamptz', nullable: true })
  retireAt: Date | null;

  /** When the retire step ran after a grace period (at its time, or early because another change needed the slot). */
  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true })
  retiredAt: Date | null;

  /** A change requested by a schedule: the scheduled time it is for (one rotation per scheduled time). */
  @Column({ name: 'scheduled_for', type: 'timestamptz', nullable: true })
  scheduledFor: Date | null;

  @Column({ name: 'error_code', type: 'varchar', length: 64, nullable: true })
  errorCode: string | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;

  @Column({ type: 'jsonb', default: () => `'[]'::jsonb` })
  warnings: RotationWarning[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
