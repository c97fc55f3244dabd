import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { REDIS, createRedis, type RedisClient } from './redis.js';
import { JobProducer } from './job-producer.js';

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** One shared connection (a single node or a cluster) for commands: rate limits, pacing, health. */
@Global()
@Module({})
export class RedisModule {
  static forRoot(): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        {
          provide: REDIS,
          inject: [KEYTURN_CONFIG],
          useFactory: (c: KeyturnConfig) => createRedis(c.redis, { maxRetriesPerRequest: 2, enableAutoPipelining: true }),
        },
        RedisCloser,
        JobProducer,
      ],
      exports: [REDIS, JobProducer],
    };
  }
}
