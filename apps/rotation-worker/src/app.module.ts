import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, type KeyturnConfig } from '@keyturn/config';
import { StoreModule, type PoolOptions } from '@keyturn/store';
import { RedisModule } from '@keyturn/queue';
import { RotationEngineModule } from '@keyturn/rotation';
import { HeartbeatModule } from '@keyturn/heartbeat';
import { JobProcessor } from './job.processor.js';

@Module({})
export class RotationWorkerModule {
  /** `pool` comes from checkedPoolOptions: sized from KEYTURN_WORKER_CONCURRENCY and checked against Postgres at start. */
  static forRoot(config: KeyturnConfig, pool: PoolOptions): DynamicModule {
    return {
      module: RotationWorkerModule,
      imports: [ConfigModule.forRoot(config), StoreModule.forRoot(config.database.url, pool), RedisModule.forRoot(), RotationEngineModule, HeartbeatModule],
      providers: [JobProcessor],
    };
  }
}
