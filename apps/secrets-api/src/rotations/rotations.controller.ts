import { Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS, BODY_ERRORS } from '../common/error.response.js';
import { ACCEPTED_HEADERS } from '../common/headers.js';
import { RequiredPermissionsResponse, RotationListResponse, RotationResponse } from './rotations.responses.js';
import { RequiredPermissionsQueryDto } from './rotations.dto.js';
import type { FastifyReply } from 'fastify';
import { ErrorCode, KeyturnError, type Actor } from '@keyturn/contracts';
import { PermissionsService, RotationsService } from '@keyturn/secrets';
import { CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { Audited } from '../common/audit.interceptor.js';
import { UuidParam } from '../common/pipes.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

@ApiTags('rotations')
@ApiBearerAuth()
@Controller('v1')
export class RotationsController {
  constructor(
    private readonly rotations: RotationsService,
    private readonly permissions: PermissionsService,
  ) {}

  @Post('secrets/:id/rotations')
  @HttpCode(202)
  @RequireRole('operator')
  @Audited({ action: 'rotation.request', targetType: 'secret', secretFrom: 'param' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'a retry with the same key returns the same rotation' })
  @ApiOperation({
    summary: 'Change the secret now (202: the change runs in a worker); while a change waits to start, that one is returned with Idempotent-Replayed: true',
  })
  @ApiAcceptedResponse({ type: RotationResponse, headers: ACCEPTED_HEADERS('/v1/rotations/{id}') })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, ...BODY_ERRORS, 404, 409, 422)
  async request(
    @CurrentActor() actor: Actor,
    @Param('id', UuidParam) id: string,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new KeyturnError(ErrorCode.INVALID_IDEMPOTENCY_KEY);
    }
    const { rotation, created } = await this.rotations.request(actor, id, { idempotencyKey });
    void reply.header('Location', `/v1/rotations/${rotation.id}`);
    // A replayed Idempotency-Key, or a request coalesced into the change that already waits.
    if (!created) void reply.header('Idempotent-Replayed', 'true');
    return rotation;
  }

  @Get('secrets/:id/rotations')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'The secret’s rotations, newest first' })
  @ApiOkResponse({ type: RotationListResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  list(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.rotations.list(actor, id);
  }

  @Get('rotations/:id')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'A rotation: status, step, error code and message, warnings' })
  @ApiOkResponse({ type: RotationResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  get(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.rotations.get(actor, id);
  }

  @Get('secrets/:id/required-permissions')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'The mode and the IAM policy the executing key needs; ?check=true asks AWS (SimulatePrincipalPolicy)' })
  @ApiOkResponse({ type: RequiredPermissionsResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404, 422)
  required(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Query() q: RequiredPermissionsQueryDto) {
    return this.permissions.forSecret(actor, id, q.check === 'true');
  }
}
