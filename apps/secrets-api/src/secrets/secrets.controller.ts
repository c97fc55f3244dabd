import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiExtraModels, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Actor } from '@keyturn/contracts';
import {
  CreateSecretUseCase,
  DeleteSecretUseCase,
  GetSecretUseCase,
  ListSecretsUseCase,
  ReadValueUseCase,
  UpdateSecretUseCase,
  type CreateSecretInput,
} from '@keyturn/secrets';
import { Audited, CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { UuidParam } from '../common/pipes.js';
import { CREATE_SECRET_DTOS, CreateSecretDto, DeleteSecretQueryDto, ListSecretsQueryDto, UpdateSecretDto } from './secret.dto.js';
import { CreateSecretBodyPipe } from './create-secret-body.pipe.js';

const CREATE_DTOS = [...CREATE_SECRET_DTOS.values()];

@ApiTags('secrets')
@ApiBearerAuth()
// CreateSecretDto: the fields every type shares, documented on its own too.
@ApiExtraModels(CreateSecretDto, ...CREATE_DTOS)
@Controller('v1/secrets')
export class SecretsController {
  constructor(
    private readonly createSecret: CreateSecretUseCase,
    private readonly updateSecret: UpdateSecretUseCase,
    private readonly deleteSecret: DeleteSecretUseCase,
    private readonly getSecret: GetSecretUseCase,
    private readonly listSecrets: ListSecretsUseCase,
    private readonly readValue: ReadValueUseCase,
  ) {}

  @Post()
  @RequireRole('operator')
  @Audited({ action: 'secret.create', targetType: 'secret', secretFrom: 'response' })
  @ApiOperation({ summary: 'Store a secret (its fields are encrypted at rest)' })
  @ApiBody({
    description: 'One schema per secret type, told apart by `type`.',
    schema: {
      oneOf: CREATE_DTOS.map((d) => ({ $ref: getSchemaPath(d) })),
      discriminator: { propertyName: 'type', mapping: Object.fromEntries([...CREATE_SECRET_DTOS].map(([type, d]) => [type, getSchemaPath(d)])) },
    },
  })
  create(@CurrentActor() actor: Actor, @Body(CreateSecretBodyPipe) body: CreateSecretInput) {
    return this.createSecret.execute(actor, body);
  }

  @Get()
  @RequireRole('viewer')
  @ApiOperation({ summary: 'List secrets (metadata only), keyset-paginated' })
  list(@CurrentActor() actor: Actor, @Query() q: ListSecretsQueryDto) {
    return this.listSecrets.execute(actor, { ...q, limit: q.limit ?? 50 });
  }

  @Get(':id')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'A secret’s metadata: never a secret field' })
  get(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.getSecret.execute(actor, id);
  }

  @Get(':id/value')
  @RequireRole('operator')
  @Audited({ action: 'secret.value.read', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'The secret fields of the current version (audited)' })
  value(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.readValue.execute(actor, id);
  }

  @Patch(':id')
  @RequireRole('operator')
  @Audited({ action: 'secret.update', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'Change name, folder, privileged account or settings' })
  update(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Body() dto: UpdateSecretDto) {
    return this.updateSecret.execute(actor, id, dto);
  }

  @Delete(':id')
  @HttpCode(200)
  @RequireRole('operator')
  @Audited({ action: 'secret.delete', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'Delete a secret; its audit history stays' })
  async remove(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Query() q: DeleteSecretQueryDto) {
    const { detached } = await this.deleteSecret.execute(actor, id, q.force === 'true');
    return { id, deleted: true, detached };
  }
}
