import { Body, Controller, Delete, Get, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Actor } from '@keyturn/contracts';
import { ApiKeysService, AuditService } from '@keyturn/auth';
import { SettingsService } from '@keyturn/vault';
import { Audited, CurrentActor, RequireRole } from '../common/auth.decorators.js';
import { UuidParam } from '../common/pipes.js';
import { AuditQueryDto, CreateApiKeyDto, PutSettingsDto } from './admin.dto.js';

@ApiTags('settings')
@ApiBearerAuth()
@Controller('v1/settings')
export class SettingsController {
  constructor(private readonly settings: SettingsService) {}

  @Get()
  @RequireRole('admin')
  @ApiOperation({ summary: 'Global settings' })
  get() {
    return this.settings.getGlobal();
  }

  @Put()
  @RequireRole('admin')
  @Audited({ action: 'settings.update', targetType: 'settings' })
  @ApiOperation({ summary: 'Change global settings (fields not sent keep their value)' })
  put(@Body() dto: PutSettingsDto) {
    return this.settings.putGlobal(dto);
  }
}

@ApiTags('api-keys')
@ApiBearerAuth()
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @RequireRole('admin')
  @Audited({ action: 'api-key.create', targetType: 'api-key' })
  @ApiOperation({ summary: 'Create an API key (role and folders at most the caller’s own); the token is in this answer only' })
  create(@CurrentActor() actor: Actor, @Body() dto: CreateApiKeyDto) {
    return this.keys.create(actor, dto);
  }

  @Get()
  @RequireRole('admin')
  @ApiOperation({ summary: 'List API keys (never their tokens); a scoped key sees only keys within its folders' })
  list(@CurrentActor() actor: Actor) {
    return this.keys.list(actor);
  }

  @Delete(':id')
  @RequireRole('admin')
  @Audited({ action: 'api-key.revoke', targetType: 'api-key' })
  @ApiOperation({ summary: 'Revoke an API key (404 for a key beyond the caller’s role or folders)' })
  revoke(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return this.keys.revoke(actor, id);
  }
}

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireRole('auditor')
  @ApiOperation({ summary: 'Audit events, newest first, keyset-paginated; a scoped key sees only events of secrets within its folders' })
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
