import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { KeyturnConfig } from '@keyturn/config';

const logger = new Logger('Redis');
/** While Redis is down every reconnect attempt fails; one warning per interval is enough to see it. */
const WARN_EVERY_MS = 10_000;
/** ioredis states in which a connection that was up is known to be down. */
export const REDIS_DOWN_STATES: ReadonlySet<string> = new Set(['reconnecting', 'close', 'end']);

/** A single Redis node or a Redis Cluster: every Keyturn use works with either. */
export type RedisClient = Redis | Cluster;

/**
 * A client for the configured Redis: a Cluster client when
 * KEYTURN_REDIS_CLUSTER_NODES is set (it follows MOVED and ASK to whichever
 * node owns a slot), else a single-node client for REDIS_URL. `opts` apply to
 * every node. BullMQ needs `maxRetriesPerRequest: null` on worker connections
 * so a Redis restart pauses work instead of failing jobs; that is the default.
 */
export function createRedis(target: Pick<KeyturnConfig['redis'], 'url' | 'clusterNodes'>, opts: RedisOptions = {}): RedisClient {
  const base: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...opts };
  const redis = target.clusterNodes.length ? createCluster(target.clusterNodes, base) : new Redis(target.url, base);
  // Without a listener ioredis prints every failed reconnect to stderr as an "Unhandled error event".
  let lastWarning = 0;
  const warn = (e: Error) => {
    if (Date.now() - lastWarning < WARN_EVERY_MS) return;
    lastWarning = Date.now();
    logger.warn(`Redis connection: ${e.message}; retrying`);
  };
  redis.on('error', warn);
  if (redis instanceof Cluster) redis.on('node error', warn);
  return redis;
}

function createCluster(nodes: string[], base: RedisOptions): Cluster {
  // Config checked that every seed URL has the same scheme and credentials: the client uses one set for all nodes.
  const first = new URL(nodes[0]!);
  const tls = first.protocol === 'rediss:';
  return new Cluster(
    nodes.map((u) => {
      const x = new URL(u);
      return { host: x.hostname, port: Number(x.port || 6379) };
    }),
    {
      redisOptions: {
        ...base,
        ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
        ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
        ...(tls ? { tls: {} } : {}),
      },
      // Managed clusters (ElastiCache, MemoryDB) present certificates for their host names, not their IPs.
      ...(tls ? { dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) => callback(null, address) } : {}),
      lazyConnect: base.lazyConnect,
      enableReadyCheck: true,
      // A failover moves slots: find the new owner soon rather than after the default delays.
      slotsRefreshTimeout: 2_000,
      retryDelayOnClusterDown: 300,
    },
  );
}

/**
 * Throws unless Redis can serve every Keyturn key now. One node: it answers
 * PING. A cluster: every master answers, each reports `cluster_state:ok`, and
 * none of them marks a master as failing. A reachable node alone proves
 * nothing on a cluster: the slot of Keyturn's keys may sit on the dead one.
 */
export async function assertRedisReady(redis: RedisClient): Promise<void> {
  if (!(redis instanceof Cluster)) {
    // A connection known to be down would hold the ping in ioredis' offline queue: answer at once.
    if (REDIS_DOWN_STATES.has(redis.status)) throw new Error(`Redis connection is ${redis.status}`);
    await redis.ping();
    return;
  }
  if (REDIS_DOWN_STATES.has(redis.status)) throw new Error(`Redis Cluster connection is ${redis.status}`);
  const masters = redis.nodes('master');
  if (!masters.length) throw new Error('no Redis Cluster master is known yet');
  const views = await Promise.all(
    masters.map(async (node) => {
      const at = `${node.options.host}:${node.options.port}`;
      if (REDIS_DOWN_STATES.has(node.status)) throw new Error(`Redis Cluster master ${at} is ${node.status}`);
      const info = String(await node.cluster('INFO'));
      const state = /cluster_state:(\w+)/.exec(info)?.[1];
      if (state !== 'ok') throw new Error(`Redis Cluster master ${at} reports cluster_state:${state ?? 'unknown'}`);
      return String(await node.cluster('NODES'));
    }),
  );
  // A master the client has not met yet (no slot refresh since it joined) still shows in the others' view.
  for (const line of views.flatMap((v) => v.split('\n'))) {
    const [, address, flags] = line.split(' ');
    const f = (flags ?? '').split(',');
    if (f.includes('master') && (f.includes('fail') || f.includes('fail?'))) {
      throw new Error(`Redis Cluster master ${address?.split('@')[0]} is marked ${f.includes('fail') ? 'failed' : 'possibly failed'}`);
    }
  }
}

export const REDIS = Symbol('REDIS');

/**
 * A Lua script that Keyturn runs often (per job, per request). It goes out as
 * EVALSHA, so each call sends the script's SHA1 instead of its text and Redis
 * need not hash it again; a server that does not know it (first call, restart,
 * failover, SCRIPT FLUSH) answers NOSCRIPT and the text goes once with EVAL.
 * A client's first call sends EVAL straight away, which caches the script.
 *
 * Plain EVALSHA and EVAL, not ioredis' defineCommand: the shared connection
 * auto-pipelines, and a command defined after that tick's pipeline was opened
 * is missing from the pipeline (ioredis 5.11: the call fails with "pipeline
 * [functionName] is not a function", the pipeline's replies go to the wrong
 * callers, one place off, its callback throws "results[i] is not iterable"
 * outside any promise, which ends the process, and any later pipeline of the
 * client is never sent, so every later command waits for ever). Built-in
 * commands are on every pipeline. On a Cluster, EVALSHA and EVAL go to the
 * node of the first key, and a node that lacks the script answers NOSCRIPT.
 */
export class LuaScript {
  readonly sha: string;
  /** Clients this script has been sent to as text (EVAL); the rest start with EVALSHA. */
  private readonly sentTo = new WeakSet<RedisClient>();

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const client = redis as unknown as ScriptCommands;
    const rest = [keys.length, ...keys, ...args];
    if (!this.sentTo.has(redis)) {
      this.sentTo.add(redis);
      return client.eval(this.lua, ...rest);
    }
    try {
      return await client.evalsha(this.sha, ...rest);
    } catch (e) {
      if (!/^NOSCRIPT/.test((e as Error)?.message ?? '')) throw e;
      return client.eval(this.lua, ...rest);
    }
  }
}

/** EVAL and EVALSHA as both client kinds have them (the union of their overloads is not callable as such). */
interface ScriptCommands {
  eval(script: string, ...args: (string | number)[]): Promise<unknown>;
  evalsha(sha: string, ...args: (string | number)[]): Promise<unknown>;
}
