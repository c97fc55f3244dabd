import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, IsEnum, IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength, ValidateIf, ValidateNested } from 'class-validator';
import {
  AWS_ACCOUNT_ID,
  FOLDER,
  FOLDER_MAX,
  NO_DOT_SEGMENTS,
  IAM_USER_NAME,
  SECRET_NAME,
  SecretType,
  type SecretSettings,
} from '@keyturn/contracts';
import { allSecretFieldNames, secretTypeDefinitions, type SecretTypeDefinition } from '@keyturn/secret-types';
import { declareSettings } from '../common/settings-schema.dto.js';
import { PageQueryDto } from '../common/page-query.dto.js';

const DOT_SEGMENT_MESSAGE = { message: 'folder segments cannot be "." or ".."' };

/** A secret's own settings: each overrides the global setting of the same name. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed by the interface below, declared by the schema
export class SecretSettingsDto {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type -- the fields come from the settings schema
export interface SecretSettingsDto extends SecretSettings {}
declareSettings(SecretSettingsDto, { global: false });

/**
 * What every secret type has. The request body is one of the per-type DTOs
 * below, picked by `type` (CreateSecretBodyPipe); this class alone answers a
 * body whose type is missing or unknown.
 */
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

  @ApiPropertyOptional({ format: 'uuid', description: 'A secret that changes this one (privileged account); see the type’s executor rule.' })
  @IsOptional() @IsUUID('all', { message: 'privilegedSecretId must be a UUID' })
  privilegedSecretId?: string;

  @ApiPropertyOptional({ type: SecretSettingsDto })
  @IsOptional() @ValidateNested() @Type(() => SecretSettingsDto)
  settings?: SecretSettingsDto;

  /** The type's secret fields (declared on the per-type classes). */
  [field: string]: unknown;
}

/**
 * The create body of one secret type: the common fields, and the type's own
 * secret fields with their rules from its definition (libs/secret-types). Another
 * type's field is let through (allowed on the base class below), so the use case
 * answers FIELD_NOT_ALLOWED naming it rather than "not a known field"; it is not
 * in the type's OpenAPI schema.
 */
function createDtoFor(def: SecretTypeDefinition): typeof CreateSecretDto {
  const name = `Create${def.title}SecretDto`;
  const Dto = { [name]: class extends CreateSecretDto {} }[name];
  const proto = Dto.prototype;
  ApiProperty({ enum: [def.type], description: def.summary })(proto, 'type');
  for (const f of def.fields) {
    ApiProperty({ type: String, description: f.description, example: f.example })(proto, f.name);
    IsString()(proto, f.name);
    Matches(f.pattern, { message: f.message })(proto, f.name);
  }
  return Dto;
}

/** type → its create DTO. A Map, so a body's `type` never reaches an object's own keys (`constructor`, `__proto__`). */
export const CREATE_SECRET_DTOS: ReadonlyMap<string, typeof CreateSecretDto> = new Map(secretTypeDefinitions().map((d) => [d.type, createDtoFor(d)]));

// Every type's secret fields pass the whitelist: a body of unknown type is answered on its type and common fields alone.
for (const f of allSecretFieldNames()) Allow()(CreateSecretDto.prototype, f);

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

export class ListSecretsQueryDto extends PageQueryDto {
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

export class ReadValueQueryDto {
  @ApiPropertyOptional({ description: '`previous`, or a version number; the current version when absent', example: 'previous' })
  @IsOptional() @IsString() @Matches(/^(previous|[1-9][0-9]{0,8})$/, { message: 'version must be previous or a positive integer' })
  version?: string;
}

export class DeleteSecretQueryDto {
  @ApiPropertyOptional({ description: 'detach secrets that use this one as their privileged account' })
  @IsOptional() @IsIn(['true', 'false'])
  force?: 'true' | 'false';
}
