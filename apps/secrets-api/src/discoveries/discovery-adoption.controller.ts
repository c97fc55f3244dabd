import { Body, Controller, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ErrorCode, type Actor } from '@keyturn/contracts';
import { AdoptFindingUseCase } from '@keyturn/secrets';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS, BODY_ERRORS } from '../common/error.response.js';
import { CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { Audited } from '../common/audit.interceptor.js';
import { UuidParam } from '../common/pipes.js';
import { ACCEPTED_HEADERS } from '../common/headers.js';
import { AdoptFindingDto, AdoptionResponse } from './discovery-adoption.dto.js';

/** Adoption of a discovered key (issue 15 item 3); the other /v1/discoveries routes live in their own controllers. */
@ApiTags('discoveries')
@ApiBearerAuth()
@Controller('v1/discoveries')
export class DiscoveryAdoptionController {
  constructor(private readonly adopt: AdoptFindingUseCase) {}

  @Post(':id/findings/:findingId/adopt')
  @HttpCode(202)
  @RequireRole('operator')
  @Audited({ action: 'discovery.finding.adopt', targetType: 'discovery', secretFrom: 'response' })
  @ApiOperation({
    summary: 'Take over a discovered key whose secret nobody knows: a new aws-iam-key secret holds it (secret unknown), and a privileged rotation replaces it',
    description:
      'The user’s keys are listed again through `privilegedSecretId` and the finding matched by its blind index: nothing is written and IAM is untouched when ' +
      `the key is gone (409 \`${ErrorCode.ADOPTED_KEY_GONE}\`), a secret already holds it (409 \`${ErrorCode.ACCESS_KEY_ALREADY_STORED}\`), or the user has two keys and ` +
      `no \`deleteFindingId\` names the other one (409 \`${ErrorCode.ADOPTION_KEY_LIMIT}\`). Then the rotation (202) deletes the named key, creates a new key, ` +
      'verifies and promotes it; the adopted key becomes the previous version and is retired by the settings after `previousKeyGraceSeconds`.',
  })
  @ApiAcceptedResponse({ type: AdoptionResponse, headers: ACCEPTED_HEADERS('/v1/rotations/{id}') })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, ...BODY_ERRORS, 404, 409, 422, 502)
  async adoptFinding(
    @CurrentActor() actor: Actor,
    @Param('id', UuidParam) id: string,
    @Param('findingId', UuidParam) findingId: string,
    @Body() body: AdoptFindingDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const adoption = await this.adopt.execute(actor, id, findingId, body);
    void reply.header('Location', `/v1/rotations/${adoption.rotationId}`);
    return adoption;
  }
}
