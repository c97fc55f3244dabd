import { DEFAULT_SETTINGS, SETTINGS, SETTING_NAMES, effectiveSettings, patchGlobalSettings } from './settings.js';

describe('the settings schema', () => {
  it('declares the twelve settings with their defaults', () => {
    expect(SETTING_NAMES).toHaveLength(12);
    expect(DEFAULT_SETTINGS).toEqual({
      shouldInactivatePreviousKey: true,
      shouldDeletePreviousKey: false,
      previousKeyGraceSeconds: 0,
      autoChangeIntervalDays: null,
      autoChangeSchedule: null,
      autoChangeWindowMinutes: 0,
      heartbeatIntervalSeconds: null,
      passwordLength: 24,
      passwordExcludeCharacters: '',
      passwordRequireSymbols: true,
      passwordReuseHistory: 5,
      passwordResetRequired: false,
    });
    expect(SETTINGS.heartbeatIntervalSeconds).toMatchObject({ min: 60, max: 2592000 });
    expect(SETTINGS.previousKeyGraceSeconds).toMatchObject({ min: 0, max: 2592000, default: 0 });
  });

  it('a partial patch keeps every field it does not carry, and takes null', () => {
    const current = { ...DEFAULT_SETTINGS, passwordLength: 31 };
    expect(patchGlobalSettings(current, { passwordReuseHistory: 7, passwordLength: undefined, autoChangeIntervalDays: null })).toEqual({
      ...current,
      passwordReuseHistory: 7,
      autoChangeIntervalDays: null,
    });
  });

  it('effective settings: own values over global ones; delete implies inactivate', () => {
    const eff = effectiveSettings({ ...DEFAULT_SETTINGS, shouldInactivatePreviousKey: false }, { shouldDeletePreviousKey: true, passwordLength: 40 });
    expect(eff).toMatchObject({ shouldDeletePreviousKey: true, shouldInactivatePreviousKey: true, passwordLength: 40 });
  });
});
