import { execFileSync } from 'node:child_process';
import { generateMasterKey } from '@keyturn/crypto';
import { loadConfig } from '@keyturn/config';
import { client, createTestEnv, fakeKey, rawDb, startApi, type TestEnv } from './harness.js';

describe('master key rotation: rewrap while Keyturn runs', () => {
  let t: TestEnv;
  afterAll(async () => {
    await t?.drop();
  });

  it('moves every data key to the new master key; afterwards the old key is no longer needed', async () => {
    t = await createTestEnv();
    const oldKey = t.env.KEYTURN_MASTER_KEY;
    const newKey = generateMasterKey();
    const keys = [fakeKey(), fakeKey(), fakeKey()];

    // 1. Secrets written under the old master key.
    let api = await startApi(t);
    let admin = client(api.url, t.adminToken);
    const ids: string[] = [];
    for (const [i, k] of keys.entries()) {
      const r = await admin.post('/v1/secrets', { type: 'aws-iam-key', name: `k${i}`, username: `u${i}`, accountId: '123456789012', ...k });
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }
    await api.close();

    // 2. The new key active, the old one still readable; the API keeps serving while rewrap runs.
    const both = { ...t.env, KEYTURN_MASTER_KEY: newKey, KEYTURN_PREVIOUS_MASTER_KEYS: oldKey };
    api = await startApi({ ...t, env: both, config: loadConfig(both) });
    admin = client(api.url, t.adminToken);
    const out = execFileSync(process.execPath, ['dist/apps/cli/src/main.js', 'rewrap'], {
      cwd: new URL('../../', import.meta.url).pathname,
      env: { PATH: process.env.PATH ?? '', ...both },
      encoding: 'utf8',
    });
    expect(out).toMatch(/re-wrapped 3 data key\(s\) under k[0-9a-f]{8}; 0 remain under other keys/);
    for (const [i, id] of ids.entries()) expect((await admin.get(`/v1/secrets/${id}/value`)).body.fields).toEqual(keys[i]);
    await api.close();

    const db = await rawDb(t);
    const kekIds = (await db.query('SELECT DISTINCT kek_id FROM secret_versions')).rows.map((r: { kek_id: string }) => r.kek_id);
    await db.end();
    expect(kekIds).toEqual([newKey.split(':')[0]]);
    expect(JSON.stringify(kekIds)).not.toContain(newKey.split(':')[1]);

    // 3. Only the new key configured: every value still reads back.
    const only = { ...t.env, KEYTURN_MASTER_KEY: newKey };
    api = await startApi({ ...t, env: only, config: loadConfig(only) });
    admin = client(api.url, t.adminToken);
    for (const [i, id] of ids.entries()) expect((await admin.get(`/v1/secrets/${id}/value`)).body.fields).toEqual(keys[i]);
    await api.close();

    // And with only the old key, nothing decrypts: a clear error, never garbage.
    const stale = { ...t.env, KEYTURN_MASTER_KEY: oldKey };
    api = await startApi({ ...t, env: stale, config: loadConfig(stale) });
    admin = client(api.url, t.adminToken);
    const r = await admin.get(`/v1/secrets/${ids[0]}/value`);
    expect(r.status).toBe(500);
    expect(r.body.code).toBe('UNKNOWN_KEK');
    expect(r.body.message).toContain('KEYTURN_PREVIOUS_MASTER_KEYS');
    expect(JSON.stringify(r.body)).not.toContain(keys[0].secretAccessKey);
    await api.close();
  });
});
