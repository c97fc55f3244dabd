import { Module, type DynamicModule } from '@nestjs/common';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { IamModule, partitionForRegion, type IamClient } from '@keyturn/iam';
import { VaultModule } from '@keyturn/vault';
import { AuthCoreModule } from '@keyturn/auth';
import { RotationRequestsModule } from '@keyturn/secrets';
import { KeyRotationUseCase } from './key-rotation.usecase.js';
import { RotationRunner } from './rotation-runner.js';
import { PasswordChangeUseCase } from './password-change.usecase.js';
import { HeartbeatUseCase } from './heartbeat.usecase.js';
import { pacedIamClient } from './paced-iam.client.js';
import { awsClientOptions, createWindowMs, pacerMaxWaitMs } from './aws-budget.js';
import { DueWorkService } from './scheduling/due-work.service.js';
import { ReconcilerService } from './scheduling/reconciler.service.js';
import { WebhookDispatcherService } from './scheduling/webhook-dispatcher.service.js';
import { AccountPacer, REDIS } from '@keyturn/queue';
import type { Redis } from 'ioredis';
import { CLOCK, FAULTS, ROTATION_OPTIONS, faultsFromEnv, systemClock, type RotationOptions } from './rotation.tokens.js';

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

/** The worker side: the protocol itself, with the paced IAM client. */
@Module({
  imports: [VaultModule, AuthCoreModule, engineIamModule()],
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
    KeyRotationUseCase,
    PasswordChangeUseCase,
    RotationRunner,
    HeartbeatUseCase,
  ],
  exports: [RotationRunner, HeartbeatUseCase],
})
export class RotationEngineModule {}

/** The scheduler side: due heartbeats, automatic changes, the reconciler and webhook delivery. */
@Module({
  imports: [VaultModule, RotationRequestsModule],
  providers: [DueWorkService, ReconcilerService, WebhookDispatcherService],
  exports: [DueWorkService, ReconcilerService, WebhookDispatcherService],
})
export class SchedulingModule {}
