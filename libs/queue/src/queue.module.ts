import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { REDIS, createRedis } from './redis.js';
import { JobProducer } from './job-producer.js';

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** One shared ioredis connection for commands (rate limits, health, producers). */
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
          useFactory: (c: KeyturnConfig) => createRedis(c.redis.url, { maxRetriesPerRequest: 2 }),
        },
        RedisCloser,
        JobProducer,
      ],
      exports: [REDIS, JobProducer],
    };
  }
}
