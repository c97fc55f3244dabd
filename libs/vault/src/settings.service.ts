import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { DEFAULT_SETTINGS, patchGlobalSettings, type GlobalSettings } from '@keyturn/contracts';
import { SETTING_VALUE_SQL, SettingEntity, rowsOf } from '@keyturn/store';

const GLOBAL = 'global';

/** The global settings from the stored row's value (null: none stored): the defaults under what is stored. */
export function globalSettingsOf(stored: Record<string, unknown> | null | undefined): GlobalSettings {
  return { ...DEFAULT_SETTINGS, ...((stored as Partial<GlobalSettings> | null) ?? {}) };
}

@Injectable()
export class SettingsService {
  constructor(@InjectRepository(SettingEntity) private readonly repo: Repository<SettingEntity>) {}

  /** One hand-written statement (a named one, prepared once per connection): every rotation reads it. */
  async getGlobal(): Promise<GlobalSettings> {
    const [row] = await rowsOf<Pick<SettingEntity, 'value'>>(this.repo.manager, SETTING_VALUE_SQL, [GLOBAL]);
    return globalSettingsOf(row?.value);
  }

  /**
   * Applies `patch` over the current global settings: a partial update. A field
   * not sent keeps its value, also when the patch is a DTO instance that
   * carries every declared field (unsent ones as undefined).
   */
  async putGlobal(patch: Partial<GlobalSettings>): Promise<GlobalSettings> {
    const next = patchGlobalSettings(await this.getGlobal(), patch);
    await this.repo.upsert({ key: GLOBAL, value: next as unknown as QueryDeepPartialEntity<Record<string, unknown>> }, ['key']);
    return next;
  }
}
