import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ConfigModule, type KeyturnConfig } from '@keyturn/config';
import { StoreModule, poolOptions } from '@keyturn/store';
import { RedisModule } from '@keyturn/queue';
import { VaultModule } from '@keyturn/vault';
import { AuthModule } from '@keyturn/auth';
import { SecretsApiModule } from '@keyturn/secrets';
import { RotationsController } from './rotations/rotations.controller.js';
import { HeartbeatsController } from './heartbeats/heartbeats.controller.js';
import { SecretsController } from './secrets/secrets.controller.js';
import { SettingsController } from './admin/settings.controller.js';
import { ApiKeysController } from './admin/api-keys.controller.js';
import { AuditController } from './admin/audit.controller.js';
import { HealthController } from './health/health.controller.js';
import { MetricsController } from './health/metrics.controller.js';
import { QueuesController } from './queues/queues.controller.js';
import { DiscoveriesController } from './discoveries/discoveries.controller.js';
import { DiscoveryPermissionsController } from './discoveries/discovery-permissions.controller.js';
import { AuthGuard } from './common/auth.guard.js';
import { ErrorFilter } from './common/error.filter.js';
import { HttpDrainService } from './common/http-drain.service.js';
import { DiscoveryAdoptionController } from './discoveries/discovery-adoption.controller.js';

@Module({})
export class AppModule {
  static forRoot(config: KeyturnConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), StoreModule.forRoot(config.database.url, poolOptions(config, 'secrets-api')), RedisModule.forRoot(), VaultModule, AuthModule, SecretsApiModule.forRoot(config)],
      controllers: [SecretsController, RotationsController, HeartbeatsController, SettingsController, ApiKeysController, AuditController, QueuesController, DiscoveriesController, DiscoveryPermissionsController, HealthController, MetricsController, DiscoveryAdoptionController],
      providers: [
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
        HttpDrainService,
      ],
    };
  }
}
