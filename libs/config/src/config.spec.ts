import { ConfigError, loadConfig, redactUrl } from '@keyturn/config';

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
