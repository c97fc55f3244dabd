import { Cluster, Redis } from 'ioredis';
import { loadConfig } from '@keyturn/config';
import { createRedis, type RedisClient } from './redis.js';

describe('createRedis', () => {
  const made: RedisClient[] = [];
  const make = (env: Record<string, string>) => {
    // lazyConnect: these tests look at the client, they never reach a server.
    const r = createRedis(loadConfig(env).redis, { lazyConnect: true });
    made.push(r);
    return r;
  };
  afterAll(() => made.forEach((r) => r.disconnect()));

  it('gives a single-node client for REDIS_URL (the default)', () => {
    const r = make({ REDIS_URL: 'redis://127.0.0.1:6390' });
    expect(r).toBeInstanceOf(Redis);
    expect(r).not.toBeInstanceOf(Cluster);
    expect((r as Redis).options).toMatchObject({ host: '127.0.0.1', port: 6390, maxRetriesPerRequest: null });
  });

  it('gives a cluster client for KEYTURN_REDIS_CLUSTER_NODES, seeded with every node, credentials from the URLs', () => {
    const r = make({ KEYTURN_REDIS_CLUSTER_NODES: 'redis://app:s3cret@10.0.0.1:7000,redis://app:s3cret@10.0.0.2:7001' });
    expect(r).toBeInstanceOf(Cluster);
    const c = r as Cluster;
    expect((c as unknown as { startupNodes: unknown[] }).startupNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
    ]);
    expect(c.options.redisOptions).toMatchObject({ username: 'app', password: 's3cret', maxRetriesPerRequest: null });
    expect(c.options.redisOptions?.tls).toBeUndefined();
  });

  it('speaks TLS to rediss:// nodes, and keeps the node names it was given (managed clusters’ certificates name them)', () => {
    const c = make({ KEYTURN_REDIS_CLUSTER_NODES: 'rediss://:pw@clustercfg.example.cache.amazonaws.com:6379' }) as Cluster;
    expect(c.options.redisOptions?.tls).toEqual({});
    expect(c.options.redisOptions?.password).toBe('pw');
    expect(typeof c.options.dnsLookup).toBe('function');
  });

  it('passes the caller’s options to every node (BullMQ producers want a bounded retry)', () => {
    const c = make({ KEYTURN_REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000' }) as Cluster;
    expect(c.options.redisOptions).toMatchObject({ lazyConnect: true });
    const p = createRedis(loadConfig({ KEYTURN_REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000' }).redis, { lazyConnect: true, maxRetriesPerRequest: 2 }) as Cluster;
    made.push(p);
    expect(p.options.redisOptions).toMatchObject({ maxRetriesPerRequest: 2 });
  });
});
