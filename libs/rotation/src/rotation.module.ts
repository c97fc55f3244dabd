import { Module, type DynamicModule } from '@nestjs/common';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { IamModule, partitionForRegion, type IamClient } from '@keyturn/iam';
import { VaultModule } from '@keyturn/vault';
import { AccountPacer, REDIS } from '@keyturn/queue';
import type { Redis } from 'ioredis';
import { KeyRotationUseCase } from './access-key/key-rotation.usecase.js';
import { PasswordChangeUseCase } from './console-password/password-change.usecase.js';
import { RotationRunner } from './rotation-runner.service.js';
import { DiscoveryRunUseCase } from './discovery/discovery-run.usecase.js';
import { ChangeJournal } from './change-journal.service.js';
import { CHANGE_USE_CASES, type ChangeUseCases } from './change-use-cases.js';
import { pacedIamClient } from './paced-iam.client.js';
import { awsClientOptions, createWindowMs, pacerMaxWaitMs } from './aws-budget.js';
import { CLOCK, FAULTS, ROTATION_OPTIONS, faultsFromEnv, systemClock, type RotationOptions } from './rotation.tokens.js';
import { SecretType } from '@keyturn/contracts';

/**
 * The worker's IamClient: the adapter from the configuration, and over it the
 * pacing. Workers share one token bucket per AWS account (in Redis), so a
 * fleet never throttles an account. Needs KEYTURN_CONFIG and REDIS (both global).
 */
export function engineIamModule(): DynamicModule {
  return IamModule.forRootAsync({
    inject: [KEYTURN_CONFIG],
    useFactory: (c: KeyturnConfig) => awsClientOptions(c),
    decorate: {
      inject: [REDIS, KEYTURN_CONFIG],
      useFactory: (client: IamClient, redis: Redis, c: KeyturnConfig) =>
        pacedIamClient(client, new AccountPacer(redis, c.redis.prefix, c.aws.ratePerAccount), pacerMaxWaitMs(c)),
    },
  });
}

/** One paced IamClient per worker process, shared by the change protocols and the heartbeat (HeartbeatModule). */
const ENGINE_IAM = engineIamModule();

/**
 * The worker side: the change protocols, their runner, and what the heartbeat
 * use case shares with them (the paced IAM client, the version cipher, the clock).
 */
@Module({
  imports: [VaultModule, ENGINE_IAM],
  providers: [
    {
      provide: ROTATION_OPTIONS,
      inject: [KEYTURN_CONFIG],
      useFactory: (c: KeyturnConfig): RotationOptions => ({
        verifyWindowMs: c.rotation.verifyWindowMs,
        verifyInitialDelayMs: c.rotation.verifyInitialDelayMs,
        createWindowMs: createWindowMs(c),
        partition: partitionForRegion(c.aws.region),
      }),
    },
    { provide: CLOCK, useValue: systemClock },
    { provide: FAULTS, useFactory: () => faultsFromEnv() },
    ChangeJournal,
    KeyRotationUseCase,
    PasswordChangeUseCase,
    {
      // One change use case per secret type: the Record makes the compiler ask for each, the runner checks it at boot.
      provide: CHANGE_USE_CASES,
      inject: [KeyRotationUseCase, PasswordChangeUseCase],
      useFactory: (keys: KeyRotationUseCase, passwords: PasswordChangeUseCase): ChangeUseCases => ({
        [SecretType.AwsIamKey]: keys,
        [SecretType.AwsIamConsolePassword]: passwords,
      }),
    },
    RotationRunner,
    DiscoveryRunUseCase,
  ],
  exports: [RotationRunner, DiscoveryRunUseCase, ENGINE_IAM, CLOCK, VaultModule],
})
export class RotationEngineModule {}
