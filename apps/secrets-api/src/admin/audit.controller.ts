import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS } from '../common/error.response.js';
import { AuditPageResponse } from './admin.responses.js';
import type { Actor } from '@keyturn/contracts';
import { AuditService } from '@keyturn/auth';
import { CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { AuditQueryDto } from './audit.dto.js';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireRole('auditor')
  @ApiOperation({ summary: 'Audit events, newest first, keyset-paginated; a scoped key sees only events of secrets within its folders' })
  @ApiOkResponse({ type: AuditPageResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS)
  list(@CurrentActor() actor: Actor, @Query() q: AuditQueryDto) {
    return this.audit.query(actor, {
      secretId: q.secretId,
      action: q.action,
      actorId: q.actorId,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      limit: q.limit ?? 100,
      cursor: q.cursor,
    });
  }
}
