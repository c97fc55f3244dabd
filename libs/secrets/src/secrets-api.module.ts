import { Module, type DynamicModule } from '@nestjs/common';
import type { KeyturnConfig } from '@keyturn/config';
import { IamModule } from '@keyturn/iam';
import { SecretTypesModule } from '@keyturn/secret-types';
import { AdoptionsRepository, HeartbeatRequestsRepository, RotationRequestsRepository, SecretsApiRepository } from '@keyturn/store';
import { VaultModule } from '@keyturn/vault';
import { CreateSecretUseCase } from './secrets/create-secret.usecase.js';
import { UpdateSecretUseCase } from './secrets/update-secret.usecase.js';
import { DeleteSecretUseCase } from './secrets/delete-secret.usecase.js';
import { GetSecretUseCase } from './secrets/get-secret.usecase.js';
import { ListSecretsUseCase } from './secrets/list-secrets.usecase.js';
import { ReadValueUseCase } from './secrets/read-value.usecase.js';
import { ListVersionsUseCase } from './secrets/list-versions.usecase.js';
import { PutSettingsUseCase } from './secrets/put-settings.usecase.js';
import { RotationsService } from './rotations/rotations.service.js';
import { HeartbeatsService } from './heartbeats/heartbeats.service.js';
import { PermissionsService } from './permissions/permissions.service.js';
import { HeartbeatSchedule } from './secrets/heartbeat-schedule.js';
import { DiscoveriesService } from './discoveries/discoveries.service.js';
import { AdoptFindingUseCase } from './adoption/adopt-finding.usecase.js';

const USE_CASES = [CreateSecretUseCase, UpdateSecretUseCase, DeleteSecretUseCase, GetSecretUseCase, ListSecretsUseCase, ReadValueUseCase, ListVersionsUseCase, PutSettingsUseCase, AdoptFindingUseCase];
const SERVICES = [RotationsService, HeartbeatsService, PermissionsService, HeartbeatSchedule, DiscoveriesService];
/** The API's repositories, bound here once. */
const REPOSITORIES = [SecretsApiRepository, RotationRequestsRepository, HeartbeatRequestsRepository, AdoptionsRepository];

/**
 * The API side: the secret use cases, requesting and reading rotations and
 * heartbeats, and the permission preflight (its one AWS call). Needs StoreModule
 * and RedisModule.
 */
@Module({})
export class SecretsApiModule {
  static forRoot(config: KeyturnConfig): DynamicModule {
    return {
      module: SecretsApiModule,
      imports: [
        SecretTypesModule,
        VaultModule,
        // The SDK settings every process uses (libs/rotation's awsClientOptions): the preflight's SimulatePrincipalPolicy.
        IamModule.forRoot({ region: config.aws.region, maxAttempts: config.aws.maxAttempts, requestTimeoutMs: config.aws.timeoutMs, maxCachedClients: config.aws.clientCache }),
      ],
      providers: [...REPOSITORIES, ...USE_CASES, ...SERVICES],
      exports: [...USE_CASES, ...SERVICES],
    };
  }
}

/** What the scheduler needs from the API side: requesting a rotation (automatic changes) and a discovery run (its schedule). Needs StoreModule and RedisModule. */
@Module({
  imports: [SecretTypesModule],
  providers: [SecretsApiRepository, RotationRequestsRepository, RotationsService, DiscoveriesService],
  exports: [RotationsService, DiscoveriesService],
})
export class RotationRequestsModule {}
