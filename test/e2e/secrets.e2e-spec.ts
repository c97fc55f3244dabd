import { execFileSync } from 'node:child_process';
import { client, createTestEnv, fakeKey, rawDb, startApi, type Client, type RunningApi, type TestEnv } from './harness.js';

describe('secrets API: storage', () => {
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;

  beforeAll(async () => {
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
  });
  afterAll(async () => {
    await api?.close();
    await t?.drop();
  });

  it('stores an aws-iam-key that reads back identically, and keeps no secret in clear in the database', async () => {
    const key = fakeKey();
    const created = await admin.post('/v1/secrets', {
      type: 'aws-iam-key',
      name: 'ci-bot key',
      folder: '/team/prod',
      username: 'ci-bot',
      accountId: '123456789012',
      ...key,
    });
    expect(created.status).toBe(201);
    expect(JSON.stringify(created.body)).not.toContain(key.secretAccessKey);
    expect(JSON.stringify(created.body)).not.toContain(key.accessKeyId);

    const value = await admin.get(`/v1/secrets/${created.body.id}/value`);
    expect(value.status).toBe(200);
    expect(value.body.fields).toEqual(key);

    const pw = await admin.post('/v1/secrets', {
      type: 'aws-iam-console-password',
      name: 'ci-bot console',
      folder: '/team/prod',
      username: 'ci-bot',
      accountId: '123456789012',
      password: 'Correct-Horse-Battery-Staple-9!',
      privilegedSecretId: created.body.id,
    });
    expect(pw.status).toBe(201);

    // The raw rows, and a whole pg_dump, hold neither the secret key nor the password in clear.
    const db = await rawDb(t);
    const rows = await db.query('SELECT * FROM secret_versions');
    await db.end();
    expect(rows.rowCount).toBe(2);
    const raw = JSON.stringify(rows.rows);
    expect(raw).not.toContain(key.secretAccessKey);
    expect(raw).not.toContain('Correct-Horse-Battery-Staple-9!');
    const dump = execFileSync('pg_dump', [t.databaseUrl], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(dump).toContain('secret_versions');
    expect(dump).not.toContain(key.secretAccessKey);
    expect(dump).not.toContain(key.accessKeyId);
    expect(dump).not.toContain('Correct-Horse-Battery-Staple-9!');
  });

  it('PUT /v1/settings changes only the fields sent, keeps the others, and answers every setting', async () => {
    const first = await admin.put('/v1/settings', { shouldDeletePreviousKey: true, passwordReuseHistory: 7 });
    expect(first.status).toBe(200);
    const second = await admin.put('/v1/settings', { passwordLength: 30 });
    expect(second.status).toBe(200);
    const expected = {
      shouldInactivatePreviousKey: true,
      shouldDeletePreviousKey: true,
      previousKeyGraceSeconds: 0,
      autoChangeIntervalDays: null,
      autoChangeSchedule: null,
      autoChangeWindowMinutes: 0,
      heartbeatIntervalSeconds: null,
      passwordLength: 30,
      passwordExcludeCharacters: '',
      passwordRequireSymbols: true,
      passwordReuseHistory: 7,
      passwordResetRequired: false,
    };
    expect(second.body).toEqual(expected);
    expect((await admin.get('/v1/settings')).body).toEqual(expected);
  });
});
