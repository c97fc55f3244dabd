import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SettingsService } from '@keyturn/vault';
import { Audited, RequireRole } from '../common/auth.decorators.js';
import { PutSettingsDto } from './settings.dto.js';

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
