import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Actor } from '@keyturn/contracts';
import { HeartbeatsService } from '@keyturn/rotation';
import { Audited, CurrentActor, RequireRole } from '../common/auth.decorators.js';
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
  @ApiOperation({ summary: 'Check the stored key now (422 HEARTBEAT_NOT_SUPPORTED for console passwords)' })
  request(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.heartbeats.request(actor, id);
  }

  @Get('secrets/:id/heartbeats')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'The secret’s heartbeats, newest first' })
  list(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.heartbeats.list(actor, id);
  }

  @Get('heartbeats/:id')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'A heartbeat: outcome, the identity the key answered as, time' })
  get(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.heartbeats.get(actor, id);
  }
}
