import { ApiProperty } from '@nestjs/swagger';

/** A heartbeat: whether the stored key still works, and as whom it answered. */
export class HeartbeatResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) secretId: string;
  @ApiProperty({ enum: ['queued', 'running', 'done'] }) status: string;
  @ApiProperty({ enum: ['success', 'failed', 'unable-to-connect'], nullable: true, type: 'string' }) outcome: string | null;
  @ApiProperty({ enum: ['api', 'schedule', 'rotation'], description: "'rotation': recorded by a rotation whose verify step proved the new key" }) trigger: string;
  @ApiProperty() requestedBy: string;
  @ApiProperty({ nullable: true, type: 'string', description: 'the ARN the key answered as' }) checkedArn: string | null;
  @ApiProperty({ nullable: true, type: 'string', description: 'Active or Inactive, as IAM lists the key' }) keyStatus: string | null;
  @ApiProperty({ type: 'integer', nullable: true }) keyAgeDays: number | null;
  @ApiProperty({ nullable: true, type: 'string' }) errorCode: string | null;
  @ApiProperty({ nullable: true, type: 'string' }) errorMessage: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) finishedAt: string | null;
}

export class HeartbeatListResponse {
  @ApiProperty({ type: [HeartbeatResponse], description: 'the latest ones, newest first' }) items: HeartbeatResponse[];
}
