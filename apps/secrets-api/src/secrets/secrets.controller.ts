import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiExtraModels, ApiHeader, ApiOkResponse, ApiOperation, ApiResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS, BODY_ERRORS } from '../common/error.response.js';
import { SecretDeletedResponse, SecretPageResponse, SecretResponse, SecretValueResponse, SecretVersionListResponse } from './secrets.responses.js';
import { ErrorCode, type Actor } from '@keyturn/contracts';
import {
  CreateSecretUseCase,
  DeleteSecretUseCase,
  GetSecretUseCase,
  ListSecretsUseCase,
  ListVersionsUseCase,
  ReadValueUseCase,
  UpdateSecretUseCase,
  type CreateSecretInput,
} from '@keyturn/secrets';
import { CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { Audited } from '../common/audit.interceptor.js';
import { UuidParam } from '../common/pipes.js';
import { noneMatchHolds } from '../common/conditional.js';
import { CREATE_SECRET_DTOS, CreateSecretDto, DeleteSecretQueryDto, ListSecretsQueryDto, ReadValueQueryDto, UpdateSecretDto } from './secret.dto.js';
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
    private readonly listVersions: ListVersionsUseCase,
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
  @RequireRole('reader')
  @Audited({ action: 'secret.value.read', targetType: 'secret', secretFrom: 'param', versionFrom: 'response' })
  @ApiOperation({
    summary: 'The secret fields of the current version, or of `?version=` (audited)',
    description:
      `\`?version=previous\` (or a number) answers an older version while its key can still work: current or previous, not retired (404 \`${ErrorCode.VERSION_NOT_READABLE}\` says why not; 404 \`${ErrorCode.VERSION_NOT_FOUND}\` for a version the secret never had). ` +
      `An adopted access key (discovery) has no value to serve: its secret part is unknown (409 \`${ErrorCode.SECRET_VALUE_UNKNOWN}\`). ` +
      'Answers an `ETag` tied to the version. With `If-None-Match` naming the current tag the answer is 304 with no body, ' +
      'nothing is decrypted and nothing is audited: the audited 200 that delivered that version (its `details.version`) already shows the caller holds it.',
  })
  @ApiHeader({ name: 'If-None-Match', required: false, description: 'the `ETag` of the version the caller holds' })
  @ApiOkResponse({ type: SecretValueResponse, headers: { ETag: { description: 'the tag of this version', schema: { type: 'string' } } } })
  @ApiResponse({ status: 304, description: 'the caller already holds the version asked for', headers: { ETag: { description: 'the tag of that version', schema: { type: 'string' } } } })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404, 409)
  async value(
    @CurrentActor() actor: Actor,
    @Param('id', UuidParam) id: string,
    @Query() q: ReadValueQueryDto,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { etag, value } = await this.readValue.execute(
      actor,
      id,
      (tag) => noneMatchHolds(req.headers['if-none-match'], tag),
      q.version === undefined ? 'current' : q.version === 'previous' ? 'previous' : Number(q.version),
    );
    void reply.header('ETag', etag);
    if (!value) {
      void reply.status(304);
      return undefined;
    }
    return value;
  }

  @Get(':id/versions')
  @RequireRole('reader')
  @ApiOperation({ summary: 'A secret’s versions, newest first: number, state, times, masked key id; never a secret field' })
  @ApiOkResponse({ type: SecretVersionListResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  versions(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.listVersions.execute(actor, id);
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
