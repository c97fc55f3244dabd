// The settings schema, its defaults and the merge rules live in @keyturn/contracts
// (libs/contracts/src/settings.ts); re-exported here for the vault's users.
export { DEFAULT_SETTINGS, effectiveSettings, type EffectiveSettings, type GlobalSettings } from '@keyturn/contracts';
