/**
 * The one schema of the twelve settings. The global settings (admin, PUT /v1/settings),
 * a secret's own overrides (`settings` on create and PATCH), their DTOs, their
 * defaults and their types are all derived from this table: a new setting is
 * one entry here.
 */
interface SettingSpecBase {
  description: string;
  /** The global settings may hold null ("off"); per secret, null always removes the override. */
  nullable?: true;
}
export interface BooleanSettingSpec extends SettingSpecBase {
  kind: 'boolean';
  default: boolean;
}
export interface IntegerSettingSpec extends SettingSpecBase {
  kind: 'integer';
  min: number;
  max: number;
  default: number | null;
}
export interface StringSettingSpec extends SettingSpecBase {
  kind: 'string';
  maxLength: number;
  default: string | null;
  /**
   * A value must also have this form, beyond its length. `cron`: a 5-field
   * cron expression that fires (schedule.ts, cronProblem); the API refuses
   * another with 400 INVALID_SCHEDULE naming the field.
   */
  format?: 'cron';
  /** An example value for the OpenAPI document. */
  example?: string;
}
export type SettingSpec = BooleanSettingSpec | IntegerSettingSpec | StringSettingSpec;

export const SETTINGS = {
  shouldInactivatePreviousKey: {
    kind: 'boolean',
    default: true,
    description: 'Inactivate the previous access key after a change.',
  },
  shouldDeletePreviousKey: {
    kind: 'boolean',
    default: false,
    description: 'Delete the previous access key after a change; implies shouldInactivatePreviousKey.',
  },
  previousKeyGraceSeconds: {
    kind: 'integer',
    min: 0,
    max: 30 * 86400,
    default: 0,
    description: 'Keep the previous access key working this many seconds after a change before it is inactivated or deleted (0: at once).',
  },
  autoChangeIntervalDays: {
    kind: 'integer',
    min: 1,
    max: 3650,
    default: null,
    nullable: true,
    description: 'Change automatically every N days (null: no automatic change). A schedule (autoChangeSchedule) takes precedence.',
  },
  autoChangeSchedule: {
    kind: 'string',
    maxLength: 128,
    default: null,
    nullable: true,
    format: 'cron',
    example: '0 3 * * 1',
    description:
      'Change automatically at the times of this 5-field cron expression, in UTC (minute hour day-of-month month day-of-week; null: none). Takes precedence over autoChangeIntervalDays.',
  },
  autoChangeWindowMinutes: {
    kind: 'integer',
    min: 0,
    max: 366 * 1440,
    default: 0,
    description:
      'Each scheduled change starts at a uniformly random moment inside this many minutes after the scheduled time (0: at the time); at most the schedule’s shortest period. Ignored without a schedule.',
  },
  heartbeatIntervalSeconds: {
    kind: 'integer',
    min: 60,
    max: 30 * 86400,
    default: null,
    nullable: true,
    description: 'Check the key every N seconds (null: the scheduler’s default).',
  },
  passwordLength: { kind: 'integer', min: 8, max: 128, default: 24, description: 'Length of generated console passwords.' },
  passwordExcludeCharacters: { kind: 'string', maxLength: 64, default: '', description: 'Characters never used in generated passwords.' },
  passwordRequireSymbols: { kind: 'boolean', default: true, description: 'Generated passwords contain symbols.' },
  passwordReuseHistory: { kind: 'integer', min: 0, max: 24, default: 5, description: 'Never reuse one of the last N passwords.' },
  passwordResetRequired: { kind: 'boolean', default: false, description: 'Ask AWS to make the user set a new password at next sign-in.' },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

type ValueOf<S> = S extends { kind: 'boolean' } ? boolean : S extends { kind: 'integer' } ? number : string;
type NullIf<S> = S extends { nullable: true } ? null : never;

/** Global settings (admin only). Every field may be overridden per secret. */
export type GlobalSettings = { -readonly [K in SettingName]: ValueOf<(typeof SETTINGS)[K]> | NullIf<(typeof SETTINGS)[K]> };

/** A secret's own settings: absent fields fall back to the global settings. */
export type SecretSettings = { -readonly [K in SettingName]?: ValueOf<(typeof SETTINGS)[K]> };

/** What a change uses: the global settings with the secret's overrides applied. */
export type EffectiveSettings = GlobalSettings;

export const DEFAULT_SETTINGS: GlobalSettings = Object.fromEntries(
  SETTING_NAMES.map((name) => [name, SETTINGS[name].default]),
) as GlobalSettings;

export function effectiveSettings(global: GlobalSettings, own: SecretSettings): EffectiveSettings {
  const merged: EffectiveSettings = { ...global };
  for (const [k, v] of Object.entries(own)) {
    if (v !== undefined && v !== null) (merged as unknown as Record<string, unknown>)[k] = v;
  }
  // Deleting a key switches it off too: delete implies inactivate.
  if (merged.shouldDeletePreviousKey) merged.shouldInactivatePreviousKey = true;
  return merged;
}

/**
 * `patch` applied over `current`, for a partial update: a field the caller did
 * not send (absent, or undefined as on a DTO instance) keeps its value.
 */
export function patchGlobalSettings(current: GlobalSettings, patch: Partial<GlobalSettings>): GlobalSettings {
  const next: GlobalSettings = { ...current };
  for (const name of SETTING_NAMES) {
    const v = patch[name];
    if (v !== undefined) (next as Record<SettingName, unknown>)[name] = v;
  }
  return next;
}
