import { execFileSync } from 'node:child_process';
import { ACCESS_KEY_ID_INDEX, EnvelopeCipher, generateMasterKey, keyringFromStrings } from '@keyturn/crypto';
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
    // The access key index follows the KEK: recomputed under the new one.
    const indexes = (await db.query('SELECT secret_id, key_id_hmac FROM secret_versions')).rows;
    await db.end();
    expect(kekIds).toEqual([newKey.split(':')[0]]);
    expect(JSON.stringify(kekIds)).not.toContain(newKey.split(':')[1]);
    const underNew = new EnvelopeCipher(keyringFromStrings(newKey));
    for (const [i, id] of ids.entries()) {
      expect(indexes.find((r: { secret_id: string }) => r.secret_id === id)?.key_id_hmac).toBe(underNew.blindIndex(ACCESS_KEY_ID_INDEX, keys[i].accessKeyId));
    }

    // 3. Only the new key configured: every value still reads back.
    const only = { ...t.env, KEYTURN_MASTER_KEY: newKey };
    api = await startApi({ ...t, env: only, config: loadConfig(only) });
    admin = client(api.url, t.adminToken);
    for (const [i, id] of ids.entries()) expect((await admin.get(`/v1/secrets/${id}/value`)).body.fields).toEqual(keys[i]);
    // Holders are still found through the moved index: the same key cannot be stored twice.
    const dup = await admin.post('/v1/secrets', { type: 'aws-iam-key', name: 'dup', username: 'u0', accountId: '123456789012', ...keys[0] });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('ACCESS_KEY_ALREADY_STORED');
    await api.close();

    // And with only the old key, Keyturn refuses to start (it used to start and answer 500 UNKNOWN_KEK on every read).
    const stale = { ...t.env, KEYTURN_MASTER_KEY: oldKey };
    await expect(startApi({ ...t, env: stale, config: loadConfig(stale) })).rejects.toMatchObject({
      name: 'MasterKeyMismatchError',
      missing: [newKey.split(':')[0]],
    });
  });
});
