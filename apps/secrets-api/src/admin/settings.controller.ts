import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS, BODY_ERRORS } from '../common/error.response.js';
import { SettingsResponse } from '../secrets/secrets.responses.js';
import { SettingsService } from '@keyturn/vault';
import { PutSettingsUseCase } from '@keyturn/secrets';
import { RequireRole } from '../common/auth.decorators.js';
import { Audited } from '../common/audit.interceptor.js';
import { PutSettingsDto } from './settings.dto.js';

@ApiTags('settings')
@ApiBearerAuth()
@Controller('v1/settings')
export class SettingsController {
  constructor(
    private readonly settings: SettingsService,
    private readonly putSettings: PutSettingsUseCase,
  ) {}

  @Get()
  @RequireRole('admin')
  @ApiOperation({ summary: 'Global settings' })
  @ApiOkResponse({ type: SettingsResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS)
  get() {
    return this.settings.getGlobal();
  }

  @Put()
  @RequireRole('admin')
  @Audited({ action: 'settings.update', targetType: 'settings' })
  @ApiOperation({ summary: 'Change global settings (fields not sent keep their value)' })
  @ApiOkResponse({ type: SettingsResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS, ...BODY_ERRORS)
  put(@Body() dto: PutSettingsDto) {
    return this.putSettings.execute(dto);
  }
}
