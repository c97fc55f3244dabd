/**
 * Issue 12: the applications that use the keys. A reader key reads values
 * within its folders and changes nothing (the full route × role matrix is in
 * access-control.e2e-spec.ts); a poller sends If-None-Match and gets 304 until
 * a rotation makes a new version, which answers 200 with a new ETag. A 304
 * writes no audit event; the 200s record the version they delivered.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { client, createApiKey, createTestEnv, fakeKey, rawDb, startApi, type Client, type RunningApi, type TestEnv } from './harness.js';

describe('consumers: reader keys and conditional reads', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  let db: pg.Client;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
  const ops = vaultOps(() => admin, () => aws.accountId);
  const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  /** The fenced block that follows `<!-- recipe: name -->` in README.md. */
  const recipe = (name: string) => {
    const m = new RegExp(String.raw`^<!-- recipe: ${name} -->
\`\`\`\w+
([\s\S]*?)^\`\`\`$`, 'm').exec(README);
    if (!m) throw new Error(`README.md has no recipe ${name}`);
    return m[1];
  };
  const keySecretFor = async (prefix: string) => {
    const name = aws.uniqueName(prefix);
    const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
    const u = await aws.user(name, policy);
    return { name, u, id: await ops.keySecret(name, u) };
  };

  const valueReads = async (secretId: string) =>
    (
      await db.query<{ actor_id: string; outcome: string; details: { version?: number } }>(
        `SELECT actor_id, outcome, details FROM audit_events WHERE secret_id = $1 AND action = 'secret.value.read' ORDER BY at, id`,
        [secretId],
      )
    ).rows;

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    db = await rawDb(t);
    await procs.start('rotation-worker');
  });
  afterAll(async () => {
    await procs.stopAll();
    await db?.end();
    await api?.close();
    await t?.drop();
    await aws?.close();
  });

  it('lets a folder-scoped reader read values in its folders (audited with the version), and nothing outside them', async () => {
    const reader = await createApiKey(admin, 'reader', { name: 'app in /apps/billing', folderScopes: ['/apps/billing'] });
    const r = client(api.url, reader.token);
    const mk = async (folder: string) => {
      const res = await admin.post('/v1/secrets', { type: 'aws-iam-key', name: `k ${folder} ${Math.random()}`, folder, username: 'app', accountId: '123456789012', ...fakeKey() });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    const inside = await mk('/apps/billing/prod');
    const outside = await mk('/apps/other');

    expect((await r.get(`/v1/secrets/${inside}`)).status).toBe(200);
    const read = await r.get(`/v1/secrets/${inside}/value`);
    expect([read.status, read.body.version, Object.keys(read.body.fields).sort()]).toEqual([200, 1, ['accessKeyId', 'secretAccessKey']]);
    expect(await valueReads(inside)).toEqual([{ actor_id: reader.id, outcome: 'success', details: expect.objectContaining({ version: 1 }) }]);

    const hidden = await r.get(`/v1/secrets/${outside}/value`);
    expect([hidden.status, hidden.body.code]).toEqual([404, 'SECRET_NOT_FOUND']);
    // Writes are refused whatever the folder (the matrix test covers every write route).
    const write = await r.patch(`/v1/secrets/${inside}`, { name: 'renamed by a reader' });
    expect([write.status, write.body.code]).toEqual([403, 'FORBIDDEN']);
    const rotate = await r.post(`/v1/secrets/${inside}/rotations`);
    expect([rotate.status, rotate.body.code]).toEqual([403, 'FORBIDDEN']);
  });

  it('answers 304 to If-None-Match with the current ETag (no body, no audit event), and 200 with a new tag after a rotation', async () => {
    const { name, u, id } = await keySecretFor('etag');
    const reader = await createApiKey(admin, 'reader', { name: 'poller' });
    const poller = client(api.url, reader.token);

    const first = await poller.get(`/v1/secrets/${id}/value`);
    expect(first.status).toBe(200);
    const tag = first.headers.get('etag');
    expect(tag).toMatch(/^"v1-[0-9a-f-]{36}"$/);
    expect((first.body.fields as Creds).accessKeyId).toBe(u.accessKeyId);

    for (const header of [tag!, `W/${tag}`, `"something-else", ${tag}`, '*']) {
      const again = await poller.get(`/v1/secrets/${id}/value`, { headers: { 'if-none-match': header } });
      expect({ header, status: again.status, body: again.body, etag: again.headers.get('etag') }).toEqual({ header, status: 304, body: undefined, etag: tag });
    }
    // A tag the caller does not hold (or none) is an ordinary, audited read.
    const stale = await poller.get(`/v1/secrets/${id}/value`, { headers: { 'if-none-match': '"v0-old"' } });
    expect([stale.status, stale.headers.get('etag')]).toEqual([200, tag]);
    expect(await valueReads(id)).toEqual([
      { actor_id: reader.id, outcome: 'success', details: expect.objectContaining({ version: 1 }) },
      { actor_id: reader.id, outcome: 'success', details: expect.objectContaining({ version: 1 }) },
    ]);

    expect((await ops.finished(await ops.rotate(id))).status).toBe('succeeded');

    const after = await poller.get(`/v1/secrets/${id}/value`, { headers: { 'if-none-match': tag! } });
    expect(after.status).toBe(200);
    expect(after.body.version).toBe(2);
    const newTag = after.headers.get('etag');
    expect(newTag).toMatch(/^"v2-[0-9a-f-]{36}"$/);
    expect(newTag).not.toBe(tag);
    expect(await aws.whoAmI(after.body.fields as Creds)).toBe(`arn:aws:iam::${aws.accountId}:user/${name}`);
    expect((await poller.get(`/v1/secrets/${id}/value`, { headers: { 'if-none-match': newTag! } })).status).toBe(304);
    // The audit shows which version the poller holds: its last audited read delivered version 2.
    const reads = await valueReads(id);
    expect(reads.filter((e) => e.actor_id === reader.id).map((e) => e.details.version)).toEqual([1, 1, 2]);
  });

  it('lists versions (no secret field) and reads ?version=previous while its key is kept, with a code saying why not once it is gone', async () => {
    const reader = client(api.url, (await createApiKey(admin, 'reader', { name: 'versions reader' })).token);
    // Default settings: the previous key is inactivated, not deleted, so its value is still served.
    const kept = await keySecretFor('kept');
    expect((await ops.finished(await ops.rotate(kept.id))).status).toBe('succeeded');
    const listed = await reader.get(`/v1/secrets/${kept.id}/versions`);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([
      { version: 2, state: 'current', keyHint: expect.stringMatching(/^AKIA…[A-Z0-9]{4}$/), secretUnknown: false, createdAt: expect.any(String), promotedAt: expect.any(String), retiredAt: null },
      { version: 1, state: 'previous', keyHint: `${kept.u.accessKeyId.slice(0, 4)}…${kept.u.accessKeyId.slice(-4)}`, secretUnknown: false, createdAt: expect.any(String), promotedAt: expect.any(String), retiredAt: null },
    ]);
    expect(Date.parse(listed.body.items[0].promotedAt)).toBeGreaterThanOrEqual(Date.parse(listed.body.items[1].promotedAt));
    expect(JSON.stringify(listed.body)).not.toContain(kept.u.accessKeyId);
    expect(JSON.stringify(listed.body)).not.toContain(kept.u.secretAccessKey);

    for (const q of ['previous', '1']) {
      const prev = await reader.get(`/v1/secrets/${kept.id}/value?version=${q}`);
      expect([q, prev.status, prev.body.version, prev.body.fields]).toEqual([q, 200, 1, { accessKeyId: kept.u.accessKeyId, secretAccessKey: kept.u.secretAccessKey }]);
      expect(prev.headers.get('etag')).toMatch(/^"v1-/);
    }
    expect((await reader.get(`/v1/secrets/${kept.id}/value?version=2`)).body.version).toBe(2);
    const never = await reader.get(`/v1/secrets/${kept.id}/value?version=3`);
    expect([never.status, never.body.code, never.body.message]).toEqual([404, 'VERSION_NOT_FOUND', `secret ${kept.id} has no version 3`]);

    // Deleted by the settings: previous is retired, and the answer says so.
    const gone = await keySecretFor('gone');
    expect((await admin.patch(`/v1/secrets/${gone.id}`, { settings: { shouldDeletePreviousKey: true } })).status).toBe(200);
    const noneYet = await reader.get(`/v1/secrets/${gone.id}/value?version=previous`);
    expect([noneYet.status, noneYet.body.code, noneYet.body.message]).toEqual([404, 'VERSION_NOT_FOUND', `secret ${gone.id} has no previous version`]);
    expect((await ops.finished(await ops.rotate(gone.id))).status).toBe('succeeded');
    expect((await reader.get(`/v1/secrets/${gone.id}/versions`)).body.items.map((v: { version: number; state: string; retiredAt: string | null }) => [v.version, v.state, v.retiredAt !== null])).toEqual([
      [2, 'current', false],
      [1, 'retired', true],
    ]);
    for (const q of ['previous', '1']) {
      const r = await reader.get(`/v1/secrets/${gone.id}/value?version=${q}`);
      expect([q, r.status, r.body.code, r.body.message]).toEqual([q, 404, 'VERSION_NOT_READABLE', expect.stringMatching(/^version 1 of secret .* is retired: its key was deleted or replaced/)]);
    }

    // Bad input: 400 naming the field, nothing read (and nothing audited as a success).
    const before = (await valueReads(kept.id)).length;
    for (const bad of ['0', '-1', 'abc', '1.5', 'Previous', '', '99999999999']) {
      const r = await reader.get(`/v1/secrets/${kept.id}/value?version=${encodeURIComponent(bad)}`);
      expect([bad, r.status, r.body.code, r.body.message]).toEqual([bad, 400, 'VALIDATION_FAILED', expect.stringMatching(/version must be previous or a positive integer/)]);
    }
    expect((await valueReads(kept.id)).slice(before).every((e) => e.outcome === 'failure')).toBe(true);
  });

  it('runs the README recipes: the ETag poller, and the ESO store reading fields.secretAccessKey with a reader token', async () => {
    const { u, id } = await keySecretFor('recipe');
    const reader = await createApiKey(admin, 'reader', { name: 'recipe poller', folderScopes: ['/e2e'] });
    const dir = mkdtempSync(join(tmpdir(), 'kt-recipe-'));
    try {
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', KT: api.url, READER_TOKEN: reader.token, SECRET_ID: id };
      const poll = async (tag: string, times: number) => {
        const script = `set -euo pipefail\n${recipe('etag-poll')}\n${'poll_once\n'.repeat(times)}echo "TAG=$TAG"`;
        const { stdout } = await promisify(execFile)('bash', ['-c', script], { cwd: dir, env: { ...env, TAG: tag } });
        const lines = stdout.trim().split('\n');
        return { said: lines.slice(0, -1), tag: lines.at(-1)!.replace(/^TAG=/, ''), value: JSON.parse(readFileSync(join(dir, 'value.json'), 'utf8')) };
      };
      const first = await poll('', 2);
      expect(first.said).toEqual(['changed', 'unchanged']);
      expect(first.tag).toMatch(/^"v1-[0-9a-f-]{36}"$/);
      expect(first.value.fields.accessKeyId).toBe(u.accessKeyId);

      expect((await ops.finished(await ops.rotate(id))).status).toBe('succeeded');
      const second = await poll(first.tag, 2);
      expect(second.said).toEqual(['changed', 'unchanged']);
      expect(second.tag).toMatch(/^"v2-[0-9a-f-]{36}"$/);
      expect(second.value.version).toBe(2);
      expect(second.value.fields.accessKeyId).not.toBe(u.accessKeyId);

      // The ESO store: its URL template with the secret id as remoteRef.key, its header with the reader token, its jsonPath.
      const eso = recipe('eso');
      const url = /url: "https:\/\/keyturn\.example\.com(\/v1\/secrets\/\{\{ \.remoteRef\.key \}\}\/value)"/.exec(eso)![1].replace('{{ .remoteRef.key }}', id);
      const auth = /Authorization: "Bearer \{\{ \.auth\.token \}\}"/.test(eso);
      const path = /jsonPath: "\$\.(fields\.secretAccessKey)"/.exec(eso)![1].split('.');
      expect(auth).toBe(true);
      const res = await client(api.url, reader.token).get(url);
      expect(res.status).toBe(200);
      const picked = path.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], res.body);
      expect(picked).toBe(second.value.fields.secretAccessKey);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
