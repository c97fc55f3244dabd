import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { SecretType } from '@keyturn/contracts';

export class RotationWarningResponse {
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiProperty({ description: 'a code of the warning catalogue' }) code: string;
  @ApiProperty() message: string;
}

/** A rotation: what changes, how far it got, how it ended. */
export class RotationResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) secretId: string;
  @ApiProperty({ enum: SecretType, enumName: 'SecretType' }) secretType: string;
  @ApiProperty({ enum: ['queued', 'running', 'succeeded', 'failed'] }) status: string;
  @ApiProperty({
    enum: ['prepare', 'make-room', 'create', 'verify', 'generate', 'apply', 'promote', 'retire', 'done'],
    description: 'key: prepare → make-room → create → verify → promote → retire → done; password: prepare → generate → apply → promote → done',
  })
  step: string;
  @ApiProperty({ enum: ['basic', 'privileged'], nullable: true, type: 'string' }) mode: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: 'string' }) executorSecretId: string | null;
  @ApiProperty({ type: 'integer' }) attempt: number;
  @ApiProperty({ enum: ['api', 'schedule'] }) trigger: string;
  @ApiProperty({ description: 'the API key id (or "scheduler") that asked' }) requestedBy: string;
  @ApiProperty({ nullable: true, type: 'string', description: 'a code of the error catalogue when failed' }) errorCode: string | null;
  @ApiProperty({ nullable: true, type: 'string' }) errorMessage: string | null;
  @ApiProperty({ type: [RotationWarningResponse] }) warnings: RotationWarningResponse[];
  @ApiProperty({ description: 'the previous key is still to be switched off or deleted' }) retirePending: boolean;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string', description: 'with a grace period (previousKeyGraceSeconds): when the previous key is due to be switched off or deleted' })
  retireAt: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string', description: 'when the previous key was switched off or deleted after a grace period (early if another change needed the slot)' })
  retiredAt: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) startedAt: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) finishedAt: string | null;
}

export class PolicyStatementResponse {
  @ApiProperty() Sid: string;
  @ApiProperty({ enum: ['Allow'] }) Effect: string;
  @ApiProperty({ type: [String] }) Action: string[];
  @ApiProperty() Resource: string;
}

export class PolicyDocumentResponse {
  @ApiProperty({ enum: ['2012-10-17'] }) Version: string;
  @ApiProperty({ type: [PolicyStatementResponse] }) Statement: PolicyStatementResponse[];
}

export class PermissionResultResponse {
  @ApiProperty() action: string;
  @ApiProperty() resource: string;
  @ApiProperty({ enum: ['allowed', 'explicitDeny', 'implicitDeny'] }) decision: string;
}

export class PermissionCheckResponse {
  @ApiProperty({ description: 'false: AWS could not be asked (reason says why)' }) available: boolean;
  @ApiPropertyOptional() reason?: string;
  @ApiPropertyOptional({ type: [PermissionResultResponse] }) results?: PermissionResultResponse[];
  @ApiPropertyOptional() allAllowed?: boolean;
  @ApiPropertyOptional({ type: [String], description: 'the actions AWS would refuse (implicitDeny or explicitDeny), each named once' }) deniedActions?: string[];
}

export class RequiredPermissionsResponse {
  @ApiProperty({ format: 'uuid' }) secretId: string;
  @ApiProperty({ enum: ['basic', 'privileged'] }) mode: string;
  @ApiProperty({ description: 'the IAM user whose keys execute the change' }) executorUser: string;
  @ApiProperty({ type: PolicyDocumentResponse, description: 'attach to the executor: exactly what Keyturn needs' }) policy: PolicyDocumentResponse;
  @ApiProperty({ type: PolicyDocumentResponse, description: 'optional extras, skipped with a warning when denied' }) recommended: PolicyDocumentResponse;
  @ApiPropertyOptional({ type: PermissionCheckResponse, description: 'with ?check=true' }) check?: PermissionCheckResponse;
}

export class RotationListResponse {
  @ApiProperty({ type: [RotationResponse], description: 'the latest 50, newest first' }) items: RotationResponse[];
}
