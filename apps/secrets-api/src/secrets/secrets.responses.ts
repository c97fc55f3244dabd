import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { SecretType } from '@keyturn/contracts';

const HEARTBEAT_STATUSES = ['unknown', 'success', 'failed', 'unable-to-connect', 'not-supported'];

/** A secret's own overrides of the global settings: only the fields it sets. */
export class SecretSettingsResponse {
  @ApiPropertyOptional() shouldInactivatePreviousKey?: boolean;
  @ApiPropertyOptional() shouldDeletePreviousKey?: boolean;
  @ApiPropertyOptional({ type: 'integer' }) autoChangeIntervalDays?: number;
  @ApiPropertyOptional({ example: '0 3 * * 1' }) autoChangeSchedule?: string;
  @ApiPropertyOptional({ type: 'integer' }) autoChangeWindowMinutes?: number;
  @ApiPropertyOptional({ type: 'integer' }) heartbeatIntervalSeconds?: number;
  @ApiPropertyOptional({ type: 'integer' }) passwordLength?: number;
  @ApiPropertyOptional() passwordExcludeCharacters?: string;
  @ApiPropertyOptional() passwordRequireSymbols?: boolean;
  @ApiPropertyOptional({ type: 'integer' }) passwordReuseHistory?: number;
  @ApiPropertyOptional() passwordResetRequired?: boolean;
}

/** Every setting, as it applies (the global value unless the secret overrides it). */
export class SettingsResponse {
  @ApiProperty() shouldInactivatePreviousKey: boolean;
  @ApiProperty() shouldDeletePreviousKey: boolean;
  @ApiProperty({ type: 'integer', nullable: true, description: 'days between automatic changes; null: none' }) autoChangeIntervalDays: number | null;
  @ApiProperty({ type: 'string', nullable: true, description: '5-field cron expression in UTC; null: none. Takes precedence over autoChangeIntervalDays', example: '0 3 * * 1' })
  autoChangeSchedule: string | null;
  @ApiProperty({ type: 'integer', description: 'minutes after each scheduled time inside which the change starts at random' }) autoChangeWindowMinutes: number;
  @ApiProperty({ type: 'integer', nullable: true }) heartbeatIntervalSeconds: number | null;
  @ApiProperty({ type: 'integer' }) passwordLength: number;
  @ApiProperty() passwordExcludeCharacters: string;
  @ApiProperty() passwordRequireSymbols: boolean;
  @ApiProperty({ type: 'integer' }) passwordReuseHistory: number;
  @ApiProperty() passwordResetRequired: boolean;
}

/** A secret's metadata: never a secret field. */
export class SecretResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: SecretType, enumName: 'SecretType' }) type: SecretType;
  @ApiProperty() name: string;
  @ApiProperty({ example: '/team/prod' }) folder: string;
  @ApiProperty({ description: 'IAM user name' }) username: string;
  @ApiProperty({ example: '123456789012' }) accountId: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: 'string' }) privilegedSecretId: string | null;
  @ApiProperty({ type: SecretSettingsResponse }) settings: SecretSettingsResponse;
  @ApiPropertyOptional({ type: SettingsResponse, description: 'single-secret answers only' }) effectiveSettings?: SettingsResponse;
  @ApiProperty({ enum: HEARTBEAT_STATUSES }) heartbeatStatus: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) lastHeartbeatAt: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) nextHeartbeatAt: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' }) lastRotatedAt: string | null;
  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: 'string',
    description: 'with a schedule (autoChangeSchedule): when the next automatic change starts (the scheduled time plus its random offset inside the window); null without one',
  })
  nextAutoChangeAt: string | null;
  @ApiPropertyOptional({ type: 'integer', nullable: true, description: 'single-secret answers only' }) currentVersion?: number | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
}

export class SecretPageResponse {
  @ApiProperty({ type: [SecretResponse] }) items: SecretResponse[];
  @ApiProperty({ nullable: true, type: 'string', description: 'pass as ?cursor= for the next page; null on the last' }) nextCursor: string | null;
}

/** The secret fields of the current version (audited). */
export class SecretValueResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: SecretType, enumName: 'SecretType' }) type: SecretType;
  @ApiProperty() username: string;
  @ApiProperty() accountId: string;
  @ApiProperty({ type: 'integer' }) version: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'aws-iam-key: accessKeyId, secretAccessKey; aws-iam-console-password: password',
  })
  fields: Record<string, string>;
}

export class SecretDeletedResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: [true] }) deleted: boolean;
  @ApiProperty({ type: [String], description: 'secrets that used this one as their privileged account and no longer do' }) detached: string[];
}

export class SecretVersionResponse {
  @ApiProperty({ type: 'integer' }) version: number;
  @ApiProperty({ enum: ['current', 'previous', 'pending', 'retired', 'discarded'] }) state: string;
  @ApiProperty({ type: 'string', nullable: true, description: 'the masked access key id ("AKIA…WXYZ"); null for other types' }) keyHint: string | null;
  @ApiProperty({ description: 'an adopted access key (discovery): its id is known, its secret part is not, so its value is never served (409 SECRET_VALUE_UNKNOWN)' })
  secretUnknown: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true, description: 'when it became current (null for versions stored before this was recorded)' }) promotedAt: string | null;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true, description: 'when its key was deleted or replaced' }) retiredAt: string | null;
}

export class SecretVersionListResponse {
  @ApiProperty({ type: [SecretVersionResponse], description: 'newest first; never a secret field' }) items: SecretVersionResponse[];
}
