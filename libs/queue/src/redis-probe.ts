import { Redis } from 'ioredis';
import { STARTUP_EXIT, StartupError, endpointOf, networkReason, unreachable } from '@keyturn/config';

const REDIS_PORT = 6379;

/**
 * A failure to reach or log in to Redis, as one line that says what to do;
 * undefined for any other error. Redis's own reply (NOAUTH, WRONGPASS) never
 * holds the password.
 */
export function redisStartupError(e: unknown, url: string): StartupError | undefined {
  const endpoint = endpointOf(url, REDIS_PORT);
  const reason = networkReason(e);
  if (reason) return unreachable('Redis', 'REDIS_URL', endpoint, reason, e);
  const message = e instanceof Error ? e.message : String(e);
  const refused = /^(NOAUTH|WRONGPASS|NOPERM)\b/.exec(message);
  if (refused) {
    const what = refused[1] === 'NOAUTH' ? 'the password' : 'the right password';
    return new StartupError(
      `Redis at ${endpoint} (REDIS_URL) refused the connection: ${message.replace(/\.?$/, '')}. Put ${what} in REDIS_URL (redis://:<password>@${endpoint}).`,
      STARTUP_EXIT.NO_PERMISSION,
      { cause: e },
    );
  }
  return undefined;
}

/**
 * Connects to Redis once, without retrying, and sends PING: at start-up a
 * Redis that is down or refuses the password is reported in one line
 * (StartupError) instead of a stream of reconnect warnings.
 */
export async function probeRedis(url: string, timeoutMs = 10_000): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // ioredis rejects connect() with "Connection is closed."; the reason is only in the error event.
  let reason: unknown;
  redis.on('error', (e: unknown) => void (reason ??= e));
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    const cause = reason ?? e;
    throw redisStartupError(cause, url) ?? cause;
  } finally {
    redis.disconnect();
  }
}
