import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export type HeartbeatOutcome = 'success' | 'failed' | 'unable-to-connect';

@Entity({ name: 'heartbeats' })
export class HeartbeatEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column({ name: 'secret_id', type: 'uuid' })
  secretId: string;

  @Column({ type: 'text' })
  status: 'queued' | 'running' | 'done';

  @Column({ type: 'text', nullable: true })
  outcome: HeartbeatOutcome | null;

  @Column({ type: 'varchar', length: 16 })
  trigger: 'api' | 'schedule' | 'rotation';

  @Column({ name: 'requested_by', type: 'varchar', length: 128 })
  requestedBy: string;

  /** The ARN the stored key answered as. */
  @Column({ name: 'checked_arn', type: 'varchar', length: 2048, nullable: true })
  checkedArn: string | null;

  @Column({ name: 'key_status', type: 'varchar', length: 16, nullable: true })
  keyStatus: string | null;

  @Column({ name: 'key_created_at', type: 'timestamptz', nullable: true })
  keyCreatedAt: Date | null;

  @Column({ name: 'error_code', type: 'varchar', length: 64, nullable: true })
  errorCode: string | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;

  @Column({ type: 'int', default: 0 })
  attempt: number;

  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}
