import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS, BODY_ERRORS } from '../common/error.response.js';
import { SecretDeletedResponse, SecretPageResponse, SecretResponse, SecretValueResponse } from './secrets.responses.js';
import type { Actor } from '@keyturn/contracts';
import { SecretsService } from '@keyturn/vault';
import { Audited, CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { UuidParam } from '../common/pipes.js';
import { CreateSecretDto, DeleteSecretQueryDto, ListSecretsQueryDto, UpdateSecretDto } from './secret.dto.js';

@ApiTags('secrets')
@ApiBearerAuth()
@Controller('v1/secrets')
export class SecretsController {
  constructor(private readonly secrets: SecretsService) {}

  @Post()
  @RequireRole('operator')
  @Audited({ action: 'secret.create', targetType: 'secret', secretFrom: 'response' })
  @ApiOperation({ summary: 'Store a secret (its fields are encrypted at rest)' })
  @ApiCreatedResponse({ type: SecretResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, ...BODY_ERRORS, 409, 422)
  create(@CurrentActor() actor: Actor, @Body() dto: CreateSecretDto) {
    return this.secrets.create(actor, dto);
  }

  @Get()
  @RequireRole('viewer')
  @ApiOperation({ summary: 'List secrets (metadata only), keyset-paginated' })
  @ApiOkResponse({ type: SecretPageResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS)
  list(@CurrentActor() actor: Actor, @Query() q: ListSecretsQueryDto) {
    return this.secrets.list(actor, { ...q, limit: q.limit ?? 50 });
  }

  @Get(':id')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'A secret’s metadata: never a secret field' })
  @ApiOkResponse({ type: SecretResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  get(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.secrets.get(actor, id);
  }

  @Get(':id/value')
  @RequireRole('operator')
  @Audited({ action: 'secret.value.read', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'The secret fields of the current version (audited)' })
  @ApiOkResponse({ type: SecretValueResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404, 409)
  value(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.secrets.getValue(actor, id);
  }

  @Patch(':id')
  @RequireRole('operator')
  @Audited({ action: 'secret.update', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'Change name, folder, privileged account or settings' })
  @ApiOkResponse({ type: SecretResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, ...BODY_ERRORS, 404, 409, 422)
  update(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Body() dto: UpdateSecretDto) {
    return this.secrets.update(actor, id, dto);
  }

  @Delete(':id')
  @HttpCode(200)
  @RequireRole('operator')
  @Audited({ action: 'secret.delete', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'Delete a secret; its audit history stays' })
  @ApiOkResponse({ type: SecretDeletedResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404, 409)
  async remove(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Query() q: DeleteSecretQueryDto) {
    const { detached } = await this.secrets.remove(actor, id, q.force === 'true');
    return { id, deleted: true, detached };
  }
}
