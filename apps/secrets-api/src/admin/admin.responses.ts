import { ApiProperty } from '@nestjs/swagger';
import { ROLES } from '@keyturn/auth';

export class ApiKeyResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ROLES }) role: string;
  @ApiProperty({ type: [String] }) folderScopes: string[];
  @ApiProperty({ description: 'the start of the token, to recognise it; never the token' }) tokenPrefix: string;
  @ApiProperty({ nullable: true, type: 'string' }) createdBy: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) lastUsedAt: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) revokedAt: string | null;
}

export class CreatedApiKeyResponse {
  @ApiProperty({ type: ApiKeyResponse }) apiKey: ApiKeyResponse;
  @ApiProperty({ description: 'the API key’s token: shown in this answer only' }) token: string;
}

export class AuditActorResponse {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
}

export class AuditEventResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiProperty({ type: AuditActorResponse }) actor: AuditActorResponse;
  @ApiProperty({ example: 'secret.value.read' }) action: string;
  @ApiProperty({ nullable: true, type: 'string' }) targetType: string | null;
  @ApiProperty({ nullable: true, type: 'string' }) targetId: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: 'string' }) secretId: string | null;
  @ApiProperty({ enum: ['success', 'failure'] }) outcome: string;
  @ApiProperty({ nullable: true, type: 'string' }) errorCode: string | null;
  @ApiProperty({ nullable: true, type: 'string' }) requestId: string | null;
  @ApiProperty({ nullable: true, type: 'string' }) ip: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) details: Record<string, unknown>;
}

export class AuditPageResponse {
  @ApiProperty({ type: [AuditEventResponse] }) items: AuditEventResponse[];
  @ApiProperty({ nullable: true, type: 'string' }) nextCursor: string | null;
}
