import { Module, type DynamicModule } from '@nestjs/common';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { IamModule, partitionForRegion } from '@keyturn/iam';
import { VaultModule } from '@keyturn/vault';
import { AuthCoreModule } from '@keyturn/auth';
import { KeyRotationUseCase } from './key-rotation.usecase.js';
import { RotationRunner } from './rotation-runner.js';
import { PasswordChangeUseCase } from './password-change.usecase.js';
import { RotationsService } from './rotations.service.js';
import { CLOCK, FAULTS, ROTATION_OPTIONS, faultsFromEnv, systemClock, type RotationOptions } from './rotation.tokens.js';

/** The API side: request and read rotations. Needs StoreModule and RedisModule. */
@Module({
  imports: [VaultModule],
  providers: [RotationsService],
  exports: [RotationsService],
})
export class RotationsApiModule {}

/** The worker side: the protocol itself, with the IAM adapter. */
@Module({})
export class RotationWorkerModule {
  static forRoot(config: KeyturnConfig): DynamicModule {
    return {
      module: RotationWorkerModule,
      imports: [
        VaultModule,
        AuthCoreModule,
        IamModule.forRoot({ region: config.aws.region, maxAttempts: config.aws.maxAttempts, requestTimeoutMs: config.aws.timeoutMs }),
      ],
      providers: [
        {
          provide: ROTATION_OPTIONS,
          inject: [KEYTURN_CONFIG],
          useFactory: (c: KeyturnConfig): RotationOptions => ({
            verifyWindowMs: c.rotation.verifyWindowMs,
            verifyInitialDelayMs: c.rotation.verifyInitialDelayMs,
            partition: partitionForRegion(c.aws.region),
          }),
        },
        { provide: CLOCK, useValue: systemClock },
        { provide: FAULTS, useFactory: () => faultsFromEnv() },
        KeyRotationUseCase,
        PasswordChangeUseCase,
        RotationRunner,
      ],
      exports: [RotationRunner],
    };
  }
}
