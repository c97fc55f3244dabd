import { Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';

const logger = new Logger('Redis');
/** While Redis is down every reconnect attempt fails; one warning per interval is enough to see it. */
const WARN_EVERY_MS = 10_000;

/**
 * BullMQ needs `maxRetriesPerRequest: null` on worker connections so a Redis
 * restart pauses work instead of failing jobs.
 */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...opts });
  // Without a listener ioredis prints every failed reconnect to stderr as an "Unhandled error event".
  let lastWarning = 0;
  redis.on('error', (e: Error) => {
    if (Date.now() - lastWarning < WARN_EVERY_MS) return;
    lastWarning = Date.now();
    logger.warn(`Redis connection: ${e.message}; retrying`);
  });
  return redis;
}

export const REDIS = Symbol('REDIS');
