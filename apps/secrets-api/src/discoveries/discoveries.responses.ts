import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class DiscoveryWarningResponse {
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiProperty({ description: 'a code of the warning catalogue' }) code: string;
  @ApiPropertyOptional({ description: 'the IAM action that was denied' }) action?: string;
  @ApiProperty() message: string;
}

/** A discovery run: its progress, outcome and counts. */
export class DiscoveryResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['queued', 'running', 'succeeded', 'failed'] }) status: string;
  @ApiProperty({ enum: ['list-users', 'scan-users', 'done'], description: 'list-users: paging ListUsers; scan-users: reading each user’s keys' }) phase: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: 'string', description: 'null once the executor secret was deleted' }) executorSecretId: string | null;
  @ApiProperty() pathPrefix: string;
  @ApiProperty({ enum: ['api', 'schedule'] }) trigger: string;
  @ApiProperty({ description: 'the API key id (or "scheduler") that asked' }) requestedBy: string;
  @ApiProperty({ type: 'integer' }) usersScanned: number;
  @ApiProperty({ type: 'integer', nullable: true, description: 'known once ListUsers has been read to the end' }) usersTotal: number | null;
  @ApiProperty({ type: 'integer', description: 'access keys found so far' }) keysFound: number;
  @ApiProperty({ type: 'integer', description: 'of them held by a Keyturn secret' }) managed: number;
  @ApiProperty({ type: 'integer' }) unmanaged: number;
  @ApiProperty({ type: [DiscoveryWarningResponse] }) warnings: DiscoveryWarningResponse[];
  @ApiProperty({ nullable: true, type: 'string', description: 'a code of the error catalogue when failed' }) errorCode: string | null;
  @ApiProperty({ nullable: true, type: 'string' }) errorMessage: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) startedAt: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) finishedAt: string | null;
}

export class DiscoveryPageResponse {
  @ApiProperty({ type: [DiscoveryResponse] }) items: DiscoveryResponse[];
  @ApiProperty({ nullable: true, type: 'string', description: 'pass as ?cursor= for the next page; null on the last' }) nextCursor: string | null;
}

/** An access key a run found. Never the key itself: its id masked. */
export class FindingResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) discoveryId: string;
  @ApiProperty() userName: string;
  @ApiProperty({ description: 'the IAM UserId (AIDA…)' }) userId: string;
  @ApiProperty({ example: 'AKIA…WXYZ' }) maskedAccessKeyId: string;
  @ApiProperty({ enum: ['Active', 'Inactive'] }) status: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) createdAt: string | null;
  @ApiProperty({ type: 'integer', nullable: true }) ageDays: number | null;
  // Inline, not a $ref: OpenAPI 3.0 cannot make a referenced object nullable.
  @ApiProperty({
    type: 'object',
    nullable: true,
    required: ['date', 'service', 'region'],
    properties: {
      date: { type: 'string', format: 'date-time' },
      service: { type: 'string', nullable: true, example: 'iam' },
      region: { type: 'string', nullable: true, example: 'us-east-1' },
    },
    description: 'null: never used (or iam:GetAccessKeyLastUsed was denied: see the run’s warnings)',
  })
  lastUsed: { date: string; service: string | null; region: string | null } | null;
  @ApiProperty({ type: 'boolean', nullable: true, description: 'null: unknown (iam:GetLoginProfile was denied)' }) hasConsolePassword: boolean | null;
  @ApiProperty({ description: 'a Keyturn secret held this key when the run scanned it' }) managed: boolean;
  @ApiProperty({ format: 'uuid', nullable: true, type: 'string', description: 'that secret, if it lies in your folders (else null with managed true)' })
  managedBy: string | null;
}

export class FindingPageResponse {
  @ApiProperty({ type: [FindingResponse] }) items: FindingResponse[];
  @ApiProperty({ nullable: true, type: 'string', description: 'pass as ?cursor= for the next page; null on the last' }) nextCursor: string | null;
}
