import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { IsIamPath } from '../common/iam-path.validator.js';

export class DiscoveryPermissionsQueryDto {
  @ApiProperty({ format: 'uuid', description: 'the aws-iam-key secret whose key would run the discovery' })
  @IsUUID('all', { message: 'executorSecretId must be a UUID' })
  executorSecretId: string;

  @ApiPropertyOptional({ example: '/division/team/', maxLength: 512, description: 'list only the users under this IAM path (default "/", the whole account)' })
  @IsOptional()
  @IsIamPath()
  pathPrefix?: string;

  @ApiPropertyOptional({ enum: ['true', 'false'] })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'check must be true or false' })
  check?: 'true' | 'false';
}
