import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { SettingEntity } from '@keyturn/store';
import { DEFAULT_SETTINGS, type GlobalSettings } from './settings.js';

const GLOBAL = 'global';

@Injectable()
export class SettingsService {
  constructor(@InjectRepository(SettingEntity) private readonly repo: Repository<SettingEntity>) {}

  async getGlobal(): Promise<GlobalSettings> {
    const row = await this.repo.findOneBy({ key: GLOBAL });
    return { ...DEFAULT_SETTINGS, ...((row?.value as Partial<GlobalSettings>) ?? {}) };
  }

  /** Replaces the stored global settings with `patch` applied over the current ones. */
  async putGlobal(patch: Partial<GlobalSettings>): Promise<GlobalSettings> {
    // A field not sent keeps its value: the request DTO declares every field, so the absent ones are own properties set to undefined.
    const sent = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    const next = { ...(await this.getGlobal()), ...sent };
    await this.repo.upsert({ key: GLOBAL, value: next as unknown as QueryDeepPartialEntity<Record<string, unknown>> }, ['key']);
    return next;
  }
}
