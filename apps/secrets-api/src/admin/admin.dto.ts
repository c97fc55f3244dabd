import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { FOLDER, NO_DOT_SEGMENTS, SECRET_NAME, type Role } from '@keyturn/contracts';

export class PutSettingsDto {
  @ApiPropertyOptional() @IsOptional() @IsBoolean()
  shouldInactivatePreviousKey?: boolean;

  @ApiPropertyOptional({ description: 'implies shouldInactivatePreviousKey' }) @IsOptional() @IsBoolean()
  shouldDeletePreviousKey?: boolean;

  @ApiPropertyOptional({ nullable: true, minimum: 1, maximum: 3650 })
  @IsOptional() @ValidateIf((o) => o.autoChangeIntervalDays !== null) @IsInt() @Min(1) @Max(3650)
  autoChangeIntervalDays?: number | null;

  @ApiPropertyOptional({ nullable: true, minimum: 60 })
  @IsOptional() @ValidateIf((o) => o.heartbeatIntervalSeconds !== null) @IsInt() @Min(60) @Max(30 * 86400)
  heartbeatIntervalSeconds?: number | null;

  @ApiPropertyOptional({ minimum: 8, maximum: 128 }) @IsOptional() @IsInt() @Min(8) @Max(128)
  passwordLength?: number;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64)
  passwordExcludeCharacters?: string;

  @ApiPropertyOptional() @IsOptional() @IsBoolean()
  passwordRequireSymbols?: boolean;

  @ApiPropertyOptional({ minimum: 0, maximum: 24 }) @IsOptional() @IsInt() @Min(0) @Max(24)
  passwordReuseHistory?: number;

  @ApiPropertyOptional() @IsOptional() @IsBoolean()
  passwordResetRequired?: boolean;
}

export class CreateApiKeyDto {
  @ApiProperty({ maxLength: 128 }) @IsString() @Matches(SECRET_NAME, { message: 'name must be 1-128 printable characters' })
  name: string;

  @ApiProperty({ enum: ['admin', 'operator', 'viewer', 'auditor'] })
  @IsIn(['admin', 'operator', 'viewer', 'auditor'], { message: 'role must be one of admin, operator, viewer, auditor' })
  role: Role;

  @ApiPropertyOptional({ type: [String], description: 'limit the key to these folders and their subfolders' })
  @IsOptional() @IsArray() @ArrayMaxSize(32) @Matches(FOLDER, { each: true, message: 'each folder scope must look like /team/prod' }) @Matches(NO_DOT_SEGMENTS, { each: true, message: 'folder scope segments cannot be "." or ".."' })
  folderScopes?: string[];
}

export class AuditQueryDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID('all', { message: 'secretId must be a UUID' })
  secretId?: string;

  @ApiPropertyOptional({ example: 'secret.value.read' }) @IsOptional() @IsString() @Matches(/^[a-z.-]{1,64}$/, { message: 'action looks like secret.create' })
  action?: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(128)
  actorId?: string;

  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 time' })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 time' })
  to?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'limit must be a whole number' }) @Min(1) @Max(500)
  limit?: number;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200)
  cursor?: string;
}
