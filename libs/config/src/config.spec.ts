import { ConfigError, dbPoolSize, loadConfig, redactUrl } from '@keyturn/config';

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
