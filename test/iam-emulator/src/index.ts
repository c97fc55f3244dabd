export {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_ROOT_ACCESS_KEY_ID,
  DEFAULT_ROOT_SECRET_ACCESS_KEY,
  IamEmulator,
  startIamEmulator,
} from './iam-emulator.service.js';
export type {
  CallLogEntry,
  FaultsRequest,
  IamEmulatorOptions,
  InjectedError,
  KeyInfo,
  SeededUser,
  SeedKeySpec,
  SeedUserSpec,
  ThrottleOptions,
} from './iam-emulator.service.js';
