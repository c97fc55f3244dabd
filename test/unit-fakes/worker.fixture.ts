import { SecretType } from '@keyturn/contracts';
import type { KeyturnConfig } from '@keyturn/config';
import type { LeaseLocks, SecretEntity } from '@keyturn/store';
import { DEFAULT_SETTINGS, type GlobalSettings, type SettingsService } from '@keyturn/vault';
import { ChangeJournal, KeyRotationUseCase, PasswordChangeUseCase, type RotationOptions } from '@keyturn/rotation';
import { FakeClock, FakeFaults } from './clock.fake.js';
import { FakeIam, type FakeKey } from './iam.fake.js';
import { FakeStore, fakeCipher } from './store.fake.js';

export * from './clock.fake.js';
export * from './iam.fake.js';
export * from './store.fake.js';

export const ROTATION_OPTIONS: RotationOptions = { verifyWindowMs: 30_000, verifyInitialDelayMs: 1_000, createWindowMs: 20_000, partition: 'aws' };

/** The parts of KeyturnConfig the worker's use cases read. */
export const CONFIG = {
  rotation: { leaseMs: 30_000, jobAttempts: 3 },
  heartbeat: { intervalSeconds: 3_600 },
  webhooks: { urls: ['https://hooks.example/a', 'https://hooks.example/b'] },
} as unknown as KeyturnConfig;

/** One worker's world: time, crash points, Postgres, AWS and the global settings, all in memory. */
export class WorkerWorld {
  readonly clock = new FakeClock();
  readonly faults = new FakeFaults();
  readonly store = new FakeStore(this.clock);
  readonly iam = new FakeIam(this.clock);
  readonly locks = this.store.locks;
  global: GlobalSettings = { ...DEFAULT_SETTINGS };
  readonly settings = { getGlobal: async () => ({ ...this.global }) } as unknown as SettingsService;
  constructor() {
    this.store.globalSettings = () => ({ ...this.global });
  }

  readonly journal = new ChangeJournal(this.store.rotations, this.store.secrets, this.store.versions, this.store.transactions, fakeCipher, this.clock, CONFIG);

  get leaseLocks(): LeaseLocks {
    return this.locks as unknown as LeaseLocks;
  }

  keyRotation(opts: RotationOptions = ROTATION_OPTIONS): KeyRotationUseCase {
    return new KeyRotationUseCase(this.journal, this.iam, opts, this.clock, this.faults);
  }

  passwordChange(): PasswordChangeUseCase {
    return new PasswordChangeUseCase(this.journal, this.iam, this.settings, this.faults);
  }

  /** An aws-iam-key secret holding `key` (of IAM user `username`) as its current version. */
  keySecret(username: string, key: FakeKey, s: Partial<SecretEntity> = {}): SecretEntity {
    const secret = this.store.addSecret({ type: SecretType.AwsIamKey, username, ...s });
    this.store.addVersion(secret.id, 'current', { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    return secret;
  }

  /**
   * An adopted aws-iam-key secret (issue 15): `key`'s id is stored as the current version, its
   * secret part is unknown, and `privilegedSecretId` makes every change.
   */
  adoptedSecret(username: string, key: FakeKey, privilegedSecretId: string | null, s: Partial<SecretEntity> = {}): SecretEntity {
    const secret = this.store.addSecret({ type: SecretType.AwsIamKey, username, privilegedSecretId, ...s });
    const v = this.store.addVersion(secret.id, 'current', { accessKeyId: key.accessKeyId });
    this.store.t.versions.find((x) => x.id === v.id)!.secretUnknown = true;
    return secret;
  }

  /** Runs the key rotation once and returns what it threw (undefined when it ended). */
  async attemptKeyRotation(rotationId: string): Promise<unknown> {
    return this.keyRotation()
      .run(rotationId)
      .then(() => undefined, (e: unknown) => e);
  }

  /** An aws-iam-console-password secret for `username` holding `password`, changed through `privilegedSecretId`. */
  passwordSecret(username: string, password: string, privilegedSecretId: string | null, s: Partial<SecretEntity> = {}): SecretEntity {
    const secret = this.store.addSecret({ type: SecretType.AwsIamConsolePassword, username, privilegedSecretId, heartbeatStatus: 'not-supported', ...s });
    this.store.addVersion(secret.id, 'current', { password });
    return secret;
  }
}
