import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
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
  create(@CurrentActor() actor: Actor, @Body() dto: CreateSecretDto) {
    return this.secrets.create(actor, dto);
  }

  @Get()
  @RequireRole('viewer')
  @ApiOperation({ summary: 'List secrets (metadata only), keyset-paginated' })
  list(@CurrentActor() actor: Actor, @Query() q: ListSecretsQueryDto) {
    return this.secrets.list(actor, { ...q, limit: q.limit ?? 50 });
  }

  @Get(':id')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'A secret’s metadata: never a secret field' })
  get(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.secrets.get(actor, id);
  }

  @Get(':id/value')
  @RequireRole('operator')
  @Audited({ action: 'secret.value.read', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'The secret fields of the current version (audited)' })
  value(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.secrets.getValue(actor, id);
  }

  @Patch(':id')
  @RequireRole('operator')
  @Audited({ action: 'secret.update', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'Change name, folder, privileged account or settings' })
  update(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Body() dto: UpdateSecretDto) {
    return this.secrets.update(actor, id, dto);
  }

  @Delete(':id')
  @HttpCode(200)
  @RequireRole('operator')
  @Audited({ action: 'secret.delete', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'Delete a secret; its audit history stays' })
  async remove(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Query() q: DeleteSecretQueryDto) {
    const { detached } = await this.secrets.remove(actor, id, q.force === 'true');
    return { id, deleted: true, detached };
  }
}
