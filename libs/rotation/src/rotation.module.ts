import { Module, type DynamicModule } from '@nestjs/common';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { IamModule, partitionForRegion } from '@keyturn/iam';
import { VaultModule } from '@keyturn/vault';
import { AuthCoreModule } from '@keyturn/auth';
import { KeyRotationUseCase } from './key-rotation.usecase.js';
import { RotationRunner } from './rotation-runner.js';
import { PasswordChangeUseCase } from './password-change.usecase.js';
import { RotationsService } from './rotations.service.js';
import { PermissionsService } from './permissions.service.js';
import { CLOCK, FAULTS, ROTATION_OPTIONS, faultsFromEnv, systemClock, type RotationOptions } from './rotation.tokens.js';

/** The API side: request and read rotations, and the permission preflight. Needs StoreModule and RedisModule. */
@Module({})
export class RotationsApiModule {
  static forRoot(config: KeyturnConfig): DynamicModule {
    return {
      module: RotationsApiModule,
      imports: [VaultModule, iamModule(config)],
      providers: [RotationsService, PermissionsService],
      exports: [RotationsService, PermissionsService],
    };
  }
}

const iamModule = (config: KeyturnConfig) =>
  IamModule.forRoot({ region: config.aws.region, maxAttempts: config.aws.maxAttempts, requestTimeoutMs: config.aws.timeoutMs });

/** The worker side: the protocol itself, with the IAM adapter. */
@Module({})
export class RotationEngineModule {
  static forRoot(config: KeyturnConfig): DynamicModule {
    return {
      module: RotationEngineModule,
      imports: [
        VaultModule,
        AuthCoreModule,
        iamModule(config),
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
