import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { FOLDER, NO_DOT_SEGMENTS, SECRET_NAME, type Role } from '@keyturn/contracts';
import { ROLES } from '@keyturn/auth';

export class CreateApiKeyDto {
  @ApiProperty({ maxLength: 128 }) @IsString() @Matches(SECRET_NAME, { message: 'name must be 1-128 printable characters' })
  name: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES, { message: `role must be one of ${ROLES.join(', ')}` })
  role: Role;

  @ApiPropertyOptional({ type: [String], description: 'limit the key to these folders and their subfolders' })
  @IsOptional() @IsArray() @ArrayMaxSize(32) @Matches(FOLDER, { each: true, message: 'each folder scope must look like /team/prod' }) @Matches(NO_DOT_SEGMENTS, { each: true, message: 'folder scope segments cannot be "." or ".."' })
  folderScopes?: string[];
}
