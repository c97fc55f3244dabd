import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min, ValidateIf } from 'class-validator';

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
