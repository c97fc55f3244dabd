import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DEFAULT_POOL, dataSourceOptions, ENTITIES, type PoolOptions } from './data-source.js';
import { LeaseLocks } from './lease-locks.js';

@Module({})
export class StoreModule {
  /** Migrations are applied before Nest boots (see prepareDatabase), never by TypeORM's synchronize. */
  static forRoot(url: string, pool: PoolOptions = DEFAULT_POOL): DynamicModule {
    return {
      module: StoreModule,
      global: true,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(url, pool)), TypeOrmModule.forFeature(ENTITIES)],
      providers: [LeaseLocks],
      exports: [TypeOrmModule, LeaseLocks],
    };
  }
}
