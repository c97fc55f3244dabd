import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS, BODY_ERRORS } from '../common/error.response.js';
import { SecretDeletedResponse, SecretPageResponse, SecretResponse, SecretValueResponse } from './secrets.responses.js';
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
  @ApiCreatedResponse({ type: SecretResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, ...BODY_ERRORS, 409, 422)
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
  @ApiOkResponse({ type: SecretPageResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS)
  list(@CurrentActor() actor: Actor, @Query() q: ListSecretsQueryDto) {
    return this.listSecrets.execute(actor, { ...q, limit: q.limit ?? 50 });
  }

  @Get(':id')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'A secret’s metadata: never a secret field' })
  @ApiOkResponse({ type: SecretResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  get(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.getSecret.execute(actor, id);
  }

  @Get(':id/value')
  @RequireRole('operator')
  @Audited({ action: 'secret.value.read', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'The secret fields of the current version (audited)' })
  @ApiOkResponse({ type: SecretValueResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404, 409)
  value(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.readValue.execute(actor, id);
  }

  @Patch(':id')
  @RequireRole('operator')
  @Audited({ action: 'secret.update', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'Change name, folder, privileged account or settings' })
  @ApiOkResponse({ type: SecretResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, ...BODY_ERRORS, 404, 409, 422)
  update(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Body() dto: UpdateSecretDto) {
    return this.updateSecret.execute(actor, id, dto);
  }

  @Delete(':id')
  @HttpCode(200)
  @RequireRole('operator')
  @Audited({ action: 'secret.delete', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({ summary: 'Delete a secret; its audit history stays' })
  @ApiOkResponse({ type: SecretDeletedResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404, 409)
  async remove(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Query() q: DeleteSecretQueryDto) {
    const { detached } = await this.deleteSecret.execute(actor, id, q.force === 'true');
    return { id, deleted: true, detached };
  }
}
