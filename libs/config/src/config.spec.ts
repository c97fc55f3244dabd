import { ConfigError, dbPoolSize, hashTag, loadConfig, numericSettings, redactUrl } from '@keyturn/config';

describe('loadConfig', () => {
  it('starts with no variables set, with defaults fit for a developer machine', () => {
    const c = loadConfig({});
    expect(c.env).toBe('development');
    expect(c.database.url).toBe('postgres://postgres@127.0.0.1:5432/keyturn');
    expect(c.database.migrationsRun).toBe(true);
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.http.port).toBe(8080);
    expect(c.crypto.masterKey).toBeUndefined();
  });

  it('names the variable of a bad value, and never prints the value', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', KEYTURN_BOOTSTRAP_ADMIN_TOKEN: 'short-secret-value' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('PORT');
    expect(msg).toContain('KEYTURN_BOOTSTRAP_ADMIN_TOKEN');
    expect(msg).not.toContain('short-secret-value');
  });

  it('refuses production without a master key', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/KEYTURN_MASTER_KEY/);
    expect(loadConfig({ NODE_ENV: 'production', KEYTURN_MASTER_KEY: 'k1:abc' }).database.migrationsRun).toBe(false);
  });

  it('rejects URLs of the wrong scheme', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x@y/z' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL/);
  });

  it('treats empty strings as unset and splits previous master keys', () => {
    const c = loadConfig({ PORT: '', KEYTURN_PREVIOUS_MASTER_KEYS: 'a:x, b:y ,' });
    expect(c.http.port).toBe(8080);
    expect(c.crypto.previousMasterKeys).toEqual(['a:x', 'b:y']);
  });

  it('redacts passwords in URLs', () => {
    expect(redactUrl('postgres://u:hunter2@h/db')).toBe('postgres://u:***@h/db');
  });
});

/** The ConfigError's message, or a failure when loadConfig accepted the environment. */
function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`loadConfig accepted ${Object.keys(env).join(', ')}`);
}

