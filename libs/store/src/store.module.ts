import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { DEFAULT_POOL, dataSourceOptions, ENTITIES, type PoolOptions } from './data-source.js';
import { LeaseLocks } from './lease-locks.service.js';
import {
  AuditEventsRepository,
  DiscoveriesRepository,
  EventsRepository,
  HeartbeatsRepository,
  RotationsRepository,
  SecretVersionsRepository,
  SecretsRepository,
  Transactions,
  WebhookDeliveriesRepository,
} from './repositories/index.js';

const REPOSITORIES = [RotationsRepository, SecretsRepository, SecretVersionsRepository, HeartbeatsRepository, EventsRepository, AuditEventsRepository, WebhookDeliveriesRepository, DiscoveriesRepository];

/** Every repository bound in one place: outside a transaction, on the pool's EntityManager. */
const repositoryProviders: Provider[] = [
  ...REPOSITORIES.map((Repo) => ({ provide: Repo, inject: [getDataSourceToken()], useFactory: (ds: DataSource) => new Repo(ds.manager) })),
  { provide: Transactions, inject: [getDataSourceToken()], useFactory: (ds: DataSource) => new Transactions(ds) },
];

@Module({})
export class StoreModule {
  /** Migrations are applied before Nest boots (see prepareDatabase), never by TypeORM's synchronize. */
  static forRoot(url: string, pool: PoolOptions = DEFAULT_POOL): DynamicModule {
    return {
      module: StoreModule,
      global: true,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(url, pool)), TypeOrmModule.forFeature(ENTITIES)],
      providers: [LeaseLocks, ...repositoryProviders],
      exports: [TypeOrmModule, LeaseLocks, ...REPOSITORIES, Transactions],
    };
  }
}
