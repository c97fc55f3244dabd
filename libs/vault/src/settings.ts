import type { SecretSettings } from '@keyturn/store';

/** Global settings (admin only). Every field may be overridden per secret in `settings`. */
export interface GlobalSettings {
  shouldInactivatePreviousKey: boolean;
  shouldDeletePreviousKey: boolean;
  /** Days between automatic changes; null = no automatic change. */
  autoChangeIntervalDays: number | null;
  heartbeatIntervalSeconds: number | null;
  passwordLength: number;
  passwordExcludeCharacters: string;
  passwordRequireSymbols: boolean;
  passwordReuseHistory: number;
  passwordResetRequired: boolean;
}

export const DEFAULT_SETTINGS: GlobalSettings = {
  shouldInactivatePreviousKey: true,
  shouldDeletePreviousKey: false,
  autoChangeIntervalDays: null,
  heartbeatIntervalSeconds: null,
  passwordLength: 24,
  passwordExcludeCharacters: '',
  passwordRequireSymbols: true,
  passwordReuseHistory: 5,
  passwordResetRequired: false,
};

export type EffectiveSettings = GlobalSettings;

export function effectiveSettings(global: GlobalSettings, own: SecretSettings): EffectiveSettings {
  const merged: EffectiveSettings = { ...global };
  for (const [k, v] of Object.entries(own)) {
    if (v !== undefined && v !== null) (merged as unknown as Record<string, unknown>)[k] = v;
  }
  // Deleting a key switches it off too: delete implies inactivate.
  if (merged.shouldDeletePreviousKey) merged.shouldInactivatePreviousKey = true;
  return merged;
}
