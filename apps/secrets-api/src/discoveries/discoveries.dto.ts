import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';

export class CreateDiscoveryDto {
  @ApiProperty({ format: 'uuid', description: 'an aws-iam-key secret whose key lists the account (see GET /v1/discoveries/required-permissions)' })
  @IsUUID('all', { message: 'executorSecretId must be a UUID' })
  executorSecretId: string;

  @ApiPropertyOptional({ description: 'only users under this IAM path (ListUsers PathPrefix): starts and ends with "/"', default: '/', example: '/engineering/' })
  @IsOptional() @IsString({ message: 'pathPrefix must be a string' }) @MaxLength(512, { message: 'pathPrefix must be at most 512 characters' })
  pathPrefix?: string;
}

export class ListDiscoveriesQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50 })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'limit must be a whole number' }) @Min(1) @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional() @IsString() @MaxLength(200)
  cursor?: string;
}

export class ListFindingsQueryDto extends ListDiscoveriesQueryDto {
  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'true: keys a Keyturn secret holds; false: the others' })
  @IsOptional() @IsIn(['true', 'false'], { message: 'managed must be true or false' })
  managed?: 'true' | 'false';

  @ApiPropertyOptional({ minimum: 0, maximum: 36500, description: 'keys created at least this many days ago' })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'olderThanDays must be a whole number' }) @Min(0) @Max(36500)
  olderThanDays?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 36500, description: 'keys not used for this many days (never used counts as unused)' })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'unusedForDays must be a whole number' }) @Min(0) @Max(36500)
  unusedForDays?: number;

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'whether the key’s user has a console password' })
  @IsOptional() @IsIn(['true', 'false'], { message: 'hasConsolePassword must be true or false' })
  hasConsolePassword?: 'true' | 'false';
}
