import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { dataSourceOptions, ENTITIES } from './data-source.js';

@Module({})
export class StoreModule {
  /** Migrations are applied before Nest boots (see prepareDatabase), never by TypeORM's synchronize. */
  static forRoot(url: string): DynamicModule {
    return {
      module: StoreModule,
      global: true,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(url)), TypeOrmModule.forFeature(ENTITIES)],
      exports: [TypeOrmModule],
    };
  }
}
