import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Actor } from '@keyturn/contracts';
import { DiscoveriesService } from '@keyturn/secrets';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS, BODY_ERRORS } from '../common/error.response.js';
import { ACCEPTED_HEADERS } from '../common/headers.js';
import { CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { Audited } from '../common/audit.interceptor.js';
import { UuidParam } from '../common/pipes.js';
import { CreateDiscoveryDto, ListDiscoveriesQueryDto, ListFindingsQueryDto } from './discoveries.dto.js';
import { DiscoveryPageResponse, DiscoveryResponse, FindingPageResponse, FindingResponse } from './discoveries.responses.js';

const bool = (v: 'true' | 'false' | undefined) => (v === undefined ? undefined : v === 'true');

/** Discovery runs and their findings (issue 15). The required-permissions route has a controller of its own. */
@ApiTags('discoveries')
@ApiBearerAuth()
@Controller('v1/discoveries')
export class DiscoveriesController {
  constructor(private readonly discoveries: DiscoveriesService) {}

  @Post()
  @HttpCode(202)
  @RequireRole('operator')
  @Audited({ action: 'discovery.request', targetType: 'discovery' })
  @ApiOperation({ summary: 'Scan the account of an aws-iam-key secret for IAM users and access keys (202: the run goes on in a worker)' })
  @ApiAcceptedResponse({ type: DiscoveryResponse, headers: ACCEPTED_HEADERS('/v1/discoveries/{id}') })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, ...BODY_ERRORS, 404, 422)
  async create(@CurrentActor() actor: Actor, @Body() body: CreateDiscoveryDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const run = await this.discoveries.request(actor, body);
    void reply.header('Location', `/v1/discoveries/${run.id}`);
    return run;
  }

  @Get()
  @RequireRole('viewer')
  @ApiOperation({ summary: 'Discovery runs whose executor secret you can see, oldest first, keyset-paginated' })
  @ApiOkResponse({ type: DiscoveryPageResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS)
  list(@CurrentActor() actor: Actor, @Query() q: ListDiscoveriesQueryDto) {
    return this.discoveries.list(actor, { limit: q.limit ?? 50, cursor: q.cursor });
  }

  @Get(':id')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'A discovery run: status, phase, users scanned of total, keys found, warnings, error' })
  @ApiOkResponse({ type: DiscoveryResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  get(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.discoveries.get(actor, id);
  }

  @Get(':id/findings')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'The access keys a run found, keyset-paginated and filtered; never a key, its id masked' })
  @ApiOkResponse({ type: FindingPageResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  findings(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Query() q: ListFindingsQueryDto) {
    return this.discoveries.findings(actor, id, {
      limit: q.limit ?? 50,
      cursor: q.cursor,
      managed: bool(q.managed),
      olderThanDays: q.olderThanDays,
      unusedForDays: q.unusedForDays,
      hasConsolePassword: bool(q.hasConsolePassword),
    });
  }

  @Get(':id/findings/:findingId')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'One finding of a run' })
  @ApiOkResponse({ type: FindingResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404)
  finding(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Param('findingId', UuidParam) findingId: string) {
    return this.discoveries.finding(actor, id, findingId);
  }
}
