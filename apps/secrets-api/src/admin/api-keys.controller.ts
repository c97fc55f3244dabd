import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS, BODY_ERRORS } from '../common/error.response.js';
import { ApiKeyResponse, CreatedApiKeyResponse } from './admin.responses.js';
import type { Actor } from '@keyturn/contracts';
import { ApiKeysService } from '@keyturn/auth';
import { CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { Audited } from '../common/audit.interceptor.js';
import { UuidParam } from '../common/pipes.js';
import { CreateApiKeyDto } from './api-keys.dto.js';

@ApiTags('api-keys')
@ApiBearerAuth()
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @RequireRole('admin')
  @Audited({ action: 'api-key.create', targetType: 'api-key' })
  @ApiOperation({ summary: 'Create an API key (role and folders at most the caller’s own); the token is in this answer only' })
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, ...BODY_ERRORS)
  create(@CurrentActor() actor: Actor, @Body() dto: CreateApiKeyDto) {
    return this.keys.create(actor, dto);
  }

  @Get()
  @RequireRole('admin')
  @ApiOperation({ summary: 'List API keys (never their tokens); a scoped key sees only keys within its folders' })
  @ApiOkResponse({ type: [ApiKeyResponse] })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS)
  list(@CurrentActor() actor: Actor) {
    return this.keys.list(actor);
  }

  @Delete(':id')
  @RequireRole('admin')
  @Audited({ action: 'api-key.revoke', targetType: 'api-key' })
  @ApiOperation({ summary: 'Revoke an API key (404 for a key beyond the caller’s role or folders)' })
  @ApiOkResponse({ type: ApiKeyResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  revoke(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.keys.revoke(actor, id);
  }
}
