import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsISO8601, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';

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
