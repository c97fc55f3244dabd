import type { GlobalSettings } from '@keyturn/contracts';
import { declareSettings } from '../common/settings-schema.dto.js';

/** PUT /v1/settings: any of the twelve settings; the ones not sent keep their value. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed by the interface below, declared by the schema
export class PutSettingsDto {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type -- the fields come from the settings schema
export interface PutSettingsDto extends Partial<GlobalSettings> {}
declareSettings(PutSettingsDto, { global: true });
