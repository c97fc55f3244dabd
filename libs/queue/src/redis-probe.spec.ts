import { StartupError, loadConfig } from '@keyturn/config';
import { probeRedis, redisStartupError } from '@keyturn/queue';

const URL_ = 'redis://:s3cret-pw@cache.example:6380';

describe('redisStartupError (what each failure to reach Redis tells a person)', () => {
  it('connection refused: 69, host:port and the fix, never the password', () => {
    const e = redisStartupError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6380'), { code: 'ECONNREFUSED' }), URL_);
    expect(e).toBeInstanceOf(StartupError);
    expect([e?.exitCode, e?.message]).toEqual([
      69,
      'Redis at cache.example:6380 (REDIS_URL) is not reachable: connection refused. ' +
        'Start Redis (for development: docker compose -f docker/compose.yml up -d postgres redis) or set REDIS_URL to a server that runs.',
    ]);
  });

  it('a password missing or wrong: 77, with Redis’s reason and where the password goes', () => {
    const noauth = redisStartupError(Object.assign(new Error('NOAUTH Authentication required.'), { name: 'ReplyError' }), 'redis://cache.example:6380');
    expect([noauth?.exitCode, noauth?.message]).toEqual([
      77,
      'Redis at cache.example:6380 (REDIS_URL) refused the connection: NOAUTH Authentication required. Put the password in REDIS_URL (redis://:<password>@cache.example:6380).',
    ]);
    const wrong = redisStartupError(Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), { name: 'ReplyError' }), URL_);
    expect([wrong?.exitCode, wrong?.message]).toEqual([
      77,
      'Redis at cache.example:6380 (REDIS_URL) refused the connection: WRONGPASS invalid username-password pair or user is disabled. Put the right password in REDIS_URL (redis://:<password>@cache.example:6380).',
    ]);
    expect(wrong!.message).not.toContain('s3cret-pw');
  });

  it('anything else is not a start-up error of its own', () => {
    expect(redisStartupError(new Error('ERR unknown command'), URL_)).toBeUndefined();
  });
});

describe('probeRedis', () => {
  it('answers for a running Redis (the machine’s)', async () => {
    await expect(probeRedis(process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379')).resolves.toBeUndefined();
  });

  it('a closed port fails at once with the one-line error, not ioredis’s "Connection is closed."', async () => {
    const err = await probeRedis('redis://127.0.0.1:1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as StartupError).message).toMatch(/^Redis at 127\.0\.0\.1:1 \(REDIS_URL\) is not reachable: connection refused\./);
  });

  it('on a cluster it probes the seed nodes, not REDIS_URL: none answering fails at once, naming them and KEYTURN_REDIS_CLUSTER_NODES', async () => {
    const err = await probeRedis(loadConfig({ KEYTURN_REDIS_CLUSTER_NODES: 'redis://:s3cret@127.0.0.1:1,redis://:s3cret@127.0.0.1:2' }).redis).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as StartupError).exitCode).toBe(69);
    expect((err as StartupError).message).toMatch(/^Redis at 127\.0\.0\.1:1, 127\.0\.0\.1:2 \(KEYTURN_REDIS_CLUSTER_NODES\) is not reachable: connection refused\./);
    expect((err as StartupError).message).not.toContain('s3cret');
  });

  it('a seed node that is a plain Redis, not a cluster node, is a configuration error (78) that says to use REDIS_URL', async () => {
    const plain = new URL(process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379');
    const err = await probeRedis(loadConfig({ KEYTURN_REDIS_CLUSTER_NODES: plain.toString() }).redis).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect([(err as StartupError).exitCode, (err as StartupError).message]).toEqual([
      78,
      `Redis at ${plain.host} (KEYTURN_REDIS_CLUSTER_NODES) is not a Redis Cluster node: its cluster support is disabled. ` +
        'List cluster nodes in KEYTURN_REDIS_CLUSTER_NODES, or set REDIS_URL instead for a single Redis.',
    ]);
  });
});
