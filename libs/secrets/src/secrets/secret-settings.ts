import {
  assertScheduleSettings,
  effectiveSettings,
  plannedScheduleState,
  scheduleBasis,
  type GlobalSettings,
  type ScheduleState,
  type SecretSettings,
} from '@keyturn/contracts';

/** A change of a secret's own settings: a field set to null removes the override. */
export type SettingsPatch = { [K in keyof SecretSettings]?: SecretSettings[K] | null };

/** Settings merge: a key set to null removes the override; an undefined one (unsent, on a DTO instance) keeps its value. */
export function mergeSettings(current: SecretSettings, patch: SettingsPatch): SecretSettings {
  const merged: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  return merged as SecretSettings;
}

/**
 * Refuses (400 INVALID_SCHEDULE, naming the field) a schedule or window the
 * create or PATCH brings, judged with the global settings it combines with.
 * Returns the secret's new schedule state (its next change planned from now),
 * or null when its schedule and window stay what `existing` was planned from:
 * a PATCH of other settings keeps the planned change.
 */
export function assertSecretSchedule(
  global: GlobalSettings,
  current: SecretSettings,
  patch: SettingsPatch,
  existing?: { autoChangeBasis: string | null },
): ScheduleState | null {
  const eff = effectiveSettings(global, mergeSettings(current, patch));
  assertScheduleSettings(eff, { autoChangeSchedule: patch.autoChangeSchedule, autoChangeWindowMinutes: patch.autoChangeWindowMinutes }, 'settings.');
  if (existing && existing.autoChangeBasis === scheduleBasis(eff.autoChangeSchedule, eff.autoChangeWindowMinutes)) return null;
  return plannedScheduleState(eff, new Date());
}
