import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Actor } from '@keyturn/contracts';
import { PermissionsService } from '@keyturn/secrets';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS } from '../common/error.response.js';
import { CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { DiscoveryPermissionsQueryDto } from './discovery-permissions.dto.js';
import { DiscoveryPermissionsResponse } from './discovery-permissions.responses.js';

/**
 * The least privilege of a discovery (issue 15). Its own controller: the other
 * /v1/discoveries routes live elsewhere, and fastify prefers this static path
 * to a parametric /v1/discoveries/:id.
 */
@ApiTags('discoveries')
@ApiBearerAuth()
@Controller('v1/discoveries')
export class DiscoveryPermissionsController {
  constructor(private readonly permissions: PermissionsService) {}

  @Get('required-permissions')
  @RequireRole('viewer')
  @ApiOperation({
    summary:
      'The IAM policy a discovery executor needs (ListUsers, ListAccessKeys, GetAccessKeyLastUsed, GetLoginProfile on the users under pathPrefix); ?check=true asks AWS (SimulatePrincipalPolicy) and names each denied action',
  })
  @ApiOkResponse({ type: DiscoveryPermissionsResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, 404, 422)
  required(@CurrentActor() actor: Actor, @Query() q: DiscoveryPermissionsQueryDto) {
    return this.permissions.forDiscovery(actor, q.executorSecretId, q.pathPrefix, q.check === 'true');
  }
}
