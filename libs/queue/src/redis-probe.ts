import { Redis } from 'ioredis';
import { STARTUP_EXIT, StartupError, endpointOf, networkReason, unreachable, type KeyturnConfig } from '@keyturn/config';

const REDIS_PORT = 6379;

/**
 * A failure to reach or log in to Redis, as one line that says what to do;
 * undefined for any other error. Redis's own reply (NOAUTH, WRONGPASS) never
 * holds the password.
 */
export function redisStartupError(e: unknown, url: string, setting = 'REDIS_URL'): StartupError | undefined {
  const endpoint = endpointOf(url, REDIS_PORT);
  const reason = networkReason(e);
  if (reason) return unreachable('Redis', setting, endpoint, reason, e);
  const message = e instanceof Error ? e.message : String(e);
  const refused = /^(NOAUTH|WRONGPASS|NOPERM)\b/.exec(message);
  if (refused) {
    const what = refused[1] === 'NOAUTH' ? 'the password' : 'the right password';
    return new StartupError(
      `Redis at ${endpoint} (${setting}) refused the connection: ${message.replace(/\.?$/, '')}. Put ${what} in ${setting} (redis://:<password>@${endpoint}).`,
      STARTUP_EXIT.NO_PERMISSION,
      { cause: e },
    );
  }
  if (/cluster support disabled/i.test(message)) {
    return new StartupError(
      `Redis at ${endpoint} (${setting}) is not a Redis Cluster node: its cluster support is disabled. ` +
        'List cluster nodes in KEYTURN_REDIS_CLUSTER_NODES, or set REDIS_URL instead for a single Redis.',
      STARTUP_EXIT.CONFIG,
      { cause: e },
    );
  }
  return undefined;
}

/**
 * Connects to Redis once, without retrying, and sends PING: at start-up a
 * Redis that is down or refuses the password is reported in one line
 * (StartupError) instead of a stream of reconnect warnings. On a cluster it
 * probes the seed nodes (REDIS_URL plays no part there), each of which must
 * answer as a cluster node.
 */
export async function probeRedis(target: string | Pick<KeyturnConfig['redis'], 'url' | 'clusterNodes'>, timeoutMs = 10_000): Promise<void> {
  const { url, clusterNodes } = typeof target === 'string' ? { url: target, clusterNodes: [] } : target;
  if (!clusterNodes.length) return probeNode(url, 'REDIS_URL', false, timeoutMs);
  // One seed that answers as a cluster node is enough: the cluster client finds the others (readiness then checks them all).
  const failures: unknown[] = [];
  for (const node of clusterNodes) {
    try {
      return await probeNode(node, CLUSTER_SETTING, true, timeoutMs);
    } catch (e) {
      failures.push(e);
    }
  }
  // A refusal or a node that is no cluster node says more than "unreachable": report that one.
  const specific = failures.find((e) => e instanceof StartupError && e.exitCode !== STARTUP_EXIT.UNAVAILABLE);
  if (specific) throw specific;
  const first = failures[0];
  const reason = networkReason(first instanceof StartupError ? first.cause : first);
  if (!reason) throw first;
  throw unreachable('Redis', CLUSTER_SETTING, clusterNodes.map((u) => endpointOf(u, REDIS_PORT)).join(', '), reason, first);
}

const CLUSTER_SETTING = 'KEYTURN_REDIS_CLUSTER_NODES';

async function probeNode(url: string, setting: string, cluster: boolean, timeoutMs: number): Promise<void> {
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
    if (cluster) await redis.cluster('INFO');
  } catch (e) {
    const cause = reason ?? e;
    throw redisStartupError(cause, url, setting) ?? cause;
  } finally {
    redis.disconnect();
  }
}