describe('Redis Cluster settings', () => {
  it('stays on one Redis node by default, with the plain prefix', () => {
    const c = loadConfig({});
    expect(c.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'keyturn', clusterNodes: [] });
  });

  it('takes comma-separated seed nodes, and derives the hash-tagged prefix {keyturn} when none is set', () => {
    const c = loadConfig({ KEYTURN_REDIS_CLUSTER_NODES: ' rediss://app:pw@10.0.0.1:7000 , rediss://app:pw@10.0.0.2:7001,' });
    expect(c.redis.clusterNodes).toEqual(['rediss://app:pw@10.0.0.1:7000', 'rediss://app:pw@10.0.0.2:7001']);
    expect(c.redis.prefix).toBe('{keyturn}');
  });

  it('keeps an explicit prefix that has a hash tag', () => {
    const nodes = 'redis://10.0.0.1:7000';
    expect(loadConfig({ KEYTURN_REDIS_CLUSTER_NODES: nodes, KEYTURN_QUEUE_PREFIX: '{kt-prod}' }).redis.prefix).toBe('{kt-prod}');
    expect(loadConfig({ KEYTURN_REDIS_CLUSTER_NODES: nodes, KEYTURN_QUEUE_PREFIX: 'acme:{keyturn}' }).redis.prefix).toBe('acme:{keyturn}');
  });

  it.each(['keyturn', 'kt{}', 'kt}{x', 'kt{x'])('refuses the prefix %s on a cluster: without a hash tag its keys would spread over slots', (prefix) => {
    const msg = refusal({ KEYTURN_REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000', KEYTURN_QUEUE_PREFIX: prefix });
    expect(msg).toContain('KEYTURN_QUEUE_PREFIX');
    expect(msg).toContain('{keyturn}');
  });

  it('refuses a seed node that is not a redis:// or rediss:// URL, without printing the value (it may hold a password)', () => {
    const msg = refusal({ KEYTURN_REDIS_CLUSTER_NODES: 'redis://:hunter2@10.0.0.1:7000,http://:hunter2@10.0.0.2' });
    expect(msg).toContain('KEYTURN_REDIS_CLUSTER_NODES');
    expect(msg).not.toContain('hunter2');
  });

  it('refuses seed nodes that differ in scheme or credentials: a cluster client uses one set for every node it finds', () => {
    for (const nodes of ['redis://10.0.0.1:7000,rediss://10.0.0.2:7000', 'redis://:a-secret@10.0.0.1:7000,redis://:b-secret@10.0.0.2:7000']) {
      const msg = refusal({ KEYTURN_REDIS_CLUSTER_NODES: nodes });
      expect(msg).toContain('KEYTURN_REDIS_CLUSTER_NODES');
      expect(msg).not.toMatch(/a-secret|b-secret/);
    }
  });

  it('refuses REDIS_URL and KEYTURN_REDIS_CLUSTER_NODES together: one of them would be ignored', () => {
    const msg = refusal({ REDIS_URL: 'redis://10.0.0.9:6379', KEYTURN_REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000' });
    expect(msg).toMatch(/REDIS_URL.*KEYTURN_REDIS_CLUSTER_NODES|KEYTURN_REDIS_CLUSTER_NODES.*REDIS_URL/);
  });

  it('finds the hash tag as Redis does: the text between the first { and the next }, if any', () => {
    expect(hashTag('{keyturn}')).toBe('keyturn');
    expect(hashTag('acme:{kt}:x{y}')).toBe('kt');
    expect(hashTag('keyturn')).toBeNull();
    expect(hashTag('kt{}{x}')).toBeNull();
    expect(hashTag('kt}{x')).toBeNull();
  });
});

describe('Postgres pooler setting', () => {
  it('assumes a direct connection unless told of a transaction-mode pooler', () => {
    expect(loadConfig({}).database.pooler).toBe('none');
    expect(loadConfig({ KEYTURN_DB_POOLER: 'transaction' }).database.pooler).toBe('transaction');
    expect(refusal({ KEYTURN_DB_POOLER: 'statement' })).toContain('KEYTURN_DB_POOLER');
  });
});

describe('dbPoolSize', () => {
  it('gives a worker a connection for each rotation and each heartbeat it may run at once, plus room for lease renewals', () => {
    expect(dbPoolSize(loadConfig({ KEYTURN_WORKER_CONCURRENCY: '16' }), 'rotation-worker')).toBe(34);
    expect(dbPoolSize(loadConfig({ KEYTURN_WORKER_CONCURRENCY: '1' }), 'rotation-worker')).toBe(4);
    expect(dbPoolSize(loadConfig({}), 'secrets-api')).toBe(10);
    expect(dbPoolSize(loadConfig({}), 'heartbeat-scheduler')).toBe(4);
  });

  it('takes KEYTURN_DB_POOL_SIZE when it is at least what the process needs', () => {
    expect(dbPoolSize(loadConfig({ KEYTURN_WORKER_CONCURRENCY: '16', KEYTURN_DB_POOL_SIZE: '40' }), 'rotation-worker')).toBe(40);
    expect(dbPoolSize(loadConfig({ KEYTURN_DB_POOL_SIZE: '3' }), 'secrets-api')).toBe(3);
  });

  it('refuses a KEYTURN_DB_POOL_SIZE below the need, naming both settings and the size to use', () => {
    const c = loadConfig({ KEYTURN_WORKER_CONCURRENCY: '16', KEYTURN_DB_POOL_SIZE: '10' });
    expect(() => dbPoolSize(c, 'rotation-worker')).toThrow(ConfigError);
    expect(() => dbPoolSize(c, 'rotation-worker')).toThrow(/KEYTURN_DB_POOL_SIZE[\s\S]*at least 34[\s\S]*KEYTURN_WORKER_CONCURRENCY/);
  });

  it('reads the shutdown and connection timeouts, with bounds', () => {
    const c = loadConfig({});
    expect(c.shutdown.timeoutMs).toBe(30_000);
    expect(c.database.connectTimeoutMs).toBe(10_000);
    expect(() => loadConfig({ KEYTURN_SHUTDOWN_TIMEOUT_MS: '-1' })).toThrow(/KEYTURN_SHUTDOWN_TIMEOUT_MS/);
    expect(() => loadConfig({ KEYTURN_DB_POOL_SIZE: '0' })).toThrow(/KEYTURN_DB_POOL_SIZE/);
  });
});

describe('KEYTURN_WEBHOOK_SECRET', () => {
  const urls = { KEYTURN_WEBHOOK_URLS: 'https://hooks.example.com/keyturn' };
  const key = Buffer.alloc(32, 7);

  it('takes the Standard Webhooks form whsec_<base64> and signs with the decoded bytes', () => {
    const c = loadConfig({ ...urls, KEYTURN_WEBHOOK_SECRET: `whsec_${key.toString('base64')}` });
    expect(c.webhooks.signingKey).toEqual(key);
  });

  it.each([
    ['no whsec_ prefix', 'a-plain-shared-secret-of-some-length'],
    ['not base64', 'whsec_not*base64*at*all*but*long*enough*'],
    ['fewer than 24 bytes', `whsec_${Buffer.alloc(16, 1).toString('base64')}`],
    ['more than 64 bytes', `whsec_${Buffer.alloc(65, 1).toString('base64')}`],
  ])('refuses %s, naming the variable and the expected form, never the value', (_why, value) => {
    let err: unknown;
    try {
      loadConfig({ ...urls, KEYTURN_WEBHOOK_SECRET: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'KEYTURN_WEBHOOK_SECRET: must be whsec_ followed by the base64 of 24 to 64 random bytes (Standard Webhooks form), for example whsec_$(openssl rand -base64 32)',
    ]);
    expect((err as Error).message).not.toContain(value);
  });

  it('is still required with webhook URLs', () => {
    expect(() => loadConfig(urls)).toThrow(/KEYTURN_WEBHOOK_SECRET: required when KEYTURN_WEBHOOK_URLS is set/);
  });
});

describe('numeric settings: bounds', () => {
  const settings = numericSettings();

  it('finds every numeric setting, the ops ports among them', () => {
    expect(settings.map((s) => s.name)).toEqual(expect.arrayContaining(['PORT', 'WORKER_OPS_PORT', 'SCHEDULER_OPS_PORT', 'KEYTURN_AWS_RATE_PER_ACCOUNT', 'KEYTURN_WORKER_CONCURRENCY']));
    expect(settings.find((s) => s.name === 'KEYTURN_AWS_RATE_PER_ACCOUNT')).toEqual({
      name: 'KEYTURN_AWS_RATE_PER_ACCOUNT', min: 0, minExclusive: true, max: 1000, integer: false, default: 10,
    });
    for (const s of settings) expect([s.name, Number.isFinite(s.min) && Number.isFinite(s.max)]).toEqual([s.name, true]);
  });

  // Ports apart: each alone would otherwise clash with another's default.
  const apart: Record<string, string> = { PORT: '18080', WORKER_OPS_PORT: '18081', SCHEDULER_OPS_PORT: '18082' };
  const withValue = (name: string, v: number) => ({ ...apart, [name]: String(v) });

  it.each(settings.map((s) => [s.name, s] as const))('%s: accepts its bounds and refuses past them, naming the variable', (name, s) => {
    const step = s.integer ? 1 : 0.001;
    if (!s.minExclusive) expect(() => loadConfig(withValue(name, s.min))).not.toThrow();
    expect(() => loadConfig(withValue(name, s.minExclusive ? s.min : s.min - step))).toThrow(new RegExp(`^Invalid configuration:\\n  - ${name}: `));
    expect(() => loadConfig(withValue(name, s.max))).not.toThrow();
    expect(() => loadConfig(withValue(name, s.max + step))).toThrow(new RegExp(`^Invalid configuration:\\n  - ${name}: `));
    if (s.integer) expect(() => loadConfig(withValue(name, s.min + 0.5))).toThrow(new RegExp(name));
  });

  it('ops ports: 8081 and 8082 by default, 0 for a port the system picks, and no two processes on one port', () => {
    expect(loadConfig({}).ops).toEqual({ workerPort: 8081, schedulerPort: 8082 });
    expect(loadConfig({ PORT: '0', WORKER_OPS_PORT: '0', SCHEDULER_OPS_PORT: '0' }).ops).toEqual({ workerPort: 0, schedulerPort: 0 });
    expect(() => loadConfig({ PORT: '8081' })).toThrow('PORT and WORKER_OPS_PORT: both are 8081; give each process its own port (0 lets the system pick one)');
    expect(() => loadConfig({ WORKER_OPS_PORT: '9000', SCHEDULER_OPS_PORT: '9000' })).toThrow(/WORKER_OPS_PORT and SCHEDULER_OPS_PORT: both are 9000/);
  });
});

describe('KEYTURN_DISCOVERY_*', () => {
  const exec = '0193a1b2-0000-7000-8000-000000000001';
  it('is off by default, with the whole account as prefix', () => {
    expect(loadConfig({}).discovery).toEqual({ schedule: undefined, executorSecretId: undefined, pathPrefix: '/' });
  });
  it('takes a 5-field cron expression with an executor and an IAM path', () => {
    expect(loadConfig({ KEYTURN_DISCOVERY_SCHEDULE: '0 3 * * 1-5', KEYTURN_DISCOVERY_EXECUTOR_SECRET_ID: exec, KEYTURN_DISCOVERY_PATH_PREFIX: '/eng/' }).discovery).toEqual({
      schedule: '0 3 * * 1-5',
      executorSecretId: exec,
      pathPrefix: '/eng/',
    });
  });
  it.each(['0 3 * *', '0 0 3 * * *', 'every day', '61 * * * *'])('refuses the schedule %j', (v) => {
    expect(() => loadConfig({ KEYTURN_DISCOVERY_SCHEDULE: v, KEYTURN_DISCOVERY_EXECUTOR_SECRET_ID: exec })).toThrow(/KEYTURN_DISCOVERY_SCHEDULE: must be a 5-field cron expression/);
  });
  it('needs the executor with a schedule, and a UUID, and an IAM path', () => {
    expect(() => loadConfig({ KEYTURN_DISCOVERY_SCHEDULE: '0 3 * * *' })).toThrow(/KEYTURN_DISCOVERY_EXECUTOR_SECRET_ID: required when KEYTURN_DISCOVERY_SCHEDULE is set/);
    expect(() => loadConfig({ KEYTURN_DISCOVERY_EXECUTOR_SECRET_ID: 'x' })).toThrow(/KEYTURN_DISCOVERY_EXECUTOR_SECRET_ID: must be the id/);
    expect(() => loadConfig({ KEYTURN_DISCOVERY_PATH_PREFIX: 'eng' })).toThrow(/KEYTURN_DISCOVERY_PATH_PREFIX: must be an IAM path/);
  });
});
