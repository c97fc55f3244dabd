import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, type KeyturnConfig } from '@keyturn/config';
import { StoreModule, type PoolOptions } from '@keyturn/store';
import { RedisModule } from '@keyturn/queue';
import { SchedulingModule } from '@keyturn/scheduling';
import { SchedulerService } from './scheduler.service.js';

@Module({})
export class HeartbeatSchedulerModule {
  static forRoot(config: KeyturnConfig, pool: PoolOptions): DynamicModule {
    return {
      module: HeartbeatSchedulerModule,
      imports: [ConfigModule.forRoot(config), StoreModule.forRoot(config.database.url, pool), RedisModule.forRoot(), SchedulingModule],
      providers: [SchedulerService],
    };
  }
}
