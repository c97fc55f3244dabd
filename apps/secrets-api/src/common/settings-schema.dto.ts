import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { SETTINGS, SETTING_NAMES, type SettingSpec } from '@keyturn/contracts';

/**
 * Declares the twelve settings on a DTO class, from the one settings schema
 * (libs/contracts/src/settings.ts), so the global settings and a secret's own
 * settings validate and document each setting the same way. Every field is
 * optional; null passes (a secret's null removes its override, a global null
 * switches a nullable setting off).
 */
export function declareSettings(Dto: new () => object, opts: { global: boolean }): void {
  for (const key of SETTING_NAMES) {
    const spec: SettingSpec = SETTINGS[key];
    const proto = Dto.prototype;
    const nullable = opts.global ? spec.nullable === true : undefined;
    IsOptional()(proto, key);
    switch (spec.kind) {
      case 'boolean':
        ApiPropertyOptional({ type: Boolean, description: spec.description })(proto, key);
        IsBoolean()(proto, key);
        break;
      case 'integer':
        ApiPropertyOptional({ type: 'integer', minimum: spec.min, maximum: spec.max, nullable, description: spec.description })(proto, key);
        IsInt()(proto, key);
        Min(spec.min)(proto, key);
        Max(spec.max)(proto, key);
        break;
      case 'string':
        // A format (cron) is checked by the use cases, which also judge it with the settings it combines with.
        ApiPropertyOptional({ type: String, maxLength: spec.maxLength, nullable, example: spec.example, description: spec.description })(proto, key);
        IsString()(proto, key);
        MaxLength(spec.maxLength)(proto, key);
        break;
    }
  }
}
