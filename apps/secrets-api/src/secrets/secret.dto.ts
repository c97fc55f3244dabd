import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsEnum,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import {
  ACCESS_KEY_ID,
  AWS_ACCOUNT_ID,
  CONSOLE_PASSWORD,
  FOLDER,
  FOLDER_MAX,
  NO_DOT_SEGMENTS,
  IAM_USER_NAME,
  SECRET_ACCESS_KEY,
  SECRET_NAME,
  SecretType,
} from '@keyturn/contracts';

const DOT_SEGMENT_MESSAGE = { message: 'folder segments cannot be "." or ".."' };

const isKey = (o: { type?: string }) => o.type === SecretType.AwsIamKey;
const isPassword = (o: { type?: string }) => o.type === SecretType.AwsIamConsolePassword;

export class SecretSettingsDto {
  @ApiPropertyOptional({ description: 'Inactivate the previous access key after a change (overrides the global setting).' })
  @IsOptional() @IsBoolean()
  shouldInactivatePreviousKey?: boolean;

  @ApiPropertyOptional({ description: 'Delete the previous access key after a change; implies inactivate.' })
  @IsOptional() @IsBoolean()
  shouldDeletePreviousKey?: boolean;

  @ApiPropertyOptional({ minimum: 1, maximum: 3650, description: 'Change automatically every N days.' })
  @IsOptional() @IsInt() @Min(1) @Max(3650)
  autoChangeIntervalDays?: number;

  @ApiPropertyOptional({ minimum: 60, maximum: 2592000 })
  @IsOptional() @IsInt() @Min(60) @Max(30 * 86400)
  heartbeatIntervalSeconds?: number;

  @ApiPropertyOptional({ minimum: 8, maximum: 128 })
  @IsOptional() @IsInt() @Min(8) @Max(128)
  passwordLength?: number;

  @ApiPropertyOptional({ description: 'Characters never used in generated passwords.' })
  @IsOptional() @IsString() @MaxLength(64)
  passwordExcludeCharacters?: string;

  @ApiPropertyOptional()
  @IsOptional() @IsBoolean()
  passwordRequireSymbols?: boolean;

  @ApiPropertyOptional({ minimum: 0, maximum: 24, description: 'Never reuse one of the last N passwords.' })
  @IsOptional() @IsInt() @Min(0) @Max(24)
  passwordReuseHistory?: number;

  @ApiPropertyOptional({ description: 'Ask AWS to make the user set a new password at next sign-in.' })
  @IsOptional() @IsBoolean()
  passwordResetRequired?: boolean;
}

export class CreateSecretDto {
  @ApiProperty({ enum: SecretType })
  @IsEnum(SecretType, { message: `type must be one of ${Object.values(SecretType).join(', ')}` })
  type: SecretType;

  @ApiProperty({ maxLength: 128, example: 'ci-bot deploy key' })
  @IsString() @Matches(SECRET_NAME, { message: 'name must be 1-128 printable characters' })
  name: string;

  @ApiPropertyOptional({ default: '/', example: '/team/prod' })
  @IsOptional() @IsString() @MaxLength(FOLDER_MAX)
  @Matches(FOLDER, { message: 'folder must look like /team/prod: segments of letters, digits, space, _ . -' })
  @Matches(NO_DOT_SEGMENTS, DOT_SEGMENT_MESSAGE)
  folder?: string;

  @ApiProperty({ description: 'IAM user name', example: 'ci-bot' })
  @IsString() @Matches(IAM_USER_NAME, { message: 'username must be 1-64 of letters, digits and + = , . @ _ -' })
  username: string;

  @ApiProperty({ example: '123456789012' })
  @IsString() @Matches(AWS_ACCOUNT_ID, { message: 'accountId must be 12 digits' })
  accountId: string;

  @ApiPropertyOptional({ description: 'aws-iam-key only', example: 'AKIAIOSFODNN7EXAMPLE' })
  @ValidateIf(isKey) @IsString() @Matches(ACCESS_KEY_ID, { message: 'accessKeyId must be AKIA followed by 16 upper-case letters or digits' })
  accessKeyId?: string;

  @ApiPropertyOptional({ description: 'aws-iam-key only; 40 characters' })
  @ValidateIf(isKey) @IsString() @Matches(SECRET_ACCESS_KEY, { message: 'secretAccessKey must be 40 characters of A-Z a-z 0-9 / +' })
  secretAccessKey?: string;

  @ApiPropertyOptional({ description: 'aws-iam-console-password only; 1-128 characters' })
  @ValidateIf(isPassword) @IsString() @Matches(CONSOLE_PASSWORD, { message: 'password must be 1-128 characters from U+0020 to U+00FF (tab, CR and LF allowed)' })
  password?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'An aws-iam-key secret that changes this one (privileged account).' })
  @IsOptional() @IsUUID('all', { message: 'privilegedSecretId must be a UUID' })
  privilegedSecretId?: string;

  @ApiPropertyOptional({ type: SecretSettingsDto })
  @IsOptional() @ValidateNested() @Type(() => SecretSettingsDto)
  settings?: SecretSettingsDto;
}

export class UpdateSecretDto {
  @ApiPropertyOptional()
  @IsOptional() @IsString() @Matches(SECRET_NAME, { message: 'name must be 1-128 printable characters' })
  name?: string;

  @ApiPropertyOptional()
  @IsOptional() @IsString() @MaxLength(FOLDER_MAX)
  @Matches(FOLDER, { message: 'folder must look like /team/prod: segments of letters, digits, space, _ . -' })
  @Matches(NO_DOT_SEGMENTS, DOT_SEGMENT_MESSAGE)
  folder?: string;

  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'null removes the association' })
  @ValidateIf((o) => o.privilegedSecretId !== null) @IsOptional() @IsUUID('all', { message: 'privilegedSecretId must be a UUID or null' })
  privilegedSecretId?: string | null;

  @ApiPropertyOptional({ type: SecretSettingsDto, description: 'merged into the current settings; a field set to null removes the override' })
  @IsOptional() @ValidateNested() @Type(() => SecretSettingsDto)
  settings?: SecretSettingsDto;
}

export class ListSecretsQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50 })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'limit must be a whole number' }) @Min(1) @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional() @IsString() @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ enum: SecretType })
  @IsOptional() @IsEnum(SecretType)
  type?: SecretType;

  @ApiPropertyOptional({ description: 'a folder and everything under it' })
  @IsOptional() @IsString() @Matches(FOLDER, { message: 'folder must look like /team/prod' }) @Matches(NO_DOT_SEGMENTS, DOT_SEGMENT_MESSAGE)
  folder?: string;

  @ApiPropertyOptional({ enum: ['unknown', 'success', 'failed', 'unable-to-connect', 'not-supported'] })
  @IsOptional() @IsIn(['unknown', 'success', 'failed', 'unable-to-connect', 'not-supported'])
  heartbeatStatus?: 'unknown' | 'success' | 'failed' | 'unable-to-connect' | 'not-supported';
}

export class DeleteSecretQueryDto {
  @ApiPropertyOptional({ description: 'detach secrets that use this one as their privileged account' })
  @IsOptional() @IsIn(['true', 'false'])
  force?: 'true' | 'false';
}
