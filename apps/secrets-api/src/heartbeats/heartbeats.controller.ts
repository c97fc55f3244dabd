import { Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS, BODY_ERRORS } from '../common/error.response.js';
import { ACCEPTED_HEADERS } from '../common/headers.js';
import { HeartbeatListResponse, HeartbeatResponse } from './heartbeats.responses.js';
import type { Actor } from '@keyturn/contracts';
import { HeartbeatsService } from '@keyturn/secrets';
import { CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { Audited } from '../common/audit.interceptor.js';
import { UuidParam } from '../common/pipes.js';

@ApiTags('heartbeats')
@ApiBearerAuth()
@Controller('v1')
export class HeartbeatsController {
  constructor(private readonly heartbeats: HeartbeatsService) {}

  @Post('secrets/:id/heartbeats')
  @HttpCode(202)
  @RequireRole('operator')
  @Audited({ action: 'heartbeat.request', targetType: 'secret', secretFrom: 'param' })
  @ApiOperation({
    summary: 'Check the stored key now (422 HEARTBEAT_NOT_SUPPORTED for console passwords); while one waits, that one is returned with Idempotent-Replayed: true',
  })
  @ApiAcceptedResponse({ type: HeartbeatResponse, headers: ACCEPTED_HEADERS('/v1/heartbeats/{id}') })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, ...BODY_ERRORS, 404, 409, 422)
  async request(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const { heartbeat, created } = await this.heartbeats.request(actor, id);
    void reply.header('Location', `/v1/heartbeats/${heartbeat.id}`);
    // Coalesced: the heartbeat that was already waiting answers for this request too.
    if (!created) void reply.header('Idempotent-Replayed', 'true');
    return heartbeat;
  }

  @Get('secrets/:id/heartbeats')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'The secret’s heartbeats, newest first' })
  @ApiOkResponse({ type: HeartbeatListResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  list(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.heartbeats.list(actor, id);
  }

  @Get('heartbeats/:id')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'A heartbeat: outcome, the identity the key answered as, time' })
  @ApiOkResponse({ type: HeartbeatResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  get(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.heartbeats.get(actor, id);
  }
}
