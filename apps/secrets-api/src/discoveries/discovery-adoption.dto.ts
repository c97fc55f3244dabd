import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsOptional, IsString, IsUUID, Matches, MaxLength, ValidateNested } from 'class-validator';
import { FOLDER, FOLDER_MAX, NO_DOT_SEGMENTS, SECRET_NAME } from '@keyturn/contracts';
import { SecretSettingsDto } from '../secrets/secret.dto.js';
import { RotationResponse } from '../rotations/rotations.responses.js';

/** POST /v1/discoveries/:id/findings/:findingId/adopt */
export class AdoptFindingDto {
  @ApiProperty({ maxLength: 128, example: 'ci-bot deploy key', description: 'the name of the aws-iam-key secret adoption creates' })
  @IsString() @Matches(SECRET_NAME, { message: 'name must be 1-128 printable characters' })
  name: string;

  @ApiPropertyOptional({ default: '/', example: '/team/prod' })
  @IsOptional() @IsString() @MaxLength(FOLDER_MAX)
  @Matches(FOLDER, { message: 'folder must look like /team/prod: segments of letters, digits, space, _ . -' })
  @Matches(NO_DOT_SEGMENTS, { message: 'folder segments cannot be "." or ".."' })
  folder?: string;

  @ApiProperty({ format: 'uuid', description: 'an aws-iam-key secret of the same account, visible to the caller, that may manage the user’s keys: it makes the new key (the adopted key cannot sign)' })
  @IsUUID('all', { message: 'privilegedSecretId must be a UUID' })
  privilegedSecretId: string;

  @ApiPropertyOptional({ type: SecretSettingsDto, description: 'the new secret’s own settings; previousKeyGraceSeconds and shouldInactivatePreviousKey / shouldDeletePreviousKey decide when and how the adopted key is retired' })
  @IsOptional() @ValidateNested() @Type(() => SecretSettingsDto)
  settings?: SecretSettingsDto;

  @ApiPropertyOptional({ format: 'uuid', description: 'when the user already has two keys: the OTHER key (a finding of the same run and user that no secret manages) to delete before the new key is created' })
  @IsOptional() @IsUUID('all', { message: 'deleteFindingId must be a UUID' })
  deleteFindingId?: string;
}

export class AdoptionResponse {
  @ApiProperty({ format: 'uuid', description: 'the new aws-iam-key secret; its version 1 is the adopted key (secretUnknown)' }) secretId: string;
  @ApiProperty({ format: 'uuid', description: 'the privileged rotation that replaces the adopted key' }) rotationId: string;
  @ApiProperty({ type: RotationResponse }) rotation: RotationResponse;
}
