import { DEFAULT_SETTINGS, type GlobalSettings } from '@keyturn/contracts';
import type { SettingEntity } from '@keyturn/store';
import type { Repository } from 'typeorm';
import { SettingsService } from './settings.service.js';

/** An in-memory settings table. */
function fakeRepo(initial?: Partial<GlobalSettings>) {
  let stored: Record<string, unknown> | undefined = initial ? { ...initial } : undefined;
  const repo = {
    // getGlobal reads the row's value with one statement straight on the data source's pg pool (rowsOf).
    manager: { connection: { driver: { master: { query: async () => ({ rows: stored ? [{ value: stored } as Pick<SettingEntity, 'value'>] : [] }) } } } },
    upsert: async (row: { value: Record<string, unknown> }) => {
      stored = JSON.parse(JSON.stringify(row.value));
    },
  };
  return { repo: repo as unknown as Repository<SettingEntity>, stored: () => stored };
}

describe('SettingsService.putGlobal', () => {
  it('keeps the fields a DTO instance carries as undefined (partial update)', async () => {
    const { repo, stored } = fakeRepo({ passwordLength: 31, autoChangeIntervalDays: 45 });
    const settings = new SettingsService(repo);
    // What the validation pipe hands over: every declared field, unsent ones undefined.
    const dto = Object.fromEntries(Object.keys(DEFAULT_SETTINGS).map((k) => [k, undefined])) as unknown as Partial<GlobalSettings>;
    dto.passwordReuseHistory = 7;

    const next = await settings.putGlobal(dto);

    const expected = { ...DEFAULT_SETTINGS, passwordLength: 31, autoChangeIntervalDays: 45, passwordReuseHistory: 7 };
    expect(next).toEqual(expected);
    expect(stored()).toEqual(expected);
    expect(await settings.getGlobal()).toEqual(expected);
  });

  it('stores null where a setting may be switched off', async () => {
    const { repo } = fakeRepo({ autoChangeIntervalDays: 45 });
    const next = await new SettingsService(repo).putGlobal({ autoChangeIntervalDays: null });
    expect(next.autoChangeIntervalDays).toBeNull();
  });
});
